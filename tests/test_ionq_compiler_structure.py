"""IonQ compiler v2: compile once per structure (StructureCache), every result checked to 1e-9."""

from __future__ import annotations

import numpy as np
import pennylane as qml
import pytest

from pennylane_qstore.ionq.compiler import PASSES, compile_circuit, native_circuits
from pennylane_qstore.ionq.native import gates_from_json
from pennylane_qstore.ionq.preprocess import compile_to_native
from pennylane_qstore.ionq.structure import StructureCache

ENTANGLERS = ["ms", "zz"]


def assert_same_as_fresh(native, ops, entangler) -> None:
    """The cached circuit equals its source and a fresh compile (unitaries, to 1e-9)."""
    wires = list(native.wires)
    source = qml.matrix(qml.tape.QuantumScript(ops), wire_order=wires)
    fresh = compile_circuit(ops, entangler, wires=wires)
    assert np.max(np.abs(native.matrix() - source)) < 1e-9
    assert np.max(np.abs(native.matrix() - fresh.matrix())) < 1e-9
    assert native.gate_counts()["2q"] == fresh.gate_counts()["2q"]
    gates_from_json(native.to_json()["circuit"], native.qubits)
    assert all(0 < g.angle <= 0.25 for g in native.gates if g.angle is not None)


def layered(params) -> list:
    ops = [qml.AngleEmbedding(params[:3], wires=range(3))]
    ops.append(qml.StronglyEntanglingLayers(params[3:].reshape(1, 3, 3), wires=range(3)))
    return ops


def mixed(params) -> list:
    ops = [qml.Hadamard(w) for w in range(3)]
    ops += [qml.IsingZZ(params[0], [0, 1]), qml.CRY(params[1], [1, 2]), qml.RX(params[2], 0)]
    ops += [qml.ControlledPhaseShift(params[3], [2, 0]), qml.PhaseShift(params[4], 1)]
    return [*ops, qml.CRZ(params[5], [0, 2]), qml.CNOT([2, 1]), qml.RY(params[6], 2)]


@pytest.mark.parametrize("entangler", ENTANGLERS)
def test_parameter_shift_batch_is_served_from_one_template(entangler):
    rng = np.random.default_rng(3)
    base = rng.uniform(-np.pi, np.pi, 12)
    cache = StructureCache()
    batch = [base]
    for j in range(0, 12, 3):  # a slice of a parameter-shift batch: ±π/2 on a few parameters
        for shift in (np.pi / 2, -np.pi / 2):
            batch.append(base + shift * np.eye(12)[j])
    for params in batch:
        ops = layered(params)
        assert_same_as_fresh(cache.compile(ops, entangler), ops, entangler)
    assert (cache.misses, cache.hits) == (1, len(batch) - 1)  # the first is compiled afresh


@pytest.mark.parametrize("entangler", ENTANGLERS)
def test_controlled_and_two_qubit_rotations(entangler):
    rng = np.random.default_rng(4)
    cache = StructureCache()
    for _ in range(6):
        ops = mixed(rng.uniform(0.2, 1.2, 7))  # one sign region: the template serves them all
        assert_same_as_fresh(cache.compile(ops, entangler), ops, entangler)
    assert cache.misses == 1
    assert cache.hits >= 5


@pytest.mark.parametrize("entangler", ENTANGLERS)
def test_angles_outside_the_template_range_are_folded_exactly(entangler):
    cache = StructureCache()
    values = (0.5, 1.0, -0.5, -2.0, 3.0, 7.0, -5.5, 0.5 + np.pi / 2, 0.5 - np.pi)
    for value in (*values, 0.0, np.pi):  # all quarter-turn branches; at 0 and π they vanish
        ops = [qml.Hadamard(0), qml.IsingZZ(value, [0, 1]), qml.RY(0.3, 1), qml.CRX(value, [1, 2])]
        ops += [qml.RX(0.2, 0), qml.IsingXX(-value, [0, 2])]
        assert_same_as_fresh(cache.compile(ops, entangler), ops, entangler)
    assert (cache.misses, cache.hits) == (1, len(values) + 1)


@pytest.mark.parametrize("entangler", ENTANGLERS)
def test_every_shift_of_two_qubit_rotations_is_a_hit(entangler):
    base = np.random.default_rng(7).uniform(-3, 3, 7)
    cache = StructureCache()
    for j in range(7):
        for shift in (np.pi / 2, -np.pi / 2):
            ops = mixed(base + shift * np.eye(7)[j])
            assert_same_as_fresh(cache.compile(ops, entangler), ops, entangler)
    assert (cache.misses, cache.hits) == (1, 13)


