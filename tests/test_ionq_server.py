"""The local IonQ server over real HTTP: auth, validation, simulation, pricing and fault knobs."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pennylane as qml
import pytest
import requests

from pennylane_qstore.ionq.client import IonQClient, job_payload
from pennylane_qstore.ionq.errors import IonQAPIError, IonQAuthError
from pennylane_qstore.ionq.pricing import AZURE_RATES, BRAKET_RATES, circuit_cost
from pennylane_qstore.ionq.server import LocalIonQServer
from pennylane_qstore.ionq.simulate import simulate_probabilities

BELL = [{"gate": "h", "target": 0}, {"gate": "cnot", "control": 0, "target": 1}]


@pytest.fixture
def server_seed() -> int:
    """Seed of the shared ``server`` fixture (tests/conftest.py) in this module."""
    return 11


@pytest.fixture
def client(server: LocalIonQServer) -> IonQClient:
    return IonQClient(api_key=server.api_key, api_url=server.url, backoff_factor=0.01)


def run(client: IonQClient, payload: dict) -> dict:
    job_id = client.submit_job(payload)
    assert client.get_job(job_id)["status"] == "completed"
    return client.get_probabilities(job_id)


def test_api_key_is_checked(server: LocalIonQServer) -> None:
    answer = requests.get(f"{server.url}/jobs", timeout=5)
    assert answer.status_code == 401
    assert "apiKey" in answer.json()["message"]
    with pytest.raises(IonQAuthError):
        IonQClient(api_key="wrong", api_url=server.url).get_job("x")


def test_bell_state_probabilities(client: IonQClient) -> None:
    probs = run(client, job_payload([BELL], 2, gateset="qis"))
    assert probs.keys() == {"0", "3"}
    assert probs["0"] == pytest.approx(0.5, abs=1e-12)


def _native_reference(gates: list[dict], n: int) -> np.ndarray:
    """Probabilities from the published native gate matrices, built with Kronecker products."""

    def side(phi: float) -> np.ndarray:
        return np.array([[0, np.exp(-2j * np.pi * phi)], [np.exp(2j * np.pi * phi), 0]])

    def embed(mats: dict[int, np.ndarray]) -> np.ndarray:  # qubit n-1 is the left factor
        out = np.eye(1)
        for q in reversed(range(n)):
            out = np.kron(out, mats.get(q, np.eye(2)))
        return out

    state = np.zeros(2**n, dtype=complex)
    state[0] = 1
    for g in gates:
        if g["gate"] == "gpi":
            u = embed({g["target"]: side(g["phase"])})
        elif g["gate"] == "gpi2":
            u = embed({g["target"]: (np.eye(2) - 1j * side(g["phase"])) / np.sqrt(2)})
        elif g["gate"] == "ms":
            a, b = g["targets"]
            ss = embed({a: side(g["phases"][0]), b: side(g["phases"][1])})
            u = np.cos(np.pi * g["angle"]) * np.eye(2**n) - 1j * np.sin(np.pi * g["angle"]) * ss
        else:
            a, b = g["targets"]
            zz = embed({a: np.diag([1, -1]), b: np.diag([1, -1])})
            u = np.cos(np.pi * g["angle"]) * np.eye(2**n) - 1j * np.sin(np.pi * g["angle"]) * zz
        state = u @ state
    return np.abs(state) ** 2


def test_native_gates_follow_the_published_matrices() -> None:
    rng = np.random.default_rng(3)
    gates = []
    for _ in range(12):
        a, b = (int(q) for q in rng.choice(3, 2, replace=False))
        gates += [
            {"gate": "gpi2", "target": a, "phase": float(rng.uniform(-1, 1))},
            {"gate": "gpi", "target": b, "phase": float(rng.uniform(-1, 1))},
            {"gate": "ms", "targets": [a, b], "phases": list(rng.uniform(-1, 1, 2)), "angle": 0.1},
            {"gate": "zz", "targets": [b, a], "angle": float(rng.uniform(-0.5, 0.5))},
        ]
    expected = _native_reference(gates, 3)
    assert np.allclose(simulate_probabilities(gates, "native", 3), expected, atol=1e-12)


def test_qis_gates_agree_with_default_qubit() -> None:
    circuit = [
        {"gate": "h", "target": 0},
        {"gate": "rx", "target": 2, "rotation": 0.3},
        {"gate": "x", "target": 2, "controls": [0, 1]},
        {"gate": "v", "target": 1},
        {"gate": "ti", "target": 2},
        {"gate": "yy", "targets": [2, 0], "rotation": 0.4},
        {"gate": "ry", "target": 0, "rotation": 1.2, "control": 2},
        {"gate": "swap", "targets": [0, 1]},
        {"gate": "xx", "targets": [1, 2], "rotation": 0.7},
        {"gate": "si", "target": 1},
        {"gate": "h", "target": 1},
    ]

    @qml.qnode(qml.device("default.qubit", wires=3))
    def reference() -> object:
        qml.H(0)
        qml.RX(0.3, 2)
        qml.Toffoli([0, 1, 2])
        qml.SX(1)
        qml.adjoint(qml.T(2))
        qml.IsingYY(0.4, [2, 0])
        qml.CRY(1.2, [2, 0])
        qml.SWAP([0, 1])
        qml.IsingXX(0.7, [1, 2])
        qml.adjoint(qml.S(1))
        qml.H(1)
        return qml.probs(wires=[2, 1, 0])  # qubit 0 is the least significant bit

    assert np.allclose(simulate_probabilities(circuit, "qis", 3), reference(), atol=1e-12)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (job_payload([BELL], 2, gateset="qis", backend="qpu.nope"), "unknown backend"),
        (job_payload([BELL], 30, gateset="qis", backend="qpu.aria-1"), "qpu.aria-1 has 25 qubits"),
        (
            job_payload([[{"gate": "gpi", "target": 0, "phase": 0.1}, *BELL]], 2, gateset="native"),
            "gatesets cannot be mixed",
        ),
        (
            job_payload([[{"gate": "gpi", "target": 0, "phase": 1.5}]], 1, gateset="native"),
            "outside",
        ),
        (
            job_payload(
                [[{"gate": "ms", "targets": [0, 1], "phases": [0, 0], "angle": 0.3}]],
                2,
                gateset="native",
            ),
            "outside",
        ),
        (
            job_payload(
                [[{"gate": "zz", "targets": [0, 1], "angle": 0.1}]],
                2,
                gateset="native",
                backend="qpu.aria-2",
            ),
            "no native 'zz'",
        ),
        (job_payload([BELL], 2, gateset="qis", shots=2_000_000), "shots must be"),
        (job_payload([BELL], 2, gateset="qis", shots=100, error_mitigation=True), "500"),
        (job_payload([[{"gate": "cnot", "target": 1}]], 2, gateset="qis"), "missing 'control'"),
        (job_payload([[{"gate": "x", "target": 2}]], 2, gateset="qis"), "outside 0..1"),
    ],
)
def test_invalid_jobs_are_rejected_like_ionq(
    client: IonQClient, server: LocalIonQServer, payload: dict, message: str
) -> None:
    with pytest.raises(IonQAPIError, match=message) as info:
        client.submit_job(payload)
    assert info.value.status == 400
    assert server.job_count == 0


def test_noisy_results_are_a_seeded_shot_histogram(client: IonQClient) -> None:
    payload = job_payload([BELL], 2, gateset="qis", shots=1000, noise_model="aria-1", noise_seed=5)
    first, second = run(client, payload), run(client, payload)
    assert first == second
    counts = np.array(list(first.values())) * 1000
    assert np.allclose(counts, np.round(counts)) and round(counts.sum()) == 1000
    assert first["0"] + first["3"] > 0.95


def test_multi_circuit_results_are_keyed_by_child_job(client: IonQClient) -> None:
    flip = [{"gate": "x", "target": 1}]
    job_id = client.submit_job(job_payload([BELL, flip], 2, gateset="qis"))
    children = client.get_job(job_id)["child_job_ids"]
    results = client.get_probabilities(job_id)
    assert list(results) == children
    assert results[children[1]] == {"2": 1.0}
    assert client.get_probabilities(children[1]) == {"2": 1.0}


def test_queue_and_cancel(server: LocalIonQServer, client: IonQClient) -> None:
    server.queue_time = 30
    job_id = client.submit_job(job_payload([BELL], 2, gateset="qis"))
    assert client.get_job(job_id)["status"] == "ready"
    with pytest.raises(IonQAPIError, match="results exist once it is completed"):
        client.get_probabilities(job_id)
    assert client.cancel_job(job_id)["status"] == "canceled"
    assert client.get_job(job_id)["status"] == "canceled"


def test_failed_job_reports_code(server: LocalIonQServer, client: IonQClient) -> None:
    server.inject("fail_job", code="CompilationError")
    job = client.get_job(client.submit_job(job_payload([BELL], 2, gateset="qis")))
    assert job["status"] == "failed"
    assert job["failure"]["code"] == "CompilationError"


@pytest.mark.parametrize(("shots", "minimum"), [(499, 12.4166), (500, 97.50)])
def test_qpu_jobs_are_debiased_by_default_from_500_shots(client, shots, minimum) -> None:
    payload = job_payload([BELL], 2, gateset="qis", backend="qpu.aria-1", shots=shots)
    billed = client.get_cost(client.submit_job(payload))["cost"]["value"]
    assert billed == pytest.approx(minimum + shots * (0.00022 + 0.000975), abs=1e-6)


def test_cost_estimate_session_limit_and_dry_run(client: IonQClient) -> None:
    estimate = client.estimate("qpu.aria-1", 2, 1000, gates_1q=1, gates_2q=1)
    assert estimate["estimated_cost"] == pytest.approx(12.4166 + 1000 * (0.00022 + 0.000975))
    assert estimate["rate_information"]["cost_2q_gate"] == 0.000975
    session = client.create_session("qpu.aria-1", cost_limit=20.0)
    payload = job_payload(
        [BELL], 2, gateset="qis", backend="qpu.aria-1", shots=1000, error_mitigation=False
    )
    job_id = client.submit_job({**payload, "session_id": session["id"]})
    cost = client.get_cost(job_id)
    assert cost["cost"]["value"] == pytest.approx(estimate["estimated_cost"], abs=1e-6)
    with pytest.raises(IonQAPIError, match=r"cost limit 20\.0 would be exceeded"):
        client.submit_job({**payload, "session_id": session["id"]})
    dry = client.submit_job({**payload, "dry_run": True})
    assert client.get_job(dry)["status"] == "completed"
    with pytest.raises(IonQAPIError, match="dry run"):
        client.get_probabilities(dry)


def test_rate_cards() -> None:
    assert circuit_cost("simulator", 1000, 10, 10) == 0.0
    assert circuit_cost("qpu.forte-1", 100, 0, 0, rates=BRAKET_RATES) == pytest.approx(8.30)
    assert circuit_cost("qpu.aria-2", 100, 0, 0, True, AZURE_RATES) == pytest.approx(97.5)


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "5xx", "count": 2, "methods": ("GET",)},
        {"kind": "429", "count": 2, "methods": ("GET",), "retry_after": 0},
        {"kind": "5xx", "count": 2, "methods": ("POST",), "status": 502},
        {"kind": "429", "count": 1, "methods": ("POST",), "retry_after": 0},
        {"kind": "drop", "count": 1},
    ],
    ids=lambda f: f"{f['kind']}-{f['methods'][0] if 'methods' in f else 'POST'}",
)
def test_faults_recover_without_duplicate_jobs(
    server: LocalIonQServer, client: IonQClient, fault: dict
) -> None:
    server.inject(**fault)
    assert run(client, job_payload([BELL], 2, gateset="qis")).keys() == {"0", "3"}
    assert server.job_count == 1


def test_rate_limit_honours_retry_after(server: LocalIonQServer, client: IonQClient) -> None:
    server.inject("429", methods=("GET",), retry_after=1)
    start = time.monotonic()
    client.list_jobs()
    assert time.monotonic() - start >= 1.0


def test_command_line_server() -> None:
    command = [sys.executable, "-m", "pennylane_qstore.cli", "ionq-server", "--port", "0"]
    proc = subprocess.Popen([*command, "--api-key", "cli-key"], stdout=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().split()[4]
        client = IonQClient(api_key="cli-key", api_url=url)
        assert run(client, job_payload([BELL], 2, gateset="qis"))["3"] == pytest.approx(0.5)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize(
    ("entry", "valid"),
    [
        ({"gate": "ms", "targets": [0, 1], "phases": [0, 0], "angle": 0}, False),
        ({"gate": "ms", "targets": [0, 1], "phases": [0, 0], "angle": 0.1}, True),
        ({"gate": "zz", "targets": [0, 1], "angle": -0.5}, True),
        ({"gate": "zz", "targets": [0, 1], "angle": 1.5}, False),
        ({"gate": "gpi", "target": 0, "phase": "0.1"}, False),
    ],
)
def test_server_and_parser_share_one_validator(
    client: IonQClient, entry: dict, valid: bool
) -> None:
    """The local server and ``gates_from_json`` accept and refuse exactly the same gates."""
    from pennylane_qstore.ionq.native import gates_from_json

    payload = job_payload([[entry]], 2, gateset="native")
    if valid:
        assert len(gates_from_json([entry], 2)) == 1
        client.submit_job(payload)
        return
    with pytest.raises(ValueError) as parsed:
        gates_from_json([entry], 2)
    with pytest.raises(IonQAPIError) as served:
        client.submit_job(payload)
    assert str(parsed.value) in served.value.message
