"""Budgets that hold across devices and processes: reserve an estimate, settle the bill.

A :class:`Budget` is a USD limit over a :class:`~pennylane_qstore.budget.ledger.Ledger`. Before
paid work is submitted its estimate is reserved (:meth:`Budget.reserve`, one ``BEGIN
IMMEDIATE`` transaction, so two processes can never both pass the check); after completion the
reservation is settled with the billed cost or released when nothing was charged. A process that
dies in between leaves its reservation open, counted against the budget, until
:meth:`Budget.reconcile` looks its jobs up.
"""

from __future__ import annotations

import json
import logging
import math
import os
import socket
import threading
import time
import uuid
from collections.abc import Sequence
from numbers import Real
from pathlib import Path
from typing import Any

from pennylane_qstore.budget.ledger import Ledger, to_micro, to_usd
from pennylane_qstore.budget.report import CostReport

logger = logging.getLogger(__name__)

_in_flight: set[str] = set()
_in_flight_lock = threading.Lock()


class BudgetExhausted(RuntimeError):
    """A batch's estimate does not fit in what is left of the budget; nothing was submitted.

    Attributes:
        requested: The batch's estimated USD.
        spent: USD billed so far.
        reserved: USD held by open reservations.
        usd: The budget.
    """

    def __init__(self, requested: float, spent: float, reserved: float, usd: float) -> None:
        left = max(usd - spent - reserved, 0.0)
        super().__init__(
            f"budget exhausted: this batch is estimated at ${requested:.2f}, but ${spent:.2f} is "
            f"spent and ${reserved:.2f} reserved of the ${usd:.2f} budget (${left:.2f} left); "
            "nothing was submitted. Raise the budget (budget= / Budget(usd)), lower shots or send "
            "fewer circuits; reservations of crashed runs are freed by "
            "`qstore cost-report LEDGER --reconcile`."
        )
        self.requested = requested
        self.spent = spent
        self.reserved = reserved
        self.usd = usd


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed child its parent has not reaped yet is a zombie: dead for our purposes
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True


