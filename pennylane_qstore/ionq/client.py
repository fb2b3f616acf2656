"""A client for IonQ's v0.4 REST API, kept apart from the PennyLane device.

Idempotent requests (GET, PUT) are retried by urllib3's :class:`~urllib3.util.Retry` on
connection errors, 429 and 5xx answers, with bounded exponential backoff that honours
``Retry-After``. ``POST /jobs`` is never blindly retried: each submission carries a client id in
its metadata and name, and when its outcome is unknown (dropped connection, timeout, 5xx) the
client looks the id up before sending again, so a job is never created twice.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import uuid
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

from pennylane_qstore.ionq.errors import IonQAPIError, IonQAuthError, IonQConnectionError

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.ionq.co/v0.4"
CLIENT_ID_KEY = "qstore_client_id"
RETRY_STATUSES = (429, 500, 502, 503, 504)


def user_agent() -> str:
    """The ``User-Agent`` the client sends: ``pennylane-qstore/<version> requests/<version>``."""
    try:
        ours = version("pennylane-qstore")
    except PackageNotFoundError:  # running from a source tree that is not installed
        ours = "unknown"
    return f"pennylane-qstore/{ours} requests/{requests.__version__}"


def check_api_url(url: str) -> str:
    """Return ``url`` without a trailing slash; raise :class:`IonQConnectionError` if unusable."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise IonQConnectionError(
            f"api_url {url!r} is not an http(s) URL; give the scheme and host, e.g. "
            f"'http://127.0.0.1:8000/v0.4' for `qstore ionq-server` or {DEFAULT_API_URL!r}"
        )
    return url.rstrip("/")


class _LoggedRetry(Retry):
    """urllib3's retry policy, logging each retry at INFO on this module's logger."""

    def increment(self, method=None, url=None, response=None, error=None, **kwargs):  # type: ignore[no-untyped-def]
        """Count one retry (as urllib3 does) and log why it happens."""
        retry = super().increment(method, url, response, error, **kwargs)
        why = f"HTTP {response.status}" if response is not None else type(error).__name__
        logger.info("retrying %s %s after %s (%s retries left)", method, url, why, retry.total)
        return retry


def resolve_api_key(api_key: str | None) -> str:
    """Return ``api_key`` or ``$IONQ_API_KEY``; raise :class:`IonQAuthError` when neither is set."""
    key = api_key or os.environ.get("IONQ_API_KEY")
    if not key:
        raise IonQAuthError(
            "no IonQ API key: pass api_key='...' or set the IONQ_API_KEY environment variable "
            "(keys are created at https://cloud.ionq.com/settings/keys)"
        )
    return key


