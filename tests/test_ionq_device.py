"""The qstore.ionq device against the local IonQ server over real HTTP."""

from __future__ import annotations

import _thread
import asyncio
import os
import signal
import threading
import time

import numpy as np
import pennylane as qml
import pytest
from pennylane.exceptions import DeviceError

from pennylane_qstore.ionq import jobs as jobs_module
from pennylane_qstore.ionq import results as results_module
from pennylane_qstore.ionq.device import IonQDevice
from pennylane_qstore.ionq.errors import (
    CostCapExceeded,
    DryRunComplete,
    IonQAuthError,
    IonQError,
    IonQJobFailed,
)
from pennylane_qstore.ionq.qis import QIS_OPS
from pennylane_qstore.ionq.server import LocalIonQServer

SHOTS = 10_000
HERMITIAN = np.array([[1.0, 2.0], [2.0, -1.0]])


@pytest.fixture
def server_seed() -> int:
    """Seed of the shared ``server`` fixture (tests/conftest.py) in this module."""
    return 5


def make(server: LocalIonQServer, wires: int = 3, shots: object = SHOTS, **kwargs: object):
    kwargs.setdefault("poll_interval", (0.01, 0.05))
    return qml.device(
        "qstore.ionq",
        wires=wires,
        shots=shots,
        seed=7,
        api_url=server.url,
        api_key=server.api_key,
        **kwargs,
    )


def ansatz(x: float) -> None:
    qml.RX(x, 0)
    qml.CNOT([0, 1])
    qml.RY(0.4, 2)
    qml.Toffoli([0, 1, 2])
    qml.Rot(0.1, 0.2, 0.3, 1)
    qml.IsingXX(0.3, [1, 2])
    qml.SWAP([0, 2])


def expectations() -> list:
    return [
        qml.expval(qml.X(0) @ qml.Y(1)),
        qml.expval(qml.Z(2)),
        qml.var(qml.Y(0)),
        qml.probs(wires=[0, 2]),
        qml.expval(qml.Hermitian(HERMITIAN, 1)),
        qml.expval(qml.X(0) + 0.5 * qml.Z(1)),
    ]


def reference(measurements: list, x: float = 0.7) -> list:
    tape = qml.tape.QuantumScript(qml.tape.make_qscript(ansatz)(x).operations, measurements)
    return qml.execute([tape], qml.device("default.qubit", wires=3))[0]


def within_5_sigma(value: object, exact: object, spread: float) -> None:
    """Assert agreement within five standard errors; ``spread`` bounds the per-shot std."""
    np.testing.assert_allclose(value, exact, atol=5 * spread / np.sqrt(SHOTS))


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"gateset": "qis"},
        {"entangler": "zz"},
        {"backend": "qpu.forte-1", "error_mitigation": False},
    ],
    ids=["native-ms", "qis", "native-zz", "forte-noisy"],
)
def test_expval_var_probs_match_default_qubit(server: LocalIonQServer, options: dict) -> None:
    dev = make(server, **options)
    got = qml.QNode(lambda x: (ansatz(x), expectations())[1], dev)(0.7)
    exact = reference(expectations())
    noisy = "backend" in options  # hardware-like noise: a few per cent of depolarisation
    for value, want, spread in zip(got, exact, [1, 1, 1, 0.5, 2.3, 1.5], strict=True):
        if noisy:
            np.testing.assert_allclose(value, want, atol=0.1)
        else:
            within_5_sigma(value, want, spread)


def test_samples_and_counts(server: LocalIonQServer) -> None:
    dev = make(server)
    circuit = qml.QNode(
        lambda x: (ansatz(x), (qml.sample(), qml.counts(wires=[2, 0]), qml.sample(qml.Y(1))))[1],
        dev,
    )
    samples, counts, signs = circuit(0.7)
    probs = reference([qml.probs(wires=[0, 1, 2]), qml.probs(wires=[2, 0]), qml.expval(qml.Y(1))])
    assert samples.shape == (SHOTS, 3)
    index = samples @ np.array([4, 2, 1])
    within_5_sigma(np.bincount(index, minlength=8) / SHOTS, probs[0], 0.5)
    assert sum(counts.values()) == SHOTS
    freq = [counts.get(k, 0) / SHOTS for k in ("00", "01", "10", "11")]
    within_5_sigma(freq, probs[1], 0.5)
    assert set(np.unique(signs)) <= {-1, 1}
    within_5_sigma(signs.mean(), probs[2], 1)