class Reservation:
    """USD held for one batch until it is settled (billed) or released (nothing charged).

    Attributes:
        id: The reservation's id.
        usd: USD reserved.
        target: Where the work runs (``"ionq.qpu.aria-1"``...).
        phase: The phase it is tagged with.
        client_ids: Client ids of the jobs (attached before they are submitted).
        job_ids: IonQ job ids, attached once known.
        state: ``"open"``, ``"settled"`` or ``"released"``.
    """

    def __init__(self, ledger: Ledger, row: dict[str, Any]) -> None:
        self.ledger = ledger
        self.id: str = row["id"]
        self.usd: float = to_usd(row["micro_usd"])
        self.state: str = row["state"]
        self.target: str = row["target"]
        self.backend: str = row["backend"]
        self.api_url: str = row["api_url"]
        self.phase: str = row["phase"]
        self.device: str = row["device"]
        self.circuits: int = row["circuits"]
        self.shots: int = row["shots"]
        self.pid: int = row["pid"]
        self.host: str = row["host"]
        self.client_ids: tuple[str, ...] = tuple(row["client_ids"])
        self.job_ids: tuple[str, ...] = tuple(row["job_ids"])
        self.note: str = row["note"]
        self.created: float = row["created"]

    def __repr__(self) -> str:
        return (
            f"Reservation({self.id!r}, ${self.usd:.2f}, {self.target}, phase={self.phase!r}, "
            f"state={self.state!r}, pid={self.pid})"
        )

    @property
    def stale(self) -> bool:
        """Whether it is open but no running process on this host will close it."""
        if self.state != "open" or self.host != socket.gethostname():
            return False
        if self.pid == os.getpid():
            with _in_flight_lock:
                return self.id not in _in_flight
        return not _pid_alive(self.pid)

    def attach(self, *, client_ids: Sequence[str] = (), job_ids: Sequence[str] = ()) -> None:
        """Add client ids (before submitting) and job ids (once created); persisted at once."""
        with self.ledger.transaction() as conn:
            stored = conn.execute(
                "SELECT client_ids, job_ids FROM reservations WHERE id = ?", (self.id,)
            ).fetchone()
            clients = list(dict.fromkeys([*json.loads(stored[0]), *client_ids]))
            jobs = list(dict.fromkeys([*json.loads(stored[1]), *job_ids]))
            conn.execute(
                "UPDATE reservations SET client_ids = ?, job_ids = ?, updated = ? WHERE id = ?",
                (json.dumps(clients), json.dumps(jobs), time.time(), self.id),
            )
        self.client_ids, self.job_ids = tuple(clients), tuple(jobs)

    def settle(
        self, billed_usd: float, *, jobs: int, queue_s: float = 0.0, exec_s: float = 0.0
    ) -> None:
        """Replace the reservation by the billed cost (a usage row); no-op if already closed."""
        billed = to_micro(billed_usd)
        with self.ledger.transaction() as conn:
            if not self._close(conn, "settled", f"billed ${to_usd(billed):.6f}"):
                return
            self.ledger.insert_usage(
                conn,
                reservation_id=self.id,
                phase=self.phase,
                target=self.target,
                device=self.device,
                jobs=int(jobs),
                circuits=self.circuits,
                shots=self.shots,
                estimated_micro=to_micro(self.usd),
                billed_micro=billed,
                queue_s=float(queue_s),
                exec_s=float(exec_s),
            )
        if billed > to_micro(self.usd):
            logger.warning(
                "reservation %s on %s was billed $%.2f, more than the $%.2f reserved (the "
                "estimate should be conservative: check the rate card)",
                self.id,
                self.target,
                to_usd(billed),
                self.usd,
            )
        logger.debug("reservation %s settled at $%.6f", self.id, to_usd(billed))

    def release(self, reason: str) -> None:
        """Free the reservation: nothing was charged (no job was created, or none was billed)."""
        with self.ledger.transaction() as conn:
            closed = self._close(conn, "released", reason)
        if closed:
            logger.info("reservation %s ($%.2f) released: %s", self.id, self.usd, reason)

    def leave_open(self, reason: str) -> None:
        """Keep the USD reserved (the outcome is unknown) until :meth:`Budget.reconcile`."""
        _forget(self.id)
        logger.warning(
            "reservation %s ($%.2f on %s) stays open: %s; it counts against the budget until "
            "reconciled (`qstore cost-report LEDGER --reconcile` or Budget.reconcile(client))",
            self.id,
            self.usd,
            self.target,
            reason,
        )

    def _close(self, conn: Any, state: str, note: str) -> bool:
        _forget(self.id)
        cursor = conn.execute(
            "UPDATE reservations SET state = ?, note = ?, updated = ? "
            "WHERE id = ? AND state = 'open'",
            (state, note, time.time(), self.id),
        )
        if cursor.rowcount == 0:
            logger.info("reservation %s was already closed; nothing to %s", self.id, state[:-1])
            return False
        self.state, self.note = state, note
        return True


def _forget(reservation_id: str) -> None:
    with _in_flight_lock:
        _in_flight.discard(reservation_id)


