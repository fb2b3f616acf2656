"""Submitting, polling and cancelling IonQ jobs concurrently on an event loop.

:class:`JobRunner` sends the payloads of one batch, polls every job with a growing interval,
fetches the results and, on any error, timeout, Ctrl-C or task cancellation, cancels the jobs it
created. Blocking HTTP calls run on a thread pool so the event loop stays free.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pennylane_qstore.ionq.backends import JOB_STATES, WAITING_STATES
from pennylane_qstore.ionq.client import IonQClient
from pennylane_qstore.ionq.errors import IonQBackendUnavailable, IonQJobFailed, IonQTimeoutError

logger = logging.getLogger(__name__)

PROGRESS_AFTER = 5.0
"""Seconds of waiting after which progress is printed (when enabled)."""


@dataclass
class RunRecord:
    """What one batch ran on IonQ and what it cost.

    Attributes:
        job_ids: IonQ job ids, one per submitted job.
        backend: Backend the jobs ran on.
        circuits: Number of circuits in the batch.
        shots: Total shots over the batch.
        estimated_cost: Estimate in USD made before submitting.
        cost: Cost in USD reported by IonQ (``None`` while unknown; 0 on the simulator).
        wall_time: Seconds from submission to the last result.
        dry_run: Whether the jobs were dry runs.
    """

    job_ids: list[str]
    backend: str
    circuits: int
    shots: int
    estimated_cost: float
    cost: float | None = None
    wall_time: float = 0.0
    dry_run: bool = False


@dataclass
class Batch:
    """Job ids of a batch in flight, so they can be cancelled on interruption."""

    submitted: list[str] = field(default_factory=list)
    pending: list[concurrent.futures.Future] = field(default_factory=list)
    done: set[str] = field(default_factory=set)
    cancelled: set[str] = field(default_factory=set)
    status: dict[str, str] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    shown: bool = False

    def count(self, status: str) -> int:
        """Number of jobs last seen in ``status``."""
        return sum(1 for s in self.status.values() if s == status)


@dataclass
class JobRunner:
    """Runs the jobs of one batch.

    Attributes:
        client: The REST client.
        pool: Thread pool for the blocking HTTP calls.
        label: Backend name shown in progress lines.
        poll_interval: ``(first, longest)`` seconds between polls (grows 1.5x).
        timeout: Seconds to wait for the batch before cancelling it (``None``: no limit).
        progress: Print progress to stderr after 5 s (``None``: when stderr is a TTY).
        dry_run: Whether the jobs are dry runs (no results to fetch).
        on_submit: Called with each job id as soon as IonQ returned it (a budget attaches it).
        watch: Called while a job waits in the queue; returns why the backend cannot run it
            now (the batch is then cancelled with ``IonQBackendUnavailable``), or ``None``.
    """

    client: IonQClient
    pool: concurrent.futures.Executor
    label: str
    poll_interval: tuple[float, float]
    timeout: float | None = None
    progress: bool | None = None
    dry_run: bool = False
    on_submit: Callable[[str], None] | None = None
    watch: Callable[[], str | None] | None = None
    batch: Batch = field(default_factory=Batch)

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run a blocking call on the pool without blocking the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    async def run(
        self, payloads: list[dict[str, Any]], client_ids: Sequence[str] | None = None
    ) -> tuple[list[str], list[tuple]]:
        """Submit ``payloads``, wait for every job; return ``(job ids, [(job, probabilities)])``.

        ``client_ids`` (one per payload, default fresh ones) tag the jobs, so a caller that
        recorded them can find the jobs after a crash. Any exception (including cancellation)
        cancels the jobs already created, then re-raises.
        """
        try:
            job_ids = await self._submit_all(payloads, client_ids or [None] * len(payloads))
            answers = await gather([self._wait(job_id) for job_id in job_ids])
        except BaseException:
            await self.call(self.cancel)
            raise
        finally:
            self._end_progress()
        return job_ids, answers

    async def actual_cost(self, job_ids: list[str]) -> float | None:
        """Total cost IonQ billed for the jobs, ``None`` while any is unknown."""
        answers = await asyncio.gather(*(self.call(self.client.get_cost, j) for j in job_ids))
        values = [(a.get("cost") or {}).get("value") for a in answers]
        return None if any(v is None for v in values) else float(sum(values))

    def cancel(self) -> None:
        """Cancel every submitted job that has not finished (best effort).

        Submissions still in flight are waited for first, so no job they create escapes.
        """
        state = self.batch
        concurrent.futures.wait(state.pending, timeout=self.client.timeout[1])
        for job_id in list(state.submitted):
            if job_id in state.done or job_id in state.cancelled:
                continue
            state.cancelled.add(job_id)
            logger.debug("cancelling IonQ job %s", job_id)
            with contextlib.suppress(Exception):
                self.client.cancel_job(job_id)

    async def _submit_all(
        self, payloads: list[dict[str, Any]], client_ids: Sequence[str | None]
    ) -> list[str]:
        state = self.batch

        def submit(payload: dict[str, Any], client_id: str | None) -> str:
            job_id = self.client.submit_job(payload, client_id=client_id)
            state.submitted.append(job_id)  # recorded even if the caller was interrupted
            if self.on_submit is not None:
                self.on_submit(job_id)
            circuits = payload["input"].get("circuits")
            logger.debug(
                "submitted IonQ job %s to %s (%d circuit(s), %d shots each)",
                job_id,
                payload["backend"],
                len(circuits) if circuits is not None else 1,
                payload["shots"],
            )
            return job_id

        state.pending = [
            self.pool.submit(submit, payload, client_id)
            for payload, client_id in zip(payloads, client_ids, strict=True)
        ]
        return await gather([asyncio.wrap_future(f) for f in state.pending])

    async def _wait(self, job_id: str) -> tuple[dict[str, Any], Any]:
        state = self.batch
        delay, longest = self.poll_interval
        while True:
            job = await self.call(self.client.get_job, job_id)
            status = state.status[job_id] = job["status"]
            if status == "completed":
                break
            if status in ("failed", "canceled"):
                failure = job.get("failure") or {}
                code = failure.get("code", status)
                raise IonQJobFailed(job_id, code, failure.get("error", f"the job was {status}"))
            elapsed = time.monotonic() - state.started
            if self.timeout is not None and elapsed > self.timeout:
                raise IonQTimeoutError(job_id, JOB_STATES.get(status, status), self.timeout)
            if self.watch is not None and status in ("submitted", "ready"):
                problem = await self.call(self.watch)
                if problem is not None:
                    raise IonQBackendUnavailable(job_id, problem)
            self._show_progress(elapsed)
            await asyncio.sleep(delay)
            delay = min(longest, delay * 1.5)
        state.done.add(job_id)
        logger.debug("IonQ job %s completed", job_id)
        if self.dry_run:
            return job, None
        return job, await self.call(self.client.get_probabilities, job_id)

    def _show_progress(self, elapsed: float) -> None:
        enabled = sys.stderr.isatty() if self.progress is None else self.progress
        if not enabled or elapsed < PROGRESS_AFTER:
            return
        state = self.batch
        done = state.count("completed")
        waiting = ", ".join(f"{n} {s}" for s in WAITING_STATES if (n := state.count(s)))
        sys.stderr.write(
            f"\rIonQ {self.label}: {done}/{len(state.submitted)} jobs completed"
            f"{', ' + waiting if waiting else ''} ({elapsed:.0f} s)   "
        )
        sys.stderr.flush()
        state.shown = True

    def _end_progress(self) -> None:
        if self.batch.shown:
            sys.stderr.write("\n")


async def gather(coroutines: list[Any]) -> list[Any]:
    """Run coroutines concurrently; on the first error cancel the rest and re-raise."""
    tasks = [asyncio.ensure_future(c) for c in coroutines]
    try:
        return list(await asyncio.gather(*tasks))
    finally:
        for task in tasks:
            task.cancel()


def run_coroutine(coroutine: Any) -> Any:
    """Run a coroutine to completion from synchronous code, even inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def new_pool() -> concurrent.futures.ThreadPoolExecutor:
    """The thread pool a device uses for its HTTP calls and compilation."""
    return concurrent.futures.ThreadPoolExecutor(16, thread_name_prefix="qstore-ionq")