def test_shot_vector(server: LocalIonQServer) -> None:
    dev = make(server, wires=1, shots=(100, 300))
    first, second = qml.QNode(lambda: (qml.X(0), qml.sample(wires=0))[1], dev)()
    assert first.shape == (100, 1) and second.shape == (300, 1)  # as default.qubit
    assert np.all(first == 1) and np.all(second == 1)
    assert server.job_payloads()[0]["shots"] == 400


def test_batch_is_sent_as_chunked_multi_circuit_jobs_in_order(server: LocalIonQServer) -> None:
    dev = make(server, max_circuits_per_job=4)
    tapes = [
        qml.tape.QuantumScript(
            [qml.X(w) for w in range(3) if k >> (2 - w) & 1], [qml.probs()], shots=100
        )
        for k in range(8)
    ]
    with qml.Tracker(dev) as tracker:
        results = qml.execute(tapes, dev)
    for k, probs in enumerate(results):
        assert probs[k] == 1.0
    assert server.job_count == 2
    assert [p["type"] for p in server.job_payloads()] == ["ionq.multi-circuit.v1"] * 2
    assert tracker.totals["jobs"] == 2 and tracker.totals["executions"] == 8


def test_parameter_shift_gradient(server: LocalIonQServer) -> None:
    def circuit(x: object) -> object:
        ansatz(x)
        return qml.expval(qml.Z(0) @ qml.Z(2))

    x = qml.numpy.array(0.7, requires_grad=True)
    got = qml.grad(qml.QNode(circuit, make(server), diff_method="parameter-shift"))(x)
    want = qml.grad(qml.QNode(circuit, qml.device("default.qubit")))(x)
    assert abs(got - want) < 5 * np.sqrt(2) / np.sqrt(SHOTS)
    assert server.job_count == 2  # forward pass, then both shifted tapes in one job


def test_execute_async_leaves_the_event_loop_free(server: LocalIonQServer) -> None:
    server.latency = 0.1
    dev = make(server)
    tape = qml.tape.QuantumScript([qml.H(0)], [qml.expval(qml.X(0)), qml.probs(wires=0)])

    async def main() -> tuple:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.ensure_future(ticker())
        results = await dev.execute_async([tape])
        task.cancel()
        return results, ticks

    ((expval, probs),), ticks = asyncio.run(main())
    assert expval == 1.0
    within_5_sigma(probs, [0.5, 0.5], 0.5)
    assert ticks >= 10


def test_ctrl_c_cancels_submitted_jobs(server: LocalIonQServer) -> None:
    server.queue_time = 60
    dev = make(server)
    circuit = qml.QNode(lambda: (qml.H(0), qml.expval(qml.Z(0)))[1], dev)
    timer = threading.Timer(0.5, _thread.interrupt_main)
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        circuit()
    timer.join()
    (job,) = dev.client.list_jobs()["jobs"]
    assert job["status"] == "canceled"


def test_timeout_cancels_and_says_so(server: LocalIonQServer) -> None:
    server.queue_time = 60
    dev = make(server, timeout=0.2)
    with pytest.raises(IonQError, match="cancelled"):
        qml.QNode(lambda: qml.expval(qml.Z(0)), dev)()
    assert dev.client.list_jobs()["jobs"][0]["status"] == "canceled"


def test_failed_job_carries_code_and_id(server: LocalIonQServer) -> None:
    server.inject("fail_job", code="QPU_ERROR")
    dev = make(server)
    with pytest.raises(IonQJobFailed, match="QPU_ERROR") as info:
        qml.QNode(lambda: qml.expval(qml.Z(0)), dev)()
    assert info.value.code == "QPU_ERROR"
    assert info.value.job_id == dev.client.list_jobs()["jobs"][0]["id"]


def test_every_fault_recovers_without_duplicates(server: LocalIonQServer) -> None:
    server.inject("drop")
    server.inject("5xx", count=2, methods=("GET", "POST"))
    server.inject("429", count=2, methods=("GET", "POST"), retry_after=0)
    dev = make(server, max_circuits_per_job=2)
    tapes = [
        qml.tape.QuantumScript([qml.X(0)] * k, [qml.expval(qml.Z(0))], shots=10) for k in range(5)
    ]
    results = qml.execute(tapes, dev)
    assert list(results) == [1.0, -1.0, 1.0, -1.0, 1.0]
    assert server.job_count == 3


