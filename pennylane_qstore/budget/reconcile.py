"""Closing a reservation from what the IonQ API says about its jobs.

Used by :meth:`~pennylane_qstore.budget.Budget.reconcile` (after a crash) and by ``qstore.ionq``
when a batch ended in an error after jobs were created. ``client`` is an
:class:`~pennylane_qstore.ionq.client.IonQClient` (``find_job``, ``get_job``, ``get_cost``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from pennylane_qstore.budget.budget import Reservation
from pennylane_qstore.budget.ledger import Ledger
from pennylane_qstore.ionq.backends import FINAL_STATES

logger = logging.getLogger(__name__)


def timings(jobs: Iterable[dict[str, Any]], wall_s: float) -> tuple[float, float]:
    """``(queue_s, exec_s)`` of a batch: IonQ's ``execution_duration_ms`` when every job has it
    (the rest of the wall time is queueing), else the wall time as execution."""
    durations = [job.get("execution_duration_ms") for job in jobs]
    if durations and all(isinstance(d, (int, float)) for d in durations):
        exec_s = sum(durations) / 1000.0
        return max(wall_s - exec_s, 0.0), exec_s
    return 0.0, wall_s


def job_ids_of(reservation: Reservation, client: Any) -> list[str]:
    """The reservation's job ids, looking up client ids whose job id was never attached."""
    ids = list(reservation.job_ids)
    if len(ids) < len(reservation.client_ids):
        for client_id in reservation.client_ids:
            found = client.find_job(client_id, f"qstore-{client_id}") or client.find_job(client_id)
            if found and found not in ids:
                ids.append(found)
        if ids:
            reservation.attach(job_ids=ids)
    return ids


def close_from_jobs(reservation: Reservation, client: Any, wall_s: float = 0.0) -> str:
    """Settle, release or keep ``reservation`` open from its jobs; return its new state.

    Settled with the billed cost once every job is over and any completed; released when no
    job exists or every job failed or was canceled without a charge; left open (logged) while a
    job still runs or a completed job's cost is not known yet.
    """
    ids = job_ids_of(reservation, client)
    if not ids:
        reservation.release("no job was created")
        return reservation.state
    jobs = [client.get_job(job_id) for job_id in ids]
    running = [j["id"] for j in jobs if j.get("status") not in FINAL_STATES]
    if running:
        reservation.leave_open(f"job(s) {', '.join(running)} still running")
        return reservation.state
    costs = [((client.get_cost(j["id"]).get("cost") or {}).get("value"), j) for j in jobs]
    if any(cost is None and job["status"] == "completed" for cost, job in costs):
        reservation.leave_open("IonQ has not billed a completed job yet")
        return reservation.state
    billed = sum(float(cost or 0.0) for cost, _ in costs)
    if billed == 0 and not any(job["status"] == "completed" for job in jobs):
        reservation.release(f"job(s) {', '.join(ids)} failed or were canceled uncharged")
        return reservation.state
    queue_s, exec_s = timings(jobs, wall_s)
    reservation.settle(billed, jobs=len(ids), queue_s=queue_s, exec_s=exec_s)
    return reservation.state


def reconcile(ledger: Ledger, client: Any, *, force: bool = False) -> list[Reservation]:
    """Close the open reservations of ``ledger`` made against ``client.api_url``.

    Unless ``force``, only stale ones (a live process still closes its own). Each returned
    reservation's ``state`` says what happened; those still ``"open"`` have jobs running.
    """
    handled = []
    for row in ledger.reservation_rows("open"):
        reservation = Reservation(ledger, row)
        if reservation.api_url != client.api_url:
            continue
        if not (force or reservation.stale):
            logger.info(
                "reservation %s belongs to running process %d on %s; left to it "
                "(force=True reconciles it anyway)",
                reservation.id,
                reservation.pid,
                reservation.host,
            )
            continue
        close_from_jobs(reservation, client)
        handled.append(reservation)
    return handled
