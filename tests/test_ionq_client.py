"""Unit tests of the IonQ REST client over a fake transport: exact payloads and recovery logic."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter

from pennylane_qstore.ionq import client as client_module
from pennylane_qstore.ionq.client import CLIENT_ID_KEY, IonQClient, job_payload
from pennylane_qstore.ionq.errors import IonQAPIError, IonQAuthError

URL = "http://ionq.test/v0.4"
BELL = [{"gate": "h", "target": 0}, {"gate": "cnot", "control": 0, "target": 1}]


class FakeTransport(BaseAdapter):
    """Records requests and answers each with the next scripted response (or exception)."""

    def __init__(self, answers: list[Any]) -> None:
        super().__init__()
        self.answers = list(answers)
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.sent.append(request)
        answer = self.answers.pop(0)
        if callable(answer):
            answer = answer(request)
        if isinstance(answer, Exception):
            raise answer
        status, body, headers = answer
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(body).encode()
        response.headers.update(headers)
        response.request = request
        response.url = request.url
        return response

    def close(self) -> None:
        """Nothing to close."""


def ok(body: Any) -> tuple[int, Any, dict[str, str]]:
    return 200, body, {}


def body_of(request: requests.PreparedRequest) -> Any:
    return json.loads(request.body)


@pytest.fixture
def make_client(monkeypatch: pytest.MonkeyPatch) -> Callable[..., tuple[IonQClient, FakeTransport]]:
    sleeps: list[float] = []
    monkeypatch.setattr(client_module.time, "sleep", sleeps.append)

    def make(answers: list[Any]) -> tuple[IonQClient, FakeTransport]:
        client = IonQClient(api_key="KEY", api_url=URL)
        transport = FakeTransport(answers)
        client.session.mount("http://ionq.test/", transport)
        client.sleeps = sleeps  # type: ignore[attr-defined]
        return client, transport

    return make


def test_missing_key_says_how_to_set_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IONQ_API_KEY", raising=False)
    with pytest.raises(IonQAuthError, match="IONQ_API_KEY"):
        IonQClient()


def test_key_and_url_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IONQ_API_KEY", "env-key")
    monkeypatch.setenv("IONQ_API_URL", URL + "/")
    client = IonQClient()
    transport = FakeTransport([ok({"id": "j1", "status": "completed"})])
    client.session.mount("http://ionq.test/", transport)
    assert client.get_job("j1")["status"] == "completed"
    sent = transport.sent[0]
    assert sent.url == f"{URL}/jobs/j1"
    assert sent.headers["Authorization"] == "apiKey env-key"


def test_default_url_is_ionq_v04(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IONQ_API_URL", raising=False)
    assert IonQClient(api_key="k").api_url == "https://api.ionq.co/v0.4"


def test_multi_circuit_payload_is_exact() -> None:
    payload = job_payload(
        [BELL, [{"gate": "x", "target": 1}]],
        2,
        gateset="qis",
        backend="qpu.aria-1",
        shots=1000,
        error_mitigation=True,
        noise_model="aria-1",
        noise_seed=7,
        dry_run=True,
        session_id="s-1",
        name="run",
        metadata={"experiment": 3},
    )
    assert payload == {
        "backend": "qpu.aria-1",
        "shots": 1000,
        "type": "ionq.multi-circuit.v1",
        "input": {
            "gateset": "qis",
            "qubits": 2,
            "circuits": [
                {"name": "circuit-0", "circuit": BELL},
                {"name": "circuit-1", "circuit": [{"gate": "x", "target": 1}]},
            ],
        },
        "name": "run",
        "metadata": {"experiment": "3"},
        "settings": {"error_mitigation": {"debiasing": True}},
        "noise": {"model": "aria-1", "seed": 7},
        "dry_run": True,
        "session_id": "s-1",
    }


def test_single_circuit_payload_is_exact() -> None:
    assert job_payload([BELL], 2, gateset="qis") == {
        "backend": "simulator",
        "shots": 100,
        "type": "ionq.circuit.v1",
        "input": {"gateset": "qis", "qubits": 2, "circuit": BELL},
    }


def test_submit_tags_the_job_and_posts_it_once(make_client: Callable) -> None:
    client, transport = make_client([ok({"id": "job-1", "status": "submitted"})])
    payload = job_payload([BELL], 2, gateset="qis", metadata={"user": "a"})
    assert client.submit_job(payload) == "job-1"
    (sent,) = transport.sent
    assert (sent.method, sent.url) == ("POST", f"{URL}/jobs")
    body = body_of(sent)
    client_id = body["metadata"][CLIENT_ID_KEY]
    assert body == {
        **payload,
        "metadata": {"user": "a", CLIENT_ID_KEY: client_id},
        "name": f"qstore-{client_id}",
    }
    assert "metadata" not in payload or CLIENT_ID_KEY not in payload["metadata"]


def test_post_rate_limited_is_resent_after_retry_after(make_client: Callable) -> None:
    client, transport = make_client(
        [(429, {"message": "slow down"}, {"Retry-After": "3"}), ok({"id": "job-2"})]
    )
    assert client.submit_job(job_payload([BELL], 2, gateset="qis")) == "job-2"
    assert [r.method for r in transport.sent] == ["POST", "POST"]
    assert client.sleeps == [3.0]
    assert body_of(transport.sent[0]) == body_of(transport.sent[1])


def test_lost_post_answer_finds_the_created_job(make_client: Callable) -> None:
    def listing(request: requests.PreparedRequest) -> tuple[int, Any, dict[str, str]]:
        tag = body_of(transport.sent[0])["metadata"][CLIENT_ID_KEY]
        other = {"id": "someone-else", "metadata": {CLIENT_ID_KEY: "x"}}
        mine = {"id": "job-3", "metadata": {CLIENT_ID_KEY: tag}}
        return ok({"jobs": [other, mine], "next": None})

    client, transport = make_client([requests.ConnectionError("reset"), listing])
    assert client.submit_job(job_payload([BELL], 2, gateset="qis")) == "job-3"
    assert [r.method for r in transport.sent] == ["POST", "GET"]
    assert transport.sent[1].url.startswith(f"{URL}/jobs?limit=100&name=qstore-")


def test_lost_post_without_job_is_resent_with_the_same_tag(make_client: Callable) -> None:
    client, transport = make_client(
        [
            requests.ReadTimeout("no answer"),
            ok({"jobs": [], "next": None}),
            ok({"id": "job-4"}),
        ]
    )
    assert client.submit_job(job_payload([BELL], 2, gateset="qis")) == "job-4"
    assert [r.method for r in transport.sent] == ["POST", "GET", "POST"]
    assert body_of(transport.sent[0]) == body_of(transport.sent[2])


def test_errors_carry_status_and_message(make_client: Callable) -> None:
    client, _ = make_client(
        [
            (400, {"statusCode": 400, "message": "bad gate"}, {}),
            (401, {"statusCode": 401, "message": "bad key"}, {}),
        ]
    )
    with pytest.raises(IonQAPIError, match="bad gate") as info:
        client.submit_job(job_payload([BELL], 2, gateset="qis"))
    assert info.value.status == 400
    with pytest.raises(IonQAuthError, match="bad key"):
        client.get_job("j")


def test_endpoint_requests_are_exact(make_client: Callable) -> None:
    client, transport = make_client(
        [
            ok({"estimated_cost": 20.0}),
            ok({"id": "s-1"}),
            ok({"id": "j", "status": "canceled"}),
            ok({"cost": None}),
            ok({"0": 0.5, "3": 0.5}),
        ]
    )
    client.estimate(
        "qpu.forte-1", qubits=4, shots=500, gates_1q=10, gates_2q=3, error_mitigation=True
    )
    client.create_session("qpu.aria-1", cost_limit=50.0, job_count_limit=3)
    client.cancel_job("j")
    client.get_cost("j")
    assert client.get_probabilities("j") == {"0": 0.5, "3": 0.5}
    sent = [(r.method, r.url) for r in transport.sent]
    assert sent == [
        (
            "GET",
            f"{URL}/jobs/estimate?backend=qpu.forte-1&qubits=4&shots=500&1q_gates=10&2q_gates=3"
            "&error_mitigation=true",
        ),
        ("POST", f"{URL}/sessions"),
        ("PUT", f"{URL}/jobs/j/status/cancel"),
        ("GET", f"{URL}/jobs/j/cost"),
        ("GET", f"{URL}/jobs/j/results/probabilities"),
    ]
    assert body_of(transport.sent[1]) == {
        "backend": "qpu.aria-1",
        "settings": {"cost_limit": {"unit": "usd", "value": 50.0}, "job_count_limit": 3},
    }


# ------------------------------------------------------------------ issue 10 regressions


@pytest.mark.parametrize("url", ["127.0.0.1:9", "ftp://ionq.test/v0.4", "http://"])
def test_url_without_http_scheme_is_refused_at_construction(url: str) -> None:
    """api_url='127.0.0.1:9' leaked requests' InvalidSchema at the first request."""
    from pennylane_qstore.ionq.errors import IonQConnectionError

    with pytest.raises(IonQConnectionError, match=r"not an http\(s\) URL.*qstore ionq-server"):
        IonQClient(api_key="k", api_url=url)