def test_special_values_and_plain_floats():
    cache = StructureCache()
    for values in ([0.0, 0.0, 0.0], [np.pi, -np.pi / 2, 2 * np.pi], [0.1, 0.2, 0.3]):
        ops = [qml.RX(values[0], 0), qml.CNOT([0, 1]), qml.RY(values[1], 1), qml.RZ(values[2], 0)]
        assert_same_as_fresh(cache.compile(ops, "ms"), ops, "ms")
    assert cache.misses == 1


def test_non_affine_structure_is_compiled_fresh():
    cache = StructureCache()
    rng = np.random.default_rng(5)
    for _ in range(2):  # SpecialUnitary's matrix is not affine in its parameters
        theta = rng.uniform(-1, 1, 3)
        ops = [qml.SpecialUnitary(theta, wires=0), qml.CNOT([0, 1]), qml.RX(0.4, 1)]
        assert_same_as_fresh(cache.compile(ops, "ms"), ops, "ms")
    assert (cache.misses, cache.hits) == (2, 0)


def test_parameter_free_structures_are_compiled_once():
    cache = StructureCache()
    grover = [qml.Hadamard(w) for w in range(3)]
    grover += [qml.FlipSign([1, 0, 1], wires=range(3)), qml.GroverOperator(wires=range(3))]
    first = cache.compile(grover, "ms")
    again = cache.compile([*grover], "ms")
    assert again is first and (cache.misses, cache.hits) == (1, 1)
    assert_same_as_fresh(again, grover, "ms")
    other = [*grover[:3], qml.FlipSign([0, 1, 1], wires=range(3)), grover[4]]  # other data
    assert_same_as_fresh(cache.compile(other, "ms"), other, "ms")
    assert (cache.misses, cache.hits) == (2, 1)
    fixed = [qml.Hadamard(0), qml.CNOT([0, 1]), qml.CZ([1, 2]), qml.FlipSign([1, 1], wires=[0, 2])]
    assert cache.compile(fixed, "zz") is cache.compile(list(fixed), "zz")
    assert_same_as_fresh(cache.compile(fixed, "zz"), fixed, "zz")


def test_operators_whose_parameters_cannot_be_rebound_are_compiled_fresh():
    # found by pl-device-test (TrotterProduct): an Exp of a Hamiltonian cannot have its
    # parameters rebound one by one; the cache must compile it afresh, exactly
    cache = StructureCache()
    hamiltonian = qml.dot([0.3, -0.5], [qml.X(0) @ qml.X(1), qml.Z(0)])
    for time in (0.2, 0.7):
        ops = [qml.Hadamard(0), *qml.TrotterProduct(hamiltonian, time, n=2).decomposition()]
        ops = [qml.RY(time, 1), *ops]
        assert_same_as_fresh(cache.compile(ops, "ms"), ops, "ms")


def test_no_template_with_more_two_qubit_gates_than_a_fresh_compile():
    cache = StructureCache()
    for x in (0.3, 0.8):  # parametrised gates inside a block would keep resynthesis from it
        ops = [qml.CNOT([0, 1]), qml.RZ(x, 1), qml.CNOT([1, 0]), qml.RY(0.5, 0), qml.CNOT([0, 1])]
        ops += [qml.RY(x, 1), qml.CNOT([1, 0])]
        assert_same_as_fresh(cache.compile(ops, "ms"), ops, "ms")
    assert (cache.misses, cache.hits) == (2, 0)


def test_state_preparation_amplitudes_belong_to_the_structure():
    cache = StructureCache()
    rng = np.random.default_rng(6)
    for _ in range(2):
        state = rng.normal(size=4)
        ops = [qml.StatePrep(state / np.linalg.norm(state), wires=[0, 1]), qml.RX(0.4, 0)]
        assert_same_as_fresh(cache.compile(ops, "ms"), ops, "ms")
    assert cache.misses == 2


def test_structures_are_told_apart_and_checked():
    cache = StructureCache()
    one = cache.compile([qml.RX(0.3, 0), qml.CNOT([0, 1])], "ms")
    two = cache.compile([qml.RX(0.3, 0), qml.CNOT([1, 0])], "ms")
    assert cache.misses == 2
    assert one.matrix().shape == two.matrix().shape
    assert not np.allclose(one.matrix(), two.matrix())
    with pytest.raises(ValueError, match="target has only 1"):
        cache.compile([qml.RX(0.5, 0), qml.CNOT([0, 1])], "ms", max_qubits=1)
    with pytest.raises(ValueError, match="non-finite"):
        cache.compile([qml.RX(float("nan"), 0), qml.CNOT([0, 1])], "ms")
    with pytest.raises(ValueError, match="entangler must be"):
        cache.compile([qml.RX(0.5, 0)], "xx")


