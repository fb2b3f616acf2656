"""IonQ backend status, queue times and characterizations, cached with a short TTL.

:class:`BackendMonitor` reads ``GET /backends`` and ``GET /backends/{backend}/characterizations``
through an :class:`~pennylane_qstore.ionq.client.IonQClient` and keeps the answers for ``ttl``
seconds (``time.monotonic``), so routing decisions cost at most one request per TTL. IonQ gives
``average_queue_time`` in milliseconds; it becomes seconds here (:meth:`BackendStatus.from_json`)
and nowhere else.

:func:`predict_execution_s` is the one model of how long a job runs on a backend (used by the
monitor, ``qstore estimate`` and the local server's job views): per shot, the gate times of the
circuit plus one readout and one reset, from the backend's newest characterization.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pennylane_qstore.ionq.backends import QPU_BACKENDS
from pennylane_qstore.ionq.errors import IonQAPIError, IonQAuthError, IonQError

if TYPE_CHECKING:
    from pennylane_qstore.ionq.client import IonQClient

logger = logging.getLogger(__name__)

BACKEND_STATES = ("available", "unavailable", "retired")
"""The ``status`` values of ``GET /backends``."""


def _malformed(what: str, detail: str) -> IonQAPIError:
    return IonQAPIError(
        502,
        f"malformed {what} answer: {detail}; the API at api_url may not be IonQ's v0.4 API "
        "(check api_url= / $IONQ_API_URL)",
    )


def _stat(block: Any) -> float | None:
    """Return the median (or, in older answers, the mean) of a ``{median, stderr}`` block."""
    if isinstance(block, Mapping):
        block = block.get("median", block.get("mean"))
    if block is None:
        return None
    if isinstance(block, bool) or not isinstance(block, (int, float)):
        raise ValueError(f"expected a number, got {block!r}")
    return float(block)


@dataclass(frozen=True)
class Characterization:
    """A backend's newest characterization: fidelities (medians) and timings in seconds.

    Fields the answer does not carry are ``None``.
    """

    id: str | None
    date: str | None
    fidelity_1q: float | None
    fidelity_2q: float | None
    fidelity_spam: float | None
    timing_1q_s: float | None
    timing_2q_s: float | None
    readout_s: float | None
    reset_s: float | None

    @classmethod
    def from_json(cls, data: Any) -> Characterization:
        """Parse one ``GET /backends/{backend}/characterizations`` entry.

        Raises:
            IonQAPIError: (502) when the entry is not an object or a number is malformed.
        """
        if not isinstance(data, Mapping):
            raise _malformed("characterization", f"expected an object, got {data!r:.80}")
        fidelity, timing = data.get("fidelity") or {}, data.get("timing") or {}
        try:
            return cls(
                id=None if data.get("id") is None else str(data["id"]),
                date=None if data.get("date") is None else str(data["date"]),
                fidelity_1q=_stat(fidelity.get("1q")),
                fidelity_2q=_stat(fidelity.get("2q")),
                fidelity_spam=_stat(fidelity.get("spam")),
                timing_1q_s=_stat(timing.get("1q")),
                timing_2q_s=_stat(timing.get("2q")),
                readout_s=_stat(timing.get("readout")),
                reset_s=_stat(timing.get("reset")),
            )
        except (AttributeError, ValueError) as err:
            raise _malformed("characterization", str(err)) from None


TYPICAL_QPU_TIMING = Characterization(
    id=None,
    date=None,
    fidelity_1q=None,
    fidelity_2q=None,
    fidelity_spam=None,
    timing_1q_s=135e-6,
    timing_2q_s=600e-6,
    readout_s=300e-6,
    reset_s=20e-6,
)
"""Timings used for a QPU that publishes no characterization (order of magnitude of Aria)."""


def predict_execution_s(
    backend: str,
    characterization: Characterization | None,
    shots: int,
    gate_counts: Sequence[tuple[int, int]],
) -> float:
    """Return the predicted run time in seconds of a job of circuits with ``gate_counts``.

    Each shot of each circuit takes its gates' times plus one readout and one reset. Timings
    missing from ``characterization`` come from :data:`TYPICAL_QPU_TIMING`; the simulator, which
    has no characterization, is predicted at 0 s.

    Args:
        backend: IonQ backend name.
        characterization: The backend's newest characterization, or ``None``.
        shots: Shots per circuit.
        gate_counts: ``(1q gates, 2q gates)`` of each circuit.
    """
    if characterization is None and backend not in QPU_BACKENDS:
        return 0.0
    char, typical = characterization or TYPICAL_QPU_TIMING, TYPICAL_QPU_TIMING
    t1 = char.timing_1q_s if char.timing_1q_s is not None else typical.timing_1q_s
    t2 = char.timing_2q_s if char.timing_2q_s is not None else typical.timing_2q_s
    readout = char.readout_s if char.readout_s is not None else typical.readout_s
    reset = char.reset_s if char.reset_s is not None else typical.reset_s
    per_shot = sum(n1 * t1 + n2 * t2 + readout + reset for n1, n2 in gate_counts)  # type: ignore[operator]
    return float(shots * per_shot)


def _iso(value: Any) -> str | None:
    """Return ``last_updated`` as ISO 8601 (v0.4 sends a string, older answers epoch seconds)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"last_updated must be an ISO 8601 string, got {value!r}")
    seconds = value / 1000 if value > 1e11 else value  # epoch milliseconds or seconds
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class BackendStatus:
    """One entry of ``GET /backends``; ``average_queue_s`` is in seconds (IonQ sends ms)."""

    backend: str
    status: str
    qubits: int
    average_queue_s: float
    last_updated: str | None
    degraded: bool
    supported_error_mitigations: tuple[str, ...]

    @property
    def available(self) -> bool:
        """Whether IonQ accepts and runs jobs now (``degraded`` is reported separately)."""
        return self.status == "available"

    @classmethod
    def from_json(cls, data: Any) -> BackendStatus:
        """Parse one ``GET /backends`` entry, converting ``average_queue_time`` from ms to s.

        Raises:
            IonQAPIError: (502) when a required field is missing or malformed.
        """
        if not isinstance(data, Mapping) or not isinstance(data.get("backend"), str):
            raise _malformed(
                "GET /backends", f"expected objects with a 'backend', got {data!r:.80}"
            )
        name = data["backend"]
        try:
            status = data["status"]
            if status not in BACKEND_STATES:
                raise ValueError(f"status {status!r} is not one of {', '.join(BACKEND_STATES)}")
            queue_ms = float(data.get("average_queue_time") or 0)
            if queue_ms < 0:
                raise ValueError(f"average_queue_time {queue_ms} is negative")
            mitigations = data.get("supported_error_mitigations") or ()
            if isinstance(mitigations, str):
                raise ValueError("supported_error_mitigations must be a list")
            return cls(
                backend=name,
                status=status,
                qubits=int(data["qubits"]),
                average_queue_s=queue_ms / 1000.0,
                last_updated=_iso(data.get("last_updated")),
                degraded=bool(data.get("degraded", False)),
                supported_error_mitigations=tuple(str(m) for m in mitigations),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise _malformed("GET /backends", f"backend {name!r}: {err}") from None


class BackendMonitor:
    """Backend status and characterizations of one IonQ API, cached for ``ttl`` seconds.

    Thread-safe. A failed lookup is remembered for the TTL too, so an unreachable API costs one
    retried request per TTL rather than one per call; :meth:`invalidate` forgets everything.

    Args:
        client: The client to ask.
        ttl: Seconds an answer is kept.
    """

    def __init__(self, client: IonQClient, ttl: float = 30.0) -> None:
        if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or ttl < 0:
            raise ValueError(f"ttl must be a number of seconds >= 0, got {ttl!r}")
        self.client = client
        self.ttl = float(ttl)
        self._lock = threading.Lock()
        self._statuses: tuple[float, dict[str, BackendStatus] | IonQAPIError] | None = None
        self._chars: dict[str, tuple[float, Characterization | IonQAPIError | None]] = {}

    def _fresh(self, stamp: float) -> bool:
        return time.monotonic() - stamp < self.ttl

    def invalidate(self) -> None:
        """Forget every cached answer; the next call asks the API again."""
        with self._lock:
            self._statuses = None
            self._chars.clear()

    def _ask(self, what: str, call: Any) -> Any:
        """Run ``call()``; connection and auth failures become :class:`IonQAPIError`."""
        try:
            return call()
        except IonQAPIError:
            raise
        except IonQError as err:
            status = 401 if isinstance(err, IonQAuthError) else 503
            raise IonQAPIError(status, f"{what} failed: {err}") from err

    def statuses(self) -> dict[str, BackendStatus]:
        """Return every backend's status by name (one ``GET /backends`` per TTL).

        Raises:
            IonQAPIError: When the API cannot be reached or answers badly.
        """
        with self._lock:
            if self._statuses is None or not self._fresh(self._statuses[0]):
                try:
                    answer = self._ask("GET /backends", self.client.get_backends)
                    if not isinstance(answer, list):
                        raise _malformed("GET /backends", f"expected a list, got {answer!r:.80}")
                    value: dict[str, BackendStatus] | IonQAPIError = {
                        s.backend: s for s in map(BackendStatus.from_json, answer)
                    }
                except IonQAPIError as err:
                    value = err
                self._statuses = (time.monotonic(), value)
            value = self._statuses[1]
        if isinstance(value, IonQAPIError):
            raise value
        return dict(value)

    def status(self, backend: str) -> BackendStatus:
        """Return ``backend``'s status.

        Raises:
            IonQAPIError: (404) for a backend the API does not list, or when it is unreachable.
        """
        statuses = self.statuses()
        if backend not in statuses:
            raise IonQAPIError(
                404,
                f"backend {backend!r} is not listed by GET /backends at {self.client.api_url}; "
                f"listed: {', '.join(sorted(statuses)) or 'none'}",
            )
        return statuses[backend]

    def characterization(self, backend: str) -> Characterization | None:
        """Return ``backend``'s newest characterization (``None`` if it publishes none)."""
        self.status(backend)  # unknown backends fail here, with the listed names
        with self._lock:
            cached = self._chars.get(backend)
            if cached is None or not self._fresh(cached[0]):
                path = f"GET /backends/{backend}/characterizations"
                try:
                    entries = self._ask(path, lambda: self.client.get_characterizations(backend))
                    value = Characterization.from_json(entries[0]) if entries else None
                except IonQAPIError as err:
                    value = err
                cached = self._chars[backend] = (time.monotonic(), value)
        if isinstance(cached[1], IonQAPIError):
            raise cached[1]
        return cached[1]

    def execution_seconds(
        self, backend: str, shots: int, gate_counts: Sequence[tuple[int, int]]
    ) -> float:
        """Return the predicted run time (s) of circuits with ``gate_counts`` on ``backend``."""
        return predict_execution_s(backend, self.characterization(backend), shots, gate_counts)

    def expected_completion_s(
        self, backend: str, shots: int, gate_counts: Sequence[tuple[int, int]]
    ) -> float:
        """Return the average queue time plus the predicted run time, in seconds."""
        queue = self.status(backend).average_queue_s
        return queue + self.execution_seconds(backend, shots, gate_counts)


_MONITORS: dict[tuple[str, str], BackendMonitor] = {}
_MONITORS_LOCK = threading.Lock()


def monitor_for(client: IonQClient) -> BackendMonitor:
    """Return the process's one :class:`BackendMonitor` for ``client``'s (api_url, api_key)."""
    key = (client.api_url, client.api_key)
    with _MONITORS_LOCK:
        monitor = _MONITORS.get(key)
        if monitor is None:
            monitor = _MONITORS[key] = BackendMonitor(client)
            logger.debug("backend monitor for %s created (ttl %.0f s)", client.api_url, monitor.ttl)
        return monitor
