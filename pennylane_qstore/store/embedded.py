"""The embedded backend: one SQLite file (WAL) per store, scanned exactly in NumPy.

SQLite (Python's standard library) holds every record: complex64 amplitudes, id, namespace and
metadata, with transactions that let several processes write at once and lose nothing. Each
process keeps a complex64 copy of every namespace in memory, brought up to date from
the log of inserted (``states.seq``) and removed (``removed.seq``) rows before each read.

A query is one complex64 matrix-vector product per namespace that gives ``<q|x>`` of all states
at once; the candidates are every state whose float32 fidelity is within the proven
rounding bound of the ``k``-th best, and those are re-ranked in float64. ``benchmarks/store.py``
compares this with usearch (HNSW and exact) and a plain NumPy scan.
"""

from __future__ import annotations

import functools
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pennylane_qstore.store.filters import matches
from pennylane_qstore.store.states import fidelities

logger = logging.getLogger(__name__)

DB_NAME = "states.sqlite3"
SYNC_CHUNK = 4096
"""Rows read per step when the in-memory copy catches up."""
_FLOAT32_EPS = float(np.finfo(np.float32).eps)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS states (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace TEXT NOT NULL, id TEXT NOT NULL, amps BLOB NOT NULL, metadata TEXT NOT NULL,
    UNIQUE (namespace, id));
