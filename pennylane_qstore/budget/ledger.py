"""The cost ledger: one SQLite database of reservations and usage, shared safely by processes.

A ledger on disk runs in WAL mode; every check-and-write is one ``BEGIN IMMEDIATE``
transaction, so SQLite's file lock serialises them across threads and processes (a busy timeout
makes writers wait instead of failing). A ledger without a path is a private in-memory database
guarded by a lock. Money is stored as integer micro-dollars, so sums and comparisons are exact.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pennylane_qstore.budget.report import CostReport

SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 60.0
MICRO = 1_000_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS reservations (
    id TEXT PRIMARY KEY,
    micro_usd INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('open', 'settled', 'released')),
    target TEXT NOT NULL, backend TEXT NOT NULL, api_url TEXT NOT NULL,
    phase TEXT NOT NULL, device TEXT NOT NULL,
    circuits INTEGER NOT NULL, shots INTEGER NOT NULL,
    pid INTEGER NOT NULL, host TEXT NOT NULL,
    client_ids TEXT NOT NULL DEFAULT '[]', job_ids TEXT NOT NULL DEFAULT '[]',
    note TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL, updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS reservations_state ON reservations (state);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS usage (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    reservation_id TEXT REFERENCES reservations (id),
    phase TEXT NOT NULL, target TEXT NOT NULL, device TEXT NOT NULL,
    jobs INTEGER NOT NULL, circuits INTEGER NOT NULL, shots INTEGER,
    estimated_micro INTEGER NOT NULL, billed_micro INTEGER NOT NULL,
    queue_s REAL NOT NULL, exec_s REAL NOT NULL, created REAL NOT NULL
);
"""

RESERVATION_COLUMNS = (
    "id, micro_usd, state, target, backend, api_url, phase, device, circuits, shots, pid, host, "
    "client_ids, job_ids, note, created, updated"
)


def to_micro(usd: float) -> int:
    """US dollars as integer micro-dollars (rounded to the nearest)."""
    return round(float(usd) * MICRO)


def to_usd(micro: int | None) -> float:
    """Integer micro-dollars as US dollars."""
    return (micro or 0) / MICRO