def test_cost_cap_refuses_before_submitting(server: LocalIonQServer) -> None:
    dev = make(server, backend="qpu.aria-1", shots=1000, cost_cap=20.0, gateset="qis")
    tapes = [qml.tape.QuantumScript([qml.H(0)], [qml.expval(qml.Z(0))], shots=1000)] * 2
    with pytest.raises(CostCapExceeded, match=r"\$25\.27 exceeds the cost cap \$20\.00"):
        qml.execute(tapes, dev)
    assert server.job_count == 0


def test_qpu_run_records_jobs_and_cost(server: LocalIonQServer) -> None:
    dev = make(server, backend="qpu.aria-1", shots=1000, gateset="qis")
    with qml.Tracker(dev) as tracker:
        qml.QNode(lambda: (qml.H(0), qml.expval(qml.X(0)))[1], dev)()
    record = dev.runs[-1]
    # H, then H to measure X; IonQ debiases QPU jobs of >= 500 shots by default ($97.50 minimum)
    assert record.cost == pytest.approx(97.50 + 1000 * 2 * 0.00022)
    assert tracker.totals["cost"] == pytest.approx(record.cost)
    assert tracker.history["job_ids"] == [tuple(record.job_ids)]


def test_dry_run_prices_without_results(server: LocalIonQServer) -> None:
    dev = make(server, backend="qpu.forte-1", shots=100, dry_run=True, gateset="qis")
    with pytest.raises(DryRunComplete, match="estimated cost") as info:
        qml.QNode(lambda: (qml.H(0), qml.expval(qml.X(0)))[1], dev)()
    assert info.value.record.estimated_cost == pytest.approx(12.4166 + 100 * 2 * 0.00022)
    assert server.job_payloads()[0]["dry_run"] is True


