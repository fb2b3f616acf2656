"""IonQ ``ionq.circuit.v1`` gate lists as JSON: the gate names, the one validator, gate counts.

:func:`validate_circuit` is the one check of IonQ circuit JSON: the local server, the client side
(:func:`.native.gates_from_json`, the converters) and the simulator all use it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

Gate = Mapping[str, Any]

NATIVE_GATES = frozenset({"gpi", "gpi2", "ms", "zz"})
QIS_1Q = frozenset({"x", "y", "z", "h", "s", "si", "t", "ti", "v", "vi", "not"})
QIS_ROTATIONS = frozenset({"rx", "ry", "rz"})
QIS_2Q = frozenset({"cnot", "swap", "xx", "yy", "zz"})
QIS_GATES = QIS_1Q | QIS_ROTATIONS | QIS_2Q


class CircuitError(ValueError):
    """An IonQ circuit payload that IonQ would reject (HTTP 400)."""


def gate_qubits(gate: Gate) -> tuple[list[int], list[int]]:
    """Return ``(controls, targets)`` of a gate entry."""
    controls = list(gate.get("controls", []))
    if "control" in gate:
        controls.append(gate["control"])
    targets = list(gate["targets"]) if "targets" in gate else [gate["target"]]
    return controls, targets


def _check_number(gate: Gate, key: str, low: float, high: float, index: int) -> None:
    value = gate.get(key)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise CircuitError(
            f"gate {index} ({gate['gate']}): '{key}' must be a number, got {value!r}"
        )
    if not low <= value <= high:
        span = f"[{low:g}, {high:g}]"
        raise CircuitError(
            f"gate {index} ({gate['gate']}): '{key}'={value} is outside {span} turns; "
            f"it must be within {span}"
        )


def _check_gate_name(gate: Any, index: int, gateset: str) -> str:
    if not isinstance(gate, Mapping) or "gate" not in gate:
        raise CircuitError(f"gate {index}: expected an object with a 'gate' field")
    name = gate["gate"]
    allowed = NATIVE_GATES if gateset == "native" else QIS_GATES
    if name not in allowed:
        other = "qis" if gateset == "native" else "native"
        hint = (
            f"; '{name}' is a {other} gate and gatesets cannot be mixed"
            if name in (QIS_GATES if gateset == "native" else NATIVE_GATES)
            else ""
        )
        raise CircuitError(
            f"gate {index}: '{name}' is not a {gateset} gate (unknown gate; {gateset} gates are "
            f"{', '.join(sorted(allowed))}){hint}"
        )
    return name


def _check_native_parameters(gate: Gate, name: str, index: int) -> None:
    if name in ("gpi", "gpi2"):
        _check_number(gate, "phase", -1.0, 1.0, index)
        return
    if name == "zz":
        _check_number({"gate": "zz", "angle": gate.get("angle", 0.25)}, "angle", -1.0, 1.0, index)
        return
    phases = gate.get("phases", [0.0, 0.0])
    if not isinstance(phases, Sequence) or isinstance(phases, str) or len(phases) != 2:
        raise CircuitError(f"gate {index} (ms): 'phases' must hold two numbers")
    for phase in phases:
        _check_number({"gate": "ms", "phase": phase}, "phase", -1.0, 1.0, index)
    angle = gate.get("angle", 0.25)
    _check_number({"gate": "ms", "angle": angle}, "angle", 0.0, 0.25, index)
    if angle == 0:
        raise CircuitError(f"gate {index} (ms): 'angle' must be in (0, 0.25] turns, got 0")


def validate_circuit(circuit: Sequence[Gate], gateset: str, qubits: int) -> None:
    """Raise :class:`CircuitError` where IonQ would reject the gate list.

    The one validator of IonQ circuit JSON: the local server, :func:`.native.gates_from_json`
    and the converters call it. Checks gate names against the gateset (native and QIS gates
    are not mixed), qubit indices against ``qubits`` (distinct within a gate), native phases in
    [-1, 1] turns, MS angles in (0, 0.25] and ZZ angles in [-1, 1] turns (both default 0.25),
    and finite QIS rotations.
    """
    if gateset not in ("native", "qis"):
        raise CircuitError(f"gateset must be 'native' or 'qis', got {gateset!r}")
    if not isinstance(circuit, Sequence) or isinstance(circuit, str):
        raise CircuitError("circuit must be a list of gate objects")
    for index, gate in enumerate(circuit):
        name = _check_gate_name(gate, index, gateset)
        try:
            controls, targets = gate_qubits(gate)
        except (KeyError, TypeError):
            raise CircuitError(f"gate {index} ({name}): missing 'target' or 'targets'") from None
        wanted = 2 if name in ("ms", "zz", "swap", "xx", "yy") else 1
        if len(targets) != wanted:
            raise CircuitError(f"gate {index} ({name}): expects {wanted} target(s), got {targets}")
        if name == "cnot" and not controls:
            raise CircuitError(f"gate {index} (cnot): missing 'control'")
        used = controls + targets
        if any(not isinstance(q, int) or isinstance(q, bool) or not 0 <= q < qubits for q in used):
            raise CircuitError(f"gate {index} ({name}): qubits {used} outside 0..{qubits - 1}")
        if len(set(used)) != len(used):
            raise CircuitError(
                f"gate {index} ({name}): repeated qubit in {used}; the qubits must be distinct"
            )
        if gateset == "native":
            if controls:
                raise CircuitError(f"gate {index} ({name}): native gates take no controls")
            _check_native_parameters(gate, name, index)
        elif name in QIS_ROTATIONS or name in ("xx", "yy", "zz"):
            value = gate.get("rotation")
            if not isinstance(value, (int, float)) or not np.isfinite(value):
                raise CircuitError(f"gate {index} ({name}): 'rotation' must be a finite number")


def gate_counts(circuit: Sequence[Gate]) -> tuple[int, int]:
    """Return ``(single-qubit gates, multi-qubit gates)`` of a gate list."""
    two = sum(1 for gate in circuit if sum(map(len, gate_qubits(gate))) > 1)
    return len(circuit) - two, two
