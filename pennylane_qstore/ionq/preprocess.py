"""The ``qstore.ionq`` device's own preprocessing steps (the rest are PennyLane's)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pennylane as qml
from pennylane.exceptions import DeviceError
from pennylane.measurements import ExpectationMP, MeasurementProcess
from pennylane.tape import QuantumScript
from pennylane.transforms import split_non_commuting
from pennylane.transforms.core import transform
from pennylane.wires import Wires

from pennylane_qstore.ionq.backends import MAX_SHOTS
from pennylane_qstore.ionq.compiler import compile_circuit
from pennylane_qstore.ionq.ops import MS, ZZ
from pennylane_qstore.ionq.structure import StructureCache

_TWO_QUBIT_NATIVE = (qml.Barrier, MS, ZZ, qml.SWAP, qml.IsingXX, qml.IsingYY, qml.IsingZZ)
# Controlled gates with one control and a one-qubit base that has a matrix, whatever their
# parameters (exact types: a subclass may change that): the last branch of native_compiles.
_CONTROLLED_1Q = frozenset(
    {
        qml.CNOT,
        qml.CY,
        qml.CZ,
        qml.CH,
        qml.CRX,
        qml.CRY,
        qml.CRZ,
        qml.CRot,
        qml.ControlledPhaseShift,
    }
)


def _single(results: Sequence) -> object:
    """Post-processing of a transform that returns one tape: its one result."""
    return results[0]


@transform
def check_shot_limit(tape: QuantumScript) -> tuple[Sequence[QuantumScript], Callable]:
    """Refuse circuits with more shots than IonQ runs."""
    if tape.shots.total_shots > MAX_SHOTS:
        raise DeviceError(f"IonQ runs at most {MAX_SHOTS} shots per circuit, got {tape.shots}")
    return (tape,), _single


@transform
def sums_as_hermitian(tape: QuantumScript) -> tuple[Sequence[QuantumScript], Callable]:
    """Measure ``var``/``sample``/``counts`` of a sum as one Hermitian observable.

    ``split_non_commuting`` splits only expectation values into terms; the variance (or the
    samples) of a sum need the sum's own eigenbasis, which ``Hermitian`` provides.
    """
    measurements = []
    for mp in tape.measurements:
        obs = mp.obs
        if obs is not None and not isinstance(mp, qml.measurements.ExpectationMP):
            if isinstance(obs, (qml.ops.SProd, qml.ops.Prod)):
                obs = obs.simplify()
            if isinstance(obs, qml.ops.Sum):
                hermitian = qml.Hermitian(qml.matrix(obs, wire_order=obs.wires), wires=obs.wires)
                mp = type(mp)(obs=hermitian)
        measurements.append(mp)
    if all(new is old for new, old in zip(measurements, tape.measurements, strict=True)):
        return (tape,), _single  # no sum to rewrite: the tape as it is, not a copy of it
    return (tape.copy(measurements=measurements),), _single


@transform
def split_measurements(tape: QuantumScript) -> tuple[Sequence[QuantumScript], Callable]:
    """PennyLane's ``split_non_commuting(grouping_strategy="qwc")``, without its grouping work
    for a tape of one measurement (every tape of a parameter-shift batch of one ``expval``).

    One measurement is one group: the tape is the one ``split_non_commuting`` would return (the
    expectation of a one-term product with coefficient 1 measured as that term) and its result
    needs no post-processing. Sums, identities, scaled terms, mid-circuit measurement values and
    several measurements go to ``split_non_commuting``.
    """
    if len(tape.measurements) == 1:
        mp = tape.measurements[0]
        lone = _lone_measurement(mp)
        if lone is mp:
            return (tape,), _single
        if lone is not None:
            return (tape.copy(measurements=[lone]),), _single
    return split_non_commuting(tape, grouping_strategy="qwc")


def _lone_measurement(mp: MeasurementProcess) -> MeasurementProcess | None:
    """The measurement ``split_non_commuting`` leaves of a tape's only measurement ``mp``, or
    ``None`` where it does more than keep it (or its one term)."""
    obs = mp.obs
    if getattr(mp, "mv", None) is not None or isinstance(obs, qml.Identity | qml.ops.Sum):
        return None
    if not isinstance(obs, qml.ops.Prod | qml.ops.SProd):
        return mp
    if not isinstance(mp, ExpectationMP):
        return None  # split_non_commuting simplifies it and refuses sums
    coeffs, terms = obs.terms()
    if len(terms) != 1 or isinstance(terms[0], qml.Identity):
        return None
    coeff = coeffs[0]
    if qml.math.is_abstract(coeff) or qml.math.ndim(coeff) != 0 or coeff != 1:
        return None  # its result is scaled by the coefficient
    return qml.expval(terms[0])


@transform
def rotate_to_measurement_basis(tape: QuantumScript) -> tuple[Sequence[QuantumScript], Callable]:
    """Append the measurements' diagonalizing gates so every measurement reads Z-basis samples.

    Not PennyLane's ``diagonalize_measurements``: that one leaves ``Hermitian`` and
    ``Projector`` observables undiagonalised (the device would then read them in the Z basis).
    """
    rotations = tape.diagonalizing_gates
    if not rotations:  # Z-basis measurements only (the usual case): nothing to append
        return (tape,), _single
    return (tape.copy(operations=[*tape.operations, *rotations]),), _single


def native_compiles(op: qml.operation.Operator) -> bool:
    """Whether the native compiler lowers ``op`` directly (others are decomposed first)."""
    if type(op) in _CONTROLLED_1Q or isinstance(op, _TWO_QUBIT_NATIVE):
        return True
    wires = op.wires  # a Controlled operator builds its wires anew on every access
    if len(wires) == 1:
        return op.has_matrix
    return len(wires) == 2 and isinstance(op, qml.ops.op_math.Controlled) and op.base.has_matrix


@transform
def compile_to_native(
    tape: QuantumScript,
    entangler: str,
    wires: Wires | None,
    max_qubits: int,
    cache: StructureCache | None = None,
) -> tuple[Sequence[QuantumScript], Callable]:
    """Replace the operations by the native gates sent to IonQ (``qml.draw(level="device")``
    then shows them).

    The compiler absorbs SWAPs by relabelling: wire ``order[i]`` ends on physical qubit
    ``output_qubits[i]``. Every qubit starts in ``|0>``, so naming each physical qubit after the
    wire that ends on it keeps the measurements as they are. With a ``cache`` (the device keeps
    one), circuits of one structure, such as a parameter-shift batch, compile once and then only
    substitute their angles; the cache compiles afresh whatever its template cannot serve.
    """
    order = Wires(wires if wires is not None else tape.wires)
    compile_fn = compile_circuit if cache is None else cache.compile
    native = compile_fn(tape.operations, entangler, wires=order.tolist(), max_qubits=max_qubits)
    ends_as = {qubit: order[i] for i, qubit in enumerate(native.output_qubits)}
    labels = [ends_as[qubit] for qubit in range(len(order))]
    operations = [gate.to_operation(labels) for gate in native.gates]
    return (tape.copy(operations=operations),), lambda results: results[0]