class IonQClient:
    """Talks to IonQ's job API (or to :class:`~pennylane_qstore.ionq.server.LocalIonQServer`).

    Args:
        api_key: API key; defaults to ``$IONQ_API_KEY``.
        api_url: Base URL; defaults to ``$IONQ_API_URL`` or ``https://api.ionq.co/v0.4``.
        timeout: ``(connect, read)`` timeouts in seconds.
        retries: Retry budget for idempotent requests and for submissions.
        backoff_factor: First backoff in seconds; doubles each retry.
        backoff_max: Longest single backoff in seconds.
    """

    def __init__(
        self,
        api_key: str | None = None,
        api_url: str | None = None,
        timeout: tuple[float, float] = (5.0, 60.0),
        retries: int = 5,
        backoff_factor: float = 0.2,
        backoff_max: float = 10.0,
    ) -> None:
        self.api_key = resolve_api_key(api_key)
        self.api_url = check_api_url(api_url or os.environ.get("IONQ_API_URL") or DEFAULT_API_URL)
        self.timeout = timeout
        self.retries = retries
        self.backoff_factor = backoff_factor
        self.backoff_max = backoff_max
        retry = _LoggedRetry(
            total=retries,
            connect=retries,
            read=retries,
            status=retries,
            other=0,
            allowed_methods=frozenset({"GET", "PUT", "HEAD", "OPTIONS", "DELETE"}),
            status_forcelist=RETRY_STATUSES,
            backoff_factor=backoff_factor,
            backoff_max=backoff_max,
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        adapter = HTTPAdapter(max_retries=retry, pool_connections=4, pool_maxsize=32)
        self.session = requests.Session()
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update(
            {
                "Authorization": f"apiKey {self.api_key}",
                "Content-Type": "application/json",
                "User-Agent": user_agent(),
            }
        )

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()

    # -- plumbing ----------------------------------------------------------------------------
    def _decode(self, response: requests.Response) -> Any:
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = response.text
        if response.status_code >= 400:
            message = body.get("message", body) if isinstance(body, dict) else body
            if response.status_code == 401:
                raise IonQAuthError(f"IonQ refused the API key (401): {message}")
            raise IonQAPIError(response.status_code, str(message), body)
        return body

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send one request (retried when idempotent) and return the decoded JSON body."""
        try:
            response = self.session.request(
                method, f"{self.api_url}{path}", timeout=self.timeout, **kwargs
            )
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.InvalidURL) as err:
            raise IonQConnectionError(
                f"cannot reach the IonQ API at {self.api_url} ({type(err).__name__}: {err}); "
                "check api_url= / $IONQ_API_URL and the network (for offline work start "
                "`qstore ionq-server` and use the URL it prints)"
            ) from err
        return self._decode(response)

    def _backoff(self, attempt: int, retry_after: str | None = None) -> float:
        delay = min(self.backoff_max, self.backoff_factor * 2**attempt)
        if retry_after:
            with contextlib.suppress(ValueError):
                delay = min(self.backoff_max, max(delay, float(retry_after)))
        return delay

    def _wait_to_resubmit(self, attempt: int, why: str, retry_after: str | None = None) -> None:
        delay = self._backoff(attempt, retry_after)
        logger.info(
            "POST /jobs attempt %d failed (%s); checking for the job and resubmitting in %.2f s",
            attempt + 1,
            why,
            delay,
        )
        time.sleep(delay)

    # -- jobs --------------------------------------------------------------------------------
    def submit_job(self, payload: Mapping[str, Any], client_id: str | None = None) -> str:
        """Create a job and return its id, never creating it twice.

        The payload is tagged with a client id (``metadata.qstore_client_id`` and, when the
        payload has no name, ``name``). When the answer is lost the client looks the tag up and
        returns the job the server did create; it sends again only when none exists.

        Args:
            payload: The job body.
            client_id: The tag (default: a fresh one). A caller that records it before
                submitting (a budget reservation) can find the job after a crash with
                :meth:`find_job`.
        """
        client_id = client_id or uuid.uuid4().hex
        body = dict(payload)
        body["metadata"] = {**dict(body.get("metadata") or {}), CLIENT_ID_KEY: client_id}
        body.setdefault("name", f"qstore-{client_id}")
        url = f"{self.api_url}/jobs"
        last_error: Exception | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                found = last_error is not None and self.find_job(client_id, body["name"])
                if found:
                    return found
            try:
                response = self.session.post(url, json=body, timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout) as err:
                last_error = err
                self._wait_to_resubmit(attempt, f"{type(err).__name__}: {err}")
                continue
            if response.status_code == 429:
                last_error = None
                self._wait_to_resubmit(attempt, "HTTP 429", response.headers.get("Retry-After"))
                continue
            if response.status_code >= 500:
                last_error = IonQAPIError(response.status_code, response.text)
                why = f"HTTP {response.status_code}"
                self._wait_to_resubmit(attempt, why, response.headers.get("Retry-After"))
                continue
            return self._decode(response)["id"]
        found = self.find_job(client_id, body["name"])
        if found:
            return found
        raise IonQAPIError(
            503, f"could not submit the job after {self.retries + 1} attempts: {last_error}"
        )

    def find_job(self, client_id: str, name: str | None = None, pages: int = 3) -> str | None:
        """Return the id of the job tagged with ``client_id``, or ``None``."""
        params: dict[str, Any] = {"limit": 100}
        if name:
            params["name"] = name
        for _ in range(pages):
            listing = self.request("GET", "/jobs", params=params)
            for job in listing.get("jobs", []):
                if (job.get("metadata") or {}).get(CLIENT_ID_KEY) == client_id:
                    return job["id"]
            if not listing.get("next"):
                return None
            params["next"] = listing["next"]
        return None

    def get_job(self, job_id: str) -> dict[str, Any]:
        """Return a job's record (``status``, ``failure``, ``child_job_ids``, ``stats``...)."""
        return self.request("GET", f"/jobs/{job_id}")

    def list_jobs(self, **params: Any) -> dict[str, Any]:
        """Return a page of jobs, newest first: ``{"jobs": [...], "next": id | None}``."""
        return self.request("GET", "/jobs", params=params)

    def get_probabilities(self, job_id: str) -> dict[str, Any]:
        """Return ``{"<basis state>": p}``; keyed by child job id for a multi-circuit job."""
        return self.request("GET", f"/jobs/{job_id}/results/probabilities")

    def cancel_job(self, job_id: str) -> dict[str, Any]:
        """Ask IonQ to cancel a job."""
        return self.request("PUT", f"/jobs/{job_id}/status/cancel")

    def get_cost(self, job_id: str) -> dict[str, Any]:
        """Return ``{"estimated_cost": {value, unit}, "cost": {value, unit} | None}``."""
        return self.request("GET", f"/jobs/{job_id}/cost")

    def estimate(
        self,
        backend: str,
        qubits: int,
        shots: int,
        gates_1q: int,
        gates_2q: int,
        error_mitigation: bool = False,
    ) -> dict[str, Any]:
        """Return IonQ's cost estimate for one circuit (``estimated_cost``, ``rate_information``)."""
        params = {
            "backend": backend,
            "qubits": qubits,
            "shots": shots,
            "1q_gates": gates_1q,
            "2q_gates": gates_2q,
            "error_mitigation": str(bool(error_mitigation)).lower(),
        }
        return self.request("GET", "/jobs/estimate", params=params)

    def get_backends(self) -> list[dict[str, Any]]:
        """Return ``GET /backends``: each backend's ``status``, ``qubits``, ``average_queue_time``
        (milliseconds), ``last_updated``, ``degraded``, ``supported_error_mitigations``...

        :class:`~pennylane_qstore.ionq.status.BackendMonitor` caches and parses it.
        """
        answer = self.request("GET", "/backends")
        if isinstance(answer, dict) and isinstance(answer.get("backends"), list):
            return answer["backends"]
        return answer

    def get_characterizations(self, backend: str, limit: int = 1) -> list[dict[str, Any]]:
        """Return ``backend``'s newest ``limit`` (1..10) characterizations, newest first."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10:
            raise ValueError(f"limit must be an integer in 1..10, got {limit!r}")
        answer = self.request(
            "GET", f"/backends/{quote(backend, safe='')}/characterizations", params={"limit": limit}
        )
        if isinstance(answer, dict) and "characterizations" in answer:
            return answer["characterizations"]
        return answer

    def create_session(
        self,
        backend: str,
        cost_limit: float | None = None,
        job_count_limit: int | None = None,
        duration_limit_min: int | None = None,
    ) -> dict[str, Any]:
        """Open a session on ``backend`` with optional limits; return its record (``id``...)."""
        settings: dict[str, Any] = {}
        if cost_limit is not None:
            settings["cost_limit"] = {"unit": "usd", "value": cost_limit}
        if job_count_limit is not None:
            settings["job_count_limit"] = job_count_limit
        if duration_limit_min is not None:
            settings["duration_limit_min"] = duration_limit_min
        body = {"backend": backend, "settings": settings}
        # POST is not retried (see the module docstring); a lost answer here only leaves an
        # empty session behind, and sessions cost nothing.
        return self.request("POST", "/sessions", json=body)


def job_payload(
    circuits: list[list[dict[str, Any]]],
    qubits: int,
    *,
    gateset: str,
    backend: str = "simulator",
    shots: int = 100,
    error_mitigation: bool | None = None,
    noise_model: str | None = None,
    noise_seed: int | None = None,
    dry_run: bool = False,
    session_id: str | None = None,
    name: str | None = None,
    metadata: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Build a ``POST /jobs`` body: one circuit gives ``ionq.circuit.v1``, more a multi-circuit job.

    Args:
        circuits: IonQ gate lists.
        qubits: Register size.
        gateset: ``"native"`` or ``"qis"``.
        backend: IonQ backend.
        shots: Shots per circuit.
        error_mitigation: Debiasing on/off; ``None`` leaves IonQ's default.
        noise_model: Simulator noise model (``"ideal"``, ``"aria-1"``, ...).
        noise_seed: Seed of the simulator's sampling.
        dry_run: Validate and price without running.
        session_id: Session to run in.
        name: Job name.
        metadata: String metadata.
    """
    body: dict[str, Any] = {"backend": backend, "shots": shots}
    if len(circuits) == 1:
        body["type"] = "ionq.circuit.v1"
        body["input"] = {"gateset": gateset, "qubits": qubits, "circuit": circuits[0]}
    else:
        body["type"] = "ionq.multi-circuit.v1"
        body["input"] = {
            "gateset": gateset,
            "qubits": qubits,
            "circuits": [{"name": f"circuit-{i}", "circuit": c} for i, c in enumerate(circuits)],
        }
    if name is not None:
        body["name"] = name
    if metadata:
        body["metadata"] = {str(k): str(v) for k, v in metadata.items()}
    if error_mitigation is not None:
        body["settings"] = {"error_mitigation": {"debiasing": bool(error_mitigation)}}
    if noise_model is not None or noise_seed is not None:
        body["noise"] = {"model": noise_model or "ideal"}
        if noise_seed is not None:
            body["noise"]["seed"] = int(noise_seed)
    if dry_run:
        body["dry_run"] = True
    if session_id is not None:
        body["session_id"] = session_id
    return body
