"""How ``qstore.router``'s strategies see an IonQ QPU: status, queue, run time and price.

The router asks before each batch; the backend's status and characterization come from
:class:`~pennylane_qstore.ionq.status.BackendMonitor` (cached with a short TTL). Gate counts are
those of the router's tapes before IonQ compilation, so the price is an estimate for ranking;
the ``qstore.ionq`` device reserves a conservative estimate of the compiled circuits before it
submits, and refuses (``BudgetExhausted``) what the budget cannot pay.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from pennylane.tape import QuantumScript

from pennylane_qstore.ionq.backends import debiasing_on
from pennylane_qstore.ionq.device import IonQDevice
from pennylane_qstore.ionq.pricing import job_cost
from pennylane_qstore.ionq.status import monitor_for
from pennylane_qstore.router.strategy import Standing

logger = logging.getLogger(__name__)


def tape_gate_counts(tape: QuantumScript) -> tuple[int, int]:
    """``(one-qubit, multi-qubit)`` gate counts of ``tape``'s operations."""
    ops = [op for op in tape.operations if op.name not in ("Identity", "GlobalPhase")]
    two = sum(1 for op in ops if len(op.wires) > 1)
    return len(ops) - two, two


def ionq_standing(dev: IonQDevice, name: str, tapes: Sequence[QuantumScript]) -> Standing:
    """The standing of the IonQ backend behind ``dev`` for ``tapes``."""
    try:
        status = monitor_for(dev.client).status(dev.backend)
    except Exception as exc:  # an unreadable status is a reason to skip, never to guess
        return Standing(name, f"status unknown ({type(exc).__name__}: {exc})")
    if not status.available:
        return Standing(name, f"{dev.backend} is {status.status}")
    if status.degraded:
        return Standing(name, f"{dev.backend} is degraded")
    wires = max((len(t.wires) for t in tapes), default=0)
    if wires > status.qubits:
        return Standing(name, f"{wires} wires > {status.qubits} qubits")
    by_shots: dict[int, list[tuple[int, int]]] = {}
    for tape in tapes:
        by_shots.setdefault(tape.shots.total_shots or 0, []).append(tape_gate_counts(tape))
    execution = sum(
        monitor_for(dev.client).execution_seconds(dev.backend, shots, counts)
        for shots, counts in by_shots.items()
    )
    estimate = minimum = 0.0
    for shots, counts in by_shots.items():
        mitigation = debiasing_on(dev.backend, shots, dev.error_mitigation)
        estimate += job_cost(dev.backend, shots, counts, mitigation, dev.rates)
        minimum += job_cost(dev.backend, 0, [(0, 0)] * len(counts), mitigation, dev.rates)
    return Standing(name, None, status.average_queue_s, execution, estimate, minimum)
