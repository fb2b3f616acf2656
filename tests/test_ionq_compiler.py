"""The IonQ native compiler: exact unitaries on a circuit suite, optimisations, measurements, errors."""

from __future__ import annotations

import json

import numpy as np
import pennylane as qml
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pennylane_qstore.ionq import GPI, GPI2, MS, ZZ
from pennylane_qstore.ionq.compiler import (
    UnsupportedOperationError,
    compile_circuit,
    native_circuits,
    to_native,
)
from pennylane_qstore.ionq.native import circuit_json, gates_from_json

ENTANGLERS = ["ms", "zz"]
RNG = np.random.default_rng(7)


# ---------------------------------------------------------------- circuit suite
def qft(n: int) -> list:
    return [qml.PauliX(0), qml.Hadamard(n - 1), qml.QFT(wires=range(n))]


def ghz(n: int) -> list:
    return [qml.Hadamard(0)] + [qml.CNOT([i, i + 1]) for i in range(n - 1)]


def bernstein_vazirani(secret: str) -> list:
    n = len(secret)
    ops = [qml.PauliX(n), qml.Hadamard(n)] + [qml.Hadamard(i) for i in range(n)]
    ops += [qml.CNOT([i, n]) for i, bit in enumerate(secret) if bit == "1"]
    return ops + [qml.Hadamard(i) for i in range(n)]


def grover(n: int, marked: int) -> list:
    wires = list(range(n))
    ops = [qml.Hadamard(w) for w in wires]
    bits = [int(b) for b in np.binary_repr(marked, n)]
    for _ in range(2):
        ops += [qml.FlipSign(bits, wires=wires), qml.GroverOperator(wires=wires)]
    return ops


def qaoa(n: int, layers: int) -> list:
    gammas, betas = RNG.uniform(0, np.pi, layers), RNG.uniform(0, np.pi, layers)
    ops = [qml.Hadamard(w) for w in range(n)]
    for gamma, beta in zip(gammas, betas, strict=True):
        ops += [qml.IsingZZ(2 * gamma, wires=[i, (i + 1) % n]) for i in range(n)]
        ops += [qml.RX(2 * beta, wires=w) for w in range(n)]
    return ops


def hardware_efficient(n: int, layers: int) -> list:
    weights = RNG.uniform(-np.pi, np.pi, (layers, n, 3))
    return qml.StronglyEntanglingLayers(weights, wires=range(n)).decomposition()


def toffoli_adder() -> list:
    """Two-bit ripple-carry adder: a=(0,1), b=(2,3), carries (4,5); inputs a=3, b=1."""
    ops = [qml.PauliX(0), qml.PauliX(1), qml.PauliX(2)]
    for a, b, c_in, c_out in ((0, 2, None, 4), (1, 3, 4, 5)):
        ops += [qml.Toffoli([a, b, c_out]), qml.CNOT([a, b])]
        if c_in is not None:
            ops += [qml.Toffoli([c_in, b, c_out]), qml.CNOT([c_in, b])]
    return ops


def layered_ansatz(n: int, layers: int) -> list:
    """The default layer ansatz: RY encodings, then RX/RY/RZ on each qubit and a CNOT ring."""
    features, weights = RNG.uniform(-1, 1, n), RNG.uniform(-np.pi, np.pi, (layers, n, 3))
    ops = [qml.RY(x, wires=i) for i, x in enumerate(features)]
    for layer in weights:
        for i, (a, b, c) in enumerate(layer):
            ops += [qml.RX(a, wires=i), qml.RY(b, wires=i), qml.RZ(c, wires=i)]
        ops += [qml.CNOT([i, (i + 1) % n]) for i in range(n)]
    return ops


def mixed_partial() -> list:
    return [
        qml.Hadamard(0),
        qml.IsingXX(0.3, [0, 1]),
        qml.IsingYY(-1.1, [1, 2]),
        qml.CRZ(0.7, [2, 0]),
        qml.ControlledPhaseShift(-0.4, [1, 0]),
        qml.CRX(2.2, [0, 2]),
        qml.CRY(0.9, [2, 1]),
        qml.MultiRZ(0.5, [0, 2]),
        qml.PauliRot(0.8, "XY", [1, 0]),
        qml.SWAP([0, 2]),
        qml.CY([1, 2]),
        qml.CH([2, 0]),
        qml.ISWAP([0, 1]),
        qml.ctrl(qml.RX(0.3, 1), 0, control_values=[0]),
        MS(0.1, 0.3, 0.2, wires=[1, 2]),
        ZZ(-0.2, wires=[0, 1]),
        qml.GlobalPhase(0.37),
    ]


