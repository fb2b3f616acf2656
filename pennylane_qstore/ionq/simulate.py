"""Validate and simulate IonQ ``ionq.circuit.v1`` gate lists with numpy.

This is an implementation independent of PennyLane's: it builds every gate matrix from IonQ's
published definitions (native phases and angles in turns, QIS rotations in radians) and applies
them to a state vector. Basis-state index ``k`` has qubit ``q`` as bit ``q`` of ``k`` (qubit 0 is
the least significant bit), as in IonQ's results.
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

_SQ2 = 1 / np.sqrt(2)
_I = np.eye(2, dtype=complex)
_X = np.array([[0, 1], [1, 0]], dtype=complex)
_Y = np.array([[0, -1j], [1j, 0]], dtype=complex)
_Z = np.diag([1, -1]).astype(complex)
_FIXED = {
    "x": _X,
    "not": _X,
    "y": _Y,
    "z": _Z,
    "h": _SQ2 * np.array([[1, 1], [1, -1]], dtype=complex),
    "s": np.diag([1, 1j]),
    "si": np.diag([1, -1j]),
    "t": np.diag([1, np.exp(0.25j * np.pi)]),
    "ti": np.diag([1, np.exp(-0.25j * np.pi)]),
    "v": 0.5 * np.array([[1 + 1j, 1 - 1j], [1 - 1j, 1 + 1j]]),
    "vi": 0.5 * np.array([[1 - 1j, 1 + 1j], [1 + 1j, 1 - 1j]]),
}
_PAULI = {"rx": _X, "ry": _Y, "rz": _Z, "xx": _X, "yy": _Y, "zz": _Z}


class CircuitError(ValueError):
    """An IonQ circuit payload that IonQ would reject (HTTP 400)."""


def _turn(phase: float) -> complex:
    return np.exp(2j * np.pi * phase)


def _side(phase: float) -> np.ndarray:
    """Return ``cos(2πφ) X + sin(2πφ) Y``."""
    return np.array([[0, np.conj(_turn(phase))], [_turn(phase), 0]])


def _rotation(pauli: np.ndarray, angle: float) -> np.ndarray:
    """Return ``exp(-i angle/2 P)`` for an involutory ``P``."""
    eye = np.eye(pauli.shape[0], dtype=complex)
    return np.cos(angle / 2) * eye - 1j * np.sin(angle / 2) * pauli


def gate_matrix(gate: Gate, gateset: str) -> np.ndarray:
    """Return the unitary of one gate on its targets (controls excluded).

    Args:
        gate: One gate entry of an IonQ circuit.
        gateset: ``"native"`` or ``"qis"``.
    """
    name = gate["gate"]
    if gateset == "native":
        if name == "gpi":
            return _side(gate["phase"])
        if name == "gpi2":
            return _SQ2 * (_I - 1j * _side(gate["phase"]))
        if name == "ms":
            phases = gate.get("phases", [0.0, 0.0])
            both = np.kron(_side(phases[0]), _side(phases[1]))
            return _rotation(both, 2 * np.pi * gate.get("angle", 0.25))
        return _rotation(np.kron(_Z, _Z), 2 * np.pi * gate.get("angle", 0.25))
    if name in _FIXED:
        return _FIXED[name]
    if name in QIS_ROTATIONS:
        return _rotation(_PAULI[name], gate["rotation"])
    if name == "cnot":
        return _X
    if name == "swap":
        return np.eye(4)[[0, 2, 1, 3]].astype(complex)
    pauli = _PAULI[name]
    return _rotation(np.kron(pauli, pauli), gate["rotation"])


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


def _apply(state: np.ndarray, matrix: np.ndarray, controls: list[int], targets: list[int]) -> None:
    """Apply ``matrix`` on ``targets`` (first target = most significant) where all controls are 1."""
    n = state.ndim
    axis = {q: n - 1 - q for q in range(n)}
    index: list[Any] = [slice(None)] * n
    for q in controls:
        index[axis[q]] = 1
    view = state[tuple(index)]
    remaining = [a for a in range(n) if index[a] == slice(None)]
    local = [remaining.index(axis[q]) for q in targets]
    k = len(targets)
    tensor = matrix.reshape((2,) * (2 * k))
    moved = np.tensordot(tensor, view, axes=(list(range(k, 2 * k)), local))
    state[tuple(index)] = np.moveaxis(moved, list(range(k)), local)


def simulate_probabilities(circuit: Sequence[Gate], gateset: str, qubits: int) -> np.ndarray:
    """Return the ideal basis-state probabilities (qubit 0 = least significant bit).

    Args:
        circuit: IonQ gate list, already checked with :func:`validate_circuit`.
        gateset: ``"native"`` or ``"qis"``.
        qubits: Number of qubits in the register.
    """
    state = np.zeros((2,) * qubits, dtype=complex)
    state[(0,) * qubits] = 1.0
    for gate in circuit:
        controls, targets = gate_qubits(gate)
        _apply(state, gate_matrix(gate, gateset), controls, targets)
    probs = np.abs(state.reshape(-1)) ** 2
    return probs / probs.sum()