def test_native_circuits_through_the_cache():
    cache = StructureCache()
    for x in (0.2, 0.9):
        tape = qml.tape.QuantumScript(
            [qml.RY(x, 0), qml.CNOT([0, 1]), qml.RX(2 * x, 1)], [qml.expval(qml.Z(0) @ qml.X(1))]
        )
        jobs, post = native_circuits(tape, "ms", cache=cache)
        fresh_jobs, _ = native_circuits(tape, "ms")
        (native, measured), (fresh, _) = jobs[0], fresh_jobs[0]
        assert np.max(np.abs(native.matrix() - fresh.matrix())) < 1e-9
        probs = np.abs(native.gates_matrix()[:, 0]) ** 2  # frames act after, invisible here
        expected = qml.execute([tape], qml.device("default.qubit"))[0]
        wires = list(native.wires)
        order = [wires.index(w) for w in measured[0]]
        marginal = probs.reshape(2, 2).transpose(order).reshape(-1)
        assert np.isclose(post([[marginal]]), expected, atol=1e-9)
    assert (cache.misses, cache.hits) == (1, 1)


class CheckedCache(StructureCache):
    """A StructureCache that checks every circuit it returns against a fresh compile."""

    checked = 0

    def compile(self, circuit, entangler="ms", wires=None, max_qubits=None, passes=PASSES):
        native = super().compile(circuit, entangler, wires, max_qubits, passes)
        assert_same_as_fresh(native, list(circuit), entangler)
        self.checked += 1
        return native


def hea_tape(weights) -> qml.tape.QuantumScript:
    ops = [qml.RX(x, w) for w, x in enumerate([0.3, 1.1, -0.4])]
    ops += [qml.IsingZZ(weights[0, 0, 0], [0, 2])]
    ops += qml.StronglyEntanglingLayers.compute_decomposition(weights, wires=range(3), ranges=[1])
    return qml.tape.QuantumScript(ops, [qml.expval(qml.Z(0) @ qml.Z(2))], shots=100)


@pytest.mark.parametrize("entangler", ENTANGLERS)
def test_compile_to_native_serves_a_parameter_shift_batch_from_the_cache(entangler):
    weights = np.random.default_rng(8).uniform(-np.pi, np.pi, (1, 3, 3))
    tapes, _ = qml.gradients.param_shift(hea_tape(qml.numpy.array(weights)))
    cache = CheckedCache()
    dev = qml.device("default.qubit")
    for tape in tapes:
        [native_tape], _ = compile_to_native(tape, entangler, None, 36, cache)
        assert {op.name for op in native_tape.operations} <= {"GPI", "GPI2", "MS", "ZZ"}
        probs = [qml.probs(wires=[0, 1, 2])]
        expected, got = qml.execute(
            [
                tape.copy(measurements=probs, shots=None),
                native_tape.copy(measurements=probs, shots=None),
            ],
            dev,
        )
        assert np.max(np.abs(got - expected)) < 1e-9
    assert (cache.misses, cache.hits, cache.checked) == (1, len(tapes) - 1, len(tapes))


def test_the_device_compiles_a_gradient_step_once_per_structure(server):
    dev = qml.device("qstore.ionq", wires=3, seed=3, api_url=server.url, api_key=server.api_key)
    dev.structure_cache = CheckedCache()

    @qml.set_shots(200)
    @qml.qnode(dev, diff_method="parameter-shift")
    def circuit(weights):
        qml.AngleEmbedding([0.3, 1.1, -0.4], wires=range(3))
        qml.IsingZZ(weights[0, 0, 0], [0, 2])
        qml.StronglyEntanglingLayers(weights, wires=range(3))
        return qml.expval(qml.Z(0) @ qml.Z(2))

    weights = qml.numpy.array(np.random.default_rng(9).uniform(-np.pi, np.pi, (1, 3, 3)))
    grad = qml.grad(circuit)(weights)
    assert grad.shape == (1, 3, 3)
    cache = dev.structure_cache
    assert cache.misses == 1
    assert cache.checked == 1 + 2 * 9 + 2  # forward, 9 Rot angles, IsingZZ's own
    assert cache.hits == cache.checked - 1  # all but the first


