"""Frame ancillas: every rotation angle of a circuit moved onto an interaction (see :mod:`.structure`).

``RZ(θ)`` on ``q`` is ``IsingZZ(θ)`` of ``q`` with an ancilla in ``|0⟩``; ``RX``/``RY``/``Rot``/
``PhaseShift`` and the controlled rotations are written with fixed Cliffords around such rotations;
``IsingXX/YY/ZZ``, ``MultiRZ`` and ``PauliRot`` keep their interaction. Compiled with the ancillas
as frame wires, every single-qubit run the compiler fuses is then parameter-free, and the angles
only move virtual Z frames and interaction angles.
"""

from __future__ import annotations

from collections.abc import Sequence

import pennylane as qml
from pennylane.operation import Operator

NONLINEAR = (qml.StatePrep, qml.AmplitudeEmbedding, qml.QubitUnitary, qml.BasisState)
"""Operations whose compiled gates are not affine in their data: their data is fixed structure."""


def _ancilla_rz(theta, wire, ancillas: dict) -> Operator:
    return qml.IsingZZ(theta, wires=[wire, ancillas[wire]])


def _rz(theta, wire, anc: dict) -> list[Operator]:
    return [_ancilla_rz(theta, wire, anc)]


def _rx(theta, wire, anc: dict) -> list[Operator]:
    return [qml.Hadamard(wire), _ancilla_rz(theta, wire, anc), qml.Hadamard(wire)]


def _ry(theta, wire, anc: dict) -> list[Operator]:  # RY = S·RX·S†
    return [qml.adjoint(qml.S(wire)), *_rx(theta, wire, anc), qml.S(wire)]


def _crz(theta, control, target, anc: dict) -> list[Operator]:
    # CRZ(θ) = RZ_t(θ/2) · exp(+iθ/4 Z⊗Z)
    return [_ancilla_rz(theta / 2, target, anc), qml.IsingZZ(-theta / 2, wires=[control, target])]


def _parametric(op: Operator, anc: dict) -> list[Operator] | None:
    """Return ``op`` with its angles on frame ancillas, or ``None`` if it is not a rotation."""
    w = op.wires.tolist()
    if isinstance(op, qml.RZ) or (isinstance(op, qml.MultiRZ) and len(w) == 1):
        return _rz(op.data[0], w[0], anc)
    if isinstance(op, qml.RX):
        return _rx(op.data[0], w[0], anc)
    if isinstance(op, qml.RY):
        return _ry(op.data[0], w[0], anc)
    if isinstance(op, qml.PhaseShift | qml.U1):  # e^{iφ/2}·RZ(φ)
        return [qml.GlobalPhase(-op.data[0] / 2, wires=w), *_rz(op.data[0], w[0], anc)]
    if isinstance(op, qml.Rot):
        phi, theta, omega = op.data
        return [*_rz(phi, w[0], anc), *_ry(theta, w[0], anc), *_rz(omega, w[0], anc)]
    if isinstance(op, qml.CRZ):
        return _crz(op.data[0], *w, anc)
    if isinstance(op, qml.CRX):
        return [qml.Hadamard(w[1]), *_crz(op.data[0], *w, anc), qml.Hadamard(w[1])]
    if isinstance(op, qml.CRY):
        t = w[1]
        basis = [qml.adjoint(qml.S(t)), qml.Hadamard(t)]
        return [*basis, *_crz(op.data[0], *w, anc), qml.Hadamard(t), qml.S(t)]
    if isinstance(op, qml.ControlledPhaseShift):  # e^{iφ/4} RZ_c(φ/2) RZ_t(φ/2) e^{iφ/4 Z⊗Z}
        phi = op.data[0]
        return [
            qml.GlobalPhase(-phi / 4, wires=w),
            *_rz(phi / 2, w[0], anc),
            *_rz(phi / 2, w[1], anc),
            qml.IsingZZ(-phi / 2, wires=w),
        ]
    return None


_KEEP = (qml.IsingXX, qml.IsingYY, qml.IsingZZ, qml.MultiRZ, qml.PauliRot)
"""Two-qubit rotations whose interaction angle the compiler already keeps affine."""


def parametric_operations(
    operations: Sequence[Operator], anc: dict, rewrite: Sequence[bool] | None = None
) -> list[Operator]:
    """Rewrite ``operations`` with every rotation angle on the frame ancillas ``anc``.

    With ``rewrite``, only the operations it marks ``True`` are rewritten (the others are
    constants of the structure and stay as they are).
    """
    out: list[Operator] = []
    for k, op in enumerate(operations):
        if (
            not op.data
            or (rewrite is not None and not rewrite[k])
            or isinstance(op, (*_KEEP, qml.GlobalPhase))
        ):
            out.append(op)
            continue
        rewritten = _parametric(op, anc)
        if rewritten is not None:
            out.extend(rewritten)
        elif op.has_decomposition and not isinstance(op, NONLINEAR):
            out.extend(parametric_operations(op.decomposition(), anc))
        else:
            out.append(op)
    return out
