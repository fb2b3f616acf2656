"""A template's slopes from a few compiles: parameters on disjoint wires are moved together.

A template (see :mod:`.structure`) needs the slope of each emitted number (phases, angles, frames,
global phase) in each variable parameter. On frame ancillas, a parameter of an operation on wires
``W`` only moves the phases and frames of qubits in ``W`` (a virtual Z frame stays on its qubit
through GPI, GPI2, MS and ZZ) and the interaction angles of gates on two qubits of ``W``, so
parameters whose operations act on disjoint wires are moved in one compile and each moved number
is credited to the one that can reach it. The global phase is shared: its slope follows from the
determinant (the natives and frames have constant determinants, so ``2^n`` times the global phase
moves with ``arg det`` of the source, to which an operation on ``k`` wires contributes ``2^(n-k)``
times its own), less half the frames' slopes. A compile that moves a number no member of its group
can reach, or a global phase the determinants do not predict, returns ``None``; the caller then
moves each parameter alone. The template's check at a random point guards both ways.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pennylane as qml
from pennylane.operation import Operator

from pennylane_qstore.ionq.native import NativeCircuit
from pennylane_qstore.ionq.structure_key import with_parameters
from pennylane_qstore.ionq.substitution import wrapped_turns

STRAY_ATOL = 1e-7
"""Slope (turns per radian) above which a number counts as moved."""


def _slot_qubits(native: NativeCircuit) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per number of the template vector: the qubit of a phase or frame (else -1), and the two
    qubits of an interaction angle (else -1)."""
    qubit, first, second = [], [], []
    for gate in native.gates:
        for q in gate.qubits[: len(gate.phases)]:
            qubit.append(q), first.append(-1), second.append(-1)
        if gate.angle is not None:
            qubit.append(-1), first.append(gate.qubits[0]), second.append(gate.qubits[1])
    for q in range(len(native.frames)):
        qubit.append(q), first.append(-1), second.append(-1)
    qubit.append(-1), first.append(-1), second.append(-1)  # the global phase
    return np.array(qubit), np.array(first), np.array(second)


def _groups(wires: Sequence[frozenset]) -> list[list[int]]:
    """Greedily group indices whose wire sets are pairwise disjoint."""
    groups: list[tuple[list[int], set]] = []
    for index, wire_set in enumerate(wires):
        for members, used in groups:
            if used.isdisjoint(wire_set):
                members.append(index)
                used |= wire_set
                break
        else:
            groups.append(([index], set(wire_set)))
    return [members for members, _ in groups]


def _global_slope(operations: Sequence[Operator], owners: np.ndarray, point, j, step) -> float:
    """Turns per radian of the global phase that parameter ``j`` moves (determinant rule)."""
    k = owners[j]
    mine = np.flatnonzero(owners == k)
    shifted = point.copy()
    shifted[j] += step
    before, after = (
        np.linalg.det(qml.matrix(with_parameters([operations[k]], values[mine])[0]))
        for values in (point, shifted)
    )
    turns = np.angle(after / before) / (2 * np.pi)
    return float(turns / step / 2 ** len(operations[k].wires))


def grouped_slopes(
    operations: Sequence[Operator],
    point: np.ndarray,
    variables: np.ndarray,
    owners: np.ndarray,
    base: NativeCircuit,
    at_point: np.ndarray,
    numbers_at: Callable[[np.ndarray], tuple[tuple, np.ndarray]],
    step: float,
) -> np.ndarray | None:
    """Return the slopes (one column per variable), or ``None`` to measure each alone.

    ``numbers_at(values)`` compiles at ``values`` and returns the skeleton and numbers; ``base``
    and ``at_point`` are the compile at ``point``.
    """
    qubits = len(base.wires)
    if tuple(base.output_qubits) != tuple(range(qubits)):
        return None  # qubits relabelled: a frame may change qubit
    index = {w: i for i, w in enumerate(base.wires)}
    wires = [frozenset(index[w] for w in operations[owners[j]].wires) for j in variables]
    qubit, first, second = _slot_qubits(base)
    frame_rows = np.arange(len(at_point) - 1 - qubits, len(at_point) - 1)
    skeleton = tuple((g.name, g.qubits) for g in base.gates)
    slopes = np.zeros((len(at_point), len(variables)))
    for group in _groups(wires):
        shifted = point.copy()
        shifted[variables[group]] += step
        other_skeleton, there = numbers_at(shifted)
        if other_skeleton != skeleton:
            return None
        delta = wrapped_turns(there - at_point) / step
        reached = np.zeros(len(delta), dtype=bool)
        reached[-1] = True
        for column in group:
            mine = list(wires[column])
            rows = np.isin(qubit, mine) | (np.isin(first, mine) & np.isin(second, mine))
            slopes[rows, column] = delta[rows]
            reached |= rows
            own = _global_slope(operations, owners, point, variables[column], step)
            slopes[-1, column] = own - slopes[frame_rows, column].sum() / 2
        stray = np.max(np.abs(delta[~reached]), initial=0.0) > STRAY_ATOL
        if stray or abs(slopes[-1, group].sum() - delta[-1]) > STRAY_ATOL:
            return None
    return slopes
