"""The Pinecone backend, through the official ``pinecone`` SDK's data-plane ``Index``.

The index holds ``[Re psi, Im psi]`` (dimension ``2 * 2**n``, metric ``dotproduct``). A query is
sent as four phase-rotated vectors and certified as described in
:mod:`pennylane_qstore.store.retrieval`; uncertified answers widen ``top_k`` up to Pinecone's
limit and then fall back to an exhaustive ``list`` + ``fetch`` scan.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import numpy as np

from pennylane_qstore.store.filters import matches
from pennylane_qstore.store.retrieval import ROTATIONS, certified, rotated_queries, unseen_bound
from pennylane_qstore.store.states import embed, fidelities, unembed

logger = logging.getLogger(__name__)

MAX_DIMENSION = 20_000
"""Pinecone's largest dense dimension: states of at most 13 qubits (2 * 2**13 = 16384)."""
MAX_UPSERT_RECORDS = 1_000
MAX_REQUEST_BYTES = 2_000_000
MAX_IDS_PER_REQUEST = 1_000
MAX_TOP_K_WITH_VALUES = 1_000
"""Pinecone answers at most 1,000 matches per query when values are included."""


def _sdk() -> Any:
    try:
        import pinecone
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "the Pinecone backend needs the pinecone SDK: pip install pennylane-qstore[store]"
        ) from exc
    return pinecone