SUITE = {
    **{f"qft{n}": (lambda n=n: qft(n)) for n in range(4, 9)},
    "ghz6": lambda: ghz(6),
    "bv5": lambda: bernstein_vazirani("10110"),
    "grover3": lambda: grover(3, 5),
    "qaoa5": lambda: qaoa(5, 2),
    "hea4": lambda: hardware_efficient(4, 2),
    "adder": toffoli_adder,
    "layers4": lambda: layered_ansatz(4, 2),
    "partial": mixed_partial,
}


def assert_native(native, entangler: str) -> None:
    allowed = {"gpi", "gpi2", entangler}
    for gate in native.gates:
        assert gate.name in allowed
        assert all(-1 <= p <= 1 for p in gate.phases)
        if gate.angle is not None:
            assert 0 < gate.angle <= 0.25


@pytest.mark.parametrize("entangler", ENTANGLERS)
@pytest.mark.parametrize("name", list(SUITE))
def test_compiled_unitary_equals_source_with_reported_phase(name, entangler):
    ops = SUITE[name]()
    tape = qml.tape.QuantumScript(ops)
    native = compile_circuit(tape, entangler)
    assert_native(native, entangler)
    expected = qml.matrix(tape, wire_order=list(native.wires))
    # exact equality: global phase, residual Z frames and relabelling are all reported
    assert np.max(np.abs(native.matrix() - expected)) < 1e-9


@pytest.mark.parametrize("entangler", ENTANGLERS)
def test_two_qubit_count_never_exceeds_source_entanglers(entangler):
    # QFT(n) has n(n-1)/2 controlled phases and n//2 swaps: swaps cost nothing
    for n in (4, 8):
        assert compile_circuit(qft(n), entangler).gate_counts()["2q"] == n * (n - 1) // 2
    assert compile_circuit(ghz(6), entangler).gate_counts()["2q"] == 5


@pytest.mark.parametrize("entangler", ENTANGLERS)
@pytest.mark.parametrize(
    "op",
    [
        qml.IsingZZ(0.3, [0, 1]),
        qml.IsingXX(0.3, [0, 1]),
        qml.IsingYY(0.3, [0, 1]),
        qml.MultiRZ(0.3, [0, 1]),
        qml.CRZ(0.6, [0, 1]),
        qml.ControlledPhaseShift(0.6, [0, 1]),
    ],
)
def test_partial_angle_entanglers_become_one_partial_gate(op, entangler):
    native = compile_circuit([op], entangler)
    [two] = [g for g in native.gates if g.name == entangler]
    assert two.angle == pytest.approx(0.3 / (2 * np.pi))
    assert native.gate_counts()["total"] <= 5


def test_isingxx_is_a_bare_ms_and_isingzz_a_bare_zz():
    assert compile_circuit([qml.IsingXX(0.5, [0, 1])], "ms").gate_counts()["total"] == 1
    assert compile_circuit([qml.IsingZZ(0.5, [0, 1])], "zz").gate_counts()["total"] == 1


@pytest.mark.parametrize("entangler", ENTANGLERS)
def test_cancellation_commutation_and_swap_relabelling(entangler):
    cancel = [
        qml.CNOT([0, 1]),
        qml.CNOT([0, 1]),
        qml.IsingZZ(0.4, [1, 2]),
        qml.IsingZZ(-0.4, [1, 2]),
    ]
    assert compile_circuit(cancel, entangler).gates == ()
    # RZ on either wire commutes with the ZZ interaction inside CZ: the two CZs merge and cancel
    commute = [qml.CZ([0, 1]), qml.RZ(0.7, 0), qml.PauliX(1), qml.CZ([0, 1]), qml.PauliX(1)]
    assert compile_circuit(commute, entangler).gate_counts()["2q"] == 0
    # ZZ interactions commute with each other: the CZs on (0, 1) meet across the one on (1, 2)
    across = [qml.CZ([0, 1]), qml.CRZ(0.3, [1, 2]), qml.T(0), qml.PauliX(1), qml.CZ([0, 1])]
    native = compile_circuit(across, entangler)
    assert native.gate_counts()["2q"] == 1
    expected = qml.matrix(qml.tape.QuantumScript(across), wire_order=[0, 1, 2])
    assert np.allclose(native.matrix(), expected, atol=1e-9)
    swapped = compile_circuit([qml.Hadamard(0), qml.SWAP([0, 1]), qml.SWAP([1, 2])], entangler)
    assert swapped.gate_counts()["2q"] == 0
    # at the end, logical wire 0 holds the state prepared on qubit 1, which never moved
    assert swapped.output_qubits == (1, 2, 0)


