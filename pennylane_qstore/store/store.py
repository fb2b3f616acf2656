"""``QuantumStateStore``: store statevectors with metadata and find the closest by fidelity."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pennylane_qstore.store.embedded import EmbeddedBackend
from pennylane_qstore.store.filters import validate_filter, validate_metadata
from pennylane_qstore.store.states import StateError, as_states, check_dimension

logger = logging.getLogger(__name__)

DEFAULT_NAMESPACE = "default"
MAX_ID_LENGTH = 512


class UnknownNamespaceError(KeyError):
    """A namespace that holds no states."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class Match:
    """One query result: ``fidelity`` is ``|<query|state>|**2``, exact in float64."""

    id: str
    fidelity: float
    metadata: dict[str, Any]


@dataclass(frozen=True)
class StoredState:
    """A fetched record: its amplitudes (complex128) and metadata."""

    id: str
    state: np.ndarray
    metadata: dict[str, Any]


class QuantumStateStore:
    """A database of quantum states, searched by exact fidelity.

    ``QuantumStateStore(path)`` opens or creates the embedded store in directory ``path``;
    :meth:`pinecone` opens one on a Pinecone index. Both behave the same.

    Args:
        path: directory of the embedded store.
        num_qubits: fix the qubit count up front (else the first ``add`` sets it).
    """

    def __init__(self, path: str | Path, num_qubits: int | None = None) -> None:
        self._init(EmbeddedBackend(path), num_qubits)

    @classmethod
    def pinecone(
        cls, host: str, api_key: str | None = None, num_qubits: int | None = None
    ) -> QuantumStateStore:
        """Open a store on the Pinecone index at ``host`` (``metric="dotproduct"``).

        Args:
            host: the index host, e.g. ``https://NAME-PROJECT.svc.REGION.pinecone.io`` or a local
                server's ``url``.
            api_key: defaults to ``$PINECONE_API_KEY``.
            num_qubits: fix the qubit count up front (checked against the index dimension).
        """
        from pennylane_qstore.store.pinecone_backend import PineconeBackend

        store = cls.__new__(cls)
        store._init(PineconeBackend(host, api_key), num_qubits)
        return store

    def _init(self, backend: Any, num_qubits: int | None) -> None:
        self._backend = backend
        if num_qubits is not None:
            if not isinstance(num_qubits, int) or num_qubits < 1:
                raise ValueError(f"num_qubits must be a positive int, got {num_qubits!r}")
            dim = backend.set_dimension(2**num_qubits)
            if dim != 2**num_qubits:
                raise StateError(
                    f"this store holds {dim.bit_length() - 1}-qubit states, not {num_qubits}; "
                    "open it without num_qubits or use another store"
                )

    @property
    def backend(self) -> str:
        """``"embedded"`` or ``"pinecone"``."""
        return self._backend.name

    @property
    def num_qubits(self) -> int | None:
        """Qubits of the stored states (``None`` until the first ``add``)."""
        dim = self._backend.dimension
        return None if dim is None else dim.bit_length() - 1

    def add(
        self,
        states: Any,
        ids: Sequence[str] | None = None,
        metadata: dict[str, Any] | Sequence[dict[str, Any]] | None = None,
        namespace: str = DEFAULT_NAMESPACE,
        params: Iterable[Any] | None = None,
        normalize: bool = False,
    ) -> list[str]:
        """Store states (insert, or replace records with the same id) and return their ids.

        Args:
            states: statevectors (one per row), tapes returning ``qml.state()``, or a QNode
                returning ``qml.state()`` together with ``params``; circuits run on
                ``qstore.router`` and their description is added to the metadata.
            ids: one str per state; default: random UUIDs.
            metadata: one dict for all states or one per state (str, number, bool or list of
                str values; filterable).
            namespace: partition to store in.
            params: for a QNode, the argument tuples, one state each.
            normalize: rescale states to norm 1 instead of refusing them.
        """
        _check_namespace(namespace)
        amps, circuit_meta = as_states(states, params=params, normalize=normalize)
        n = amps.shape[0]
        check_dimension(amps, self._backend.dimension, "the added state")
        ids = _check_ids(ids, n)
        metas = _metadata_list(metadata, n)
        records = [
            validate_metadata({**c, **m}, f"metadata[{i}]")
            for i, (c, m) in enumerate(zip(circuit_meta, metas, strict=True))
        ]
        self._backend.set_dimension(amps.shape[1])
        self._backend.upsert(namespace, ids, amps, records)
        logger.info("stored %d states in namespace %r", n, namespace)
        return ids

    def query(
        self,
        state: Any,
        top_k: int = 10,
        filter: dict[str, Any] | None = None,
        namespace: str = DEFAULT_NAMESPACE,
        min_fidelity: float | None = None,
        params: Iterable[Any] | None = None,
        normalize: bool = False,
    ) -> list[Match]:
        """The stored states closest to ``state``, best first (exact, certified top-k).

        Args:
            state: one statevector, a tape or a QNode (with ``params`` for one call).
            top_k: how many matches at most.
            filter: Pinecone-syntax metadata filter, e.g. ``{"label": {"$in": [1, 2]}}``.
            namespace: partition to search; it must hold states.
            min_fidelity: drop matches below this fidelity.
            params: QNode arguments (a single tuple).
            normalize: rescale the query to norm 1 instead of refusing it.
        """
        if not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1:
            raise ValueError(f"top_k must be a positive int, got {top_k!r}")
        if min_fidelity is not None and not 0 <= min_fidelity <= 1:
            raise ValueError(f"min_fidelity must lie in [0, 1], got {min_fidelity!r}")
        flt = validate_filter(filter)
        amps, _ = as_states(state, params=None if params is None else [params], normalize=normalize)
        if amps.shape[0] != 1:
            raise StateError(f"query takes one state, got {amps.shape[0]}; loop over them")
        check_dimension(amps, self._backend.dimension, "the query state")
        self._require_namespace(namespace)
        found = self._backend.query(namespace, amps[0], top_k, flt, min_fidelity)
        return [Match(i, f, m) for i, f, m in found]

    def fetch(
        self, ids: Sequence[str], namespace: str = DEFAULT_NAMESPACE
    ) -> dict[str, StoredState]:
        """Records by id (ids that do not exist are left out)."""
        ids = _check_ids(list(ids), len(ids), allow_repeat=True)
        self._require_namespace(namespace)
        found = self._backend.fetch(namespace, ids)
        return {i: StoredState(i, s, m) for i, (s, m) in found.items()}

    def delete(
        self,
        ids: Sequence[str] | None = None,
        namespace: str = DEFAULT_NAMESPACE,
        filter: dict[str, Any] | None = None,
        delete_all: bool = False,
    ) -> None:
        """Delete records by ``ids``, by ``filter``, or all of a namespace (``delete_all=True``)."""
        flt = validate_filter(filter)
        chosen = (ids is not None) + (flt is not None) + bool(delete_all)
        if chosen != 1:
            raise ValueError(
                "delete takes exactly one of ids=[...], filter={...} or delete_all=True"
            )
        self._require_namespace(namespace)
        ids = None if ids is None else _check_ids(list(ids), len(ids), allow_repeat=True)
        self._backend.delete(namespace, ids, flt)

    def count(self, namespace: str | None = None) -> int:
        """Records in ``namespace`` (0 if it holds none), or in all namespaces."""
        counts = self._backend.namespace_counts()
        return sum(counts.values()) if namespace is None else counts.get(namespace, 0)

    def namespaces(self) -> list[str]:
        """Namespaces that hold states, sorted."""
        return sorted(self._backend.namespace_counts())

    def stats(self) -> dict[str, Any]:
        """Backend, qubit count, total records and records per namespace."""
        counts = self._backend.namespace_counts()
        return {
            "backend": self.backend,
            "num_qubits": self.num_qubits,
            "total": sum(counts.values()),
            "namespaces": dict(sorted(counts.items())),
        }

    def close(self) -> None:
        """Release the backend's connection."""
        self._backend.close()

    def __enter__(self) -> QuantumStateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _require_namespace(self, namespace: str) -> None:
        _check_namespace(namespace)
        if not self._backend.has_namespace(namespace):
            known = self._backend.namespace_counts()
            raise UnknownNamespaceError(
                f"namespace {namespace!r} holds no states; existing: {sorted(known) or 'none'}; "
                "add states there first or pass one of these"
            )


def _check_namespace(namespace: Any) -> None:
    if not isinstance(namespace, str) or not namespace:
        raise ValueError(f"namespace must be a non-empty str, got {namespace!r}")


def _check_ids(ids: Sequence[str] | None, n: int, allow_repeat: bool = False) -> list[str]:
    if ids is None:
        return [uuid.uuid4().hex for _ in range(n)]
    ids = list(ids)
    if len(ids) != n:
        raise ValueError(f"got {len(ids)} ids for {n} states; pass one id per state")
    for i in ids:
        if not isinstance(i, str) or not i or len(i) > MAX_ID_LENGTH:
            raise ValueError(f"id {i!r} must be a non-empty str of at most {MAX_ID_LENGTH} chars")
    if not allow_repeat and len(set(ids)) != n:
        raise ValueError("ids repeat within one add; give each state its own id")
    return ids


def _metadata_list(metadata: Any, n: int) -> list[dict[str, Any]]:
    if metadata is None or isinstance(metadata, dict):
        return [dict(metadata or {}) for _ in range(n)]
    metas = list(metadata)
    if len(metas) != n:
        raise ValueError(f"got {len(metas)} metadata dicts for {n} states; pass one per state")
    return metas
