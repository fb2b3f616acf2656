"""Facts about IonQ's backends and jobs, in one place for the device, the server and pricing.

Sources: IonQ's v0.4 API reference as collected in 2026-11 (qubit counts, shot limits, job
states, the 500-shot minimum of debiasing); check them against docs.ionq.com.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_SHOTS = 1_000_000
"""Most shots IonQ runs per circuit."""

MIN_SHOTS_ERROR_MITIGATION = 500
"""Fewest shots with which IonQ accepts error mitigation (debiasing)."""

GATESETS = ("native", "qis")
ENTANGLERS = ("ms", "zz")


@dataclass(frozen=True)
class Backend:
    """One IonQ backend.

    Attributes:
        name: The API name (``"simulator"``, ``"qpu.aria-1"``...).
        qubits: Largest register a job may use.
        entanglers: Native two-qubit gates it runs (``"ms"`` on Aria, ``"zz"`` also on Forte).
        qpu: Whether it is hardware (billed) rather than the free cloud simulator.
    """

    name: str
    qubits: int
    entanglers: tuple[str, ...]
    qpu: bool

    @property
    def default_entangler(self) -> str:
        """The entangler the device compiles to when none is asked for (ZZ on Forte)."""
        return "zz" if "zz" in self.entanglers and self.qpu else "ms"


_ALL = (
    Backend("simulator", 29, ("ms", "zz"), qpu=False),
    Backend("qpu.aria-1", 25, ("ms",), qpu=True),
    Backend("qpu.aria-2", 25, ("ms",), qpu=True),
    Backend("qpu.forte-1", 36, ("ms", "zz"), qpu=True),
    Backend("qpu.forte-enterprise-1", 36, ("ms", "zz"), qpu=True),
)
BACKENDS: dict[str, Backend] = {b.name: b for b in _ALL}
BACKEND_NAMES = tuple(BACKENDS)
BACKEND_QUBITS = {b.name: b.qubits for b in _ALL}
QPU_BACKENDS = tuple(b.name for b in _ALL if b.qpu)

JOB_STATES = {
    "submitted": "submitted (not yet queued)",
    "ready": "queued on IonQ (status 'ready')",
    "started": "running (status 'started')",
    "completed": "completed",
    "failed": "failed",
    "canceled": "canceled",
}
"""IonQ's job states, each with how a person would say it."""
WAITING_STATES = ("submitted", "ready", "started")
FINAL_STATES = ("completed", "failed", "canceled")


def backend(name: str) -> Backend:
    """Return the backend called ``name``.

    Raises:
        ValueError: For an unknown name (the message lists the valid ones).
    """
    try:
        return BACKENDS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown IonQ backend {name!r}; choose one of {', '.join(BACKEND_NAMES)}"
        ) from None


def debiasing_on(backend_name: str, shots: int, setting: bool | None) -> bool:
    """Whether IonQ runs (and bills) a job with error mitigation (debiasing).

    An explicit ``True``/``False`` decides; ``None`` is IonQ's default: on for QPU jobs of at least
    :data:`MIN_SHOTS_ERROR_MITIGATION` shots, off otherwise and on the simulator.
    """
    if setting is not None:
        return bool(setting)
    return BACKENDS[backend_name].qpu and shots >= MIN_SHOTS_ERROR_MITIGATION


def target_name(backend_name: str, noise_model: str | None = None) -> str:
    """The ``qstore.router`` target name of a backend: ``ionq.qpu.aria-1``, ``ionq.simulator``,
    ``ionq.simulator:aria-1`` (the simulator with a noise model other than ``ideal``)."""
    if backend_name == "simulator" and noise_model not in (None, "ideal"):
        return f"ionq.simulator:{noise_model}"
    return f"ionq.{backend_name}"
