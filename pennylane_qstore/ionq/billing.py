"""What a ``qstore.ionq`` batch costs: the budget reservation before it, the ledger after it.

Paid work under a budget is reserved (conservatively estimated) before anything is sent, its
client ids are attached to the reservation before the ``POST /jobs``, each job id as soon as it
exists, and the billed ``GET /jobs/{id}/cost`` settles it. Free simulator jobs and paid work
without a budget are recorded in the ledger after they complete.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from pennylane_qstore.budget import (
    Budget,
    CostReport,
    Ledger,
    Reservation,
    as_budget,
    current_phase,
)
from pennylane_qstore.budget import phase as budget_phase
from pennylane_qstore.budget.reconcile import close_from_jobs, timings
from pennylane_qstore.ionq.backends import QPU_BACKENDS, debiasing_on, target_name
from pennylane_qstore.ionq.client import IonQClient
from pennylane_qstore.ionq.pricing import RateCard, job_cost

logger = logging.getLogger(__name__)


def reservation_estimate(
    backend: str,
    jobs: Iterable[tuple[int, Sequence[tuple[int, int]]]],
    error_mitigation: bool | None,
    rates: RateCard,
) -> float:
    """USD to reserve for ``jobs`` (``(shots, gate counts of its circuits)`` each).

    With ``error_mitigation=None`` IonQ's default applies, so jobs of 500 or more shots on a QPU
    are priced with the error-mitigation minimum: the reservation never under-counts.
    """
    return sum(
        job_cost(backend, shots, counts, debiasing_on(backend, shots, error_mitigation), rates)
        for shots, counts in jobs
    )


class BatchBill:
    """The cost bookkeeping of one batch (create with :meth:`open`).

    Attributes:
        client_ids: One client id per job payload, passed to ``IonQClient.submit_job``.
        reservation: The budget reservation (``None`` for free work or without a budget).
    """

    def __init__(
        self,
        ledger: Ledger,
        target: str,
        device: str,
        circuits: int,
        shots: int,
        estimate: float,
        client_ids: list[str],
        reservation: Reservation | None,
    ) -> None:
        self.ledger = ledger
        self.target = target
        self.device = device
        self.circuits = circuits
        self.shots = shots
        self.estimate = estimate
        self.client_ids = client_ids
        self.reservation = reservation
        self.phase = reservation.phase if reservation else current_phase()

    @classmethod
    def open(
        cls,
        *,
        budget: Budget | None,
        ledger: Ledger,
        client: IonQClient,
        backend: str,
        target: str,
        device: str,
        circuits: int,
        shots: int,
        estimate: float,
        reserve_usd: float,
        jobs: int,
    ) -> BatchBill:
        """Reserve ``reserve_usd`` when the work is paid and budgeted, then attach client ids.

        Raises:
            BudgetExhausted: If the reservation does not fit; nothing was submitted.
        """
        client_ids = [uuid.uuid4().hex for _ in range(jobs)]
        reservation = None
        if budget is not None and backend in QPU_BACKENDS:
            reservation = budget.reserve(
                reserve_usd,
                target=target,
                phase=current_phase(),
                circuits=circuits,
                shots=shots,
                device=device,
                backend=backend,
                api_url=client.api_url,
            )
            reservation.attach(client_ids=client_ids)
        return cls(ledger, target, device, circuits, shots, estimate, client_ids, reservation)

    def submitted(self, job_id: str) -> None:
        """Attach a job id the moment IonQ returned it."""
        if self.reservation is not None:
            self.reservation.attach(job_ids=[job_id])

    def completed(
        self, billed: float | None, job_ids: list[str], jobs: list[dict[str, Any]], wall_s: float
    ) -> None:
        """Settle the reservation with IonQ's bill, or record the work in the ledger."""
        queue_s, exec_s = timings(jobs, wall_s)
        if self.reservation is None:
            self.ledger.record(
                target=self.target,
                phase=self.phase,
                jobs=len(job_ids),
                circuits=self.circuits,
                shots=self.shots,
                estimated_usd=self.estimate,
                billed_usd=billed or 0.0,
                queue_s=queue_s,
                exec_s=exec_s,
                device=self.device,
            )
        elif billed is None:
            self.reservation.leave_open(f"IonQ has not billed jobs {', '.join(job_ids)} yet")
        else:
            self.reservation.settle(billed, jobs=len(job_ids), queue_s=queue_s, exec_s=exec_s)

    def failed(self, client: IonQClient, submitted: list[str], error: BaseException) -> None:
        """Close the reservation of a batch that raised ``error``; never raises itself.

        Released when no job was created; otherwise closed from the jobs' states and bills, or
        left open (logged) when they cannot be known now.
        """
        reservation = self.reservation
        if reservation is None:
            return
        try:
            if not submitted and not isinstance(error, Exception):
                reservation.leave_open(f"interrupted ({type(error).__name__}) while submitting")
            elif not isinstance(error, Exception):
                reservation.leave_open(f"interrupted ({type(error).__name__}) after submitting")
            else:
                reservation.attach(job_ids=submitted)
                close_from_jobs(reservation, client)
        except Exception as err:  # the batch's own error is what the caller must see
            reservation.leave_open(f"its jobs could not be looked up ({err})")


class CostTracking:
    """The budget, ledger and cost report of :class:`~pennylane_qstore.ionq.device.IonQDevice`.

    The device sets ``_budget`` (through :attr:`budget`), ``_ledger`` and ``cost_label``.
    """

    _budget: Budget | None
    _ledger: Ledger
    cost_label: str
    client: IonQClient
    backend: str
    noise_model: str | None
    error_mitigation: bool | None
    rates: RateCard

    @property
    def budget(self) -> Budget | None:
        """The budget paid batches draw on (settable: a number, a Budget or ``None``)."""
        return self._budget

    @budget.setter
    def budget(self, value: float | Budget | None) -> None:
        self._budget = as_budget(value)

    @property
    def ledger(self) -> Ledger:
        """Where this device's work is recorded: the budget's ledger, else its own one
        (settable: a router hands its ledger to the devices it builds)."""
        return self._budget.ledger if self._budget is not None else self._ledger

    @ledger.setter
    def ledger(self, value: Ledger) -> None:
        if not isinstance(value, Ledger):
            raise TypeError(f"ledger takes a pennylane_qstore.budget.Ledger, got {value!r}")
        self._ledger = value

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[str]:
        """Tag the work run inside the block, e.g. ``with dev.phase("validation"):``."""
        with budget_phase(name) as tag:
            yield tag

    def cost_report(self, all: bool = False) -> CostReport:
        """This device's jobs, circuits, shots, USD and seconds per phase and target.

        Args:
            all: Report every device's work in the ledger (a shared budget's whole run).
        """
        return self.ledger.report(None if all else self.cost_label)

    def _open_bill(
        self, circuits: list[Any], counts: list[tuple[int, int]], plan: list, estimate: float
    ) -> BatchBill:
        """Reserve the batch's conservative estimate on the budget (raises BudgetExhausted).

        ``counts`` holds each circuit's ``(one-qubit, multi-qubit)`` gate counts.
        """
        jobs = [(shots, [counts[i] for i in indices]) for indices, _, shots in plan]
        return BatchBill.open(
            budget=self._budget,
            ledger=self.ledger,
            client=self.client,
            backend=self.backend,
            target=target_name(self.backend, self.noise_model),
            device=self.cost_label,
            circuits=len(circuits),
            shots=sum(c.shots.total_shots for c in circuits),
            estimate=estimate,
            reserve_usd=reservation_estimate(self.backend, jobs, self.error_mitigation, self.rates),
            jobs=len(plan),
        )
