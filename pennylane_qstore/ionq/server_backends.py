"""Backends, characterizations and estimates of :class:`~pennylane_qstore.ionq.server.LocalIonQServer`.

Serves ``GET /backends``, ``GET /backends/{backend}/characterizations[/{id}]`` and
``GET /jobs/estimate`` with IonQ's v0.4 field names. The queue times, fidelities and timings below
are illustrative numbers of the right order of magnitude, not a device calibration; tests and
demos change them with :meth:`LocalIonQServer.set_backend`.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pennylane_qstore.ionq.backends import BACKEND_NAMES, BACKENDS, QPU_BACKENDS
from pennylane_qstore.ionq.payload import ApiError
from pennylane_qstore.ionq.pricing import RateCard, job_cost
from pennylane_qstore.ionq.status import BACKEND_STATES, Characterization, predict_execution_s

# Illustrative average queue times in ms (IonQ's unit for average_queue_time).
DEFAULT_QUEUE_MS = {
    "simulator": 2_000,
    "qpu.aria-1": 600_000,
    "qpu.aria-2": 1_200_000,
    "qpu.forte-1": 1_800_000,
    "qpu.forte-enterprise-1": 3_600_000,
}
# Illustrative characterizations per family: fidelity (median, stderr), timing in seconds.
_FAMILY = {
    "aria": {
        "fidelity": {"spam": (0.9959, 0.0004), "1q": (0.9998, 0.00002), "2q": (0.9860, 0.0008)},
        "timing": {
            "readout": 300e-6,
            "reset": 20e-6,
            "1q": 135e-6,
            "2q": 600e-6,
            "t1": 100,
            "t2": 1,
        },
    },
    "forte": {
        "fidelity": {"spam": (0.9970, 0.0003), "1q": (0.9998, 0.00002), "2q": (0.9920, 0.0005)},
        "timing": {
            "readout": 150e-6,
            "reset": 20e-6,
            "1q": 60e-6,
            "2q": 650e-6,
            "t1": 100,
            "t2": 1,
        },
    },
}


def iso(epoch: float) -> str:
    """Return epoch seconds as an ISO 8601 UTC string (``2026-12-01T13:00:00Z``)."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def characterization_json(name: str, date: str) -> dict[str, Any] | None:
    """Return the local server's characterization of QPU ``name`` (``None`` for the simulator)."""
    if name not in QPU_BACKENDS:
        return None
    family = _FAMILY["forte" if "forte" in name else "aria"]
    qubits = BACKENDS[name].qubits
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"qstore-local/{name}/characterization")),
        "date": date,
        "backend": name,
        "qubits": qubits,
        "connectivity": [[a, b] for a in range(qubits) for b in range(a + 1, qubits)],
        "fidelity": {k: {"median": m, "stderr": e} for k, (m, e) in family["fidelity"].items()},
        "timing": dict(family["timing"]),
    }


@dataclass
class BackendState:
    """What ``GET /backends`` reports for one backend, and how long its jobs really wait.

    Attributes:
        name: Backend name.
        status: ``available``, ``unavailable`` or ``retired``.
        average_queue_time_ms: Reported average queue time (ms).
        degraded: Reported degraded flag.
        queue_time: Seconds its jobs wait on the local server; ``None``: the server's
            ``queue_time``.
        last_updated: Epoch seconds of the last change.
        characterization: The characterization JSON (``None`` for the simulator).
    """

    name: str
    status: str = "available"
    average_queue_time_ms: float = 0.0
    degraded: bool = False
    queue_time: float | None = None
    last_updated: float = field(default_factory=time.time)
    characterization: dict[str, Any] | None = None
    timing: Characterization | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.timing = (
            None
            if self.characterization is None
            else Characterization.from_json(self.characterization)
        )

    def to_json(self) -> dict[str, Any]:
        """Return the ``GET /backends`` entry."""
        return {
            "backend": self.name,
            "status": self.status,
            "qubits": BACKENDS[self.name].qubits,
            "average_queue_time": self.average_queue_time_ms,
            "last_updated": iso(self.last_updated),
            "degraded": self.degraded,
            "supported_error_mitigations": ["debiasing"] if self.name in QPU_BACKENDS else [],
            "characterization_id": None
            if self.characterization is None
            else self.characterization["id"],
        }

    def execution_s(self, shots: int, gate_counts: list[tuple[int, int]]) -> float:
        """Predicted run time (s), with the same model as the client's monitor."""
        return predict_execution_s(self.name, self.timing, shots, gate_counts)

    def job_timing(
        self,
        payload: dict[str, Any],
        counts: list[tuple[int, int]],
        status: str,
        start: float | None,
    ) -> dict[str, Any]:
        """Return a job view's ``predicted_wait_time_ms``, ``predicted_execution_duration_ms``
        and ``execution_duration_ms``.

        Args:
            payload: The job body.
            counts: ``(1q, 2q)`` gate counts of its circuits.
            status: Its status now.
            start: ``time.monotonic()`` at which it starts; ``None`` while its backend is
                unavailable (the reported average queue time is predicted then).
        """
        execution_ms = self.execution_s(payload.get("shots", 100), counts) * 1e3
        wait_ms = 0.0
        if status in ("submitted", "ready"):
            wait_ms = (
                self.average_queue_time_ms
                if start is None
                else max(0.0, start - time.monotonic()) * 1e3
            )
        done = status == "completed" and not payload.get("dry_run")
        return {
            "predicted_wait_time_ms": wait_ms,
            "predicted_execution_duration_ms": execution_ms,
            "execution_duration_ms": execution_ms if done else None,
        }