def test_virtual_z_frames_and_global_phase_are_reported():
    native = compile_circuit([qml.S(0)], "ms")
    assert native.gates == ()  # S = e^{iπ/4} RZ(π/2): nothing to emit
    assert native.frames == pytest.approx((0.25,))
    assert native.global_phase == pytest.approx(1 / 8)
    assert compile_circuit([qml.RZ(0.3, 0), qml.T(0), qml.PhaseShift(1.0, 0)], "zz").gates == ()


@pytest.mark.parametrize(
    ("ops", "expected"),
    [
        ([qml.RX(0.4, 0), qml.RX(-0.4, 0)], {}),
        ([qml.PauliX(0)], {"gpi": 1}),
        ([qml.PauliY(0), qml.RZ(0.2, 0)], {"gpi": 1}),
        ([qml.RX(np.pi / 2, 0)], {"gpi2": 1}),
        ([qml.Hadamard(0)], {"gpi2": 1}),
        ([qml.RX(0.3, 0), qml.RY(1.2, 0), qml.RZ(-0.7, 0), qml.RX(2.0, 0)], {"gpi2": 2}),
    ],
)
def test_single_qubit_runs_use_fewest_pulses(ops, expected):
    counts = compile_circuit(ops, "ms").gate_counts()
    assert {k: v for k, v in counts.items() if k in ("gpi", "gpi2") and v} == expected


def test_json_is_exact_ionq_native_format_and_round_trips():
    native = compile_circuit([qml.Hadamard(0), qml.CNOT([0, 1]), qml.CRZ(0.5, [1, 2])], "ms")
    payload = json.loads(json.dumps(native.to_json()))
    assert payload["gateset"] == "native" and payload["qubits"] == 3
    for entry in payload["circuit"]:
        if entry["gate"] == "ms":
            assert set(entry) == {"gate", "targets", "phases", "angle"}
        else:
            assert set(entry) == {"gate", "target", "phase"} and entry["gate"] in ("gpi", "gpi2")
    assert gates_from_json(payload["circuit"], 3) == list(native.gates)
    assert circuit_json(native.operations(), native.wires) == payload
    zz = compile_circuit([qml.IsingZZ(0.2, [0, 1])], "zz").to_json()["circuit"]
    assert zz == [{"gate": "zz", "targets": [0, 1], "angle": pytest.approx(0.2 / (2 * np.pi))}]


def test_json_of_native_operations_with_tensor_parameters():
    # the compiler's operations hold floats; a tape built by hand may hold NumPy or torch scalars
    torch = pytest.importorskip("torch")
    native = compile_circuit([qml.Hadamard(0), qml.CNOT([0, 1]), qml.IsingXX(0.7, [1, 2])], "ms")
    expected = circuit_json(native.operations(), native.wires)
    for convert in (np.float64, qml.numpy.tensor, lambda x: torch.tensor(x, dtype=torch.float64)):
        ops = [type(op)(*map(convert, op.data), wires=op.wires) for op in native.operations()]
        assert circuit_json(ops, native.wires) == expected


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"gate": "cnot", "control": 0, "target": 1}, "unknown gate"),
        ({"gate": "gpi", "target": 3, "phase": 0.1}, "outside"),
        ({"gate": "gpi2", "target": 0, "phase": 1.5}, "within"),
        ({"gate": "ms", "targets": [0, 0], "phases": [0, 0]}, "distinct"),
        ({"gate": "ms", "targets": [0, 1], "phases": [0, 0], "angle": 0.3}, r"\[0, 0.25\]"),
        ({"gate": "zz", "targets": [0, 1]}, None),
    ],
)
def test_gates_from_json_validates_entries(entry, message):
    if message is None:
        assert gates_from_json([entry], 2)[0].angle == 0.25
    else:
        with pytest.raises(ValueError, match=message):
            gates_from_json([entry], 2)


