"""Backend status, queue times and characterizations over real HTTP to the local IonQ server."""

from __future__ import annotations

import threading
import time
from datetime import datetime

import pytest

from pennylane_qstore.ionq.backends import BACKEND_NAMES, BACKENDS, QPU_BACKENDS
from pennylane_qstore.ionq.circuits import gate_counts
from pennylane_qstore.ionq.client import IonQClient, job_payload
from pennylane_qstore.ionq.errors import IonQAPIError
from pennylane_qstore.ionq.server import LocalIonQServer
from pennylane_qstore.ionq.status import (
    BackendMonitor,
    BackendStatus,
    Characterization,
    monitor_for,
)

BELL = [{"gate": "h", "target": 0}, {"gate": "cnot", "control": 0, "target": 1}]


@pytest.fixture
def client(server: LocalIonQServer) -> IonQClient:
    return IonQClient(api_key=server.api_key, api_url=server.url, backoff_factor=0.01)


def backend_gets(server: LocalIonQServer) -> int:
    return server.requests.count(("GET", "/v0.4/backends"))


def test_backends_answer_has_ionq_field_names(client: IonQClient) -> None:
    answer = {entry["backend"]: entry for entry in client.get_backends()}
    assert sorted(answer) == sorted(BACKEND_NAMES)
    aria = answer["qpu.aria-1"]
    assert aria["status"] == "available" and aria["qubits"] == BACKENDS["qpu.aria-1"].qubits
    assert aria["average_queue_time"] == 600_000  # milliseconds, as IonQ sends it
    assert datetime.fromisoformat(aria["last_updated"]).tzinfo is not None
    assert aria["degraded"] is False and aria["supported_error_mitigations"] == ["debiasing"]
    assert answer["simulator"]["characterization_id"] is None
    entries = client.get_characterizations("qpu.aria-1")
    assert [e["id"] for e in entries] == [aria["characterization_id"]]
    assert set(entries[0]["fidelity"]) == {"spam", "1q", "2q"}
    assert set(entries[0]["fidelity"]["2q"]) == {"median", "stderr"}
    assert set(entries[0]["timing"]) == {"readout", "reset", "1q", "2q", "t1", "t2"}
    one = client.request("GET", f"/backends/qpu.aria-1/characterizations/{entries[0]['id']}")
    assert one == entries[0]
    assert client.get_characterizations("simulator") == []
    with pytest.raises(IonQAPIError, match=r"unknown backend 'qpu\.nope'"):
        client.get_characterizations("qpu.nope")
    with pytest.raises(ValueError, match=r"limit must be an integer in 1\.\.10"):
        client.get_characterizations("qpu.aria-1", limit=0)


def test_monitor_parses_and_converts_ms_to_seconds(client: IonQClient) -> None:
    monitor = BackendMonitor(client)
    status = monitor.status("qpu.forte-1")
    assert status == BackendStatus(
        backend="qpu.forte-1",
        status="available",
        qubits=36,
        average_queue_s=1800.0,
        last_updated=status.last_updated,
        degraded=False,
        supported_error_mitigations=("debiasing",),
    )
    assert status.available
    assert set(monitor.statuses()) == set(BACKEND_NAMES)
    char = monitor.characterization("qpu.forte-1")
    assert isinstance(char, Characterization)
    assert char.fidelity_2q == pytest.approx(0.992) and char.timing_2q_s == pytest.approx(650e-6)
    assert monitor.characterization("simulator") is None
    with pytest.raises(IonQAPIError, match=r"'qpu\.nope' is not listed by GET /backends") as info:
        monitor.status("qpu.nope")
    assert info.value.status == 404 and "qpu.aria-1" in str(info.value)


