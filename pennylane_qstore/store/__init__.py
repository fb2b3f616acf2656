"""A database of quantum states with exact fidelity search (embedded SQLite or Pinecone).

>>> store = QuantumStateStore("states/")           # or QuantumStateStore.pinecone(host, api_key)
>>> store.add(states, metadata={"epoch": 3})        # one statevector per row, or a QNode
>>> store.query(psi, top_k=5, filter={"label": 2})  # [Match(id, fidelity, metadata), ...]
"""

from pennylane_qstore.store.filters import FilterError, MetadataError
from pennylane_qstore.store.server import LocalPineconeServer
from pennylane_qstore.store.states import StateError
from pennylane_qstore.store.store import (
    DEFAULT_NAMESPACE,
    Match,
    QuantumStateStore,
    StoredState,
    UnknownNamespaceError,
)

__all__ = [
    "DEFAULT_NAMESPACE",
    "FilterError",
    "LocalPineconeServer",
    "Match",
    "MetadataError",
    "QuantumStateStore",
    "StateError",
    "StoredState",
    "UnknownNamespaceError",
]
