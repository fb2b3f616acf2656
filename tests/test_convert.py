"""Every cell of the conversion matrix (source format x target format) on a suite of circuits.

Each circuit is written in the source format, converted to the target and read back into a tape;
the result must equal the original: the unitary up to global phase (1e-9), the output
distribution of the measured qubits, or for IonQ native gates (whose trailing Z frames are not
sent) |U| elementwise.
"""

import functools
import itertools

import numpy as np
import pennylane as qml
import pytest
from pennylane.tape import QuantumScript

from pennylane_qstore.convert import FORMATS, ConversionError, convert

pytest.importorskip("qiskit")
pytest.importorskip("cirq")

ATOL = 1e-9


def _qft():
    return QuantumScript([qml.QFT(wires=range(3))])


def _ghz():
    ops = [qml.Hadamard(0), qml.CNOT([0, 1]), qml.CNOT([1, 2])]
    return QuantumScript(ops, [qml.probs(wires=[0, 1, 2])])


def _ansatz():
    rng = np.random.default_rng(7)
    ops = []
    for layer in range(2):
        for w in range(3):
            ops += [qml.RY(rng.uniform(-np.pi, np.pi), w), qml.RZ(rng.uniform(-np.pi, np.pi), w)]
        ops += [qml.CNOT([w, (w + 1) % 3]) for w in range(3)]
        ops.append(qml.IsingZZ(0.3 + layer, wires=[0, 2]))
    return QuantumScript(ops, [qml.probs(wires=[0, 2])])


def _controlled():
    ops = [
        qml.Hadamard(0),
        qml.Hadamard(1),
        qml.RX(0.4, 2),
        qml.CRX(0.7, wires=[0, 3]),
        qml.CRY(-1.1, wires=[1, 2]),
        qml.ControlledPhaseShift(0.9, wires=[2, 3]),
        qml.Toffoli([0, 1, 2]),
        qml.CSWAP([2, 0, 3]),
        qml.ctrl(qml.RY(0.5, 3), control=[0, 1]),
        qml.MultiControlledX(wires=[0, 1, 2, 3]),
        qml.SWAP([1, 3]),
    ]
    return QuantumScript(ops)


def _mid_circuit():
    def circuit():
        qml.Hadamard(0)
        qml.RY(0.8, 1)
        m = qml.measure(0)
        qml.cond(m, qml.PauliX)(1)
        qml.cond(m, qml.RY)(0.3, 2)
        qml.Hadamard(0)
        return qml.probs(wires=[0, 1, 2])

    return qml.tape.make_qscript(circuit)()


CIRCUITS = {
    "qft": _qft,
    "ghz": _ghz,
    "ansatz": _ansatz,
    "controlled": _controlled,
    "mid_circuit": _mid_circuit,
}


def _measured(tape):
    return sorted({w for mp in tape.measurements for w in mp.wires})


def _probabilities(tape, wires):
    """Exact output distribution of ``wires`` (mid-circuit measurements deferred)."""
    script = QuantumScript(tape.operations, [qml.probs(wires=wires)])
    [deferred], _ = qml.defer_measurements(script)
    return np.asarray(qml.execute([deferred], qml.device("default.qubit"))[0])


def _unitary(tape, n):
    return np.asarray(qml.matrix(QuantumScript(tape.operations), wire_order=range(n)))


def _assert_equal_up_to_phase(u, v):
    index = np.unravel_index(np.argmax(np.abs(v)), v.shape)
    phase = u[index] / v[index]
    assert abs(abs(phase) - 1) < ATOL
    np.testing.assert_allclose(u, phase * v, atol=ATOL)


def _assert_same_circuit(original, back, native):
    n = max(original.wires) + 1
    has_mcm = any(isinstance(op, qml.ops.MidMeasure) for op in original.operations)
    if has_mcm:
        wires = _measured(original)
        assert _measured(back) == wires
        np.testing.assert_allclose(
            _probabilities(back, wires), _probabilities(original, wires), atol=ATOL
        )
        return
    u, v = _unitary(back, n), _unitary(original, n)
    if native:
        np.testing.assert_allclose(np.abs(u), np.abs(v), atol=ATOL)
    else:
        _assert_equal_up_to_phase(u, v)


@functools.cache
def _source(name, source):
    """The circuit ``name`` written in format ``source`` (once per session; readers do not mutate)."""
    tape = CIRCUITS[name]()
    return tape if source == "tape" else convert(tape, to=source)


def _through(name, source, target):
    return convert(convert(_source(name, source), to=target), to="tape")


CELLS = list(itertools.product(FORMATS, FORMATS))


@pytest.mark.parametrize("name", CIRCUITS)
@pytest.mark.parametrize(("source", "target"), CELLS, ids=[f"{s}-{t}" for s, t in CELLS])
def test_conversion_matrix(source, target, name):
    tape = CIRCUITS[name]()
    has_mcm = name == "mid_circuit"
    if has_mcm and "ionq" in (source, target):
        with pytest.raises(ConversionError, match="IonQ JSON"):
            _through(name, source, target)
        return
    back = _through(name, source, target)
    _assert_same_circuit(tape, back, native=False)
    if not has_mcm and "ionq" not in (source, target):
        assert _measured(back) == _measured(tape)


@pytest.mark.parametrize("name", ["qft", "ghz", "ansatz"])
@pytest.mark.parametrize("source", FORMATS)
def test_ionq_native_from_every_format(source, name):
    tape = CIRCUITS[name]()
    job = convert(_source(name, source), to="ionq", gateset="native")
    assert job["gateset"] == "native"
    assert {gate["gate"] for gate in job["circuit"]} <= {"gpi", "gpi2", "ms"}
    _assert_same_circuit(tape, convert(job, to="tape"), native=True)


@pytest.mark.parametrize("name", ["qft", "ansatz"])
@pytest.mark.parametrize("target", FORMATS)
def test_ionq_native_to_every_format(target, name):
    tape = CIRCUITS[name]()
    job = convert(tape, to="ionq", gateset="native", entangler="zz")
    back = convert(convert(job, to=target), to="tape")
    _assert_same_circuit(tape, back, native=True)


@pytest.mark.slow
def test_ionq_native_controlled_gates():
    tape = CIRCUITS["controlled"]()
    job = convert(tape, to="ionq", gateset="native")
    _assert_same_circuit(tape, convert(job, to="tape"), native=True)
    _assert_same_circuit(tape, convert(convert(job, to="qiskit"), to="tape"), native=True)
