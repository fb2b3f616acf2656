"""Cirq ``Circuit``: written with Cirq's own OpenQASM 2 reader (which needs ``ply``), read by
translating each operation (Cirq's OpenQASM writer emits gates such as ``sxdg`` that PennyLane's
reader lacks, and no library converts Cirq circuits to PennyLane); the ``cirq`` extra.

Cirq circuits with sympy symbols stay symbolic when the target is Cirq itself or Qiskit
(:mod:`.symbolic`); any other target needs their values (``params={"theta": 0.1}``), which are
resolved with ``cirq.resolve_parameters``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pennylane as qml
from pennylane.operation import Operator
from pennylane.ops import MeasurementValue, MidMeasure
from pennylane.tape import QuantumScript

from pennylane_qstore.convert._hub import ConversionError, from_operations

_FIXED_GATES = {
    "HPowGate": qml.Hadamard,
    "CXPowGate": qml.CNOT,
    "SwapPowGate": qml.SWAP,
    "CCXPowGate": qml.Toffoli,
    "CCZPowGate": qml.CCZ,
    "CSwapGate": qml.CSWAP,
}


def _cirq():
    try:
        import cirq
        import ply  # noqa: F401  (Cirq's OpenQASM reader needs it)
    except ImportError as exc:
        raise ImportError(
            'converting Cirq circuits needs cirq-core and ply: pip install "pennylane-qstore[cirq]"'
        ) from exc
    return cirq


def is_cirq(obj: Any) -> bool:
    """Return whether ``obj`` is a Cirq ``Circuit`` (without importing Cirq)."""
    return any(
        cls.__name__ in ("Circuit", "FrozenCircuit") and cls.__module__.startswith("cirq")
        for cls in type(obj).__mro__
    )


def _gate_op(cirq: Any, gate: Any, wires: list[int], exact: bool) -> Operator | None:
    """Return the PennyLane form of a Cirq gate, or ``None`` (then its unitary is used).

    With ``exact`` (inside a controlled gate) the global phase must match too; otherwise powers
    of X, Y and Z become rotations, equal up to a global phase.
    """
    shift = getattr(gate, "global_shift", 0)
    for cls, rotation in (
        (cirq.XPowGate, qml.RX),
        (cirq.YPowGate, qml.RY),
        (cirq.ZPowGate, qml.RZ),
    ):
        if isinstance(gate, cls) and (shift == -0.5 or not exact):
            return rotation(np.pi * float(gate.exponent), wires=wires)
    if isinstance(gate, cirq.ZPowGate) and shift == 0:
        return qml.PhaseShift(np.pi * float(gate.exponent), wires=wires)
    if isinstance(gate, cirq.CZPowGate) and shift == 0:
        return qml.ControlledPhaseShift(np.pi * float(gate.exponent), wires=wires)
    fixed = _FIXED_GATES.get(type(gate).__name__)
    if fixed is not None and getattr(gate, "exponent", 1) == 1 and shift == 0:
        return fixed(wires=wires)
    if isinstance(gate, cirq.ControlledGate):
        k = gate.num_controls()
        values = [v[0] if len(v) == 1 else None for v in gate.control_values.expand()]
        base = _gate_op(cirq, gate.sub_gate, wires[k:], exact=True)
        if base is not None and None not in values:
            return qml.ctrl(base, control=wires[:k], control_values=[int(v) for v in values])
    return None


def _condition(cirq: Any, op: Any, values: dict) -> Any:
    """Return the PennyLane measurement value that conditions a classically controlled op."""
    import sympy  # installed with cirq-core

    conditions = list(op.classical_controls)
    key, outcome = None, 1
    if len(conditions) == 1 and isinstance(conditions[0], cirq.KeyCondition):
        key = str(conditions[0].key)
    elif len(conditions) == 1 and isinstance(conditions[0], cirq.SympyCondition):
        expr = conditions[0].expr
        if isinstance(expr, sympy.Eq) and isinstance(expr.lhs, sympy.Symbol):
            key, outcome = str(expr.lhs), int(expr.rhs)
    if key not in values or outcome not in (0, 1):
        raise ConversionError(
            f"Cirq classical control {conditions} has no PennyLane form; condition on one "
            "one-qubit measurement key"
        )
    return values[key] if outcome == 1 else values[key] == 0


def _operation(cirq: Any, op: Any, index: dict, values: dict) -> list[Operator]:
    wires = [index[q] for q in op.qubits]
    if isinstance(op, cirq.ClassicallyControlledOperation):
        value = _condition(cirq, op, values)
        inner = _operation(cirq, op.without_classical_controls(), index, values)
        return [qml.ops.Conditional(value, o) for o in inner]
    gate = op.gate
    if isinstance(gate, cirq.MeasurementGate):
        mcms = [MidMeasure(wires=w) for w in wires]
        if len(mcms) == 1:
            values[str(gate.key)] = MeasurementValue(mcms)
        return mcms
    if isinstance(gate, cirq.GlobalPhaseGate):
        return []
    converted = _gate_op(cirq, gate, wires, exact=False) if gate is not None else None
    if converted is not None:
        return [converted]
    if cirq.has_unitary(op):
        return [qml.QubitUnitary(cirq.unitary(op), wires=wires)]
    raise ConversionError(f"Cirq operation {op} has no unitary and no PennyLane form")


def _qubit_indices(cirq: Any, circuit: Any) -> dict:
    """Return wire numbers: a ``LineQubit``'s own index, else positions in Cirq's sorted order."""
    qubits = sorted(circuit.all_qubits())
    if all(isinstance(q, cirq.LineQubit) and q.x >= 0 for q in qubits):
        return {q: q.x for q in qubits}
    return {q: i for i, q in enumerate(qubits)}


def read_cirq(circuit: Any, params: Mapping[str, float] | None = None) -> QuantumScript:
    """Return the common-form tape of a Cirq circuit (qubits in Cirq's sorted order).

    Named gates become the PennyLane gate (powers of X, Y and Z become rotations, equal up to
    global phase), controlled gates ``qml.ctrl``, any other unitary a ``QubitUnitary``.

    Raises:
        ConversionError: for unresolved symbols or an operation without a unitary.
    """
    cirq = _cirq()
    if cirq.is_parameterized(circuit):
        names = sorted(str(s) for s in cirq.parameter_names(circuit))
        missing = [name for name in names if name not in (params or {})]
        if missing:
            raise ConversionError(
                f"Cirq circuit has unresolved symbols {missing}; give their values with "
                "params={name: value} (symbols stay symbolic only to cirq or qiskit)"
            )
        circuit = cirq.resolve_parameters(circuit, dict(params))
    index = _qubit_indices(cirq, circuit)
    values: dict = {}
    operations = []
    for op in circuit.all_operations():
        operations += _operation(cirq, op, index, values)
    return from_operations(operations)


def write_cirq(tape: QuantumScript) -> Any:
    """Return the Cirq circuit of a common-form tape (wire ``i`` is ``cirq.LineQubit(i)``)."""
    from pennylane_qstore.convert.qasm import write_qasm2

    cirq = _cirq()
    from cirq.contrib.qasm_import import circuit_from_qasm

    try:
        circuit = circuit_from_qasm(write_qasm2(tape))
    except Exception as exc:  # Cirq's QASM parser raises QasmException and others
        raise ConversionError(f"Cirq cannot read the circuit's OpenQASM 2: {exc}") from exc
    # Cirq's reader names qubit q[i] NamedQubit("q_i"); give LineQubit(i), Cirq's usual qubit
    return circuit.transform_qubits(lambda q: cirq.LineQubit(int(q.name.rsplit("_", 1)[1])))