class Ledger:
    """Reservations and usage of quantum work, in one SQLite database.

    Args:
        path: Database file shared by every process that opens it (created when missing), or
            ``None`` for a private in-memory ledger.

    Raises:
        ValueError: If ``path`` exists but is not a qstore ledger.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path: Path | None = None if path is None else Path(path)
        self._lock = threading.RLock()
        self._memory: sqlite3.Connection | None = None
        self._file: sqlite3.Connection | None = None
        self._file_pid = 0
        if self.path is None:
            self._memory = sqlite3.connect(
                ":memory:", check_same_thread=False, isolation_level=None
            )
        self._create()

    def __repr__(self) -> str:
        return f"Ledger({str(self.path) if self.path else None!r})"

    def __deepcopy__(self, memo: dict[int, Any]) -> Ledger:
        """A copy of a device or model keeps this very ledger: a copied model must not get a
        fresh budget to spend again. (Pickled into another process, an in-memory ledger can
        only travel as a copy; give the budget a ledger path to share it between processes.)"""
        return self

    def __getstate__(self) -> dict[str, Any]:
        """Pickle a file ledger as its path, an in-memory one as a copy of its contents."""
        data = None if self._memory is None else self._memory.serialize()
        return {"path": self.path, "data": data}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"])  # type: ignore[misc]
        if state["data"] is not None and self._memory is not None:
            self._memory.deserialize(state["data"])

    # -- plumbing ----------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        """The connection of this process (callers hold ``_lock``).

        A file ledger keeps one connection per process: opening one per transaction cost
        milliseconds (closing the last connection checkpoints the WAL), more than a layer's
        simulator batch that is recorded. A forked child opens its own.
        """
        if self._memory is not None:
            return self._memory
        if self._file is not None and self._file_pid == os.getpid():
            return self._file
        conn = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        # WAL + NORMAL: a commit survives the process being killed (only a power cut may lose
        # the last ones) and skips an fsync per transaction
        conn.execute("PRAGMA synchronous = NORMAL")
        self._file, self._file_pid = conn, os.getpid()
        return conn

    def _create(self) -> None:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self._lock:
                conn = self._connect()
                try:
                    if self.path is not None:
                        conn.execute("PRAGMA journal_mode = WAL")
                    version = conn.execute("PRAGMA user_version").fetchone()[0]
                    if version > SCHEMA_VERSION:
                        raise ValueError(
                            f"ledger {self.path} has schema version {version}, newer than this "
                            f"pennylane-qstore ({SCHEMA_VERSION}); upgrade pennylane-qstore"
                        )
                    conn.executescript(f"BEGIN IMMEDIATE;{_SCHEMA}COMMIT;")
                    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                except BaseException:
                    self._drop_file()
                    raise
        except sqlite3.DatabaseError as err:
            raise ValueError(
                f"{self.path} is not a qstore cost ledger ({err}); give a new file name or the "
                "path of a ledger written by pennylane-qstore"
            ) from err

    def _drop_file(self) -> None:
        if self._file is not None and self._file_pid == os.getpid():
            with contextlib.suppress(sqlite3.Error):
                self._file.close()
        self._file = None

    @contextlib.contextmanager
    def transaction(self, write: bool = True) -> Iterator[sqlite3.Connection]:
        """One transaction; ``write=True`` takes SQLite's write lock at once (``BEGIN IMMEDIATE``)."""
        with self._lock:
            conn = self._connect()
            try:
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            except sqlite3.Error:
                self._drop_file()  # a broken connection is not reused
                raise

    # -- totals, reservations and usage -------------------------------------------------------
    @staticmethod
    def totals_micro(conn: sqlite3.Connection) -> tuple[int, int]:
        """``(spent, reserved)`` micro-dollars: billed usage and open reservations."""
        spent = conn.execute("SELECT COALESCE(SUM(billed_micro), 0) FROM usage").fetchone()[0]
        reserved = conn.execute(
            "SELECT COALESCE(SUM(micro_usd), 0) FROM reservations WHERE state = 'open'"
        ).fetchone()[0]
        return int(spent), int(reserved)

    @staticmethod
    def claim_budget(conn: sqlite3.Connection, micro_usd: int) -> int | None:
        """Record the ledger's budget (micro-dollars) if it has none; return a different one it
        already holds, else ``None``."""
        row = conn.execute("SELECT value FROM meta WHERE key = 'budget_micro'").fetchone()
        if row is None:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('budget_micro', ?)", (str(micro_usd),)
            )
            return None
        return None if int(row[0]) == micro_usd else int(row[0])

    @staticmethod
    def insert_usage(conn: sqlite3.Connection, **row: Any) -> None:
        """Insert one usage row (keys: the ``usage`` table's columns but ``id``/``created``)."""
        row["created"] = time.time()
        names = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        conn.execute(f"INSERT INTO usage ({names}) VALUES ({marks})", tuple(row.values()))

    def record(
        self,
        *,
        target: str,
        phase: str,
        jobs: int,
        circuits: int,
        shots: int | None,
        estimated_usd: float = 0.0,
        billed_usd: float = 0.0,
        queue_s: float = 0.0,
        exec_s: float = 0.0,
        device: str = "",
    ) -> None:
        """Record work that needed no reservation (simulators, free or unbudgeted jobs)."""
        with self.transaction() as conn:
            self.insert_usage(
                conn,
                reservation_id=None,
                phase=phase,
                target=target,
                device=device,
                jobs=int(jobs),
                circuits=int(circuits),
                shots=None if shots is None else int(shots),
                estimated_micro=to_micro(estimated_usd),
                billed_micro=to_micro(billed_usd),
                queue_s=float(queue_s),
                exec_s=float(exec_s),
            )

    def reservation_rows(self, state: str | None = "open") -> list[dict[str, Any]]:
        """Reservations (all of them when ``state`` is ``None``), oldest first, as dicts."""
        where, args = ("WHERE state = ?", (state,)) if state else ("", ())
        with self.transaction(write=False) as conn:
            cursor = conn.execute(
                f"SELECT {RESERVATION_COLUMNS} FROM reservations {where} ORDER BY created", args
            )
            names = [d[0] for d in cursor.description]
            rows = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
        for row in rows:
            row["client_ids"] = tuple(json.loads(row["client_ids"]))
            row["job_ids"] = tuple(json.loads(row["job_ids"]))
        return rows

    def report(self, device: str | None = None) -> CostReport:
        """Usage per phase and target (``device=None``: everything in the ledger)."""
        where, args = ("WHERE device = ?", (device,)) if device is not None else ("", ())
        open_where = "AND device = ?" if device is not None else ""
        with self.transaction(write=False) as conn:
            grouped = conn.execute(
                "SELECT phase, target, SUM(jobs), SUM(circuits), SUM(shots), "
                "SUM(estimated_micro), SUM(billed_micro), SUM(queue_s), SUM(exec_s) "
                f"FROM usage AS u {where} GROUP BY phase, target ORDER BY "
                # phases in the order they started, each phase's targets likewise
                "(SELECT MIN(id) FROM usage WHERE phase = u.phase), MIN(id)",
                args,
            ).fetchall()
            count, reserved = conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(micro_usd), 0) FROM reservations "
                f"WHERE state = 'open' {open_where}",
                args,
            ).fetchone()
        rows = [
            {
                "phase": phase,
                "target": target,
                "jobs": int(jobs),
                "circuits": int(circuits),
                "shots": None if shots is None else int(shots),
                "estimated_usd": to_usd(estimated),
                "billed_usd": to_usd(billed),
                "queue_s": float(queue),
                "exec_s": float(execution),
            }
            for phase, target, jobs, circuits, shots, estimated, billed, queue, execution in grouped
        ]
        return CostReport(rows, reserved_usd=to_usd(reserved), open_reservations=int(count))
