"""Simulate IonQ ``ionq.circuit.v1`` gate lists with numpy (validation: :mod:`.circuits`).

This is an implementation independent of PennyLane's: it builds every gate matrix from IonQ's
published definitions (native phases and angles in turns, QIS rotations in radians) and applies
them to a state vector. Basis-state index ``k`` has qubit ``q`` as bit ``q`` of ``k`` (qubit 0 is
the least significant bit), as in IonQ's results.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pennylane_qstore.ionq.circuits import (
    QIS_ROTATIONS,
    CircuitError,
    Gate,
    gate_counts,
    gate_qubits,
    validate_circuit,
)

__all__ = [
    "CircuitError",
    "gate_counts",
    "gate_matrix",
    "gate_qubits",
    "simulate_probabilities",
    "validate_circuit",
]

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
