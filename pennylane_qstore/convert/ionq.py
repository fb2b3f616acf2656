"""IonQ ``ionq.circuit.v1`` JSON (QIS or native gateset, single or multi-circuit) to and from tapes.

No library reads IonQ JSON into PennyLane, so this module does, with the server's validator
(:func:`pennylane_qstore.ionq.simulate.validate_circuit`) checking every gate first. IonQ qubit
``i`` is wire ``i``; IonQ measures every qubit at the end, so a read circuit ends with
``qml.probs`` of all qubits. Writing uses the IonQ device's serializers: QIS gates
(:mod:`pennylane_qstore.ionq.qis`, radians) or the native compiler (turns).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pennylane as qml
from pennylane.devices.preprocess import decompose
from pennylane.operation import Operator
from pennylane.ops import Conditional, MidMeasure
from pennylane.tape import QuantumScript

from pennylane_qstore.convert._hub import ConversionError, for_writing, num_qubits
from pennylane_qstore.ionq.native import gates_from_json
from pennylane_qstore.ionq.qis import QIS_OPS, tape_to_qis
from pennylane_qstore.ionq.simulate import CircuitError, gate_qubits, validate_circuit

_QIS_FIXED = {
    "x": qml.PauliX,
    "not": qml.PauliX,
    "cnot": qml.PauliX,
    "y": qml.PauliY,
    "z": qml.PauliZ,
    "h": qml.Hadamard,
    "s": qml.S,
    "t": qml.T,
    "v": qml.SX,
    "swap": qml.SWAP,
}
_QIS_INVERSE = {"si": qml.S, "ti": qml.T, "vi": qml.SX}
_QIS_ROTATION = {
    "rx": qml.RX,
    "ry": qml.RY,
    "rz": qml.RZ,
    "xx": qml.IsingXX,
    "yy": qml.IsingYY,
    "zz": qml.IsingZZ,
}


def is_ionq(obj: Any) -> bool:
    """Return whether ``obj`` looks like an IonQ job, job ``input`` or multi-circuit input."""
    return isinstance(obj, Mapping) and ("input" in obj or "circuit" in obj or "circuits" in obj)


def _qis_operation(gate: Mapping[str, Any]) -> Operator:
    controls, targets = gate_qubits(gate)
    name = gate["gate"]
    if name in _QIS_ROTATION:
        op = _QIS_ROTATION[name](float(gate["rotation"]), wires=targets)
    elif name in _QIS_INVERSE:
        op = qml.adjoint(_QIS_INVERSE[name](wires=targets))
    else:
        op = _QIS_FIXED[name](wires=targets)
    return qml.ctrl(op, control=controls) if controls else op


def _read_one(circuit: Sequence[Mapping[str, Any]], gateset: str, qubits: int) -> QuantumScript:
    try:
        validate_circuit(circuit, gateset, qubits)
        if gateset == "native":
            ops = [g.to_operation(range(qubits)) for g in gates_from_json(circuit, qubits)]
        else:
            ops = [_qis_operation(gate) for gate in circuit]
    except (CircuitError, ValueError, KeyError) as exc:
        raise ConversionError(f"invalid IonQ JSON: {exc}") from exc
    return QuantumScript(ops, [qml.probs(wires=range(qubits))])


def read_ionq(job: Mapping[str, Any]) -> tuple[list[QuantumScript], bool]:
    """Return ``(tapes, is_multi_circuit)`` of an IonQ job, its ``input``, or a bare circuit.

    Raises:
        ConversionError: naming the offending gate (unknown gate, bad qubit, bad angle).
    """
    data = job.get("input", job)
    gateset = data.get("gateset", "qis")
    try:
        qubits = int(data["qubits"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ConversionError(
            "IonQ JSON needs an integer 'qubits' field (the register size)"
        ) from exc
    if "circuits" in data:
        circuits = [entry["circuit"] for entry in data["circuits"]]
        return [_read_one(c, gateset, qubits) for c in circuits], True
    return [_read_one(data["circuit"], gateset, qubits)], False


def _check_measurable(operations: Sequence[Operator]) -> None:
    for op in operations:
        if isinstance(op, MidMeasure | Conditional):
            what = (
                "a mid-circuit measurement (qml.measure)"
                if isinstance(op, MidMeasure)
                else f"a classically controlled {op.base.name} (qml.cond)"
            )
            raise ConversionError(
                f"{what} cannot be written to IonQ JSON: IonQ measures every qubit once, at the "
                "end; use OpenQASM, Qiskit or Cirq for mid-circuit measurements"
            )


def _decomposed(operations: Sequence[Operator], gates: frozenset[str], what: str) -> list:
    try:
        [tape], _ = decompose(
            QuantumScript(operations),
            stopping_condition=lambda op: op.name in gates,
            skip_initial_state_prep=False,
            name=what,
            error=ConversionError,
        )
    except ConversionError as exc:
        raise ConversionError(f"cannot write {what}: {exc}") from exc
    return tape.operations


def _native_gates(operations: Sequence[Operator], qubits: int, entangler: str) -> list[dict]:
    from pennylane_qstore.ionq.compiler import compile_circuit

    # The compiler absorbs SWAPs by relabelling qubits, which the JSON alone cannot express:
    # give it their CNOTs instead.
    expanded = _decomposed(operations, QIS_OPS - {"SWAP"}, "IonQ native JSON")
    native = compile_circuit(expanded, entangler=entangler, wires=range(qubits))
    if list(native.output_qubits) != list(range(qubits)):
        raise ConversionError(
            "the native compiler relabelled qubits, which IonQ JSON cannot express; "
            "use gateset='qis'"
        )
    return native.to_json()["circuit"]


def write_ionq(
    tapes: Sequence[QuantumScript], batch: bool, gateset: str = "qis", entangler: str = "ms"
) -> dict[str, Any]:
    """Return the IonQ ``input`` object of tapes (``circuits`` when ``batch``).

    Args:
        tapes: common-form tapes; their terminal measurements are dropped (IonQ measures all).
        batch: write a multi-circuit input (``ionq.multi-circuit.v1``).
        gateset: ``"qis"`` (radians, IonQ compiles) or ``"native"`` (compiled here, turns).
        entangler: for ``gateset="native"``: ``"ms"`` (Aria) or ``"zz"`` (Forte).
    """
    if gateset not in ("qis", "native"):
        raise ConversionError(f"gateset must be 'qis' or 'native', got {gateset!r}")
    qubits = max((num_qubits(t) for t in tapes), default=0)
    circuits = []
    for tape in tapes:
        operations, _ = for_writing(tape, "IonQ JSON")
        _check_measurable(operations)
        if gateset == "qis":
            circuits.append(tape_to_qis(_decomposed(operations, QIS_OPS, "IonQ QIS JSON"), int))
        else:
            circuits.append(_native_gates(operations, qubits, entangler))
    data: dict[str, Any] = {"gateset": gateset, "qubits": qubits}
    if batch:
        data["circuits"] = [{"name": f"circuit-{i}", "circuit": c} for i, c in enumerate(circuits)]
    else:
        data["circuit"] = circuits[0]
    return data
