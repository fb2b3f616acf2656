"""Turn IonQ result probabilities into the measurements PennyLane asks for.

IonQ answers with basis-state probabilities. Exact probabilities (the ideal simulator) are
sampled with the device's random generator; probabilities that are already a shot histogram
(hardware, noisy simulation) are turned back into that histogram's counts, then shuffled.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from pennylane.measurements import ExpectationMP, MeasurementProcess, ProbabilityMP, VarianceMP
from pennylane.ops import PauliX, PauliY, PauliZ, Prod
from pennylane.tape import QuantumScript
from pennylane.wires import Wires

_FROM_COUNTS = (ExpectationMP, VarianceMP, ProbabilityMP)


def counts_from_probabilities(
    probabilities: Mapping[str, float], shots: int, rng: np.random.Generator, exact: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(basis states, counts)`` adding up to ``shots``.

    Args:
        probabilities: ``{"<decimal basis state>": p}`` as IonQ returns it.
        shots: Number of shots to produce.
        rng: Random generator used to sample exact probabilities.
        exact: Whether the probabilities are exact (sampled here) or a shot histogram (rebuilt).
    """
    states = np.array([int(k) for k in probabilities], dtype=np.int64)
    probs = np.clip(np.array(list(probabilities.values()), dtype=float), 0.0, None)
    probs = probs / probs.sum()
    if exact:
        return states, rng.multinomial(shots, probs)
    raw = probs * shots
    counts = np.floor(raw).astype(np.int64)
    missing = shots - int(counts.sum())
    if missing > 0:
        counts[np.argsort(counts - raw, kind="stable")[:missing]] += 1
    return states, counts


def samples_from_counts(
    states: np.ndarray, counts: np.ndarray, num_qubits: int, rng: np.random.Generator
) -> np.ndarray:
    """Return shuffled samples of shape ``(shots, num_qubits)``; column ``q`` is qubit ``q``."""
    outcomes = rng.permutation(np.repeat(states, counts))
    return ((outcomes[:, None] >> np.arange(num_qubits)) & 1).astype(np.int64)


def marginal(states: np.ndarray, weights: np.ndarray, qubits: Sequence[int]) -> np.ndarray:
    """Return the probability vector of ``qubits`` (first most significant).

    Args:
        states: Basis states (bit ``q`` is physical qubit ``q``).
        weights: Probability (or shot fraction) of each state.
        qubits: The physical qubits to keep, in the order of the result's bits.
    """
    index = np.zeros(len(states), dtype=np.int64)
    for qubit in qubits:
        index = (index << 1) | ((states >> qubit) & 1)
    return np.bincount(index, weights=weights, minlength=2 ** len(qubits)).astype(float)


def from_probabilities(mp: MeasurementProcess, probs: np.ndarray) -> Any:
    """Return ``mp``'s value from the probabilities of its wires (first wire most significant).

    ``expval``/``var`` read their observable's eigenvalues in the basis its diagonalizing gates
    rotate to, so those gates must have run. Used by the device (:func:`measure`) and by the
    compiler's :func:`~pennylane_qstore.ionq.compiler.to_native` post-processing.
    """
    if isinstance(mp, ProbabilityMP):
        return probs
    if not isinstance(mp, ExpectationMP | VarianceMP):
        raise TypeError(f"{type(mp).__name__} cannot be computed from probabilities alone")
    eigvals = _eigvals(mp)
    mean = probs @ eigvals
    if isinstance(mp, ExpectationMP):
        return mean
    return probs @ eigvals**2 - mean**2


def _eigvals(mp: MeasurementProcess) -> np.ndarray:
    """``mp.eigvals()`` as floats; for a product of Paulis on distinct wires (a Pauli word after
    ``split_non_commuting``) the ±1 parities PennyLane's ``Prod.eigvals`` multiplies out, exactly,
    without expanding every factor to the product's wires."""
    obs = mp.obs
    if (
        type(obs) is Prod
        and all(type(factor) in _PAULIS for factor in obs.operands)
        and len(obs.wires) == len(obs.operands)
    ):
        return _parities(len(obs.operands))
    return np.asarray(mp.eigvals(), dtype=float)


_PAULIS = frozenset({PauliX, PauliY, PauliZ})


@functools.lru_cache(maxsize=32)
def _parities(qubits: int) -> np.ndarray:
    """``(-1) ** popcount(i)`` for ``i < 2 ** qubits``: the eigenvalues of a ``qubits``-Pauli word
    (read-only: one array serves every caller)."""
    values = np.ones(1)
    for _ in range(qubits):
        values = np.concatenate([values, -values])
    values.flags.writeable = False
    return values


def measure(
    circuit: QuantumScript,
    states: np.ndarray,
    counts: np.ndarray,
    qubits: Sequence[int],
    wire_order: Wires,
    rng: np.random.Generator,
) -> Any:
    """Return the circuit's results from shot counts taken in its measurement basis.

    The circuit's diagonalizing gates must already have run. ``expval``, ``var`` and ``probs`` on
    wires are computed from the counts directly (cheap at a million shots); other measurements
    and shot vectors get a shuffled sample array, each shot-vector bin its own slice.

    Args:
        circuit: The executed circuit.
        states: Measured basis states (bit ``q`` is physical qubit ``q``).
        counts: Shots per basis state.
        qubits: Physical qubit holding each wire of ``wire_order`` at the end of the circuit.
        wire_order: Wire labels, in the order of ``qubits``.
        rng: Generator used to shuffle samples.
    """
    columns = np.asarray(qubits, dtype=np.int64)
    from_counts = not circuit.shots.has_partitioned_shots and all(
        isinstance(mp, _FROM_COUNTS) and mp.wires for mp in circuit.measurements
    )
    if from_counts:
        shots = max(int(np.sum(counts)), 1)
        values = tuple(
            from_probabilities(
                mp, marginal(states, counts / shots, columns[wire_order.indices(mp.wires)])
            )
            for mp in circuit.measurements
        )
        return values[0] if len(values) == 1 else values

    samples = samples_from_counts(states, counts, int(columns.max(initial=-1)) + 1, rng)
    samples = samples[:, columns]

    def one_bin(start: int, stop: int) -> Any:
        values = tuple(
            mp.process_samples(samples, wire_order, shot_range=(start, stop))
            for mp in circuit.measurements
        )
        return values[0] if len(values) == 1 else values

    bins = list(circuit.shots.bins())
    if circuit.shots.has_partitioned_shots:
        return tuple(one_bin(start, stop) for start, stop in bins)
    return one_bin(*bins[0])
