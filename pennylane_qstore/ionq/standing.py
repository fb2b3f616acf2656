"""How ``qstore.router``'s strategies see an IonQ QPU: status, queue, run time and price.

The router asks before each batch; the backend's status and characterization come from
:class:`~pennylane_qstore.ionq.status.BackendMonitor` (cached with a short TTL). The router hands over
the circuits after the device's own preprocessing (measurement groups, broadcasts split, IonQ
compilation), the very ones it then executes, so the price is the one the ``qstore.ionq`` device
will reserve before it submits; the device still checks the budget itself and refuses (``BudgetExhausted``)
what it cannot pay.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from pennylane.tape import QuantumScript

from pennylane_qstore.ionq.billing import reservation_estimate
from pennylane_qstore.ionq.device import IonQDevice
from pennylane_qstore.ionq.status import monitor_for
from pennylane_qstore.router.strategy import Standing

logger = logging.getLogger(__name__)


def tape_gate_counts(tape: QuantumScript) -> tuple[int, int]:
    """``(one-qubit, multi-qubit)`` gate counts of ``tape``'s operations."""
    ops = [op for op in tape.operations if op.name not in ("Identity", "GlobalPhase")]
    two = sum(1 for op in ops if len(op.wires) > 1)
    return len(ops) - two, two


def ionq_standing(dev: IonQDevice, name: str, circuits: Sequence[QuantumScript]) -> Standing:
    """The standing of the IonQ backend behind ``dev`` for ``circuits`` (preprocessed by it)."""
    try:
        status = monitor_for(dev.client).status(dev.backend)
    except Exception as exc:  # an unreadable status is a reason to skip, never to guess
        return Standing(name, f"status unknown ({type(exc).__name__}: {exc})")
    if not status.available:
        return Standing(name, f"{dev.backend} is {status.status}")
    if status.degraded:
        return Standing(name, f"{dev.backend} is degraded")
    wires = max((len(t.wires) for t in circuits), default=0)
    if wires > status.qubits:
        return Standing(name, f"{wires} wires > {status.qubits} qubits")
    by_shots: dict[int, list[tuple[int, int]]] = {}
    for circuit in circuits:
        by_shots.setdefault(circuit.shots.total_shots or 0, []).append(tape_gate_counts(circuit))
    monitor = monitor_for(dev.client)
    execution = sum(
        monitor.execution_seconds(dev.backend, shots, counts) for shots, counts in by_shots.items()
    )
    jobs = list(by_shots.items())
    estimate = reservation_estimate(dev.backend, jobs, dev.error_mitigation, dev.rates)
    return Standing(name, None, status.average_queue_s, execution, estimate)