def held(theta, phi, constant=0.0) -> list:
    """A circuit whose RY(constant) vanishes at 0: on a frame ancilla it would keep two CNOTs."""
    ops = [qml.RX(theta, 2), qml.RZ(phi, 0), qml.CNOT([0, 1]), qml.RY(constant, 1)]
    return [*ops, qml.CNOT([0, 1]), qml.CNOT([1, 2]), qml.RY(theta / 3 + 0.2, 0), qml.CNOT([2, 0])]


def training_run(cache, entangler, steps=3, constant=0.0):
    """Parameter-shift steps on (theta, phi); returns (hits, misses) per step, all checked."""
    rng, base, counts = np.random.default_rng(0), np.array([0.3, 0.4]), []
    for _ in range(steps):
        batch = [base] + [
            base + s * np.eye(2)[j] for j in range(2) for s in (np.pi / 2, -np.pi / 2)
        ]
        hits, misses = cache.hits, cache.misses
        for params in batch:
            ops = held(*params, constant)
            assert_same_as_fresh(cache.compile(ops, entangler), ops, entangler)
        counts.append((cache.hits - hits, cache.misses - misses))
        base = base + rng.uniform(-0.3, 0.3, 2)
    return counts


@pytest.mark.parametrize("entangler", ENTANGLERS)
def test_parameters_that_never_change_are_held_at_their_values(entangler):
    # a template over every parameter would keep RY(0)'s pulses and both CNOTs; the cache learns
    # that only theta and phi change and builds one with RY(0) held (and vanishing) instead
    cache = StructureCache()
    assert training_run(cache, entangler) == [(0, 5), (4, 1), (5, 0)]
    assert compile_circuit(held(0.3, 0.4), entangler).gate_counts()["2q"] == 2


@pytest.mark.parametrize("entangler", ENTANGLERS)
def test_a_held_parameter_that_changes_is_compiled_afresh(entangler):
    cache = StructureCache()
    training_run(cache, entangler)
    hits = cache.hits
    for constant in (np.pi / 2, 0.0, -1e-9):  # off the held value, back on it, just off it
        ops = held(0.5, -0.2, constant)
        assert_same_as_fresh(cache.compile(ops, entangler), ops, entangler)
    assert cache.hits == hits + 1


def test_the_first_circuit_of_a_structure_is_a_fresh_compile():
    ops = layered(np.random.default_rng(2).uniform(-np.pi, np.pi, 12))
    first = StructureCache().compile(ops, "zz")
    assert first.gates == compile_circuit(ops, "zz").gates


@pytest.mark.parametrize("entangler", ENTANGLERS)
def test_many_folded_angles_at_once(entangler):
    # several interactions on shared qubits leave the template range at once: folds move Z
    # frames past later gates, flips and half turns combine
    rng = np.random.default_rng(11)
    cache = StructureCache()

    def ops(a):
        out = [qml.Hadamard(0), qml.RY(0.7, 1), qml.RX(-0.4, 2)]
        out += [qml.IsingZZ(a[0], [0, 1]), qml.RY(a[1], 0), qml.IsingXX(a[2], [1, 2])]
        out += [qml.IsingYY(a[3], [0, 2]), qml.RZ(a[4], 1), qml.IsingZZ(a[5], [2, 1])]
        return [*out, qml.CRX(a[6], [0, 1]), qml.RX(0.3, 0)]

    for _ in range(24):  # no circuit is generic: a template is built once the cache has learnt
        values = rng.uniform(-4 * np.pi, 4 * np.pi, 7)
        values[rng.integers(7)] = rng.choice([0.0, np.pi, -np.pi, 2 * np.pi])  # one vanishes
        circuit = ops(values)
        assert_same_as_fresh(cache.compile(circuit, entangler), circuit, entangler)
    assert cache.hits >= 12