CREATE TABLE IF NOT EXISTS removed (seq INTEGER PRIMARY KEY AUTOINCREMENT, row INTEGER NOT NULL);
"""


def scan_error(length: int) -> float:
    """Bound on ``|F32 - F|`` for a float32 scan of unit vectors with ``length`` real entries.

    Each of ``a = Re<q|x>`` and ``b = Im<q|x>`` is off by at most ``e = (length + 2) eps`` (rounded
    query plus a worst-case dot product of unit vectors), and ``F = a**2 + b**2`` with
    ``|a|, |b| <= 1`` by at most ``4 e + 2 e**2``.
    """
    e = (length + 2) * _FLOAT32_EPS
    return 4 * e + 2 * e * e


def _locked(method: Callable) -> Callable:
    """Run a method under the backend's lock (one connection, used from several threads)."""

    @functools.wraps(method)
    def wrapper(self: EmbeddedBackend, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper


@dataclass
class _Namespace:
    """One namespace's in-memory copy."""

    seqs: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    ids: list[str] = field(default_factory=list)
    raw_metadata: list[str] = field(default_factory=list)
    new_seqs: list[int] = field(default_factory=list)
    amps: np.ndarray | None = None
    _parsed: list[dict[str, Any]] | None = None

    @property
    def metadata(self) -> list[dict[str, Any]]:
        """Parsed metadata (parsed on first use: queries without a filter never need it all)."""
        if self._parsed is None or len(self._parsed) != len(self.raw_metadata):
            self._parsed = [json.loads(m) for m in self.raw_metadata]
        return self._parsed


class EmbeddedBackend:
    """Records in SQLite at ``path/states.sqlite3``; exact scans of an in-memory float32 copy."""

    name = "embedded"

    def __init__(self, path: str | Path, timeout: float = 60.0) -> None:
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise NotADirectoryError(
                f"{self.path} is a file; QuantumStateStore(path) takes a directory"
            )
        self.path.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            self.path / DB_NAME, timeout=timeout, isolation_level=None, check_same_thread=False
        )
        # on a new file only: 64 KiB pages hold several rows of up to 11-qubit states (smaller
        # pages leave half of each page empty once two rows no longer fit)
        self._db.execute("PRAGMA page_size=65536")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.RLock()
        self._spaces: dict[str, _Namespace] = {}
        self._seen_state = 0
        self._seen_removed = 0

    def _write(self) -> _Transaction:
        return _Transaction(self._db)

    @property
    def dimension(self) -> int | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM info WHERE key = 'dimension'").fetchone()
        return None if row is None else int(row[0])

    @_locked
    def set_dimension(self, dim: int) -> int:
        """Record the amplitude count on first write; return the one in force."""
        with self._write():
            self._db.execute("INSERT OR IGNORE INTO info VALUES ('dimension', ?)", (str(dim),))
        return int(self.dimension)

    @_locked
    def upsert(
        self, namespace: str, ids: list[str], amps: np.ndarray, metadata: list[dict[str, Any]]
    ) -> None:
        """Insert or replace records in one transaction."""
        keys = [(namespace, i) for i in ids]
        rows = [
            (namespace, i, a.astype(np.complex64).tobytes(), json.dumps(m))
            for i, a, m in zip(ids, amps, metadata, strict=True)
        ]
        with self._write():
            self._db.executemany(
                "INSERT INTO removed (row) SELECT seq FROM states WHERE namespace = ? AND id = ?",
                keys,
            )
            self._db.executemany("DELETE FROM states WHERE namespace = ? AND id = ?", keys)
            self._db.executemany(
                "INSERT INTO states (namespace, id, amps, metadata) VALUES (?, ?, ?, ?)", rows
            )

    @_locked
    def delete(self, namespace: str, ids: list[str] | None, flt: dict[str, Any] | None) -> int:
        """Delete by ids, by filter or (both ``None``) everything in a namespace."""
        if ids is None:
            self.sync()
            space = self._spaces.get(namespace, _Namespace())
            ids = [i for i, m in zip(space.ids, space.metadata, strict=True) if matches(flt, m)]
        keys = [(namespace, i) for i in ids]
        with self._write():
            before = self._db.total_changes
            self._db.executemany(
                "INSERT INTO removed (row) SELECT seq FROM states WHERE namespace = ? AND id = ?",
                keys,
            )
            self._db.executemany("DELETE FROM states WHERE namespace = ? AND id = ?", keys)
            return (self._db.total_changes - before) // 2

    @_locked
    def has_namespace(self, namespace: str) -> bool:
        """Whether ``namespace`` holds states (from the synced in-memory copy)."""
        self.sync()
        space = self._spaces.get(namespace)
        return space is not None and bool(space.ids)

    @_locked
    def namespace_counts(self) -> dict[str, int]:
        """Records per namespace, read from SQLite."""
        rows = self._db.execute("SELECT namespace, COUNT(*) FROM states GROUP BY namespace")
        return dict(rows.fetchall())

    @_locked
    def fetch(self, namespace: str, ids: list[str]) -> dict[str, tuple[np.ndarray, dict[str, Any]]]:
        """Stored amplitudes and metadata of those ids that exist."""
        out = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT id, amps, metadata FROM states WHERE namespace = ? AND id IN ({marks})",
                [namespace, *chunk],
            )
            for i, blob, meta in rows:
                out[i] = (np.frombuffer(blob, np.complex64).astype(np.complex128), json.loads(meta))
        return out

    @_locked
    def query(
        self,
        namespace: str,
        query: np.ndarray,
        top_k: int,
        flt: dict[str, Any] | None,
        min_fidelity: float | None,
    ) -> list[tuple[str, float, dict[str, Any]]]:
        """Exact top-k by fidelity: float32 scan, proven candidate window, float64 re-rank."""
        self.sync()
        space = self._spaces.get(namespace)
        if space is None or space.amps is None or not space.ids:
            return []
        rows = np.arange(len(space.ids))
        if flt:
            rows = np.flatnonzero([matches(flt, m) for m in space.metadata])
            if rows.size == 0:
                return []
        amps = space.amps if rows.size == len(space.ids) else space.amps[rows]
        q = np.asarray(query, np.complex128)
        overlaps = amps @ np.conj(q).astype(np.complex64)  # complex64 GEMV, no packing copy
        approx = overlaps.real**2 + overlaps.imag**2
        slack = scan_error(2 * amps.shape[1])
        k = min(top_k, approx.size)
        kth = np.partition(approx, approx.size - k)[approx.size - k]
        floor = kth if min_fidelity is None else max(kth, min_fidelity)
        cand = np.flatnonzero(approx >= floor - slack)
        exact = fidelities(q, amps[cand])
        order = np.argsort(-exact, kind="stable")[:top_k]
        out = []
        for j in order:
            if min_fidelity is not None and exact[j] < min_fidelity:
                break
            row = rows[cand[j]]
            out.append((space.ids[row], float(exact[j]), json.loads(space.raw_metadata[row])))
        return out

    @_locked
    def sync(self) -> None:
        """Bring the in-memory copy up to date with SQLite (one read snapshot)."""
        t0 = time.perf_counter()
        self._db.execute("BEGIN")
        try:
            gone = self._db.execute(
                "SELECT seq, row FROM removed WHERE seq > ?", (self._seen_removed,)
            ).fetchall()
            if gone:
                self._seen_removed = gone[-1][0]
                self._drop({row for _, row in gone})
            count = self._load_new()
        finally:
            self._db.execute("COMMIT")
        if gone or count:
            logger.debug(
                "synced %d new, %d removed rows in %.3f s",
                count,
                len(gone),
                time.perf_counter() - t0,
            )

    def _load_new(self) -> int:
        """Append rows newer than the last seen into preallocated arrays, in chunks."""
        newer = (self._seen_state,)
        if self._db.execute("SELECT 1 FROM states WHERE seq > ? LIMIT 1", newer).fetchone() is None:
            return 0
        counts = self._db.execute(  # NOT INDEXED: a seq range, not a scan of the (namespace, id) index
            "SELECT namespace, COUNT(*) FROM states NOT INDEXED WHERE seq > ? GROUP BY namespace",
            newer,
        ).fetchall()
        dim = self.dimension
        fill: dict[str, int] = {}
        for name, n in counts:
            space = self._spaces.setdefault(name, _Namespace())
            old = 0 if space.amps is None else len(space.amps)
            grown = np.empty((old + n, dim), np.complex64)  # one copy, not one per chunk
            if old:
                grown[:old] = space.amps
            space.amps, fill[name] = grown, old
        cursor = self._db.execute(
            "SELECT seq, namespace, id, amps, metadata FROM states WHERE seq > ? ORDER BY seq",
            (self._seen_state,),
        )
        while rows := cursor.fetchmany(SYNC_CHUNK):
            self._seen_state = rows[-1][0]
            for seq, name, vid, blob, meta in rows:
                space = self._spaces[name]
                space.amps[fill[name]] = np.frombuffer(blob, np.complex64)
                fill[name] += 1
                space.new_seqs.append(seq)
                space.ids.append(vid)
                space.raw_metadata.append(meta)
        for space in self._spaces.values():
            if space.new_seqs:
                space.seqs = np.concatenate([space.seqs, np.array(space.new_seqs, np.int64)])
                space.new_seqs = []
        return sum(n for _, n in counts)

    def _drop(self, removed: set[int]) -> None:
        for space in self._spaces.values():
            keep = ~np.isin(space.seqs, np.fromiter(removed, np.int64))
            if keep.all():
                continue
            space.seqs = space.seqs[keep]
            space.ids = [i for i, k in zip(space.ids, keep, strict=True) if k]
            space.raw_metadata = [m for m, k in zip(space.raw_metadata, keep, strict=True) if k]
            space._parsed = None
            space.amps = space.amps[keep] if space.amps is not None else None

    @_locked
    def close(self) -> None:
        """Fold the write-ahead log into the database file and close the connection."""
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._db.close()


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on error): one writer at a time."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> sqlite3.Connection:
        self._db.execute("BEGIN IMMEDIATE")
        return self._db

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
