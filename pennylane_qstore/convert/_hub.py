"""The common form every conversion passes through: a PennyLane tape on wires ``0..n-1``.

Operations may include mid-circuit measurements and conditionals; a terminal measurement of
the computational basis is ``qml.probs(wires=...)`` (the measured qubits, in measurement order).
Readers build this form with :func:`from_operations`; writers take it apart with
:func:`for_writing`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pennylane as qml
from pennylane.measurements import StateMP
from pennylane.operation import Operator
from pennylane.ops import Conditional, MeasurementValue, MidMeasure
from pennylane.tape import QuantumScript
from pennylane.wires import Wires

from pennylane_qstore.ionq.ops import GPI, GPI2, MS, ZZ, turns_to_rad

FORMATS = ("tape", "qasm2", "qasm3", "qiskit", "cirq", "ionq")
"""Every format name :func:`~pennylane_qstore.convert.convert` accepts."""


class ConversionError(ValueError):
    """A circuit that cannot be converted; the message names the construct and the format."""


def relabel(tape: QuantumScript) -> QuantumScript:
    """Return ``tape`` on wires ``0..n-1``: integer wires stay, other labels are numbered in order."""
    labels = tape.wires.tolist()
    if all(isinstance(w, int) and w >= 0 for w in labels):
        return tape
    mapping = {w: i for i, w in enumerate(labels)}
    [mapped], _ = qml.map_wires(tape, mapping)
    return mapped


def num_qubits(tape: QuantumScript) -> int:
    """Return the register size of a tape on integer wires (largest wire + 1)."""
    return max(tape.wires.tolist(), default=-1) + 1


def _uses(op: Operator, mcm: MidMeasure) -> bool:
    return isinstance(op, Conditional) and any(m is mcm for m in op.meas_val.measurements)


def _plain_condition(op: Operator) -> Operator:
    """Return ``op`` with a condition ``m == 1`` on one measurement written as plain ``m``."""
    if not isinstance(op, Conditional) or not op.meas_val.has_processing:
        return op
    value = op.meas_val
    if len(value.measurements) == 1:
        branches = {key[0]: bool(result) for key, result in value.branches.items()}
        if branches == {0: False, 1: True}:
            return Conditional(MeasurementValue(value.measurements), op.base)
    return op


def from_operations(operations: Sequence[Operator]) -> QuantumScript:
    """Return the common form of operations whose trailing measurements are ``MidMeasure``.

    A measurement is terminal when no later operation acts on its qubit or uses its outcome
    (moving it to the end then changes nothing); terminal ones become one ``qml.probs``.
    """
    ops = [_plain_condition(op) for op in operations]
    terminal: list[int] = []
    for index, op in enumerate(ops):
        if not isinstance(op, MidMeasure) or op.reset or op.postselect is not None:
            continue
        later = ops[index + 1 :]
        if any(op.wires[0] in o.wires or _uses(o, op) for o in later):
            continue
        terminal.append(index)
    measured = Wires([ops[i].wires[0] for i in terminal])
    kept = [op for i, op in enumerate(ops) if i not in set(terminal)]
    measurements = [qml.probs(wires=measured)] if terminal else []
    return relabel(QuantumScript(kept, measurements))


def standard_gates(op: Operator) -> list[Operator]:
    """Return IonQ native gates as equal standard gates (other operations unchanged).

    With ``α = 2πφ``: ``GPI(φ) = RZ(α)·X·RZ(-α)``, ``GPI2(φ) = RZ(α)·RX(π/2)·RZ(-α)``,
    ``MS(φ0, φ1, θ) = (RZ(α0)⊗RZ(α1))·IsingXX(2πθ)·(RZ(-α0)⊗RZ(-α1))``, ``ZZ(θ) = IsingZZ(2πθ)``.
    """
    if not isinstance(op, GPI | GPI2 | MS | ZZ):
        return [op]
    angles = [turns_to_rad(float(qml.math.unwrap(d))) for d in op.data]
    if isinstance(op, ZZ):
        return [qml.IsingZZ(angles[0], wires=op.wires)]
    if isinstance(op, MS):
        frame, core = angles[:2], qml.IsingXX(angles[2], wires=op.wires)
    else:
        frame = angles
        core = qml.PauliX(op.wires) if isinstance(op, GPI) else qml.RX(np.pi / 2, op.wires)
    undo = [qml.RZ(-a, wires=w) for a, w in zip(frame, op.wires, strict=True)]
    redo = [qml.RZ(a, wires=w) for a, w in zip(frame, op.wires, strict=True)]
    return [*undo, core, *redo]


def for_writing(tape: QuantumScript, fmt: str) -> tuple[list[Operator], list]:
    """Return ``(operations, measured wires)`` of a tape for a writer of format ``fmt``.

    Measurements of observables are written as their diagonalizing gates followed by a
    computational-basis measurement of their wires (as ``qml.to_openqasm`` does); ``qml.state()``
    and no measurement at all write no measurement.

    Raises:
        ConversionError: for measurements of mid-circuit measurement outcomes.
    """
    measured: list = []
    for mp in tape.measurements:
        if mp.mv is not None:
            raise ConversionError(
                f"{type(mp).__name__} of a mid-circuit measurement outcome cannot be written to "
                f"{fmt}; measure the qubit at the end instead"
            )
        if isinstance(mp, StateMP):
            continue
        wires = mp.wires.tolist() or list(range(num_qubits(tape)))
        measured += [w for w in wires if w not in measured]
    operations = [
        standard
        for op in tape.operations
        if not isinstance(op, qml.GlobalPhase)
        for standard in standard_gates(op)
    ]
    return operations + tape.diagonalizing_gates, measured


def as_tapes(obj) -> tuple[list[QuantumScript], bool]:
    """Return ``(tapes, is_batch)`` for one tape or a sequence of tapes."""
    if isinstance(obj, QuantumScript):
        return [relabel(obj)], False
    return [relabel(t) for t in obj], True
