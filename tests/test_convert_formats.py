"""Readers of each format against circuits written by hand, symbolic parameters, batches and the
errors for constructs a format cannot hold."""

import numpy as np
import pennylane as qml
import pytest
from pennylane.tape import QuantumScript

from pennylane_qstore.convert import ConversionError, convert, detect_format

qiskit = pytest.importorskip("qiskit")
cirq = pytest.importorskip("cirq")

ATOL = 1e-9
GHZ = np.zeros(8)
GHZ[[0, 7]] = 0.5


def _probs(tape):
    wires = sorted({w for mp in tape.measurements for w in mp.wires})
    script = QuantumScript(tape.operations, [qml.probs(wires=wires)])
    [deferred], _ = qml.defer_measurements(script)
    return np.asarray(qml.execute([deferred], qml.device("default.qubit"))[0])


def _ghz_qiskit():
    circuit = qiskit.QuantumCircuit(3, 3)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.cx(1, 2)
    circuit.measure(range(3), range(3))
    return circuit


def _ghz_cirq():
    q = cirq.LineQubit.range(3)
    return cirq.Circuit(
        cirq.H(q[0]), cirq.CNOT(q[0], q[1]), cirq.CNOT(q[1], q[2]), cirq.measure(*q)
    )


GHZ_SOURCES = {
    "qasm2": 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[3];\ncreg c[3];\nh q[0];\n'
    "cx q[0],q[1];\ncx q[1],q[2];\nmeasure q -> c;\n",
    "qasm3": 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[3] q;\nbit[3] c;\nh q[0];\n'
    "cx q[0], q[1];\ncx q[1], q[2];\nc = measure q;\n",
    "ionq": {
        "gateset": "qis",
        "qubits": 3,
        "circuit": [
            {"gate": "h", "target": 0},
            {"gate": "cnot", "control": 0, "target": 1},
            {"gate": "x", "control": 1, "target": 2},
        ],
    },
    "ionq-native": {
        "input": {
            "gateset": "native",
            "qubits": 2,
            "circuit": [
                {"gate": "gpi2", "target": 0, "phase": 0.25},
                {"gate": "ms", "targets": [0, 1], "phases": [0, 0], "angle": 0.25},
            ],
        }
    },
}


@pytest.mark.parametrize("fmt", ["qasm2", "qasm3", "ionq", "qiskit", "cirq"])
def test_hand_written_ghz_reads_to_ghz_distribution(fmt):
    source = {"qiskit": _ghz_qiskit, "cirq": _ghz_cirq}.get(fmt, lambda: GHZ_SOURCES[fmt])()
    assert detect_format(source) == fmt
    np.testing.assert_allclose(_probs(convert(source, to="tape")), GHZ, atol=ATOL)


def test_native_json_reads_with_ionq_definitions():
    tape = convert(GHZ_SOURCES["ionq-native"], to="tape")
    # IonQ's definitions: GPI2(φ) = (I - i(cos 2πφ X + sin 2πφ Y))/√2, MS(0, 0, 1/4) = (I - iXX)/√2
    state = qml.execute(
        [QuantumScript(tape.operations, [qml.state()])], qml.device("default.qubit")
    )[0]
    gpi2 = np.array([[1, -1], [1, 1]]) / np.sqrt(2)  # GPI2(1/4): -i e^{∓iπ/2} = ∓1
    xx = np.kron([[0, 1], [1, 0]], [[0, 1], [1, 0]])
    ms = (np.eye(4) - 1j * xx) / np.sqrt(2)
    expected = ms @ np.kron(gpi2, np.eye(2)) @ np.eye(4)[0]
    np.testing.assert_allclose(state, expected, atol=ATOL)


def test_qiskit_parameters_stay_symbolic_and_bind_by_name():
    theta = qiskit.circuit.Parameter("theta")
    circuit = qiskit.QuantumCircuit(1)
    circuit.rx(theta, 0)
    assert convert(circuit, to="qiskit") is circuit  # same format: kept symbolic
    with pytest.raises(ConversionError, match=r"unbound parameters \['theta'\].*params="):
        convert(circuit, to="qasm3")
    bound = convert(circuit, to="qiskit", params={"theta": 0.7})
    assert not bound.parameters
    tape = convert(circuit, to="tape", params={"theta": 0.7})
    np.testing.assert_allclose(qml.matrix(tape), qml.matrix(qml.RX(0.7, 0)), atol=ATOL)