def _measured_circuit(x):
    qml.Hadamard(0)
    qml.CNOT([0, 1])
    qml.RX(x, 1)
    qml.SWAP([1, 2])
    qml.CRY(0.3, [2, 0])
    qml.IsingXY(0.4, [0, 2])
    return (
        qml.expval(qml.Y(2)),
        qml.var(qml.X(0) @ qml.Z(2)),
        qml.probs(wires=[2, 0]),
        qml.expval(qml.Hermitian(np.array([[1.0, 2.0], [2.0, -1.0]]), wires=1)),
        qml.expval(qml.X(0) + 0.5 * qml.Z(0)),
    )


@pytest.mark.parametrize("entangler", ENTANGLERS)
def test_qnode_measurements_match_default_qubit_analytic(entangler):
    source = qml.QNode(_measured_circuit, qml.device("default.qubit"))
    compiled = to_native(source, entangler=entangler)
    for got, want in zip(compiled(0.4), source(0.4), strict=True):
        assert np.allclose(got, want, atol=1e-9)
    tapes, _ = to_native(qml.workflow.construct_tape(source)(0.4), entangler=entangler)
    for tape in tapes:
        assert all(isinstance(op, GPI | GPI2 | MS | ZZ) for op in tape.operations)
        assert all(isinstance(mp, qml.measurements.ProbabilityMP) for mp in tape.measurements)


@pytest.mark.parametrize("entangler", ENTANGLERS)
def test_measurement_statistics_with_shots_agree(entangler):
    shots = 20_000
    dev = qml.device("default.qubit", seed=11)

    def circuit():
        for op in [*grover(3, 6), qml.SWAP([0, 2]), qml.RX(0.7, 1)]:
            qml.apply(op)
        return qml.probs(wires=[0, 1, 2]), qml.expval(qml.X(1))

    exact_probs, exact_x = qml.QNode(circuit, qml.device("default.qubit"))()
    probs, x = to_native(qml.QNode(circuit, dev, shots=shots), entangler=entangler)()
    sigma = np.sqrt(exact_probs * (1 - exact_probs) / shots) + 1e-3
    assert np.all(np.abs(probs - exact_probs) < 5 * sigma)
    assert abs(x - exact_x) < 5 * np.sqrt((1 - exact_x**2) / shots) + 1e-3


@pytest.mark.parametrize("entangler", ENTANGLERS)
def test_default_layer_ansatz_of_qstore_layers_compiles_exactly(entangler):
    from qstore_layers.ansatz import make_qnode

    qnode = make_qnode(4, "angle", "xyz", qml.device("default.qubit"), None)
    inputs, weights = RNG.uniform(-1, 1, 6), RNG.uniform(-np.pi, np.pi, (2, 2, 4, 3))
    tape = qml.workflow.construct_tape(qnode)(inputs, weights)
    native = compile_circuit(tape, entangler)
    assert np.max(np.abs(native.matrix() - qml.matrix(tape, wire_order=native.wires))) < 1e-9
    # 12 readouts <X_q>, <Y_q>, <Z_q>: three measurement bases, rebuilt from probabilities
    got = to_native(qnode, entangler=entangler)(inputs, weights)
    assert np.allclose(got, qnode(inputs, weights), atol=1e-9)


def test_string_wire_labels_and_swaps_map_back():
    @qml.qnode(qml.device("default.qubit", wires=["a", "b", "c"]))
    def circuit():
        qml.RX(0.3, "c")
        qml.SWAP(["a", "c"])
        qml.CNOT(["a", "b"])
        qml.RY(0.5, "c")
        return qml.probs(wires=["b", "a"]), qml.expval(qml.Y("c") @ qml.X("a"))

    for got, want in zip(to_native(circuit)(), circuit(), strict=True):
        assert np.allclose(got, want, atol=1e-9)


def test_broadcast_parameters_compile_one_circuit_per_value():
    @qml.qnode(qml.device("default.qubit"))
    def circuit(x):
        qml.RY(x, 0)
        qml.CRX(x, [0, 1])
        return qml.expval(qml.Z(1)), qml.probs(wires=[0])

    x = np.array([0.1, 1.2, 2.5])
    got, want = to_native(circuit, entangler="ms")(x), circuit(x)
    assert np.allclose(got[0], want[0], atol=1e-9) and np.allclose(got[1], want[1], atol=1e-9)


