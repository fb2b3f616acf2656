"""Serialise PennyLane operations to IonQ's QIS gateset (``"gateset": "qis"``).

QIS rotations take radians. Gates listed in :data:`QIS_OPS` are sent as they are; anything else is
decomposed into them by the device's preprocessing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pennylane as qml
from pennylane.operation import Operator

_FIXED = {
    "PauliX": "x",
    "PauliY": "y",
    "PauliZ": "z",
    "Hadamard": "h",
    "S": "s",
    "Adjoint(S)": "si",
    "T": "t",
    "Adjoint(T)": "ti",
    "SX": "v",
    "Adjoint(SX)": "vi",
}
_ROTATIONS = {"RX": "rx", "RY": "ry", "RZ": "rz", "PhaseShift": "rz"}
_CONTROLLED = {
    "CNOT": "x",
    "CY": "y",
    "CZ": "z",
    "Toffoli": "x",
    "CRX": "rx",
    "CRY": "ry",
    "CRZ": "rz",
}
_ISING = {"IsingXX": "xx", "IsingYY": "yy", "IsingZZ": "zz"}

QIS_OPS = frozenset({*_FIXED, *_ROTATIONS, *_CONTROLLED, *_ISING, "SWAP"})
"""Names of the PennyLane operations sent to IonQ's QIS gateset without decomposition."""


def _angle(op: Operator) -> float:
    return float(qml.math.unwrap(op.data[0]))


def op_to_qis(op: Operator, index: Callable[[Any], int]) -> dict[str, Any]:
    """Return the IonQ QIS gate entry of one operation.

    ``PhaseShift`` is sent as ``rz``: they differ by a global phase only, which no measurement
    sees (controlled phase shifts are decomposed before they get here).

    Args:
        op: An operation whose name is in :data:`QIS_OPS`.
        index: Maps a device wire label to its IonQ qubit index.
    """
    name = op.name
    wires = [index(w) for w in op.wires]
    if name in _FIXED:
        return {"gate": _FIXED[name], "target": wires[0]}
    if name in _ROTATIONS:
        return {"gate": _ROTATIONS[name], "target": wires[0], "rotation": _angle(op)}
    if name in _CONTROLLED:
        gate: dict[str, Any] = {"gate": _CONTROLLED[name], "target": wires[-1]}
        gate["controls" if len(wires) > 2 else "control"] = (
            wires[:-1] if len(wires) > 2 else wires[0]
        )
        if name.startswith("CR"):
            gate["rotation"] = _angle(op)
        return gate
    if name in _ISING:
        return {"gate": _ISING[name], "targets": wires, "rotation": _angle(op)}
    if name == "SWAP":
        return {"gate": "swap", "targets": wires}
    raise ValueError(f"{name} is not an IonQ QIS gate; decompose it first")


def tape_to_qis(ops: Sequence[Operator], index: Callable[[Any], int]) -> list[dict[str, Any]]:
    """Return the QIS gate list of a sequence of operations (identities are dropped)."""
    return [op_to_qis(op, index) for op in ops if op.name not in ("Identity", "GlobalPhase")]
