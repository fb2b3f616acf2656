"""Lowering PennyLane operations into the compiler's intermediate form (:mod:`.passes`).

Recognised directly (no decomposition, one ZZ core at most per gate):

- any one-qubit operation with a matrix (its exact 2×2 matrix);
- Pauli-product rotations ``exp(-iφ/2 P⊗Q)``: IsingXX, IsingYY, IsingZZ, two-wire MultiRZ and
  PauliRot, and IonQ's own MS and ZZ, as one partial-angle core;
- any singly-controlled one-qubit gate (CNOT, CZ, CY, CH, CRX, CRY, CRZ, ControlledPhaseShift /
  CPhase, controlled ``QubitUnitary``...) as one core whose angle follows the gate's eigenphases;
- SWAP (relabelling), GlobalPhase (tracked), Identity, Barrier and Snapshot (nothing).

Anything else is decomposed with PennyLane's own ``decomposition()`` until it reaches these.
"""

from __future__ import annotations

import math

import numpy as np
import pennylane as qml
from pennylane.operation import Operator
from scipy.linalg import schur

from pennylane_qstore.ionq.ops import MS, ZZ, rad_to_turns
from pennylane_qstore.ionq.passes import CircuitBuilder, H

SUPPORTED = (
    "any one-qubit gate with a matrix; IsingXX, IsingYY, IsingZZ, MultiRZ and PauliRot on up to two "
    "wires; any singly-controlled one-qubit gate (CNOT, CZ, CY, CH, CRX, CRY, CRZ, "
    "ControlledPhaseShift, ...); SWAP; GPI, GPI2, MS, ZZ; GlobalPhase, Identity, Barrier, "
    "Snapshot; and every operation PennyLane can decompose into these"
)
"""Human-readable description of what :func:`lower` accepts, used in error messages."""

_S = np.diag([1, 1j])
_BASIS = {"X": H, "Y": _S @ H, "Z": np.eye(2, dtype=complex)}
"""``B`` with ``B Z B† = P`` for each Pauli ``P``."""
_PAULI_ROTATIONS = {"IsingXX": "XX", "IsingYY": "YY", "IsingZZ": "ZZ"}


class UnsupportedOperationError(ValueError):
    """An operation cannot be compiled to IonQ native gates."""


def lower(operations: list[Operator], index: dict, builder: CircuitBuilder) -> None:
    """Add ``operations`` to ``builder``.

    Args:
        operations: PennyLane operations, in circuit order.
        index: map from wire label to logical qubit index.
        builder: the intermediate circuit to extend.

    Raises:
        UnsupportedOperationError: naming the operation and the supported set.
    """
    for op in operations:
        _lower_one(op, index, builder)


def _matrix(op: Operator) -> np.ndarray:
    return np.asarray(qml.math.unwrap(op.matrix()), dtype=complex)


def _param(op: Operator, i: int = 0) -> float:
    return float(qml.math.unwrap(op.data[i]))


def _pauli_rotation(builder: CircuitBuilder, qubits, word: str, phi: float) -> None:
    """Apply ``exp(-iφ/2 P⊗Q)`` for the two-letter Pauli ``word``."""
    bases = [_BASIS[p] for p in word]
    for q, basis in zip(qubits, bases, strict=True):
        builder.one_qubit(q, basis.conj().T)
    builder.zz(*qubits, rad_to_turns(phi))
    for q, basis in zip(qubits, bases, strict=True):
        builder.one_qubit(q, basis)


def _controlled(builder: CircuitBuilder, control: int, target: int, unitary, on_one: bool) -> None:
    """Apply ``|0⟩⟨0|⊗I + |1⟩⟨1|⊗U`` (or the 0-controlled version) as one ZZ core."""
    flip = np.array([[0, 1], [1, 0]], dtype=complex)
    if not on_one:
        builder.one_qubit(control, flip)
    triangular, vectors = schur(unitary, output="complex")
    lam1, lam2 = np.angle(triangular[0, 0]), np.angle(triangular[1, 1])
    s, d = (lam1 + lam2) / 4, (lam1 - lam2) / 4
    builder.one_qubit(target, vectors.conj().T)
    builder.add_phase(s)
    builder.one_qubit(control, np.diag([np.exp(-1j * s), np.exp(1j * s)]))
    builder.one_qubit(target, np.diag([np.exp(1j * d), np.exp(-1j * d)]))
    builder.zz(control, target, d / math.pi)
    builder.one_qubit(target, vectors)
    if not on_one:
        builder.one_qubit(control, flip)


def _lower_one(op: Operator, index: dict, builder: CircuitBuilder) -> None:
    name = op.name
    qubits = [index[w] for w in op.wires]
    if isinstance(op, qml.Identity | qml.Barrier | qml.Snapshot):
        return
    if isinstance(op, qml.GlobalPhase):
        builder.add_phase(-_param(op))
        return
    if len(qubits) == 1 and op.has_matrix:
        builder.one_qubit(qubits[0], _matrix(op))
        return
    if isinstance(op, qml.SWAP):
        builder.swap(*qubits)
        return
    if len(qubits) == 2:
        if name in _PAULI_ROTATIONS:
            _pauli_rotation(builder, qubits, _PAULI_ROTATIONS[name], _param(op))
            return
        if isinstance(op, qml.MultiRZ):
            _pauli_rotation(builder, qubits, "ZZ", _param(op))
            return
        if isinstance(op, qml.PauliRot) and "I" not in op.hyperparameters["pauli_word"]:
            _pauli_rotation(builder, qubits, op.hyperparameters["pauli_word"], _param(op))
            return
        if isinstance(op, ZZ):
            builder.zz(*qubits, _param(op))
            return
        if isinstance(op, MS):
            _ms(builder, qubits, *(_param(op, i) for i in range(3)))
            return
        if (
            isinstance(op, qml.ops.op_math.Controlled)
            and len(op.control_wires) == 1
            and op.base.has_matrix
        ):
            unitary = np.asarray(qml.math.unwrap(op.base.matrix()), dtype=complex)
            _controlled(builder, qubits[0], qubits[1], unitary, bool(op.control_values[0]))
            return
    if isinstance(op, qml.measurements.MidMeasureMP):
        raise UnsupportedOperationError(
            "mid-circuit measurements cannot run on IonQ native gates; supported: " + SUPPORTED
        )
    if op.has_decomposition:
        lower(op.decomposition(), index, builder)
        return
    raise UnsupportedOperationError(
        f"{name} on wires {op.wires.tolist()} has no IonQ native form and no decomposition; "
        f"supported: {SUPPORTED}"
    )


def _ms(builder: CircuitBuilder, qubits, phi0: float, phi1: float, theta: float) -> None:
    """Apply ``MS(φ0, φ1, θ) = exp(-iπθ S(φ0)⊗S(φ1))`` as one core."""
    bases = [np.diag([1, np.exp(2j * math.pi * p)]) @ H for p in (phi0, phi1)]
    for q, basis in zip(qubits, bases, strict=True):
        builder.one_qubit(q, basis.conj().T)
    builder.zz(*qubits, theta)
    for q, basis in zip(qubits, bases, strict=True):
        builder.one_qubit(q, basis)