def test_cirq_symbols_stay_symbolic_and_resolve_by_name():
    import sympy

    q = cirq.LineQubit(0)
    circuit = cirq.Circuit(cirq.ry(sympy.Symbol("a")).on(q))
    assert convert(circuit, to="cirq") is circuit
    with pytest.raises(ConversionError, match=r"unresolved symbols \['a'\]"):
        convert(circuit, to="qasm2")
    text = convert(circuit, to="qasm3", params={"a": -0.4})
    np.testing.assert_allclose(
        qml.matrix(convert(text, to="tape")), qml.matrix(qml.RY(-0.4, 0)), atol=ATOL
    )


def test_batches_convert_element_wise_and_to_one_multi_circuit_job():
    tapes = [QuantumScript([qml.RX(x, 0), qml.CNOT([0, 1])]) for x in (0.1, 0.2)]
    job = convert(tapes, to="ionq")
    assert [c["name"] for c in job["circuits"]] == ["circuit-0", "circuit-1"]
    back = convert(job, to="qasm3")
    assert isinstance(back, list) and len(back) == 2
    for tape, text in zip(tapes, back, strict=True):
        u = qml.matrix(convert(text, to="tape"), wire_order=[0, 1])
        np.testing.assert_allclose(u, qml.matrix(tape, wire_order=[0, 1]), atol=ATOL)


def test_wire_labels_become_indices_in_order():
    tape = QuantumScript([qml.Hadamard("a"), qml.CNOT(["a", "b"])], [qml.probs(wires=["a", "b"])])
    text = convert(tape, to="qasm2")
    assert "h q[0];" in text and "cx q[0],q[1];" in text and "measure q[1] -> c[1];" in text


def _mcm_tape(**measure_kwargs):
    def circuit():
        qml.Hadamard(0)
        qml.measure(0, **measure_kwargs)
        qml.Hadamard(0)
        return qml.probs(wires=[0])

    return qml.tape.make_qscript(circuit)()


@pytest.mark.parametrize(
    ("tape", "target", "match"),
    [
        (
            _mcm_tape(),
            "ionq",
            r"mid-circuit measurement \(qml.measure\) cannot be written to IonQ JSON",
        ),
        (_mcm_tape(reset=True), "qasm2", "OpenQASM.*reset"),
        (_mcm_tape(postselect=1), "qasm3", "OpenQASM.*postselection"),
        (_mcm_tape(reset=True), "qiskit", "OpenQASM.*reset"),
    ],
)
def test_unsupported_constructs_name_construct_and_format(tape, target, match):
    with pytest.raises(ConversionError, match=match):
        convert(tape, to=target)


def test_measurement_of_mcm_outcome_is_refused():
    def circuit():
        qml.Hadamard(0)
        m = qml.measure(0)
        return qml.expval(m)

    tape = qml.tape.make_qscript(circuit)()
    with pytest.raises(
        ConversionError,
        match="ExpectationMP of a mid-circuit measurement outcome cannot be written to OpenQASM",
    ):
        convert(tape, to="qasm2")


@pytest.mark.parametrize(
    ("obj", "to", "match"),
    [
        ("h q[0];", "tape", "OPENQASM 2.0"),
        (3.5, "tape", "cannot convert a float"),
        (QuantumScript([qml.Hadamard(0)]), "quil", "unknown target format 'quil'"),
        ({"gateset": "qis", "qubits": 1, "circuit": [{"gate": "foo", "target": 0}]}, "tape", "foo"),
        (
            {"gateset": "qis", "qubits": 1, "circuit": [{"gate": "h", "target": 3}]},
            "tape",
            "gate 0",
        ),
        ({"gateset": "qis", "circuit": []}, "tape", "'qubits'"),
        ("OPENQASM 2.0;\nqreg q[1];\nfoo q[0];\n", "cirq", "foo"),
    ],
)
def test_bad_input_errors_name_the_problem(obj, to, match):
    with pytest.raises(ConversionError, match=match):
        convert(obj, to=to)


def test_observable_measurement_is_written_in_its_eigenbasis():
    tape = QuantumScript([qml.RY(0.3, 0)], [qml.expval(qml.PauliX(0))])
    back = convert(convert(tape, to="cirq"), to="tape")
    p = _probs(back)
    assert abs((p[0] - p[1]) - np.sin(0.3)) < ATOL


def _up_to_phase(u, v):
    index = np.unravel_index(np.argmax(np.abs(v)), v.shape)
    np.testing.assert_allclose(u, (u[index] / v[index]) * v, atol=ATOL)