def test_job_options_reach_the_payload(server: LocalIonQServer) -> None:
    session = make(server).client.create_session("simulator", cost_limit=5.0)["id"]
    dev = make(
        server,
        wires=2,
        shots=600,
        error_mitigation=True,
        noise_model="aria-1",
        noise_seed=9,
        session=session,
        metadata={"project": "demo"},
    )
    counts = qml.QNode(lambda: (qml.H(0), qml.CNOT([0, 1]), qml.counts())[2], dev)()
    payload = server.job_payloads()[0]
    histogram = dev.client.get_probabilities(dev.runs[-1].job_ids[0])
    assert {k: v for k, v in payload.items() if k not in ("input", "name", "metadata")} == {
        "backend": "simulator",
        "shots": 600,
        "type": "ionq.circuit.v1",
        "settings": {"error_mitigation": {"debiasing": True}},
        "noise": {"model": "aria-1", "seed": 9},
        "session_id": session,
    }
    assert payload["metadata"]["project"] == "demo"
    assert payload["input"]["gateset"] == "native"
    assert {g["gate"] for g in payload["input"]["circuit"]} <= {"gpi", "gpi2", "ms"}
    # a noisy run returns a shot histogram: the device rebuilds exactly those counts
    assert counts == {
        format(int(k), "02b")[::-1]: round(p * 600) for k, p in sorted(histogram.items())
    }


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"colour": "red"},
            TypeError,
            "unknown option.*valid options: wires, shots, seed, backend",
        ),
        ({"backend": "qpu.harmony"}, ValueError, "unknown IonQ backend 'qpu.harmony'; choose one"),
        ({"backend": "qpu.aria-1", "wires": 30}, ValueError, "qpu.aria-1 has 25 qubits"),
        ({"backend": "qpu.aria-2", "entangler": "zz"}, ValueError, "no ZZ gate"),
        ({"gateset": "openqasm"}, ValueError, "gateset must be"),
        ({"error_mitigation": True, "shots": 100}, ValueError, "at least 500 shots"),
        (
            {"backend": "qpu.aria-1", "noise_model": "aria-1"},
            ValueError,
            "applies to backend='simulator' only",
        ),
        ({"poll_interval": (0.5, 0.1)}, ValueError, "0 < first <= longest"),
    ],
)
def test_bad_options_are_explained(
    server: LocalIonQServer, kwargs: dict, error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        make(server, **kwargs)


def test_missing_key_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IONQ_API_KEY", raising=False)
    with pytest.raises(IonQAuthError, match="IONQ_API_KEY"):
        qml.device("qstore.ionq", wires=1, shots=10)


def test_analytic_execution_is_refused(server: LocalIonQServer) -> None:
    dev = make(server, shots=None)
    with pytest.raises(DeviceError, match="give the device shots"):
        qml.QNode(lambda: qml.expval(qml.Z(0)), dev)()


def test_too_many_qubits_for_the_local_simulator(server: LocalIonQServer) -> None:
    dev = make(server, wires=21, gateset="qis")
    with pytest.raises(IonQError, match="simulates at most 20 qubits"):
        qml.QNode(lambda: qml.expval(qml.Z(0)), dev)()


def test_capabilities_come_from_the_toml(server: LocalIonQServer) -> None:
    dev = make(server)
    assert isinstance(dev, IonQDevice) and dev.name == "qstore.ionq"
    base_names = {name.removeprefix("Adjoint(").rstrip(")") for name in QIS_OPS}
    assert base_names | {"GPI", "GPI2", "MS", "ZZ"} <= set(dev.capabilities.operations)


def test_progress_is_shown_for_long_waits(
    server: LocalIonQServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr(jobs_module, "PROGRESS_AFTER", 0.0)
    server.queue_time = 0.3
    dev = make(server, progress=True)
    qml.QNode(lambda: qml.expval(qml.Z(0)), dev)()
    assert "IonQ simulator: 0/1 jobs completed, 1 ready" in capsys.readouterr().err


def test_router_uses_ionq_only_when_asked(
    server: LocalIonQServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IONQ_API_URL", server.url)
    monkeypatch.setenv("IONQ_API_KEY", server.api_key)

    def bell() -> object:
        qml.H(0)
        qml.CNOT([0, 1])
        return qml.expval(qml.Z(0) @ qml.Z(1))

    automatic = qml.device("qstore.router", wires=2, shots=100)
    assert qml.QNode(bell, automatic)() == 1.0
    assert server.job_count == 0
    explicit = qml.device("qstore.router", wires=2, shots=100, target="ionq")
    assert qml.QNode(bell, explicit)() == 1.0
    assert server.job_count == 1


def test_counts_and_samples_paths_agree_exactly() -> None:
    states, counts = np.array([0, 3, 5, 6]), np.array([10, 20, 30, 40])
    measurements = [
        qml.expval(qml.Z(0) @ qml.Z(2)),
        qml.var(qml.Hermitian(HERMITIAN, 1)),
        qml.probs(wires=[2, 0]),
    ]
    fast = qml.tape.QuantumScript([], measurements, shots=100)
    slow = qml.tape.QuantumScript([], [*measurements, qml.sample()], shots=100)
    qubits, wires = [2, 0, 1], qml.wires.Wires([0, 1, 2])  # wire 0 ended on physical qubit 2
    rng = np.random.default_rng(0)
    got = results_module.measure(fast, states, counts, qubits, wires, rng)
    want = results_module.measure(slow, states, counts, qubits, wires, rng)
    for a, b in zip(got, want[:3], strict=True):
        np.testing.assert_allclose(a, b, atol=1e-12)
    # wires (0, 1, 2) read qubits (2, 0, 1): state 6 = 0b110 reads (1, 0, 1), 40 shots
    assert want[3].tolist().count([1, 0, 1]) == 40


def test_cancelling_execute_async_cancels_the_jobs(server: LocalIonQServer) -> None:
    server.queue_time = 60
    dev = make(server)
    tape = qml.tape.QuantumScript([qml.H(0)], [qml.expval(qml.Z(0))])

    async def main() -> None:
        task = asyncio.ensure_future(dev.execute_async([tape]))
        while server.job_count == 0:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert dev.client.list_jobs()["jobs"][0]["status"] == "canceled"


def test_circuits_with_different_shots_go_to_separate_jobs(server: LocalIonQServer) -> None:
    dev = make(server, wires=1)
    tapes = [
        qml.tape.QuantumScript([qml.X(0)], [qml.counts()], shots=shots) for shots in (10, 20, 10)
    ]
    assert [r["1"] for r in qml.execute(tapes, dev)] == [10, 20, 10]
    jobs = sorted((p["shots"], p["type"]) for p in server.job_payloads())
    assert jobs == [(10, "ionq.multi-circuit.v1"), (20, "ionq.circuit.v1")]


def test_ctrl_c_during_submission_still_cancels_the_job(server: LocalIonQServer) -> None:
    server.latency, server.queue_time = 0.5, 60
    dev = make(server)

    def interrupt_once_posted() -> None:  # the server holds the POST for 0.5 s before answering
        while ("POST", "/v0.4/jobs") not in server.requests:
            time.sleep(0.005)
        os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C wakes the event loop at once

    watcher = threading.Thread(target=interrupt_once_posted)
    watcher.start()
    with pytest.raises(KeyboardInterrupt):
        qml.QNode(lambda: (qml.H(0), qml.expval(qml.Z(0)))[1], dev)()
    watcher.join()
    server.latency = 0
    assert server.job_count == 1
    assert dev.client.list_jobs()["jobs"][0]["status"] == "canceled"


# ------------------------------------------------------------------ QA regressions


def test_copy_deepcopy_and_pickle(server: LocalIonQServer) -> None:
    """The device's thread pool made every deepcopy/pickle fail."""
    import copy
    import pickle

    dev = make(server, wires=2, shots=200)

    def bell():
        qml.Hadamard(0)
        qml.CNOT([0, 1])
        return qml.expval(qml.Z(0) @ qml.Z(1))

    assert np.isclose(qml.QNode(bell, dev)(), 1.0)
    for clone in (copy.copy(dev), copy.deepcopy(dev), pickle.loads(pickle.dumps(dev))):
        assert clone._pool is not dev._pool
        assert np.isclose(qml.QNode(bell, clone)(), 1.0)


@pytest.mark.parametrize("gateset", ["native", "qis"])
def test_mid_circuit_measurements_are_deferred(server: LocalIonQServer, gateset: str) -> None:
    """Mid-circuit measurements used to fail with 'MidMeasure not supported'."""

    def circuit(x):
        qml.RX(x, 0)
        m = qml.measure(0, reset=True)
        qml.cond(m, qml.RY)(0.5, 1)
        qml.CNOT([0, 2])
        return qml.expval(qml.Z(1)), qml.probs(op=m)

    dev = make(server, wires=None, gateset=gateset)
    z1, probs = qml.QNode(circuit, dev)(0.4)
    ref_z1, ref_probs = qml.QNode(circuit, qml.device("default.qubit"))(0.4)
    sigma = 1 / np.sqrt(SHOTS)
    assert abs(z1 - ref_z1) < 5 * sigma
    assert np.allclose(probs, ref_probs, atol=5 * sigma)


def test_unreachable_api_names_the_url_and_the_fix() -> None:
    import socket

    from pennylane_qstore.ionq.client import IonQClient
    from pennylane_qstore.ionq.errors import IonQConnectionError

    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    client = IonQClient(api_key="k", api_url=url, retries=0)
    with pytest.raises(
        IonQConnectionError, match=rf"cannot reach the IonQ API at {url}.*ionq-server"
    ):
        client.get_job("job-1")


def test_variance_and_samples_of_a_sum(server: LocalIonQServer) -> None:
    """var/sample of a Hamiltonian used to fail in split_non_commuting ('Cannot split up terms
    in sums for MeasurementProcess VarianceMP')."""
    obs = qml.Hamiltonian([1.0, 0.5], [qml.X(0), qml.Z(1)])

    def circuit(sample=True):
        qml.RX(0.5, 0)
        qml.CNOT([0, 1])
        qml.RY(0.3, 1)
        variances = qml.var(obs), qml.var(qml.X(0) + qml.Z(0))
        return (*variances, qml.sample(obs)) if sample else variances

    dev = make(server, wires=2, shots=SHOTS)
    var_h, var_xz, samples = qml.QNode(circuit, dev)()
    exact = qml.QNode(circuit, qml.device("default.qubit"))(sample=False)
    assert np.allclose([var_h, var_xz], exact, atol=0.05)  # ~3 sigma at 10 000 shots
    assert set(np.round(samples, 9)) <= {-1.5, -0.5, 0.5, 1.5}


@pytest.mark.parametrize("gateset", ["native", "qis"])
def test_initial_state_preparation(server: LocalIonQServer, gateset: str) -> None:
    """A leading StatePrep/BasisState was left undecomposed (PennyLane skips initial state
    preparation by default) and gateset='qis' failed with 'StatePrep is not an IonQ QIS gate'."""
    state = np.array([0, 1, 1j, 0, 0.5, 0, 0, 0.5])
    state = state / np.linalg.norm(state)

    def prepared():
        qml.StatePrep(state, wires=[0, 1, 2])
        qml.RX(0.3, 1)
        return qml.probs()

    def basis():
        qml.BasisState(np.array([1, 0, 1]), wires=[0, 1, 2])
        return qml.probs()

    dev = make(server, wires=3, gateset=gateset)
    exact = qml.device("default.qubit", wires=3)
    assert np.allclose(qml.QNode(prepared, dev)(), qml.QNode(prepared, exact)(), atol=0.02)
    assert np.allclose(qml.QNode(basis, dev)(), qml.QNode(basis, exact)())


# ------------------------------------------------------------------ issue 10 regressions


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"cost_cap": "10"}, TypeError, r"cost_cap= takes a number of US dollars.*'10'"),
        ({"cost_cap": -1}, ValueError, "cost_cap= must be at least 0"),
        ({"poll_interval": -1}, ValueError, r"poll_interval= takes seconds above 0.*-1"),
        ({"poll_interval": "fast"}, ValueError, "poll_interval="),
        ({"timeout": -1}, ValueError, "timeout= must be a number of seconds above 0"),
        ({"timeout": "1"}, TypeError, "timeout= takes a number of seconds"),
        ({"max_circuits_per_job": 0}, ValueError, "max_circuits_per_job must be at least 1"),
        ({"dry_run": "yes"}, TypeError, "dry_run= takes True or False"),
        ({"session": 42}, TypeError, "session= takes a session id"),
        ({"noise_seed": -3}, ValueError, "noise_seed= takes a non-negative int"),
        ({"rates": {"minimum": 1}}, TypeError, "rates= takes a pennylane_qstore"),
        ({"metadata": ["a"]}, TypeError, "metadata= takes a dict"),
    ],
)
def test_options_are_checked_at_construction(
    server: LocalIonQServer, kwargs: dict, error: type, message: str
) -> None:
    """cost_cap='10' used to fail at run time with a TypeError, cost_cap=-1 and timeout=-1 were
    accepted, poll_interval=-1 said 'cannot unpack non-iterable int'."""
    with pytest.raises(error, match=message):
        make(server, **kwargs)


