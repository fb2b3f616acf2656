"""Every available router target agrees with default.qubit (analytic 1e-6, shots within 5 sigma)."""

from __future__ import annotations

import numpy as np
import pennylane as qml
import pytest

from pennylane_qstore.router import RouterDevice, RoutingError

# the simulators this module's router ships; targets registered by other packages test themselves
BUILT_IN = ("default.qubit", "lightning.qubit", "lightning.gpu", "qsim", "braket.local")
SHOTS = 20_000
WIRES = 3


def _entangler(x: float, y: float) -> None:
    qml.RX(x, wires=0)
    qml.RY(y, wires=1)
    qml.CNOT(wires=[0, 1])
    qml.CRZ(x * y, wires=[1, 2])
    qml.Hadamard(wires=2)
    qml.IsingXX(y, wires=[0, 2])


def _prepared(x: float, y: float) -> None:
    qml.BasisState(np.array([1, 0, 1]), wires=range(WIRES))
    qml.Rot(x, y, 0.3, wires=1)
    qml.Toffoli(wires=[0, 1, 2])
    qml.PhaseShift(y, wires=2)
    qml.SX(wires=0)
    qml.QubitUnitary(qml.matrix(qml.Rot(0.2, x, y, wires=0)), wires=0)


def _embedded(x: float, y: float) -> None:
    qml.AmplitudeEmbedding(np.arange(1.0, 9.0), wires=[2, 0, 1], normalize=True)
    qml.RY(x, wires=0)
    qml.CNOT(wires=[2, 1])
    qml.RZ(y, wires=1)
    qml.ISWAP(wires=[0, 2])


CIRCUITS = {"entangler": _entangler, "prepared": _prepared, "embedded": _embedded}
OBSERVABLES = [
    qml.PauliZ(0),
    qml.PauliX(1) @ qml.PauliY(2),
    0.5 * qml.PauliZ(0) + 0.3 * qml.PauliX(2) @ qml.PauliZ(1),
    qml.Hermitian(np.array([[1.0, 0.5j], [-0.5j, -0.3]]), wires=1),
]
PARAMS = (0.43, -1.1)


def _tape(circuit, measurements, shots=None, params=PARAMS) -> qml.tape.QuantumScript:
    with qml.queuing.AnnotatedQueue() as q:
        circuit(*params)
    return qml.tape.QuantumScript(q.queue, measurements, shots=shots)


def _run(dev, tapes):
    return qml.execute(tapes, dev, diff_method=None)


@pytest.fixture(params=BUILT_IN)
def target(request, router_target) -> str:
    """Each built-in target; one that cannot run here is a visible skip saying why."""
    return router_target(request.param)


@pytest.fixture
def target_dev(target):
    return RouterDevice(wires=WIRES, target=target, seed=1234)


@pytest.mark.parametrize("name", CIRCUITS)
def test_analytic_agrees_with_default_qubit(target, target_dev, name):
    measurements = [qml.expval(o) for o in OBSERVABLES] + [
        qml.var(qml.PauliZ(0) @ qml.PauliX(2)),
        qml.probs(wires=[0, 2]),
        qml.probs(wires=range(WIRES)),
    ]
    tape = _tape(CIRCUITS[name], measurements)
    (got,) = _run(target_dev, [tape])
    (want,) = _run(qml.device("default.qubit", wires=WIRES), [tape])
    for g, w in zip(got, want, strict=True):
        assert np.allclose(g, w, atol=1e-6), (g, w)
    route = target_dev.routing_record.routes[0]
    assert route.target == target and not route.failures


def test_state_agrees_with_default_qubit(target_dev):
    tape = _tape(_entangler, [qml.state()])
    (got,) = _run(target_dev, [tape])
    (want,) = _run(qml.device("default.qubit", wires=WIRES), [tape])
    assert np.allclose(got, want, atol=1e-6)


def test_batch_of_parameters_agrees(target_dev):
    """A batch of same-structure tapes (qsim: one sweep) and a broadcasted tape."""
    rng = np.random.default_rng(3)
    params = rng.uniform(-np.pi, np.pi, (6, 2))
    tapes = [_tape(_entangler, [qml.expval(OBSERVABLES[2])], params=p) for p in params]
    broadcast = _tape(_entangler, [qml.expval(qml.PauliZ(1))], params=(params[:, 0], params[:, 1]))
    got = _run(target_dev, [*tapes, broadcast])
    want = _run(qml.device("default.qubit", wires=WIRES), [*tapes, broadcast])
    for g, w in zip(got, want, strict=True):
        assert np.allclose(g, w, atol=1e-6)


@pytest.mark.parametrize("name", CIRCUITS)
def test_shots_within_five_sigma(target_dev, name):
    obs = qml.PauliZ(0) @ qml.PauliX(2)
    measurements = [qml.expval(obs), qml.probs(wires=[0, 1]), qml.sample(qml.PauliZ(1))]
    tape = _tape(CIRCUITS[name], measurements, shots=SHOTS)
    expval, probs, samples = _run(target_dev, [tape])[0]
    exact = _tape(
        CIRCUITS[name], [qml.expval(obs), qml.probs(wires=[0, 1]), qml.expval(qml.PauliZ(1))]
    )
    want_e, want_p, want_z1 = _run(qml.device("default.qubit", wires=WIRES), [exact])[0]

    sigma_e = np.sqrt(max(1 - want_e**2, 1e-12) / SHOTS)
    assert abs(expval - want_e) < 5 * sigma_e + 1e-9
    sigma_p = np.sqrt(want_p * (1 - want_p) / SHOTS)
    assert np.all(np.abs(probs - want_p) <= 5 * sigma_p + 1e-9)
    assert samples.shape == (SHOTS,)
    assert set(np.unique(samples)) <= {-1, 1}
    sigma_z = np.sqrt(max(1 - want_z1**2, 1e-12) / SHOTS)
    assert abs(samples.mean() - want_z1) < 5 * sigma_z + 1e-9


def test_shot_vector(target, target_dev):
    tape = _tape(_entangler, [qml.expval(qml.PauliZ(0))], shots=(5000, 5000))
    if target == "braket.local":
        with pytest.raises(RoutingError, match=r"braket.local: .*shot vectors"):
            _run(target_dev, [tape])
        return
    (result,) = _run(target_dev, [tape])
    (want,) = _run(
        qml.device("default.qubit", wires=WIRES), [_tape(_entangler, [qml.expval(qml.PauliZ(0))])]
    )
    assert len(result) == 2
    sigma = np.sqrt((1 - want**2) / 5000)
    for r in result:
        assert abs(r - want) < 5 * sigma + 1e-9
