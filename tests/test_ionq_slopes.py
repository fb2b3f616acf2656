"""Template slopes from grouped compiles (ionq.slopes) against one compile per parameter."""

from __future__ import annotations

import numpy as np
import pennylane as qml
import pytest

from pennylane_qstore.ionq.compiler import PASSES
from pennylane_qstore.ionq.slopes import grouped_slopes
from pennylane_qstore.ionq.structure import STEP, _structure_compile
from pennylane_qstore.ionq.structure_key import flat_parameters, parameter_owners
from pennylane_qstore.ionq.substitution import wrapped_turns


def circuits(rng):
    weights = rng.uniform(-np.pi, np.pi, (2, 4, 3))
    yield qml.StronglyEntanglingLayers.compute_decomposition(weights, wires=range(4), ranges=[1, 2])
    yield [  # a global phase on every kind of operation that moves one
        qml.Hadamard(0),
        qml.PhaseShift(0.3, 0),
        qml.ControlledPhaseShift(1.1, [0, 2]),
        qml.CRX(0.4, [1, 3]),
        qml.CRY(-0.9, [2, 0]),
        qml.CRZ(0.6, [3, 1]),
        qml.Rot(0.2, -0.5, 1.3, 2),
        qml.IsingXX(0.8, [0, 3]),
        qml.IsingYY(-0.3, [1, 2]),
        qml.IsingZZ(1.7, [2, 3]),
        qml.RX(0.25, 1),
    ]
    yield (
        [qml.Hadamard(w) for w in range(4)]
        + [qml.IsingZZ(x, [i, (i + 1) % 4]) for i, x in enumerate(rng.uniform(0, 3, 4))]
        + [qml.RX(x, i) for i, x in enumerate(rng.uniform(0, 3, 4))]
    )


def slopes_both_ways(ops, entangler):
    values, _ = flat_parameters(ops)
    values = values + np.random.default_rng(0).uniform(-0.01, 0.01, values.shape)  # generic
    labels = tuple(dict.fromkeys(w for op in ops for w in op.wires))
    how, rewrite = (entangler, labels, PASSES), np.ones(len(ops), dtype=bool)
    variables = np.arange(values.size)

    def numbers_at(at):
        return _structure_compile(ops, at, rewrite, how)[1:]

    base, skeleton, at_point = _structure_compile(ops, values, rewrite, how)
    owners = parameter_owners(ops)
    grouped = grouped_slopes(ops, values, variables, owners, base, at_point, numbers_at, STEP)
    alone = np.zeros((len(at_point), values.size))
    for j in variables:
        shifted = values.copy()
        shifted[j] += STEP
        other, there = numbers_at(shifted)
        assert other == skeleton
        alone[:, j] = wrapped_turns(there - at_point) / STEP
    return grouped, alone


@pytest.mark.parametrize("entangler", ["ms", "zz"])
def test_grouped_slopes_equal_one_compile_per_parameter(entangler):
    for ops in circuits(np.random.default_rng(5)):
        grouped, alone = slopes_both_ways(ops, entangler)
        assert grouped is not None  # every circuit here takes the grouped path
        assert np.max(np.abs(grouped - alone)) < 1e-8


def test_relabelled_qubits_are_measured_one_parameter_at_a_time():
    ops = [qml.RX(0.3, 0), qml.SWAP([0, 1]), qml.RY(0.5, 0), qml.CNOT([0, 1]), qml.RZ(0.2, 1)]
    grouped, alone = slopes_both_ways(ops, "ms")
    assert grouped is None  # the SWAP is absorbed by relabelling: frames change qubit
    assert np.any(alone != 0)