def test_ttl_cache_counts_requests_and_invalidate(
    server: LocalIonQServer, client: IonQClient
) -> None:
    monitor = BackendMonitor(client, ttl=60)
    for name in QPU_BACKENDS:
        monitor.status(name)
        monitor.characterization(name)
        monitor.characterization(name)
    assert backend_gets(server) == 1
    chars = [p for m, p in server.requests if p.endswith("/characterizations")]
    assert len(chars) == len(QPU_BACKENDS)  # one per backend, cached afterwards
    server.set_backend(
        "qpu.aria-1", status="unavailable", degraded=True, average_queue_time_ms=5000
    )
    assert monitor.status("qpu.aria-1").available  # still the cached answer
    monitor.invalidate()
    changed = monitor.status("qpu.aria-1")
    assert not changed.available and changed.status == "unavailable"
    assert changed.degraded and changed.average_queue_s == 5.0
    assert backend_gets(server) == 2


def test_ttl_expiry_asks_again(server: LocalIonQServer, client: IonQClient) -> None:
    monitor = BackendMonitor(client, ttl=0.2)
    assert monitor.status("qpu.aria-2").average_queue_s == 1200.0
    server.set_backend("qpu.aria-2", average_queue_time_ms=1500)
    assert monitor.status("qpu.aria-2").average_queue_s == 1200.0
    time.sleep(0.25)
    assert monitor.status("qpu.aria-2").average_queue_s == 1.5
    assert backend_gets(server) == 2


