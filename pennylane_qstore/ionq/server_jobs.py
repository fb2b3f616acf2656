"""Jobs of the local IonQ server: the stored job, its JSON view, simulated results, session charges.

:class:`~pennylane_qstore.ionq.server.LocalIonQServer` keeps the job table, the sessions and the
lock; these are the parts that need none of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pennylane_qstore.ionq.circuits import gate_counts
from pennylane_qstore.ionq.payload import ApiError
from pennylane_qstore.ionq.server_http import API_PREFIX
from pennylane_qstore.ionq.simulate import simulate_probabilities

# Crude depolarizing noise per gate (1q error, 2q error): illustrative, not a device calibration.
NOISE_MODELS = {
    "ideal": (0.0, 0.0),
    "aria-1": (0.0006, 0.006),
    "aria-2": (0.0006, 0.006),
    "forte-1": (0.0002, 0.004),
    "forte-enterprise-1": (0.0002, 0.004),
}


@dataclass
class Job:
    """A job (or one child of a multi-circuit job) as the local server stores it."""

    id: str
    payload: dict[str, Any]
    created: float
    circuits: list[dict[str, Any]]
    gate_counts: list[tuple[int, int]]
    estimated_cost: float
    child_ids: list[str] = field(default_factory=list)
    probabilities: list[dict[str, float]] = field(default_factory=list)
    canceled: bool = False
    failure: dict[str, str] | None = None
    parent: str | None = None
    queue_time: float | None = None
    released: float | None = None


def job_view(job: Job, status: str, timing: dict[str, Any]) -> dict[str, Any]:
    """Return the ``GET /jobs/{id}`` answer of ``job`` in ``status`` with its ``timing`` fields."""
    payload = job.payload
    n1, n2 = (sum(c[i] for c in job.gate_counts) for i in (0, 1))
    view: dict[str, Any] = {
        "id": job.id,
        "type": payload["type"] if job.parent is None else "ionq.circuit.v1",
        "name": payload.get("name"),
        "status": status,
        "backend": payload["backend"],
        "shots": payload.get("shots", 100),
        "qubits": payload["input"]["qubits"],
        "metadata": payload.get("metadata", {}),
        "session_id": payload.get("session_id"),
        "dry_run": bool(payload.get("dry_run", False)),
        "noise": payload.get("noise", {"model": "ideal"}),
        "settings": payload.get("settings", {}),
        "submitted_at": job.created,
        "stats": {
            "qubits": payload["input"]["qubits"],
            "circuits": len(job.circuits),
            "gate_counts": {"1q": n1, "2q": n2},
        },
    }
    view.update(timing)
    if job.parent is not None:
        view["parent_job_id"] = job.parent
    if job.child_ids:
        view["child_job_ids"] = list(job.child_ids)
    if status == "failed" and job.failure:
        view["failure"] = dict(job.failure)
    if status == "completed" and not payload.get("dry_run"):
        view["results"] = {
            "probabilities": {"url": f"{API_PREFIX}/jobs/{job.id}/results/probabilities"}
        }
    return view


def simulated_results(
    payload: dict[str, Any], circuits: list[dict[str, Any]], rng: np.random.Generator
) -> list[dict[str, float]]:
    """Return each circuit's probabilities: exact when ideal, else depolarized and sampled."""
    data = payload["input"]
    gateset, qubits = data.get("gateset", "qis"), data["qubits"]
    backend = payload["backend"]
    noise = payload.get("noise") or {}
    model = noise.get("model", "ideal") if backend == "simulator" else backend[4:]
    shots = payload.get("shots", 100)
    error_1q, error_2q = NOISE_MODELS[model]
    results = []
    for circuit in circuits:
        probs = simulate_probabilities(circuit["circuit"], gateset, qubits)
        if model != "ideal":
            n1, n2 = gate_counts(circuit["circuit"])
            fidelity = (1 - error_1q) ** n1 * (1 - error_2q) ** n2
            probs = fidelity * probs + (1 - fidelity) / probs.size
            probs = rng.multinomial(shots, probs / probs.sum()) / shots
        results.append({str(k): float(p) for k, p in enumerate(probs) if p > 1e-14})
    return results


def charge_session(session: dict[str, Any], backend: str, cost: float) -> None:
    """Add a job of ``cost`` on ``backend`` to ``session``, or raise a 400 :class:`ApiError`."""
    session_id = session["id"]
    if session["backend"] != backend:
        raise ApiError(
            400,
            f"session {session_id} is on {session['backend']}; this job asks for "
            f"{backend} (open a session on {backend} or change the job's backend)",
        )
    settings = session["settings"]
    limit = (settings.get("cost_limit") or {}).get("value")
    if limit is not None and session["spent"] + cost > limit:
        raise ApiError(
            400,
            f"session {session_id} cost limit {limit} would be exceeded: spent "
            f"{session['spent']:.4f}, this job is estimated at {cost:.4f}",
        )
    count_limit = settings.get("job_count_limit")
    if count_limit is not None and session["jobs"] >= count_limit:
        raise ApiError(400, f"session {session_id} reached its job limit {count_limit}")
    session["spent"] += cost
    session["jobs"] += 1
