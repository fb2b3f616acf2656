"""The ``qstore.ionq`` device's own preprocessing steps (the rest are PennyLane's)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pennylane as qml
from pennylane.exceptions import DeviceError
from pennylane.tape import QuantumScript
from pennylane.transforms.core import transform
from pennylane.wires import Wires

from pennylane_qstore.ionq.backends import MAX_SHOTS
from pennylane_qstore.ionq.compiler import compile_circuit
from pennylane_qstore.ionq.ops import MS, ZZ
from pennylane_qstore.ionq.structure import StructureCache


@transform
def check_shot_limit(tape: QuantumScript) -> tuple[Sequence[QuantumScript], Callable]:
    """Refuse circuits with more shots than IonQ runs."""
    if tape.shots.total_shots > MAX_SHOTS:
        raise DeviceError(f"IonQ runs at most {MAX_SHOTS} shots per circuit, got {tape.shots}")
    return (tape,), lambda results: results[0]


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
    return (tape.copy(measurements=measurements),), lambda results: results[0]


@transform
def rotate_to_measurement_basis(tape: QuantumScript) -> tuple[Sequence[QuantumScript], Callable]:
    """Append the measurements' diagonalizing gates so every measurement reads Z-basis samples.

    Not PennyLane's ``diagonalize_measurements``: that one leaves ``Hermitian`` and
    ``Projector`` observables undiagonalised (the device would then read them in the Z basis).
    """
    rotated = tape.copy(operations=[*tape.operations, *tape.diagonalizing_gates])
    return (rotated,), lambda results: results[0]


def native_compiles(op: qml.operation.Operator) -> bool:
    """Whether the native compiler lowers ``op`` directly (others are decomposed first)."""
    if isinstance(op, (qml.Barrier, MS, ZZ, qml.SWAP, qml.IsingXX, qml.IsingYY, qml.IsingZZ)):
        return True
    if len(op.wires) == 1:
        return op.has_matrix
    return isinstance(op, qml.ops.op_math.Controlled) and len(op.wires) == 2 and op.base.has_matrix


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