def test_operator_hyperparameters_belong_to_the_structure():
    # the same wires and data but another Pauli word or operand order: another circuit (an
    # adjoint or power of PauliRot 'ZY' was once served the template of 'XY', wrong by 0.14)
    wrappers = [qml.adjoint, lambda op: qml.pow(op, 2), lambda op: qml.ctrl(op, 2)]
    for wrap in wrappers:
        cache = StructureCache()
        for word, theta in (("XY", 0.4), ("XY", 0.5), ("ZY", 0.4), ("ZY", 0.7)):
            ops = [qml.Hadamard(1), wrap(qml.PauliRot(theta, word, [0, 1])), qml.CNOT([0, 1])]
            ops.append(qml.RX(theta, 2))
            assert_same_as_fresh(cache.compile(ops, "ms"), ops, "ms")
        if wrap is qml.adjoint:  # both words have a template: the second circuit of each is a hit
            assert (cache.misses, cache.hits) == (2, 2)
    cache = StructureCache()
    for op in (
        qml.prod(qml.RX(0.3, 0), qml.Hadamard(0)),
        qml.prod(qml.Hadamard(0), qml.RX(0.3, 0)),
    ):
        ops = [qml.Hadamard(1), op, qml.CNOT([0, 1])]
        assert_same_as_fresh(cache.compile(ops, "ms"), ops, "ms")


def test_a_zero_initialised_layer_around_an_oracle_is_served_from_its_second_step(server):
    # zero weights make the first circuits special (RY(0)): their all-parameter template loses to
    # a fresh compile, so the first step compiles afresh and the cache learns the weights change
    dev = qml.device("qstore.ionq", wires=3, seed=3, api_url=server.url, api_key=server.api_key)
    dev.structure_cache = CheckedCache()

    @qml.set_shots(200)
    @qml.qnode(dev, diff_method="parameter-shift")
    def circuit(w):
        for i in range(3):
            qml.Hadamard(i)
            qml.RY(w[i], wires=i)
        qml.FlipSign([1, 0, 1], wires=range(3))
        qml.GroverOperator(wires=range(3))
        qml.CRX(w[3], wires=[0, 2])
        return qml.expval(qml.Z(0) @ qml.Z(2))

    cache, w, per_step = dev.structure_cache, qml.numpy.zeros(4, requires_grad=True), []
    for _ in range(3):
        hits, misses = cache.hits, cache.misses
        w = w - 0.3 * qml.grad(circuit)(w)
        per_step.append((cache.hits - hits, cache.misses - misses))
    assert per_step == [(0, 11), (11, 0), (11, 0)]  # forward + 2 x 4 shifts + CRX's 4-term rule


@pytest.mark.parametrize("entangler", ENTANGLERS)
def test_a_learnt_template_never_has_more_two_qubit_gates_than_the_users_passes(entangler):
    # CNOT·RZ·CNOT is one interaction after resynthesis; a template without resynthesis has two,
    # and was once accepted against a bar compiled without resynthesis too
    cache = StructureCache()
    for x in (0.3, 0.3 + np.pi / 2, 0.3 - np.pi / 2, 0.7, 1.1, 2.0, 0.0, -2.5, 0.9):
        ops = [qml.CNOT([0, 1]), qml.RZ(x, 1), qml.CNOT([0, 1])]
        assert_same_as_fresh(cache.compile(ops, entangler), ops, entangler)


@pytest.mark.parametrize("entangler", ENTANGLERS)
def test_far_parameters_stay_exact(entangler):
    # the slopes are measured: whole 4π periods are taken out of rotations, and a parameter
    # farther than REACH from the template point (U2's φ here) is compiled afresh
    cache = StructureCache()

    def ops(p):
        return [
            qml.RX(p[0], 0),
            qml.Rot(*p[1:4], 1),
            qml.IsingXX(p[4], [0, 1]),
            qml.U2(p[5], 0.3, 0),
        ]

    for p in (np.linspace(0.1, 0.6, 6), 0.4 + np.array([1e3, -1e5, 1e7, 3e3, -7e4, 0])):
        assert_same_as_fresh(cache.compile(ops(p), entangler), ops(p), entangler)
    assert cache.hits == 1  # the far rotations wrap into the template's reach
    far = ops(0.4 + np.array([0, 0, 0, 0, 0, 1e3]))
    assert_same_as_fresh(cache.compile(far, entangler), far, entangler)
    assert (cache.hits, cache.misses) == (1, 2)


def test_bad_items_and_iterable_wires():
    cache = StructureCache()
    with pytest.raises(TypeError, match="contains the measurement"):
        cache.compile([qml.RX(0.3, 0), qml.expval(qml.Z(0))], "ms")
    ops = [qml.RX(0.3, 0), qml.CNOT([0, 1]), qml.RY(0.2, 2)]
    native = cache.compile(ops, "ms", wires=(w for w in (2, 1, 0)))  # a generator, read once
    assert native.wires == (2, 1, 0)
    assert_same_as_fresh(native, ops, "ms")
