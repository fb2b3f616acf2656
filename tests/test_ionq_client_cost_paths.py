"""The client-side fast paths of qstore.ionq against the slow paths they replace.

``split_measurements`` skips ``split_non_commuting``'s grouping for one measurement;
``sums_as_hermitian`` and ``rotate_to_measurement_basis`` return the tape itself when they have
nothing to change; ``native_compiles`` answers common controlled gates by type; results read
a Pauli word's eigenvalues as ±1 parities without PennyLane's expansion. Each is
compared with the code it replaced (kept here as the reference) on adversarial inputs: the same
tapes, and through the device the same job payloads and bit-for-bit the same results.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pennylane as qml
import pytest
from pennylane.tape import QuantumScript
from pennylane.transforms import split_non_commuting
from pennylane.transforms.core import transform

import pennylane_qstore.ionq.device as device_module
import pennylane_qstore.ionq.results as results_module
from pennylane_qstore.ionq.ops import MS, ZZ
from pennylane_qstore.ionq.preprocess import (
    native_compiles,
    rotate_to_measurement_basis,
    split_measurements,
    sums_as_hermitian,
)

WIRES = ["a", 3.5, -1]
A, B, C = WIRES
HERMITIAN = np.array([[1.0, 2.0], [2.0, -1.0]])


# -- the replaced code, as it was ------------------------------------------------------------
@transform
def reference_split(tape: QuantumScript) -> tuple[Sequence[QuantumScript], Callable]:
    return split_non_commuting(tape, grouping_strategy="qwc")


@transform
def reference_sums_as_hermitian(tape: QuantumScript) -> tuple[Sequence[QuantumScript], Callable]:
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
def reference_rotate(tape: QuantumScript) -> tuple[Sequence[QuantumScript], Callable]:
    rotated = tape.copy(operations=[*tape.operations, *tape.diagonalizing_gates])
    return (rotated,), lambda results: results[0]


def reference_native_compiles(op: qml.operation.Operator) -> bool:
    if isinstance(op, (qml.Barrier, MS, ZZ, qml.SWAP, qml.IsingXX, qml.IsingYY, qml.IsingZZ)):
        return True
    if len(op.wires) == 1:
        return op.has_matrix
    return isinstance(op, qml.ops.op_math.Controlled) and len(op.wires) == 2 and op.base.has_matrix


# -- adversarial measurements and circuits ---------------------------------------------------
def measurements() -> list[list]:
    """Single and multiple measurements of every kind the device accepts."""
    return [
        [qml.expval(qml.Z(A) @ qml.Z(C))],
        [qml.expval(qml.Z(C) @ qml.Z(A))],
        [qml.expval(qml.X(A) @ qml.Y(B))],
        [qml.expval(qml.Hadamard(A) @ qml.Z(C))],
        [qml.expval(qml.Z(A) @ qml.Z(A))],
        [qml.expval(qml.Z(A) @ qml.X(A))],
        [qml.expval(qml.Y(A) @ qml.X(B) @ qml.Z(C))],
        [qml.expval(1.0 * qml.Z(B))],
        [qml.expval(2.0 * qml.Z(B))],
        [qml.expval(qml.s_prod(1.0, qml.X(A) @ qml.Y(C)))],
        [qml.expval(qml.Z(A) + qml.X(C))],
        [qml.expval(qml.Hamiltonian([0.5, -1.0], [qml.Z(A), qml.X(A) @ qml.X(B)]))],
        [qml.expval(qml.Identity(A))],
        [qml.expval(qml.Hermitian(HERMITIAN, wires=B))],
        [qml.var(qml.Hermitian(HERMITIAN, wires=B))],
        [qml.expval(qml.Projector([1, 0], wires=[A, C]))],
        [qml.expval(qml.Projector(np.array([0.6, 0.8]), wires=[B]))],
        [qml.var(qml.Z(A) @ qml.X(C))],
        [qml.var(qml.X(A) + qml.Z(B))],
        [qml.probs(wires=[C, A])],
        [qml.probs(op=qml.X(B))],
        [qml.counts(wires=[A, B])],
        [qml.counts(qml.Z(A) @ qml.Y(C))],
        [qml.sample(wires=[B])],
        [qml.sample(qml.X(A))],
        [qml.expval(qml.Z(A)), qml.expval(qml.X(A))],
        [qml.expval(qml.Z(A) @ qml.Z(C)), qml.probs(wires=[B]), qml.var(qml.Y(C))],
    ]


def circuits(mps: list, shots: object = 50) -> list[QuantumScript]:
    """An empty circuit, a circuit and a broadcast circuit measuring ``mps``."""
    ops = [qml.RX(0.3, A), qml.CNOT([A, C]), qml.Rot(0.1, 0.2, 0.3, B), qml.CRY(0.7, [B, C])]
    broadcast = [qml.RY(np.array([0.2, 1.1, 2.5]), C), qml.CZ([C, A]), qml.RX(0.4, B)]
    return [
        QuantumScript([], mps, shots=shots),
        QuantumScript(ops, mps, shots=shots),
        QuantumScript(broadcast, mps, shots=shots),
    ]


def same_tapes(got: Sequence[QuantumScript], want: Sequence[QuantumScript]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.operations == w.operations
        assert [type(m) for m in g.measurements] == [type(m) for m in w.measurements]
        assert [repr(m) for m in g.measurements] == [repr(m) for m in w.measurements]
        for gm, wm in zip(g.measurements, w.measurements, strict=True):
            assert gm.wires.tolist() == wm.wires.tolist()
            assert (gm.obs is None) == (wm.obs is None)
            if gm.obs is not None:
                assert qml.equal(gm.obs, wm.obs)
                assert gm.obs.wires.tolist() == wm.obs.wires.tolist()
        assert g.shots == w.shots


@pytest.mark.parametrize("shots", [50, [(20, 2), 10]], ids=["shots", "shot-vector"])
@pytest.mark.parametrize("index", range(len(measurements())))
def test_fast_transforms_return_the_reference_tapes(index: int, shots: object) -> None:
    """The three transforms give the tapes (and results) of the code they replace."""
    pairs = [
        (sums_as_hermitian, reference_sums_as_hermitian),
        (split_measurements, reference_split),
        (rotate_to_measurement_basis, reference_rotate),
    ]
    for tape in circuits(measurements()[index], shots):
        tapes, want = [tape], [tape]
        for fast, slow in pairs:
            tapes, fn = fast(tapes)
            want, want_fn = slow(want)
            same_tapes(tapes, want)
            fake = [fake_result(t, i) for i, t in enumerate(tapes)]
            same_values(fn(fake), want_fn(fake))


def fake_result(tape: QuantumScript, index: int) -> object:
    """A distinct result of the shape the device gives ``tape`` (expectation-like values)."""

    def one_bin(b: int) -> object:
        values = [
            np.full(tape.batch_size, 0.125 * (index + 1) + 0.5 * m + 0.03 * b)
            if tape.batch_size
            else np.float64(0.125 * (index + 1) + 0.5 * m + 0.03 * b)
            for m in range(len(tape.measurements))
        ]
        return values[0] if len(values) == 1 else tuple(values)

    if tape.shots.has_partitioned_shots:
        return tuple(one_bin(b) for b in range(tape.shots.num_copies))
    return one_bin(0)


class _CNOTSubclass(qml.CNOT):
    """A subclass: native_compiles must not answer it by type."""


def test_native_compiles_matches_the_reference() -> None:
    ops = [
        qml.CNOT([0, 1]),
        qml.CZ([1, 0]),
        qml.CY([0, 2]),
        qml.CH([0, 1]),
        qml.CRX(0.1, [0, 1]),
        qml.CRot(0.1, 0.2, 0.3, [0, 1]),
        qml.ControlledPhaseShift(0.3, [0, 1]),
        _CNOTSubclass([0, 1]),
        qml.Toffoli([0, 1, 2]),
        qml.MultiControlledX(wires=[0, 1, 2]),
        qml.ctrl(qml.Hadamard(1), 0),
        qml.ctrl(qml.RX(0.2, 2), [0, 1]),
        qml.ctrl(qml.GlobalPhase(0.3), 0),
        qml.ctrl(qml.IsingXX(0.1, [1, 2]), 0),
        qml.RX(0.1, 0),
        qml.QubitUnitary(np.eye(2), 0),
        qml.QubitUnitary(np.eye(4), [0, 1]),
        qml.adjoint(qml.S(0)),
        qml.SWAP([0, 1]),
        qml.IsingZZ(0.2, [0, 1]),
        MS(0.1, 0.2, 0.25, wires=[0, 1]),
        qml.Barrier([0, 1, 2]),
        qml.StronglyEntanglingLayers(np.zeros((1, 3, 3)), wires=[0, 1, 2]),
    ]
    for op in ops:
        assert native_compiles(op) == reference_native_compiles(op), op


def reference_eigvals(mp: qml.measurements.MeasurementProcess) -> np.ndarray:
    return np.asarray(mp.eigvals(), dtype=float)


@pytest.mark.filterwarnings("ignore::numpy.exceptions.ComplexWarning")  # overlapping Z(0) @ Z(0)
def test_pauli_word_eigenvalues_are_pennylanes() -> None:
    rng = np.random.default_rng(3)
    labels = ["a", 3.5, -1, 0, "b", 7]
    observables = []
    for _ in range(40):
        size = int(rng.integers(1, 6))
        wires = rng.permutation(len(labels))[:size]
        paulis = rng.choice([qml.X, qml.Y, qml.Z], size=size)
        observables.append(qml.prod(*(p(labels[w]) for p, w in zip(paulis, wires, strict=True))))
    refused = [
        qml.Z(0) @ qml.Z(0),
        qml.Z(0) @ qml.X(1) @ qml.Z(0),
        qml.Z(0) @ qml.Hadamard(1),
        qml.Z(0) @ qml.Hermitian(HERMITIAN, wires=1),
        qml.prod(qml.Z(0), qml.prod(qml.X(1), qml.Y(2))),
        qml.Z(0) @ qml.Identity(1),
        2.0 * (qml.Z(0) @ qml.Z(1)),
        qml.Z("a"),
    ]
    for obs in observables + refused:
        for mp in (qml.expval(obs), qml.var(obs)):
            got, want = results_module._eigvals(mp), reference_eigvals(mp)
            assert got.dtype == want.dtype and got.tobytes() == want.tobytes(), obs
    word = qml.expval(qml.Y(3.5) @ qml.Z("a") @ qml.X(-1))
    assert results_module._eigvals(word) is results_module._parities(3)  # the fast path
    assert results_module._eigvals(qml.expval(refused[0])) is not results_module._parities(2)


# -- the device end to end: payloads and results ---------------------------------------------
def qnode_bodies() -> list[Callable]:
    def body(index: int, broadcast: bool) -> Callable:
        def circuit(x):
            qml.RX(x, A)
            qml.CNOT([A, C])
            qml.Rot(0.1, x, 0.3, B)
            if broadcast:
                qml.RY(np.array([0.2, 1.1, 2.5]), C)
            with qml.QueuingManager.stop_recording():
                mps = measurements()[index]
            mps = [qml.apply(mp) for mp in mps]
            return tuple(mps) if len(mps) > 1 else mps[0]

        return circuit

    chosen = [0, 1, 3, 7, 9, 13, 14, 15, 17, 18, 19, 21, 23, 26]
    return [body(i, broadcast=i % 2 == 1) for i in chosen]


def run_all(server, shots: object, reference: bool, monkeypatch) -> tuple[list, list]:
    """Results and submitted job inputs of every QNode of ``qnode_bodies`` on a fresh device."""
    with monkeypatch.context() as patch:
        if reference:
            patch.setattr(device_module, "split_measurements", reference_split)
            patch.setattr(device_module, "sums_as_hermitian", reference_sums_as_hermitian)
            patch.setattr(device_module, "rotate_to_measurement_basis", reference_rotate)
            patch.setattr(device_module, "native_compiles", reference_native_compiles)
            patch.setattr(results_module, "_eigvals", reference_eigvals)
        dev = qml.device(
            "qstore.ionq",
            wires=WIRES,
            seed=11,
            api_url=server.url,
            api_key=server.api_key,
            poll_interval=(0.01, 0.05),
        )
        sent = []
        submit = dev.client.submit_job

        def record(payload, **kwargs):
            sent.append((payload["shots"], payload["input"]))
            return submit(payload, **kwargs)

        dev.client.submit_job = record
        results = []
        for body in qnode_bodies():
            qnode = qml.set_shots(qml.QNode(body, dev), shots)
            results.append(qnode(0.7))
        if isinstance(shots, int):
            qnode = qml.QNode(qnode_bodies()[0], dev, diff_method="parameter-shift")
            grad = qml.grad(qml.set_shots(qnode, shots))
            results.append(grad(qml.numpy.array(0.4, requires_grad=True)))
        return results, sent


def same_values(got: object, want: object) -> None:
    """Bit-for-bit equality of nested results (tuples, dicts of counts, arrays)."""
    assert type(got) is type(want)
    if isinstance(got, tuple | list):
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            same_values(g, w)
    elif isinstance(got, dict):
        assert list(got) == list(want)
        for key in got:
            same_values(got[key], want[key])
    else:
        got, want = np.asarray(got), np.asarray(want)
        assert got.dtype == want.dtype and got.shape == want.shape
        if got.dtype == object:  # e.g. the counts dicts of a broadcast circuit
            same_values(got.ravel().tolist(), want.ravel().tolist())
        else:
            assert got.tobytes() == want.tobytes()


@pytest.mark.parametrize("shots", [200, [(40, 2), 30]], ids=["shots", "shot-vector"])
def test_device_results_and_payloads_are_bit_for_bit_the_reference(
    server, shots, monkeypatch
) -> None:
    got, got_sent = run_all(server, shots, False, monkeypatch)
    want, want_sent = run_all(server, shots, True, monkeypatch)
    assert got_sent == want_sent
    same_values(got, want)
