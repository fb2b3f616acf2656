"""Turning user input into validated statevectors, and the exact fidelity.

States are stored as complex64 amplitudes; ``embed`` writes them as the real vector
``[Re psi, Im psi]`` that vector indexes hold. Fidelities are always recomputed in float64 from
the stored amplitudes.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

NORM_TOLERANCE = 1e-6
"""Largest accepted deviation of a state's norm from 1 (unless ``normalize=True``)."""


class StateError(ValueError):
    """A state that cannot be stored or queried: wrong shape, dimension, norm or NaN."""


def as_states(
    states: Any, params: Iterable[Any] | None = None, normalize: bool = False
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Return ``(amplitudes, circuit metadata)`` for arrays, tapes or a QNode.

    Args:
        states: a statevector, a 2-D array with one state per row, a tape (or list of tapes)
            ending in ``qml.state()``, or a QNode returning ``qml.state()``.
        params: for a QNode, an iterable of argument tuples (one state each); a bare value is
            one argument. ``None`` calls the QNode once without arguments.
        normalize: divide each state by its norm instead of refusing non-normalised ones.

    Returns:
        complex128 array of shape (n, 2**q) and, per state, metadata describing its circuit
        (empty for plain arrays).
    """
    qml = sys.modules.get("pennylane")  # not loaded: the input cannot be a QNode or tape
    if qml is None:
        if params is not None:
            raise StateError("params= is only used with a QNode; pass arrays without it")
        return _array_states(states, normalize)
    if isinstance(states, qml.QNode):
        tapes, meta = _qnode_tapes(states, params)
        return _validated(_simulate(tapes, states.device.wires), normalize), meta
    if params is not None:
        raise StateError("params= is only used with a QNode; pass arrays or tapes without it")
    if isinstance(states, qml.tape.QuantumScript):
        states = [states]
    if isinstance(states, Sequence) and states and isinstance(states[0], qml.tape.QuantumScript):
        meta = [{"circuit": _describe(t)} for t in states]
        return _validated(_simulate(list(states)), normalize), meta
    return _array_states(states, normalize)


def _array_states(states: Any, normalize: bool) -> tuple[np.ndarray, list[dict[str, Any]]]:
    arr = np.asarray(states)
    if arr.ndim == 1:
        arr = arr[None, :]
    return _validated(arr, normalize), [{} for _ in range(arr.shape[0])]


def _qnode_tapes(qnode: Any, params: Iterable[Any] | None) -> tuple[list, list[dict[str, Any]]]:
    import pennylane as qml

    calls = [()] if params is None else [p if isinstance(p, tuple) else (p,) for p in params]
    tapes, meta = [], []
    for args in calls:
        tape = qml.workflow.construct_tape(qnode)(*args)
        tapes.append(tape)
        flat = np.concatenate([np.ravel(np.asarray(a, dtype=float)) for a in args] or [[]])
        meta.append(
            {
                "circuit": _describe(tape),
                "qnode": getattr(qnode.func, "__name__", "qnode"),
                "params": [repr(float(x)) for x in flat],
            }
        )
    return tapes, meta


def _describe(tape: Any) -> str:
    """A short text form of a tape's operations (kept under the metadata size limit)."""
    text = "; ".join(
        f"{op.name}({', '.join(f'{float(p):.6g}' for p in op.parameters if np.ndim(p) == 0)})"
        f"@{list(op.wires)}"
        for op in tape.operations
    )
    return text if len(text) <= 4000 else text[:3997] + "..."


def _simulate(tapes: list, wires: Any = None) -> np.ndarray:
    """Statevectors of tapes that end in ``qml.state()``, simulated on ``qstore.router``.

    ``wires`` (a QNode's device wires) fixes the register; by default it is the tapes' wires.
    """
    import pennylane as qml

    for i, tape in enumerate(tapes):
        if len(tape.measurements) != 1 or not isinstance(
            tape.measurements[0], qml.measurements.StateMP
        ):
            raise StateError(
                f"circuit {i} must return only qml.state() to be stored; "
                f"it returns {tape.measurements}"
            )
    if wires is None:
        wires = tapes[0].wires if len(tapes[0].wires) else qml.wires.Wires([0])
        for tape in tapes:
            wires = wires + [w for w in tape.wires if w not in wires]
    dev = qml.device("qstore.router", wires=wires)
    results = qml.execute(tapes, dev, diff_method=None)
    return np.stack([np.asarray(r, dtype=np.complex128) for r in results])


def _validated(arr: np.ndarray, normalize: bool) -> np.ndarray:
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise StateError(
            f"states must be a 1-D state or a 2-D array of states, got shape {arr.shape}"
        )
    dim = arr.shape[1]
    if dim < 2 or dim & (dim - 1):
        raise StateError(f"a state has 2**n amplitudes; got {dim} (not a power of two >= 2)")
    if not np.issubdtype(arr.dtype, np.number):
        raise StateError(f"states must be numeric arrays, got dtype {arr.dtype}")
    arr = arr.astype(np.complex128)
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        raise StateError(f"state {int(np.argmax(bad))} contains NaN or inf amplitudes")
    norms = np.linalg.norm(arr, axis=1)
    if normalize:
        if (norms == 0).any():
            raise StateError(f"state {int(np.argmax(norms == 0))} is the zero vector")
        return arr / norms[:, None]
    off = np.abs(norms - 1) > NORM_TOLERANCE
    if off.any():
        i = int(np.argmax(off))
        raise StateError(
            f"state {i} has norm {norms[i]:.8g}, not 1; pass normalised states or normalize=True"
        )
    return arr


def check_dimension(arr: np.ndarray, dim: int | None, where: str) -> None:
    """Refuse states whose amplitude count differs from the store's."""
    if dim is not None and arr.shape[1] != dim:
        raise StateError(
            f"{where} has {arr.shape[1]} amplitudes ({arr.shape[1].bit_length() - 1} qubits) but "
            f"this store holds {dim}-amplitude states ({dim.bit_length() - 1} qubits); use one "
            "store per qubit count"
        )


def embed(amps: np.ndarray) -> np.ndarray:
    """Real embedding ``[Re, Im]`` (float32) of complex states, one per row."""
    amps = np.atleast_2d(amps)
    return np.ascontiguousarray(np.concatenate([amps.real, amps.imag], axis=1), dtype=np.float32)


def unembed(vectors: np.ndarray) -> np.ndarray:
    """Complex states (complex128) from real embeddings, one per row."""
    vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float64))
    half = vectors.shape[1] // 2
    return vectors[:, :half] + 1j * vectors[:, half:]


def fidelities(query: np.ndarray, amps: np.ndarray) -> np.ndarray:
    """Exact ``|<query|amp>|**2`` in float64 for each row of ``amps``."""
    overlaps = np.asarray(amps, dtype=np.complex128) @ np.conj(np.asarray(query, np.complex128))
    return overlaps.real**2 + overlaps.imag**2