def test_concurrent_callers_share_one_request(server: LocalIonQServer, client: IonQClient) -> None:
    monitor = BackendMonitor(client)
    threads = [threading.Thread(target=monitor.statuses) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert backend_gets(server) == 1


def test_monitor_for_is_shared_per_url_and_key(server: LocalIonQServer) -> None:
    first = IonQClient(api_key=server.api_key, api_url=server.url)
    second = IonQClient(api_key=server.api_key, api_url=server.url + "/")
    other = IonQClient(api_key="another-key", api_url=server.url)
    assert monitor_for(first) is monitor_for(second)
    assert monitor_for(other) is not monitor_for(first)
    with pytest.raises(IonQAPIError) as info:  # the other key is refused by the server
        monitor_for(other).statuses()
    assert info.value.status == 401


def test_unreachable_api_is_an_api_error_remembered_for_the_ttl() -> None:
    client = IonQClient(api_key="k", api_url="http://127.0.0.1:9/v0.4", retries=0)
    monitor = BackendMonitor(client, ttl=60)
    with pytest.raises(IonQAPIError, match="GET /backends failed: cannot reach") as info:
        monitor.status("qpu.aria-1")
    assert info.value.status == 503
    with pytest.raises(IonQAPIError) as again:
        monitor.status("qpu.aria-1")
    assert again.value is info.value  # cached failure, no second attempt


@pytest.mark.parametrize(
    ("entry", "match"),
    [
        ({"status": "available"}, "expected objects with a 'backend'"),
        ({"backend": "b", "status": "open", "qubits": 2}, "status 'open' is not one of"),
        ({"backend": "b", "status": "available"}, "'qubits'"),
        (
            {"backend": "b", "status": "available", "qubits": 2, "average_queue_time": -1},
            "negative",
        ),
    ],
)
def test_malformed_backend_entries_are_refused(entry: dict, match: str) -> None:
    with pytest.raises(IonQAPIError, match=match) as info:
        BackendStatus.from_json(entry)
    assert info.value.status == 502


def test_optional_fields_and_older_spellings() -> None:
    status = BackendStatus.from_json(
        {"backend": "qpu.x", "status": "retired", "qubits": 11, "last_updated": 1_700_000_000}
    )
    assert status.last_updated == "2023-11-14T22:13:20Z" and status.average_queue_s == 0.0
    assert not status.available and not status.degraded
    assert status.supported_error_mitigations == ()
    char = Characterization.from_json({"fidelity": {"2q": {"mean": 0.97}}, "timing": {"1q": 1e-4}})
    assert char.fidelity_2q == 0.97 and char.timing_1q_s == 1e-4 and char.readout_s is None
    with pytest.raises(IonQAPIError, match="expected a number"):
        Characterization.from_json({"fidelity": {"1q": {"median": "high"}}})


def test_execution_model_is_the_one_the_server_reports(client: IonQClient) -> None:
    monitor = BackendMonitor(client)
    circuit = [*BELL, {"gate": "rx", "target": 1, "rotation": 0.3}]
    n1, n2 = gate_counts(circuit)
    char = monitor.characterization("qpu.aria-1")
    brute = 700 * (n1 * char.timing_1q_s + n2 * char.timing_2q_s + char.readout_s + char.reset_s)
    assert monitor.execution_seconds("qpu.aria-1", 700, [(n1, n2)]) == pytest.approx(brute)
    completion = monitor.expected_completion_s("qpu.aria-1", 700, [(n1, n2), (n1, n2)])
    assert completion == pytest.approx(600.0 + 2 * brute)
    payload = job_payload([circuit, circuit], 2, gateset="qis", backend="qpu.aria-1", shots=700)
    job = client.get_job(client.submit_job(payload))
    assert job["status"] == "completed" and job["predicted_wait_time_ms"] == 0.0
    assert job["predicted_execution_duration_ms"] == pytest.approx(2 * brute * 1e3)
    assert job["execution_duration_ms"] == pytest.approx(2 * brute * 1e3)
    assert monitor.execution_seconds("simulator", 700, [(n1, n2)]) == 0.0


def test_unavailable_backend_holds_jobs_until_available(
    server: LocalIonQServer, client: IonQClient
) -> None:
    server.set_backend("qpu.aria-1", status="unavailable", average_queue_time_ms=90_000)
    payload = job_payload([BELL], 2, gateset="qis", backend="qpu.aria-1", shots=100)
    job_id = client.submit_job(payload)
    time.sleep(0.05)
    job = client.get_job(job_id)
    assert job["status"] == "ready" and job["predicted_wait_time_ms"] == 90_000
    assert job["execution_duration_ms"] is None
    assert client.get_job(client.submit_job({**payload, "backend": "simulator"}))["status"] == (
        "completed"
    )
    server.set_backend("qpu.aria-1", status="available")
    assert client.get_job(job_id)["status"] == "completed"


def test_retired_backend_refuses_jobs_and_per_backend_queue_time(
    server: LocalIonQServer, client: IonQClient
) -> None:
    server.set_backend("qpu.aria-2", status="retired")
    payload = job_payload([BELL], 2, gateset="qis", backend="qpu.aria-2")
    with pytest.raises(IonQAPIError, match=r"qpu\.aria-2 is retired") as info:
        client.submit_job(payload)
    assert info.value.status == 400 and server.job_count == 0
    server.set_backend("qpu.forte-1", queue_time=30)
    slow = client.get_job(client.submit_job({**payload, "backend": "qpu.forte-1"}))
    assert slow["status"] == "ready" and 14_000 < slow["predicted_wait_time_ms"] <= 15_000
    fast = client.get_job(client.submit_job({**payload, "backend": "simulator"}))
    assert fast["status"] == "completed"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"status": "down"}, "status must be one of available, unavailable, retired"),
        ({"average_queue_time_ms": -5}, "average_queue_time_ms must be a number >= 0"),
        ({"queue_time": "1"}, "queue_time must be a number >= 0"),
        ({"degraded": 1}, "degraded must be True or False"),
    ],
)
def test_set_backend_checks_its_knobs(server: LocalIonQServer, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        server.set_backend("qpu.aria-1", **kwargs)
    with pytest.raises(ValueError, match="unknown backend 'aria'; choose one of simulator"):
        server.set_backend("aria", status="available")
    with pytest.raises(ValueError, match="ttl must be a number of seconds"):
        BackendMonitor(IonQClient(api_key=server.api_key, api_url=server.url), ttl=-1)