def test_negative_seed_is_explained() -> None:
    """seed=-1 said 'takes an int ... got -1'."""
    with pytest.raises(TypeError, match="seed= takes a non-negative int"):
        qml.device("qstore.ionq", wires=1, shots=10, seed=-1, api_key="k")


def test_a_single_poll_interval_number_is_a_fixed_interval(server: LocalIonQServer) -> None:
    assert make(server, poll_interval=0.02).poll_interval == (0.02, 0.02)


def test_zero_cost_cap_still_runs_the_free_simulator(server: LocalIonQServer) -> None:
    dev = make(server, wires=1, cost_cap=0)
    assert qml.QNode(lambda: qml.expval(qml.Z(0)), dev)() == 1.0


def test_session_takes_the_create_session_record(server: LocalIonQServer) -> None:
    """Passing create_session's dict made the server raise TypeError six times (a 503)."""
    record = make(server).client.create_session("simulator")
    dev = make(server, wires=1, session=record)
    assert qml.QNode(lambda: qml.expval(qml.Z(0)), dev)() == 1.0
    assert server.job_payloads()[0]["session_id"] == record["id"]


def test_session_on_another_backend_is_refused(server: LocalIonQServer) -> None:
    from pennylane_qstore.ionq.errors import IonQAPIError

    record = make(server).client.create_session("qpu.aria-1")
    dev = make(server, wires=1, session=record["id"])
    with pytest.raises(IonQAPIError, match=r"is on qpu\.aria-1; this job asks for simulator"):
        qml.QNode(lambda: qml.expval(qml.Z(0)), dev)()


