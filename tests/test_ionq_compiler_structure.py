"""IonQ compiler v2: compile once per structure (StructureCache), every result checked to 1e-9."""

from __future__ import annotations

import numpy as np
import pennylane as qml
import pytest

from pennylane_qstore.ionq.compiler import compile_circuit, native_circuits
from pennylane_qstore.ionq.native import gates_from_json
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
    assert (cache.misses, cache.hits) == (1, len(batch))


@pytest.mark.parametrize("entangler", ENTANGLERS)
def test_controlled_and_two_qubit_rotations(entangler):
    rng = np.random.default_rng(4)
    cache = StructureCache()
    for _ in range(6):
        ops = mixed(rng.uniform(0.2, 1.2, 7))  # one sign region: the template serves them all
        assert_same_as_fresh(cache.compile(ops, entangler), ops, entangler)
    assert cache.misses == 1
    assert cache.hits >= 5


def test_angle_outside_the_template_range_falls_back_exactly():
    cache = StructureCache()
    for value in (0.5, 1.0, -0.5, -2.0, 0.0):  # ZZ cannot flip a negative angle in place
        ops = [qml.Hadamard(0), qml.IsingZZ(value, [0, 1]), qml.RY(0.3, 1)]
        assert_same_as_fresh(cache.compile(ops, "zz"), ops, "zz")
    assert cache.misses == 1


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
    assert (cache.misses, cache.hits) == (1, 0)


def test_no_template_with_more_two_qubit_gates_than_a_fresh_compile():
    cache = StructureCache()
    for x in (0.3, 0.8):  # parametrised gates inside a block would keep resynthesis from it
        ops = [qml.CNOT([0, 1]), qml.RZ(x, 1), qml.CNOT([1, 0]), qml.RY(0.5, 0), qml.CNOT([0, 1])]
        ops += [qml.RY(x, 1), qml.CNOT([1, 0])]
        assert_same_as_fresh(cache.compile(ops, "ms"), ops, "ms")
    assert (cache.misses, cache.hits) == (1, 0)


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
    assert cache.hits == 2
