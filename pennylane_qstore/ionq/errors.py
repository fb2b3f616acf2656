"""Exceptions raised by the IonQ client and device."""

from __future__ import annotations

from typing import Any


class IonQError(RuntimeError):
    """Base class of IonQ errors."""


class IonQAuthError(IonQError):
    """No API key was given, or the API refused it."""


class IonQConnectionError(IonQError):
    """IonQ's API (or the local server) could not be reached; the message names the URL."""


class IonQAPIError(IonQError):
    """The API answered a request with an error status.

    Attributes:
        status: HTTP status code.
        message: IonQ's error message.
        body: The decoded error body, when there was one.
    """

    def __init__(self, status: int, message: str, body: Any = None) -> None:
        super().__init__(f"IonQ API error {status}: {message}")
        self.status = status
        self.message = message
        self.body = body


class IonQJobFailed(IonQError):
    """A job ended ``failed`` (or ``canceled``) on IonQ's side.

    Attributes:
        job_id: The IonQ job id.
        code: IonQ's failure code (``"canceled"`` for canceled jobs).
        detail: IonQ's failure message.
    """

    def __init__(self, job_id: str, code: str, detail: str) -> None:
        super().__init__(f"IonQ job {job_id} failed with code {code}: {detail}")
        self.job_id = job_id
        self.code = code
        self.detail = detail


class IonQTimeoutError(IonQError):
    """A batch took longer than the device's ``timeout``; its jobs were cancelled.

    Attributes:
        job_id: The job still unfinished.
        state: Where it was (for example ``queued on IonQ (status 'ready')``).
        timeout: The limit in seconds.
    """

    def __init__(self, job_id: str, state: str, timeout: float) -> None:
        super().__init__(
            f"IonQ job {job_id} was still {state} after {timeout:g} s; it was cancelled "
            "(raise timeout= to wait longer, or timeout=None to wait without a limit)"
        )
        self.job_id = job_id
        self.state = state
        self.timeout = timeout


class IonQBackendUnavailable(IonQError):
    """The backend stopped taking jobs (unavailable, retired, degraded) while a job of the batch
    waited in its queue; the device cancelled the batch's jobs (``watch_backend=True``).

    Attributes:
        job_id: The job that was waiting.
        problem: What ``GET /backends`` said (for example ``qpu.aria-1 is unavailable``).
    """

    def __init__(self, job_id: str, problem: str) -> None:
        super().__init__(
            f"IonQ job {job_id} was waiting in the queue when {problem}; its batch was cancelled "
            "(watch_backend=False keeps jobs queued until the backend is back)"
        )
        self.job_id = job_id
        self.problem = problem


class CostCapExceeded(IonQError):
    """A batch's estimated cost is above the device's ``cost_cap``; nothing was submitted."""

    def __init__(self, estimate: float, cap: float) -> None:
        super().__init__(
            f"estimated cost ${estimate:.2f} exceeds the cost cap ${cap:.2f}; nothing was "
            "submitted. Raise cost_cap=, lower shots or send fewer circuits."
        )
        self.estimate = estimate
        self.cap = cap


class DryRunComplete(IonQError):
    """A ``dry_run=True`` batch was validated and priced by IonQ; it has no results.

    Attributes:
        record: The :class:`~pennylane_qstore.ionq.jobs.RunRecord` of the dry run.
    """

    def __init__(self, record: Any) -> None:
        super().__init__(
            f"dry run: {len(record.job_ids)} job(s) validated, estimated cost "
            f"${record.estimated_cost:.2f}; no results are produced (set dry_run=False to run)"
        )
        self.record = record