def test_execute_async_takes_a_single_tape(server: LocalIonQServer) -> None:
    """A single tape failed with "'Hadamard' object has no attribute 'shots'"."""
    dev = make(server, wires=1)
    tape = qml.tape.QuantumScript([qml.X(0)], [qml.expval(qml.Z(0))])
    assert asyncio.run(dev.execute_async(tape)) == -1.0
    (compiled,), _ = dev.preprocess_transforms()(tape.copy(shots=10))
    assert dev.execute(compiled) == -1.0


def test_timeout_names_the_queued_state(server: LocalIonQServer) -> None:
    """The timeout said a job 'is still ready after 1 s' and was a generic IonQError."""
    from pennylane_qstore.ionq.errors import IonQTimeoutError

    server.queue_time = 60
    dev = make(server, timeout=0.1)
    with pytest.raises(IonQTimeoutError, match=r"still queued on IonQ \(status 'ready'\)") as info:
        qml.QNode(lambda: qml.expval(qml.Z(0)), dev)()
    assert info.value.job_id == dev.client.list_jobs()["jobs"][0]["id"]


def test_preprocessing_reads_ionq_toml(server: LocalIonQServer) -> None:
    """Capabilities said they came from ionq.toml while preprocessing never read it."""
    import copy

    dev = make(server, wires=1, gateset="qis")
    dev.capabilities = copy.deepcopy(dev.capabilities)  # the class's copy is shared
    dev.capabilities.operations.pop("SX")
    dev.capabilities.observables.pop("Hadamard")
    tape = qml.tape.QuantumScript([qml.SX(0)], [qml.expval(qml.Z(0))], shots=100)
    (compiled,), _ = dev.preprocess_transforms()(tape)
    assert "SX" not in {op.name for op in compiled.operations}
    with pytest.raises(DeviceError, match=r"H\(0\) not supported"):
        dev.preprocess_transforms()(tape.copy(measurements=[qml.expval(qml.Hadamard(0))]))


