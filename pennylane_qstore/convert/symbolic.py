"""Symbolic circuits between Qiskit and Cirq: ``Parameter`` expressions become sympy expressions
and back, so a parametrised circuit keeps its parameters (PennyLane tapes hold numbers only, so
this path does not go through a tape).

Qiskit circuits are first transpiled (exactly) to gates with a Cirq counterpart; Cirq gates with
symbols must be powers of X, Y, Z, XX, YY, ZZ or CZ, or controlled rotations; fixed gates on
either side travel as their unitary or named gate.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pennylane_qstore.convert._hub import ConversionError

_BASIS = ["rx", "ry", "rz", "p", "crx", "cry", "crz", "cp", "rxx", "ryy", "rzz"]
_BASIS += ["x", "y", "z", "h", "s", "sdg", "t", "tdg", "sx", "sxdg", "id"]
_BASIS += ["cx", "cy", "cz", "ch", "swap", "ccx", "cswap"]


def _fixed_cirq(cirq: Any) -> dict[str, Any]:
    return {
        "x": cirq.X,
        "y": cirq.Y,
        "z": cirq.Z,
        "h": cirq.H,
        "s": cirq.S,
        "sdg": cirq.S**-1,
        "t": cirq.T,
        "tdg": cirq.T**-1,
        "sx": cirq.X**0.5,
        "sxdg": cirq.X**-0.5,
        "id": cirq.I,
        "cx": cirq.CNOT,
        "cy": cirq.Y.controlled(),
        "cz": cirq.CZ,
        "ch": cirq.H.controlled(),
        "swap": cirq.SWAP,
        "ccx": cirq.CCX,
        "cswap": cirq.CSWAP,
    }


def _to_sympy(value: Any) -> Any:
    import sympy

    return sympy.sympify(value.sympify()) if hasattr(value, "sympify") else float(value)


def _cirq_gate(cirq: Any, name: str, params: list) -> Any:
    import sympy

    angle = _to_sympy(params[0]) if params else None
    rotations = {"rx": cirq.rx, "ry": cirq.ry, "rz": cirq.rz}
    if name in rotations:
        return rotations[name](angle)
    if name.startswith("c") and name[1:] in rotations:
        return rotations[name[1:]](angle).controlled()
    if name == "p":
        return cirq.ZPowGate(exponent=angle / sympy.pi)
    if name == "cp":
        return cirq.CZPowGate(exponent=angle / sympy.pi)
    pairs = {"rxx": cirq.XXPowGate, "ryy": cirq.YYPowGate, "rzz": cirq.ZZPowGate}
    if name in pairs:
        return pairs[name](exponent=angle / sympy.pi, global_shift=-0.5)
    return _fixed_cirq(cirq)[name]


def qiskit_to_cirq(circuit: Any) -> Any:
    """Return the Cirq circuit of a Qiskit circuit, parameters as sympy symbols of the same names.

    Raises:
        ConversionError: for classical control flow (give parameter values instead).
    """
    import cirq
    import qiskit

    circuit = qiskit.transpile(circuit, basis_gates=_BASIS, optimization_level=0)
    qubits = cirq.LineQubit.range(circuit.num_qubits)
    operations = []
    for instruction in circuit.data:
        op, name = instruction.operation, instruction.operation.name
        wires = [qubits[circuit.find_bit(b).index] for b in instruction.qubits]
        if name == "barrier":
            continue
        if name == "measure":
            register, index = circuit.find_bit(instruction.clbits[0]).registers[0]
            operations.append(cirq.measure(*wires, key=f"{register.name}_{index}"))
        elif name in _BASIS:
            operations.append(_cirq_gate(cirq, name, list(op.params)).on(*wires))
        else:
            raise ConversionError(
                f"Qiskit {name} cannot be converted to Cirq with symbolic parameters; give the "
                "parameter values with params={name: value}"
            )
    return cirq.Circuit(operations)


def _to_qiskit_expression(expr: Any, parameters: dict) -> Any:
    import sympy

    symbols = sorted(expr.free_symbols, key=str) if hasattr(expr, "free_symbols") else []
    if not symbols:
        return float(expr)
    for symbol in symbols:
        parameters.setdefault(str(symbol), _new_parameter(str(symbol)))
    function = sympy.lambdify(symbols, expr, modules=[{"pi": np.pi}, "math"])
    try:
        return function(*(parameters[str(s)] for s in symbols))
    except TypeError as exc:
        raise ConversionError(
            f"Cirq expression {expr} has no Qiskit parameter form (only + - * / of symbols); "
            "give the symbol values with params={name: value}"
        ) from exc


def _new_parameter(name: str) -> Any:
    from qiskit.circuit import Parameter

    return Parameter(name)


def _qiskit_gate(cirq: Any, gate: Any, parameters: dict) -> Any:
    from qiskit.circuit import library

    def angle() -> Any:
        return _to_qiskit_expression(gate.exponent * np.pi, parameters)

    simple = (
        (cirq.XPowGate, library.RXGate),
        (cirq.YPowGate, library.RYGate),
        (cirq.ZPowGate, library.RZGate),
        (cirq.XXPowGate, library.RXXGate),
        (cirq.YYPowGate, library.RYYGate),
        (cirq.ZZPowGate, library.RZZGate),
        (cirq.CZPowGate, library.CPhaseGate),
    )
    for cls, qiskit_gate in simple:
        if isinstance(gate, cls) and (cls is not cirq.CZPowGate or gate.global_shift == 0):
            return qiskit_gate(angle())
    if isinstance(gate, cirq.ControlledGate) and gate.num_controls() == 1:
        sub = gate.sub_gate
        controlled = {cirq.XPowGate: library.CRXGate, cirq.YPowGate: library.CRYGate}
        controlled[cirq.ZPowGate] = library.CRZGate
        for cls, qiskit_gate in controlled.items():
            if isinstance(sub, cls) and sub.global_shift == -0.5:
                return qiskit_gate(_to_qiskit_expression(sub.exponent * np.pi, parameters))
    raise ConversionError(
        f"Cirq {type(gate).__name__} {gate} with symbols has no Qiskit counterpart here; give "
        "the symbol values "
        "with params={name: value}"
    )


def cirq_to_qiskit(circuit: Any) -> Any:
    """Return the Qiskit circuit of a Cirq circuit, symbols as ``Parameter`` of the same names.

    Measurements go to one classical register ``c`` in order of appearance.
    """
    import cirq
    import qiskit
    from qiskit.circuit.library import UnitaryGate

    qubits = sorted(circuit.all_qubits())
    index = {q: i for i, q in enumerate(qubits)}
    if all(isinstance(q, cirq.LineQubit) for q in qubits):
        index = {q: q.x for q in qubits}
    measured = [q for op in circuit.all_operations() if cirq.is_measurement(op) for q in op.qubits]
    result = qiskit.QuantumCircuit(max(index.values(), default=-1) + 1, len(measured))
    parameters: dict = {}
    bit = 0
    for op in circuit.all_operations():
        wires = [index[q] for q in op.qubits]
        if cirq.is_measurement(op):
            for wire in wires:
                result.measure(wire, bit)
                bit += 1
        elif cirq.is_parameterized(op):
            result.append(_qiskit_gate(cirq, op.gate, parameters), wires)
        elif cirq.has_unitary(op):  # Qiskit's matrices are little-endian: reverse the qubits
            result.append(UnitaryGate(cirq.unitary(op)), wires[::-1])
        else:
            raise ConversionError(f"Cirq operation {op} has no unitary; give symbol values")
    return result