def check_usd(name: str, value: object) -> float:
    """Return ``value`` as a finite, non-negative USD amount; raise TypeError/ValueError."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} takes a number of US dollars, e.g. 20.0; got {value!r}")
    usd = float(value)
    if not math.isfinite(usd) or usd < 0:
        raise ValueError(f"{name} must be a finite amount of at least 0 US dollars, got {value!r}")
    return usd


class Budget:
    """A USD limit on paid quantum work, shared by every device and process using its ledger.

    Args:
        usd: The limit in US dollars.
        ledger: A :class:`Ledger`, the path of a ledger file (shared by processes), or ``None``
            for a private in-memory one.

    Example:
        >>> from pennylane_qstore import Budget
        >>> budget = Budget(20.0)
        >>> budget.remaining
        20.0
    """

    def __init__(self, usd: float, ledger: str | os.PathLike[str] | Ledger | None = None) -> None:
        self._usd = check_usd("Budget(usd)", usd)
        if ledger is not None and not isinstance(ledger, (Ledger, str, os.PathLike)):
            raise TypeError(
                f"Budget(ledger=) takes a file path, a Ledger or None, got {type(ledger).__name__}"
            )
        self.ledger: Ledger = ledger if isinstance(ledger, Ledger) else Ledger(ledger)
        with self.ledger.transaction() as conn:
            held = self.ledger.claim_budget(conn, to_micro(self._usd))
        if held is not None:
            raise ValueError(
                f"ledger {self.ledger.path or '(in memory)'} holds a ${to_usd(held):.2f} budget, "
                f"not ${self._usd:.2f}: every device and process of one run must use the same "
                f"Budget({to_usd(held)!r}, ledger=...) (two limits on one ledger could together "
                "spend past the smaller one); start a new ledger file for a new budget"
            )

    def __repr__(self) -> str:
        return f"Budget({self._usd!r}, ledger={self.ledger!r})"

    @property
    def usd(self) -> float:
        """The limit in US dollars."""
        return self._usd

    def _totals(self) -> tuple[int, int]:
        with self.ledger.transaction(write=False) as conn:
            return self.ledger.totals_micro(conn)

    @property
    def spent(self) -> float:
        """USD billed so far (settled reservations and recorded usage)."""
        return to_usd(self._totals()[0])

    @property
    def reserved(self) -> float:
        """USD held by open reservations."""
        return to_usd(self._totals()[1])

    @property
    def remaining(self) -> float:
        """``usd - spent - reserved`` (never below 0)."""
        spent, reserved = self._totals()
        return to_usd(max(to_micro(self._usd) - spent - reserved, 0))

    def can_afford(self, usd: float) -> bool:
        """Whether ``usd`` more fits in the budget now (a hint: :meth:`reserve` decides)."""
        spent, reserved = self._totals()
        return spent + reserved + to_micro(usd) <= to_micro(self._usd)

    def reserve(
        self,
        usd: float,
        *,
        target: str,
        phase: str,
        circuits: int,
        shots: int,
        device: str = "",
        backend: str = "",
        api_url: str = "",
    ) -> Reservation:
        """Hold ``usd`` for a batch, atomically across processes.

        Raises:
            BudgetExhausted: If ``spent + reserved + usd`` would exceed the budget.
        """
        amount = to_micro(check_usd("reserve(usd)", usd))
        now = time.time()
        row = {
            "id": uuid.uuid4().hex,
            "micro_usd": amount,
            "state": "open",
            "target": target,
            "backend": backend,
            "api_url": api_url,
            "phase": phase,
            "device": device,
            "circuits": int(circuits),
            "shots": int(shots),
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "client_ids": [],
            "job_ids": [],
            "note": "",
            "created": now,
            "updated": now,
        }
        with self.ledger.transaction() as conn:
            spent, reserved = self.ledger.totals_micro(conn)
            if spent + reserved + amount > to_micro(self._usd):
                raise BudgetExhausted(to_usd(amount), to_usd(spent), to_usd(reserved), self._usd)
            stored = {**row, "client_ids": "[]", "job_ids": "[]"}
            names = ", ".join(stored)
            marks = ", ".join("?" for _ in stored)
            conn.execute(
                f"INSERT INTO reservations ({names}) VALUES ({marks})", tuple(stored.values())
            )
            with _in_flight_lock:
                _in_flight.add(row["id"])
        logger.debug("reserved $%.6f for %s (%s)", to_usd(amount), target, row["id"])
        return Reservation(self.ledger, row)

    def open_reservations(self) -> list[Reservation]:
        """Open reservations, oldest first; check ``.stale`` for those of dead processes."""
        return [Reservation(self.ledger, row) for row in self.ledger.reservation_rows("open")]

    def reconcile(self, client: Any, *, force: bool = False) -> list[Reservation]:
        """Settle or release open reservations from their jobs on the IonQ API of ``client``.

        Only reservations made against ``client.api_url`` are looked at, and, unless ``force``,
        only stale ones (a live process still closes its own). Each returned reservation's
        ``state`` says what happened; those still ``"open"`` have jobs still running.
        """
        from pennylane_qstore.budget.reconcile import reconcile

        return reconcile(self.ledger, client, force=force)

    def report(self, device: str | None = None) -> CostReport:
        """The ledger's cost report (``device=None``: every device's work)."""
        return self.ledger.report(device)


def as_budget(value: object) -> Budget | None:
    """``None`` stays ``None``; a number becomes a private :class:`Budget`; a Budget is kept.

    Raises:
        TypeError: For anything else.
        ValueError: For a negative or non-finite number.
    """
    if value is None or isinstance(value, Budget):
        return value
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(
            "budget= takes a number of US dollars (e.g. budget=20.0) or a "
            f"pennylane_qstore.Budget(usd, ledger=PATH) shared by devices; got {value!r}"
        )
    return Budget(check_usd("budget=", value))