def test_shot_vectors_give_one_result_per_copy():
    @qml.qnode(qml.device("default.qubit", seed=5), shots=[(4000, 2)])
    def circuit():
        qml.RX(1.0, 0)
        qml.CNOT([0, 1])
        return qml.expval(qml.Z(1)), qml.probs(wires=[0])

    results = to_native(circuit, entangler="zz")()
    assert len(results) == 2
    for z1, probs in results:
        assert abs(z1 - np.cos(1.0)) < 5 * np.sin(1.0) / np.sqrt(4000)
        assert probs.shape == (2,) and probs.sum() == pytest.approx(1.0)


def test_native_circuits_give_device_the_wires_to_measure():
    tape = qml.tape.QuantumScript(
        [qml.PauliX(0), qml.SWAP([0, 1])], [qml.probs(wires=[1]), qml.expval(qml.Z(0))]
    )
    [(native, measured)], postprocess = native_circuits(tape, "zz")
    assert measured == [[0], [1]]  # logical wire 1 sits on physical qubit 0 after the swap
    # a device answers with the probabilities of those wires from the native job
    probs = qml.execute(
        [qml.tape.QuantumScript(native.operations(), [qml.probs(wires=[0, 1])])],
        qml.device("default.qubit"),
    )[0]
    marg0, marg1 = probs.reshape(2, 2).sum(axis=1), probs.reshape(2, 2).sum(axis=0)
    p1, z0 = postprocess([[marg0, marg1]])
    assert np.allclose(p1, [0, 1]) and z0 == pytest.approx(1.0)


# ---------------------------------------------------------------- random circuits
GATES_1Q = [qml.RX, qml.RY, qml.RZ, qml.PhaseShift]
FIXED_1Q = [qml.Hadamard, qml.S, qml.T, qml.SX, qml.PauliX, qml.PauliY]
GATES_2Q = [qml.CRX, qml.CRY, qml.CRZ, qml.IsingXX, qml.IsingYY, qml.IsingZZ, qml.CPhase]
FIXED_2Q = [qml.CNOT, qml.CZ, qml.CY, qml.SWAP]


@st.composite
def random_ops(draw):
    ops = []
    for _ in range(draw(st.integers(1, 14))):
        kind = draw(st.integers(0, 4))
        wires = draw(st.permutations(range(3)))
        special = st.sampled_from([0.0, np.pi / 2, np.pi, -np.pi / 4, 2 * np.pi])
        angle = draw(st.one_of(special, st.floats(-7, 7, allow_nan=False)))
        if kind == 0:
            ops.append(draw(st.sampled_from(GATES_1Q))(angle, wires=wires[0]))
        elif kind == 1:
            ops.append(draw(st.sampled_from(FIXED_1Q))(wires=wires[0]))
        elif kind == 2:
            ops.append(draw(st.sampled_from(GATES_2Q))(angle, wires=wires[:2]))
        elif kind == 3:
            ops.append(draw(st.sampled_from(FIXED_2Q))(wires=wires[:2]))
        else:
            ops.append(qml.Toffoli(wires=wires))
    return ops


@settings(max_examples=60, deadline=None, derandomize=True)
@given(ops=random_ops(), entangler=st.sampled_from(ENTANGLERS))
def test_random_circuits_compile_exactly(ops, entangler):
    tape = qml.tape.QuantumScript(ops)
    native = compile_circuit(tape, entangler, wires=[0, 1, 2])
    assert_native(native, entangler)
    assert np.max(np.abs(native.matrix() - qml.matrix(tape, wire_order=[0, 1, 2]))) < 1e-9


# ---------------------------------------------------------------- bad input
class _Opaque(qml.operation.Operation):
    num_wires = 3
    num_params = 0


def test_unsupported_operation_names_itself_and_supported_set():
    with pytest.raises(UnsupportedOperationError, match=r"_Opaque on wires \[0, 1, 2\].*supported"):
        compile_circuit([_Opaque(wires=[0, 1, 2])])


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_parameters_are_rejected_before_compiling(bad):
    with pytest.raises(ValueError, match="RX on wires \\[1\\] has a non-finite"):
        compile_circuit([qml.Hadamard(0), qml.RX(bad, 1)])