class PineconeBackend:
    """States in one Pinecone index (dotproduct), reached at ``host`` with ``api_key``."""

    name = "pinecone"

    def __init__(self, host: str, api_key: str | None = None, timeout: float = 30.0) -> None:
        key = api_key or os.environ.get("PINECONE_API_KEY")
        if not key:
            raise ValueError(
                "no Pinecone API key: pass api_key=... or set PINECONE_API_KEY "
                "(for the local server: its .api_key, or the key given to qstore pinecone-server)"
            )
        pc = _sdk().Pinecone(api_key=key)
        self.host = host
        self._index = pc.Index(host=host)
        self._timeout = timeout
        stats = self._index.describe_index_stats(timeout=timeout)
        self._dimension = stats.dimension
        metric = getattr(stats, "metric", None)
        if metric not in (None, "dotproduct", "cosine"):
            raise ValueError(
                f"the Pinecone index at {host} uses metric {metric!r}; create it with "
                "metric='dotproduct' (fidelity search ranks by inner products)"
            )
        if self._dimension is not None and (
            self._dimension % 2 or self._dimension & (self._dimension - 1)
        ):
            raise ValueError(
                f"the Pinecone index at {host} has dimension {self._dimension}; a store of n-qubit "
                "states needs dimension 2 * 2**n (real and imaginary parts)"
            )

    @property
    def dimension(self) -> int | None:
        return None if self._dimension is None else self._dimension // 2

    def set_dimension(self, dim: int) -> int:
        """Check that states of ``dim`` amplitudes fit this index and Pinecone's limit."""
        if 2 * dim > MAX_DIMENSION:
            raise ValueError(
                f"{dim.bit_length() - 1}-qubit states need dimension {2 * dim}, over Pinecone's "
                f"limit of {MAX_DIMENSION} (13 qubits at most); use the embedded store "
                "QuantumStateStore(path) for wider states"
            )
        if self._dimension is None:
            self._dimension = 2 * dim
        return self._dimension // 2

    def upsert(
        self, namespace: str, ids: list[str], amps: np.ndarray, metadata: list[dict[str, Any]]
    ) -> None:
        """Upsert in batches under Pinecone's limits (1,000 records and 2 MB per request)."""
        vectors = embed(amps)
        batch: list[dict[str, Any]] = []
        size = 0
        for i, vec, meta in zip(ids, vectors, metadata, strict=True):
            record = {"id": i, "values": vec.tolist(), "metadata": meta}
            rec_size = len(json.dumps(record)) + 2
            if batch and (
                len(batch) == MAX_UPSERT_RECORDS or size + rec_size > MAX_REQUEST_BYTES - 1024
            ):
                self._send(batch, namespace)
                batch, size = [], 0
            batch.append(record)
            size += rec_size
        if batch:
            self._send(batch, namespace)

    def _send(self, batch: list[dict[str, Any]], namespace: str) -> None:
        self._index.upsert(
            vectors=batch, namespace=namespace, show_progress=False, timeout=self._timeout
        )
        logger.debug("upserted %d records into %r", len(batch), namespace)

    def delete(self, namespace: str, ids: list[str] | None, flt: dict[str, Any] | None) -> None:
        """Delete by ids (in chunks of 1,000), by filter, or everything in the namespace."""
        if ids is not None:
            for start in range(0, len(ids), MAX_IDS_PER_REQUEST):
                chunk = ids[start : start + MAX_IDS_PER_REQUEST]
                self._index.delete(ids=chunk, namespace=namespace, timeout=self._timeout)
        elif flt:
            self._index.delete(filter=flt, namespace=namespace, timeout=self._timeout)
        else:
            self._index.delete(delete_all=True, namespace=namespace, timeout=self._timeout)

    def namespace_counts(self) -> dict[str, int]:
        """Records per non-empty namespace, from ``describe_index_stats``."""
        stats = self._index.describe_index_stats(timeout=self._timeout)
        return {name: s.vector_count for name, s in stats.namespaces.items() if s.vector_count}

    def has_namespace(self, namespace: str) -> bool:
        """Whether ``namespace`` holds states."""
        return namespace in self.namespace_counts()

    def fetch(self, namespace: str, ids: list[str]) -> dict[str, tuple[np.ndarray, dict[str, Any]]]:
        """Stored states and metadata of those ids that exist, 1,000 ids per request."""
        out = {}
        for start in range(0, len(ids), MAX_IDS_PER_REQUEST):
            chunk = ids[start : start + MAX_IDS_PER_REQUEST]
            resp = self._index.fetch(ids=chunk, namespace=namespace, timeout=self._timeout)
            for vid, vec in resp.vectors.items():
                out[vid] = (unembed(np.asarray(vec.values))[0], dict(vec.metadata or {}))
        return out

    def query(
        self,
        namespace: str,
        query: np.ndarray,
        top_k: int,
        flt: dict[str, Any] | None,
        min_fidelity: float | None,
    ) -> list[tuple[str, float, dict[str, Any]]]:
        """Certified exact top-k: rotated queries, widening ``top_k`` until the bound holds."""
        rotated = rotated_queries(query, ROTATIONS)
        depth = min(MAX_TOP_K_WITH_VALUES, max(2 * top_k, top_k + 20))
        while True:
            found: dict[str, tuple[np.ndarray, dict[str, Any]]] = {}
            kth_scores: list[float | None] = []
            for vec in rotated:
                resp = self._index.query(
                    vector=vec.tolist(), top_k=depth, namespace=namespace, filter=flt,
                    include_values=True, include_metadata=True, timeout=self._timeout,
                )  # fmt: skip
                for m in resp.matches:
                    found.setdefault(m.id, (np.asarray(m.values), dict(m.metadata or {})))
                full = len(resp.matches) >= depth
                kth_scores.append(resp.matches[-1].score if full else None)
            ranked = _rank(query, found)
            bound = unseen_bound(kth_scores, ROTATIONS)
            if certified([f for _, f, _ in ranked], top_k, bound, min_fidelity):
                return _cut(ranked, top_k, min_fidelity)
            if depth == MAX_TOP_K_WITH_VALUES:
                logger.info(
                    "rotated queries not certified at top_k=%d; scanning %r", depth, namespace
                )
                return _cut(_rank(query, self._scan(namespace, flt)), top_k, min_fidelity)
            depth = min(MAX_TOP_K_WITH_VALUES, 4 * depth)

    def _scan(
        self, namespace: str, flt: dict[str, Any] | None
    ) -> dict[str, tuple[np.ndarray, dict]]:
        """Every record of a namespace matching ``flt``, by ``list`` and ``fetch``."""
        ids = [item.id for page in self._index.list(namespace=namespace) for item in page.vectors]
        return {
            i: (embed(s)[0], m)
            for i, (s, m) in self.fetch(namespace, ids).items()
            if matches(flt, m)
        }

    def close(self) -> None:
        """Nothing to release (the SDK's HTTP client closes with the process)."""


def _rank(
    query: np.ndarray, found: dict[str, tuple[np.ndarray, dict]]
) -> list[tuple[str, float, dict]]:
    if not found:
        return []
    ids = list(found)
    exact = fidelities(query, unembed(np.stack([found[i][0] for i in ids])))
    order = np.argsort(-exact, kind="stable")
    return [(ids[j], float(exact[j]), found[ids[j]][1]) for j in order]


def _cut(ranked: list, top_k: int, min_fidelity: float | None) -> list:
    if min_fidelity is not None:
        ranked = [r for r in ranked if r[1] >= min_fidelity]
    return ranked[:top_k]