def test_requests_carry_a_user_agent(make_client: Callable) -> None:
    client, transport = make_client([ok({"id": "j1", "status": "completed"})])
    client.get_job("j1")
    agent = transport.sent[0].headers["User-Agent"]
    assert agent.startswith("pennylane-qstore/") and "requests/" in agent


def test_create_session_goes_through_request(make_client: Callable) -> None:
    """create_session bypassed request(): a 401 was not turned into IonQAuthError."""
    client, transport = make_client([(401, {"message": "bad key"}, {})])
    with pytest.raises(IonQAuthError, match="bad key"):
        client.create_session("simulator", cost_limit=1.0)
    assert body_of(transport.sent[0]) == {
        "backend": "simulator",
        "settings": {"cost_limit": {"unit": "usd", "value": 1.0}},
    }


def test_submission_retries_are_logged_at_info(
    make_client: Callable, caplog: pytest.LogCaptureFixture
) -> None:
    client, _ = make_client([(503, {}, {}), ok({"jobs": [], "next": None}), ok({"id": "j9"})])
    with caplog.at_level("INFO", logger="pennylane_qstore.ionq.client"):
        assert client.submit_job(job_payload([BELL], 2, gateset="qis")) == "j9"
    (record,) = [r for r in caplog.records if "POST /jobs attempt 1 failed" in r.getMessage()]
    assert record.levelname == "INFO" and "HTTP 503" in record.getMessage()


def test_http_retries_are_logged_at_info(server, caplog: pytest.LogCaptureFixture) -> None:
    """urllib3's retries of GET requests (real HTTP to the local server) are logged."""
    client = IonQClient(api_key=server.api_key, api_url=server.url, backoff_factor=0.01)
    server.inject("5xx", count=2, methods=("GET",))
    with caplog.at_level("INFO", logger="pennylane_qstore.ionq.client"):
        assert client.list_jobs()["jobs"] == []
    retries = [r for r in caplog.records if r.getMessage().startswith("retrying GET")]
    assert len(retries) == 2 and all("HTTP 503" in r.getMessage() for r in retries)