def test_job_ids_are_logged_at_debug(server: LocalIonQServer, caplog) -> None:
    dev = make(server, wires=1)
    with caplog.at_level("DEBUG", logger="pennylane_qstore.ionq"):
        qml.QNode(lambda: qml.expval(qml.Z(0)), dev)()
    job_id = dev.runs[-1].job_ids[0]
    assert any(job_id in r.getMessage() and r.levelname == "DEBUG" for r in caplog.records)


def test_draw_at_device_level_shows_the_native_gates_sent(server: LocalIonQServer) -> None:
    """qml.draw(level="device") showed H/CNOT, not the native gates sent to IonQ."""
    from pennylane_qstore.ionq.native import circuit_json

    dev = make(server, wires=3, shots=1000)

    @qml.qnode(dev)
    def circuit() -> object:
        qml.H(0)
        qml.CNOT([0, 1])
        qml.SWAP([1, 2])  # absorbed by relabelling: wire 2 ends on the qubit wire 1 started on
        return qml.expval(qml.Z(0) @ qml.Z(2)), qml.probs(wires=[1])

    drawing = qml.draw(circuit, level="device")()
    assert "MS" in drawing and "GPI2" in drawing and "SWAP" not in drawing and "H" not in drawing
    (tape,), _ = qml.workflow.construct_batch(circuit, level="device")()
    assert {op.name for op in tape.operations} <= {"GPI", "GPI2", "MS"}
    correlation, probs = circuit()
    assert correlation == 1.0 and np.allclose(probs, [1.0, 0.0])
    assert (
        server.job_payloads()[0]["input"]["circuit"]
        == circuit_json(tape.operations, dev.wires)["circuit"]
    )


def test_custom_sample_measurements_are_accepted(server: LocalIonQServer) -> None:
    """PennyLane's device suite runs custom SampleMeasurement subclasses (not in ionq.toml)."""
    from pennylane.measurements import SampleMeasurement

    class Ones(SampleMeasurement):
        def process_samples(self, samples, wire_order, shot_range=None, bin_size=None):
            return int(np.sum(samples[:, wire_order.index(self.wires[0])]))

        def process_counts(self, counts, wire_order):
            return None

    dev = make(server, wires=1, shots=50)
    assert qml.QNode(lambda: (qml.X(0), Ones(wires=[0]))[1], dev)() == 50
