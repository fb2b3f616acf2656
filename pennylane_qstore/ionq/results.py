"""Turn IonQ result probabilities into the measurements PennyLane asks for.

IonQ answers with basis-state probabilities. Exact probabilities (the ideal simulator) are
sampled with the device's random generator; probabilities that are already a shot histogram
(hardware, noisy simulation) are turned back into that histogram's counts, then shuffled.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from pennylane.tape import QuantumScript
from pennylane.wires import Wires


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


def measure(circuit: QuantumScript, samples: np.ndarray, wire_order: Wires) -> Any:
    """Return the circuit's results from samples taken in its measurement basis.

    The circuit's diagonalizing gates must already have run before sampling. Shot vectors are
    honoured: each bin gets its own slice of the samples.
    """

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