def test_too_wide_circuit_reports_both_numbers():
    with pytest.raises(ValueError, match="uses 5 qubits but the target has only 3"):
        compile_circuit(ghz(5), max_qubits=3)
    tape = qml.tape.QuantumScript(ghz(5), [qml.probs()])
    with pytest.raises(ValueError, match="uses 5 qubits"):
        to_native(tape, max_qubits=4)


def test_mid_circuit_measurement_is_rejected_with_supported_set():
    tape = qml.tape.QuantumScript(
        [qml.Hadamard(0), qml.measurements.MidMeasureMP(0)], [qml.expval(qml.Z(0))]
    )
    with pytest.raises(UnsupportedOperationError, match=r"mid-circuit measurements .* supported"):
        to_native(tape)


def test_bad_entangler_and_unsupported_measurement():
    with pytest.raises(ValueError, match=r"entangler must be 'ms' .* or 'zz'"):
        compile_circuit(ghz(2), entangler="cx")
    tape = qml.tape.QuantumScript(ghz(2), [qml.sample(wires=[0])], shots=10)
    with pytest.raises(ValueError, match=r"SampleMP .* supported measurements: expval, var"):
        to_native(tape)


def test_measurement_in_operation_list_is_refused_by_name():
    with pytest.raises(TypeError, match=r"measurement expval\(Z\(0\)\); pass operations only"):
        compile_circuit([qml.Hadamard(0), qml.expval(qml.Z(0))])


@pytest.mark.parametrize("bad", [0.3 + 0.1j, np.complex128(0.3)])
def test_complex_gate_angles_are_refused_naming_the_gate(bad):
    with pytest.raises(ValueError, match=r"RX on wires \[1\] has a complex parameter"):
        compile_circuit([qml.Hadamard(0), qml.RX(bad, 1)])
    unitary = compile_circuit([qml.QubitUnitary(1j * np.eye(2), 0)])  # matrices may be complex
    assert unitary.gate_counts()["total"] == 0


def test_to_native_refuses_to_be_differentiated():
    from pennylane import numpy as pnp

    @qml.qnode(qml.device("default.qubit"))
    def circuit(x):
        qml.RX(x, 0)
        return qml.expval(qml.Z(0))

    native = to_native(circuit)
    x = pnp.array(0.3, requires_grad=True)
    assert native(x) == pytest.approx(np.cos(0.3))  # evaluating a trainable array is fine
    with pytest.raises(ValueError, match=r"to_native is not differentiable.*original QNode"):
        qml.grad(native)(x)
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="to_native is not differentiable"):
        native(torch.tensor(0.3, requires_grad=True))
    assert float(native(torch.tensor(0.3))) == pytest.approx(np.cos(0.3))


def test_one_measurement_path_for_device_counts_and_compiler_probabilities():
    """results.measure (device) agrees with PennyLane's own process_counts on the same counts."""
    from pennylane_qstore.ionq.results import from_probabilities, marginal, measure

    rng = np.random.default_rng(11)
    states = np.arange(8)
    counts = rng.multinomial(1000, rng.dirichlet(np.ones(8)))
    herm = qml.Hermitian(np.array([[1.0, 0.5], [0.5, -2.0]]), wires="b")
    mps = [
        qml.expval(qml.Z("c") @ qml.Z("a")),
        qml.var(herm),
        qml.probs(wires=["c", "a"]),
        qml.expval(qml.X("b")),
    ]
    order = qml.wires.Wires(["a", "b", "c"])
    qubits = [2, 0, 1]  # wire "a" ended on physical qubit 2, and so on
    tape = qml.tape.QuantumScript([], mps, shots=1000)
    got = measure(tape, states, counts, qubits, order, rng)
    histogram: dict[str, int] = {}
    for state, count in zip(states, counts, strict=True):
        key = "".join(str((state >> q) & 1) for q in qubits)
        histogram[key] = histogram.get(key, 0) + int(count)
    for value, mp in zip(got, mps, strict=True):
        assert np.allclose(value, mp.process_counts(histogram, order), atol=1e-12)
    probs = marginal(states, counts / 1000, [1, 2])  # "c" then "a"
    assert np.allclose(from_probabilities(mps[2], probs), got[2])
    with pytest.raises(TypeError, match="cannot be computed from probabilities"):
        from_probabilities(qml.sample(wires=[0]), probs)