def test_cirq_gates_without_a_pennylane_name_keep_their_unitary():
    q = cirq.LineQubit.range(3)
    circuit = cirq.Circuit(
        cirq.PhasedXPowGate(phase_exponent=0.3, exponent=0.7).on(q[0]),
        cirq.ISWAP(q[0], q[1]) ** 0.5,
        cirq.FSimGate(theta=0.4, phi=0.9).on(q[1], q[2]),
        cirq.CZ(q[0], q[2]) ** 0.3,
        cirq.X(q[1]) ** 0.25,
        cirq.ControlledGate(cirq.Y**0.5, num_controls=2, control_values=(1, 0)).on(*q),
        cirq.MatrixGate(cirq.unitary(cirq.H)).on(q[2]),
        cirq.CCZ(*q),
        cirq.rz(0.3).on(q[0]).controlled_by(q[1]),
    )
    expected = cirq.unitary(circuit)
    for target in ("tape", "qasm3", "qiskit", "ionq"):
        back = convert(convert(circuit, to=target), to="tape")
        _up_to_phase(qml.matrix(QuantumScript(back.operations), wire_order=range(3)), expected)


def test_qiskit_library_gates_match_qiskit_operator():
    from qiskit.circuit import library
    from qiskit.quantum_info import Operator

    circuit = qiskit.QuantumCircuit(3)
    circuit.append(library.RXXGate(0.3), [0, 2])
    circuit.append(library.iSwapGate(), [1, 2])
    circuit.cu(0.1, 0.2, 0.3, 0.4, 0, 1)
    circuit.u(0.5, 0.6, 0.7, 2)
    circuit.sxdg(1)
    circuit.mcx([0, 1], 2)
    circuit.cp(0.8, 2, 0)
    # Qiskit orders qubit 0 least significant; PennyLane most significant
    expected = Operator(circuit.reverse_bits()).data
    for target in ("tape", "qasm2", "cirq", "ionq"):
        back = convert(convert(circuit, to=target), to="tape")
        _up_to_phase(qml.matrix(QuantumScript(back.operations), wire_order=range(3)), expected)


def test_qasm_from_qiskit_with_gate_definitions_is_read():
    from qiskit.quantum_info import Operator

    circuit = qiskit.QuantumCircuit(2)
    circuit.rzx(0.3, 0, 1)  # qiskit.qasm2.dumps writes a `gate rzx(...)` definition
    circuit.sxdg(0)  # in qelib1 but not in PennyLane's reader
    text = qiskit.qasm2.dumps(circuit)
    assert "gate rzx" in text
    tape = convert(text, to="tape")
    expected = Operator(circuit.reverse_bits()).data
    _up_to_phase(qml.matrix(QuantumScript(tape.operations), wire_order=range(2)), expected)


def test_symbolic_circuits_stay_symbolic_between_qiskit_and_cirq():
    from qiskit.circuit import Parameter
    from qiskit.quantum_info import Operator

    a, b = Parameter("a"), Parameter("b")
    circuit = qiskit.QuantumCircuit(3)
    circuit.h(0)
    circuit.u(a, 2 * b, 0.3, 0)
    circuit.crx(a, 0, 1)
    circuit.rzz(b / 2, 1, 2)
    circuit.cp(a + b, 2, 0)
    circuit.ccx(0, 1, 2)
    circuit.rx(2 * a + 1, 2)
    as_cirq = convert(circuit, to="cirq")
    assert {str(s) for s in cirq.parameter_names(as_cirq)} == {"a", "b"}
    back = convert(as_cirq, to="qiskit")
    assert {p.name for p in back.parameters} == {"a", "b"}
    values = {"a": 0.37, "b": -1.1}
    expected = Operator(circuit.assign_parameters(values).reverse_bits()).data
    resolved = cirq.resolve_parameters(as_cirq, values)
    _up_to_phase(resolved.unitary(qubit_order=cirq.LineQubit.range(3)), expected)
    bound = back.assign_parameters({p: values[p.name] for p in back.parameters})
    _up_to_phase(Operator(bound.reverse_bits()).data, expected)


def test_symbolic_cirq_gate_without_qiskit_form_is_refused():
    import sympy

    q = cirq.LineQubit(0)
    phased = cirq.Circuit(cirq.PhasedXPowGate(phase_exponent=sympy.Symbol("p")).on(q))
    with pytest.raises(ConversionError, match=r"PhasedXPowGate.*params="):
        convert(phased, to="qiskit")
    sine = cirq.Circuit(cirq.rx(sympy.sin(sympy.Symbol("x"))).on(q))
    with pytest.raises(ConversionError, match="only \\+ - \\* /"):
        convert(sine, to="qiskit")
    assert convert(sine, to="qiskit", params={"x": 0.2}).num_parameters == 0