def default_states() -> dict[str, BackendState]:
    """Return a fresh state for every backend of :mod:`.backends`, all available."""
    now = time.time()
    return {
        name: BackendState(
            name,
            average_queue_time_ms=DEFAULT_QUEUE_MS.get(name, 600_000),
            last_updated=now,
            characterization=characterization_json(name, iso(now)),
        )
        for name in BACKEND_NAMES
    }


def update_state(
    state: BackendState,
    status: str | None,
    average_queue_time_ms: float | None,
    degraded: bool | None,
    queue_time: float | None,
) -> None:
    """Apply :meth:`LocalIonQServer.set_backend`'s knobs after checking them."""
    if status is not None and status not in BACKEND_STATES:
        raise ValueError(f"status must be one of {', '.join(BACKEND_STATES)}, got {status!r}")
    for label, value in (
        ("average_queue_time_ms", average_queue_time_ms),
        ("queue_time", queue_time),
    ):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0
        ):
            raise ValueError(f"{label} must be a number >= 0, got {value!r}")
    if degraded is not None and not isinstance(degraded, bool):
        raise ValueError(f"degraded must be True or False, got {degraded!r}")
    if status is not None:
        state.status = status
    if average_queue_time_ms is not None:
        state.average_queue_time_ms = float(average_queue_time_ms)
    if degraded is not None:
        state.degraded = degraded
    if queue_time is not None:
        state.queue_time = float(queue_time)
    state.last_updated = time.time()


def backends_route(parts: list[str], states: dict[str, BackendState]) -> Any:
    """Answer ``GET /backends[/{backend}/characterizations[/{id}]]``."""
    if parts == ["backends"]:
        return [state.to_json() for state in states.values()]
    state = states.get(parts[1]) if len(parts) > 1 else None
    if state is None:
        raise ApiError(404, f"unknown backend {parts[1]!r}; GET /backends lists them")
    if parts[2:] == ["characterizations"]:
        found = [] if state.characterization is None else [state.characterization]
        return {"characterizations": found, "pages": 1}
    if len(parts) == 4 and parts[2] == "characterizations":
        if state.characterization is None or state.characterization["id"] != parts[3]:
            raise ApiError(404, f"characterization {parts[3]} of {state.name} not found")
        return state.characterization
    raise ApiError(404, f"no route for GET /{'/'.join(parts)}")


def estimate_answer(
    query: dict[str, str], rates: RateCard, states: dict[str, BackendState]
) -> dict[str, Any]:
    """Answer ``GET /jobs/estimate`` with both spellings clients read (ionq-core and qiskit-ionq)."""
    try:
        backend = query["backend"]
        qubits = int(query.get("qubits", 1))
        shots = int(query.get("shots", 100))
        n1, n2 = int(query.get("1q_gates", 0)), int(query.get("2q_gates", 0))
    except (KeyError, ValueError) as err:
        raise ApiError(400, f"bad estimate query: {err}") from None
    if backend not in states:
        raise ApiError(400, f"unknown backend {backend!r}")
    mitigation = query.get("error_mitigation", "false").lower() == "true"
    free = backend not in QPU_BACKENDS
    usd = job_cost(backend, shots, [(n1, n2)], mitigation, rates)
    minimum = 0.0 if free else (rates.minimum_error_mitigation if mitigation else rates.minimum)
    per_1q, per_2q = (0.0, 0.0) if free else (rates.per_1q_gate_shot, rates.per_2q_gate_shot)
    execution_ms = states[backend].execution_s(shots, [(n1, n2)]) * 1000
    return {
        "backend": backend,
        # qiskit-ionq's spelling
        "estimated_cost": usd,
        "cost_unit": "usd",
        "currency": "USD",
        "rate_information": {
            "job_cost_minimum": minimum,
            "cost_1q_gate": per_1q,
            "cost_2q_gate": per_2q,
        },
        "input_values": {
            "backend": backend,
            "qubits": qubits,
            "shots": shots,
            "1q_gates": n1,
            "2q_gates": n2,
            "error_mitigation": mitigation,
        },
        # ionq-core's spelling (times in ms, compute time in us)
        "estimated_total_cost": usd,
        "estimated_unit": "usd",
        "rate_card": {
            "id": rates.name,
            "rates": [
                {"name": "job_cost_minimum", "value": minimum, "unit": "usd"},
                {"name": "1q_gate_shot", "value": per_1q, "unit": "usd"},
                {"name": "2q_gate_shot", "value": per_2q, "unit": "usd"},
            ],
        },
        "estimated_execution_time": execution_ms,
        "current_predicted_queue_time": states[backend].average_queue_time_ms,
        "estimated_quantum_compute_time_us": execution_ms * 1000,
    }
