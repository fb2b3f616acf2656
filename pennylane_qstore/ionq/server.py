"""A local stand-in for IonQ's v0.4 REST API that simulates the circuits it receives.

Start it from Python::

    with LocalIonQServer(latency=0.2) as srv:
        dev = qml.device("qstore.ionq", wires=2, shots=1000, api_url=srv.url, api_key=srv.api_key)

or from a shell with ``qstore ionq-server --port 8000``. Faults can be injected with
:meth:`LocalIonQServer.inject` so clients can be tested on every recovery path.

The HTTP layer is :mod:`.server_http`, payload validation :mod:`.payload`, backends,
characterizations and estimates :mod:`.server_backends`, the stored job, its view, simulated
results and session charges :mod:`.server_jobs`; this module keeps the job table, sessions and
every API route together (about 420 lines), since they share one lock.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np

from pennylane_qstore.ionq.backends import (
    BACKEND_NAMES,
    BACKEND_QUBITS,
    WAITING_STATES,
    debiasing_on,
)
from pennylane_qstore.ionq.circuits import gate_counts
from pennylane_qstore.ionq.payload import ApiError, payload_circuits, validate_payload
from pennylane_qstore.ionq.pricing import AZURE_RATES, RateCard, job_cost
from pennylane_qstore.ionq.server_backends import (
    backends_route,
    default_states,
    estimate_answer,
    update_state,
)
from pennylane_qstore.ionq.server_http import API_PREFIX, LocalHTTPServer, handler_for
from pennylane_qstore.ionq.server_jobs import (
    NOISE_MODELS,
    Job,
    charge_session,
    job_view,
    simulated_results,
)

__all__ = ["FAULT_KINDS", "NOISE_MODELS", "LocalIonQServer"]

FAULT_KINDS = ("5xx", "429", "drop", "fail_job")


@dataclass
class _Fault:
    kind: str
    remaining: int
    methods: tuple[str, ...]
    status: int = 503
    retry_after: int = 1
    code: str = "SimulationError"


class LocalIonQServer:
    """A threaded HTTP server speaking IonQ's v0.4 job API on 127.0.0.1.

    Args:
        api_key: The key clients must send as ``Authorization: apiKey KEY``.
        host: Interface to bind.
        port: Port to bind; 0 picks a free one (see :attr:`url`).
        latency: Seconds added to every request before it is answered.
        queue_time: Seconds a job waits (``ready`` then ``started``) before it completes.
        seed: Seed for sampled results of jobs that send no ``noise.seed``.
        max_simulated_qubits: Largest register the local simulator accepts.
        max_circuits_per_job: Largest number of circuits in one multi-circuit job.
        rates: Rate card for cost estimates.
    """

    def __init__(
        self,
        api_key: str = "qstore-local-key",
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        queue_time: float = 0.0,
        seed: int | None = None,
        max_simulated_qubits: int = 20,
        max_circuits_per_job: int = 1000,
        rates: RateCard = AZURE_RATES,
    ) -> None:
        self.api_key = api_key
        self.latency = latency
        self.queue_time = queue_time
        self.max_simulated_qubits = max_simulated_qubits
        self.max_circuits_per_job = max_circuits_per_job
        self.rates = rates
        self.requests: list[tuple[str, str]] = []
        self._seed = np.random.SeedSequence(seed)
        self._jobs: dict[str, Job] = {}
        self._order: list[str] = []
        self._sessions: dict[str, dict[str, Any]] = {}
        self._faults: list[_Fault] = []
        self._backends = default_states()
        self._lock = threading.Lock()
        self._httpd = LocalHTTPServer((host, port), handler_for(self))
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Base URL to pass as ``api_url`` (ends in ``/v0.4``)."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}{API_PREFIX}"

    def start(self) -> LocalIonQServer:
        """Serve in a background thread and return ``self``."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, args=(0.05,), daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (used by the CLI)."""
        try:
            self._httpd.serve_forever()
        finally:
            self._httpd.server_close()

    def __enter__(self) -> LocalIonQServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- inspection and fault injection ------------------------------------------------------
    @property
    def job_count(self) -> int:
        """Number of top-level jobs created so far."""
        with self._lock:
            return len(self._order)

    def job_payloads(self) -> list[dict[str, Any]]:
        """Return the payloads of the top-level jobs, oldest first."""
        with self._lock:
            return [self._jobs[job_id].payload for job_id in self._order]

    def inject(
        self,
        kind: str,
        count: int = 1,
        *,
        methods: tuple[str, ...] = ("GET", "POST", "PUT"),
        status: int = 503,
        retry_after: int = 1,
        code: str = "SimulationError",
    ) -> None:
        """Make the next ``count`` matching requests (or jobs) misbehave.

        Args:
            kind: ``"5xx"`` answers ``status`` without acting; ``"429"`` answers 429 with a
                ``Retry-After`` of ``retry_after`` whole seconds; ``"drop"`` creates the job of a
                ``POST /jobs`` and then closes the connection without an answer; ``"fail_job"``
                makes the next submitted jobs end ``failed`` with failure ``code``.
            count: How many requests or jobs are affected.
            methods: HTTP methods the ``5xx`` and ``429`` faults apply to.
            status: Status code for ``5xx``.
            retry_after: Seconds announced by ``429``.
            code: Failure code of ``fail_job``.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; choose one of {', '.join(FAULT_KINDS)}")
        methods = ("POST",) if kind in ("drop", "fail_job") else methods
        fault = _Fault(kind, count, tuple(methods), status, retry_after, code)
        with self._lock:
            self._faults.append(fault)

    def set_backend(
        self,
        name: str,
        *,
        status: str | None = None,
        average_queue_time_ms: float | None = None,
        degraded: bool | None = None,
        queue_time: float | None = None,
    ) -> None:
        """Change what ``GET /backends`` reports for ``name`` and how its jobs behave.

        ``status``, ``average_queue_time_ms`` (ms, as IonQ) and ``degraded`` are reported;
        ``queue_time`` is how many seconds its new jobs really wait here (default: the server's
        ``queue_time``). Jobs on an ``unavailable`` backend stay ``ready`` until it is
        ``available`` again; jobs sent to a ``retired`` one are refused (400).
        """
        if name not in self._backends:
            raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKEND_NAMES)}")
        with self._lock:
            state = self._backends[name]
            update_state(state, status, average_queue_time_ms, degraded, queue_time)
            if state.status == "available":
                now = time.monotonic()
                for job in self._jobs.values():
                    if job.released is None and job.payload["backend"] == name:
                        job.released = now

    def record_request(self, method: str, path: str) -> None:
        """Append ``(method, path)`` to :attr:`requests` (called by the HTTP layer)."""
        with self._lock:
            self.requests.append((method, path))

    def take_fault(self, kinds: tuple[str, ...], method: str) -> _Fault | None:
        """Use up one injected fault of ``kinds`` matching ``method``, if any is left."""
        with self._lock:
            for fault in self._faults:
                if fault.kind in kinds and method in fault.methods and fault.remaining > 0:
                    fault.remaining -= 1
                    return fault
        return None

    # -- job logic ---------------------------------------------------------------------------
    def _status(self, job: Job) -> str:
        if job.canceled:
            return "canceled"
        if job.payload.get("dry_run"):
            return "completed"
        if job.released is None:
            return "ready"
        elapsed = time.monotonic() - job.released
        queue_time = self.queue_time if job.queue_time is None else job.queue_time
        if elapsed < queue_time / 2:
            return "ready"
        if elapsed < queue_time:
            return "started"
        return "failed" if job.failure else "completed"

    def _job_view(self, job: Job) -> dict[str, Any]:
        status = self._status(job)
        return job_view(job, status, self._timing_view(job, status))

    def _timing_view(self, job: Job, status: str) -> dict[str, Any]:
        queue_time = self.queue_time if job.queue_time is None else job.queue_time
        start = None if job.released is None else job.released + queue_time / 2
        state = self._backends[job.payload["backend"]]
        return state.job_timing(job.payload, job.gate_counts, status, start)

    def _validate(self, payload: Any) -> None:
        validate_payload(
            payload,
            noise_models=NOISE_MODELS,
            max_qubits=self.max_simulated_qubits,
            max_circuits=self.max_circuits_per_job,
        )

    def _results(self, payload: dict[str, Any], circuits: list[dict[str, Any]]) -> list[dict]:
        noise = payload.get("noise") or {}
        if "seed" in noise:
            rng = np.random.default_rng(noise["seed"])
        else:
            with self._lock:
                rng = np.random.default_rng(self._seed.spawn(1)[0])
        return simulated_results(payload, circuits, rng)

    def create_job(self, payload: Any) -> Job:
        """Validate, price and simulate a job payload; return the stored job."""
        self._validate(payload)
        state = self._backends[payload["backend"]]
        if state.status == "retired":
            raise ApiError(
                400, f"backend {state.name} is retired; choose an available one (GET /backends)"
            )
        circuits = payload_circuits(payload)
        counts = [gate_counts(c["circuit"]) for c in circuits]
        setting = ((payload.get("settings") or {}).get("error_mitigation") or {}).get("debiasing")
        debias = debiasing_on(payload["backend"], payload.get("shots", 100), setting)
        cost = job_cost(payload["backend"], payload.get("shots", 100), counts, debias, self.rates)
        session_id = payload.get("session_id")
        if session_id is not None:
            self._charge_session(session_id, payload["backend"], cost)
        probs = [] if payload.get("dry_run") else self._results(payload, circuits)
        fault = self.take_fault(("fail_job",), "POST")
        failure = None if fault is None else {"code": fault.code, "error": "injected failure"}
        job = Job(str(uuid.uuid4()), payload, time.monotonic(), circuits, counts, cost)
        job.probabilities, job.failure = probs, failure
        job.queue_time = state.queue_time
        job.released = job.created if state.status == "available" else None
        if payload["type"] == "ionq.multi-circuit.v1":
            for circuit, count, result in zip(
                circuits, counts, probs or [{}] * len(circuits), strict=True
            ):
                child = Job(
                    str(uuid.uuid4()),
                    {**payload, "name": circuit.get("name")},
                    job.created,
                    [circuit],
                    [count],
                    job_cost(
                        payload["backend"], payload.get("shots", 100), [count], debias, self.rates
                    ),
                    probabilities=[result],
                    failure=failure,
                    parent=job.id,
                    queue_time=job.queue_time,
                    released=job.released,
                )
                job.child_ids.append(child.id)
                with self._lock:
                    self._jobs[child.id] = child
        with self._lock:
            self._jobs[job.id] = job
            self._order.append(job.id)
        return job

    def _charge_session(self, session_id: Any, backend: str, cost: float) -> None:
        if not isinstance(session_id, str):
            raise ApiError(
                400,
                f"session_id must be a string (the 'id' of the POST /sessions answer), "
                f"got {type(session_id).__name__}",
            )
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                raise ApiError(404, f"session {session_id} not found")
            charge_session(session, backend, cost)

    def job(self, job_id: str) -> Job:
        """Return a stored job or raise a 404 :class:`ApiError`."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise ApiError(404, f"job {job_id} not found")
        return job

    # -- routes ------------------------------------------------------------------------------
    def route(self, method: str, path: str, query: dict[str, str], body: Any) -> Any:
        """Answer one authorised request; return the JSON body or raise :class:`ApiError`."""
        parts = [p for p in path.split("/") if p]
        if method == "POST" and parts == ["jobs"]:
            job = self.create_job(body)
            return {"id": job.id, "status": "submitted", "session_id": body.get("session_id")}
        if method == "GET" and parts == ["jobs"]:
            return self._list_jobs(query)
        if method == "GET" and parts == ["jobs", "estimate"]:
            with self._lock:
                return estimate_answer(query, self.rates, self._backends)
        if method == "GET" and parts[:1] == ["backends"]:
            with self._lock:
                return backends_route(parts, self._backends)
        if method == "POST" and parts == ["sessions"]:
            return self._create_session(body)
        if method == "GET" and len(parts) == 2 and parts[0] == "sessions":
            with self._lock:
                session = self._sessions.get(parts[1])
            if session is None:
                raise ApiError(404, f"session {parts[1]} not found")
            return {k: v for k, v in session.items() if k != "jobs"}
        if len(parts) < 2 or parts[0] != "jobs":
            raise ApiError(404, f"no route for {method} {path}")
        job = self.job(parts[1])
        rest = parts[2:]
        if method == "GET" and not rest:
            return self._job_view(job)
        if method == "GET" and rest == ["results", "probabilities"]:
            return self._probabilities(job)
        if method == "GET" and rest == ["cost"]:
            done = self._status(job) == "completed" and not job.payload.get("dry_run")
            usd = {"value": round(job.estimated_cost, 6), "unit": "usd"}
            return {"job_id": job.id, "estimated_cost": usd, "cost": usd if done else None}
        if method == "PUT" and rest == ["status", "cancel"]:
            if self._status(job) in WAITING_STATES:
                with self._lock:
                    job.canceled = True
                    for child in job.child_ids:
                        self._jobs[child].canceled = True
            return {"id": job.id, "status": self._status(job)}
        raise ApiError(404, f"no route for {method} {path}")

    def _probabilities(self, job: Job) -> dict[str, Any]:
        status = self._status(job)
        if job.payload.get("dry_run"):
            raise ApiError(400, f"job {job.id} is a dry run and has no results")
        if status != "completed":
            raise ApiError(400, f"job {job.id} is {status}; results exist once it is completed")
        if job.child_ids:
            return {child: self._jobs[child].probabilities[0] for child in job.child_ids}
        return job.probabilities[0]

    def _list_jobs(self, query: dict[str, str]) -> dict[str, Any]:
        limit = int(query.get("limit", 100))
        with self._lock:
            ids = list(reversed(self._order))
        if "name" in query:
            ids = [i for i in ids if self._jobs[i].payload.get("name") == query["name"]]
        start = ids.index(query["next"]) if query.get("next") in ids else 0
        page = ids[start : start + limit]
        following = ids[start + limit] if start + limit < len(ids) else None
        return {"jobs": [self._job_view(self._jobs[i]) for i in page], "next": following}

    def _create_session(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or body.get("backend") not in BACKEND_QUBITS:
            raise ApiError(400, f"sessions need a backend among {', '.join(BACKEND_NAMES)}")
        session = {
            "id": str(uuid.uuid4()),
            "backend": body["backend"],
            "status": "active",
            "settings": body.get("settings", {}),
            "spent": 0.0,
            "jobs": 0,
        }
        with self._lock:
            self._sessions[session["id"]] = session
        return {k: v for k, v in session.items() if k != "jobs"}
