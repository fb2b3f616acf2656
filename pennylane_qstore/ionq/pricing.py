"""Cost estimates for IonQ jobs from published rates.

Default rates are IonQ's published prices as collected in 2026-11 (through Azure Quantum and
Amazon Braket); check them against your provider's price list. Users can pass their own
:class:`RateCard`. Every circuit of a multi-circuit job is billed as its own job (conservative:
a cost cap built on these estimates never under-counts).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pennylane_qstore.ionq.backends import QPU_BACKENDS


@dataclass(frozen=True)
class RateCard:
    """Per-job prices in USD.

    Attributes:
        name: Where the rates come from.
        minimum: Per-job minimum charge without error mitigation.
        minimum_error_mitigation: Per-job minimum charge with error mitigation on.
        per_1q_gate_shot: Price of one single-qubit gate for one shot.
        per_2q_gate_shot: Price of one two-qubit gate for one shot.
        per_task: Flat price per job (Braket style).
        per_shot: Price per shot, keyed by backend family ("aria", "forte").
    """

    name: str
    minimum: float = 0.0
    minimum_error_mitigation: float = 0.0
    per_1q_gate_shot: float = 0.0
    per_2q_gate_shot: float = 0.0
    per_task: float = 0.0
    per_shot: tuple[tuple[str, float], ...] = ()


AZURE_RATES = RateCard(
    name="azure-quantum",
    minimum=12.4166,
    minimum_error_mitigation=97.50,
    per_1q_gate_shot=0.000220,
    per_2q_gate_shot=0.000975,
)
BRAKET_RATES = RateCard(
    name="amazon-braket", per_task=0.30, per_shot=(("aria", 0.03), ("forte", 0.08))
)
DEFAULT_RATES = AZURE_RATES


def _family(backend: str) -> str:
    return "forte" if "forte" in backend else "aria"


def circuit_cost(
    backend: str,
    shots: int,
    gates_1q: int,
    gates_2q: int,
    error_mitigation: bool = False,
    rates: RateCard = DEFAULT_RATES,
) -> float:
    """Return the estimated USD cost of running one circuit.

    Args:
        backend: IonQ backend name; the ``simulator`` is free.
        shots: Number of shots.
        gates_1q: Number of single-qubit gates in the circuit.
        gates_2q: Number of two-qubit gates in the circuit.
        error_mitigation: Whether debiasing is on (raises the per-job minimum).
        rates: Rate card to price with.
    """
    if backend not in QPU_BACKENDS:
        return 0.0
    minimum = rates.minimum_error_mitigation if error_mitigation else rates.minimum
    per_shot = dict(rates.per_shot).get(_family(backend), 0.0)
    return (
        minimum
        + rates.per_task
        + shots * (per_shot + rates.per_1q_gate_shot * gates_1q + rates.per_2q_gate_shot * gates_2q)
    )


def job_cost(
    backend: str,
    shots: int,
    gate_counts: Iterable[tuple[int, int]],
    error_mitigation: bool = False,
    rates: RateCard = DEFAULT_RATES,
) -> float:
    """Return the estimated USD cost of a job holding circuits with the given gate counts.

    Args:
        backend: IonQ backend name.
        shots: Shots per circuit.
        gate_counts: ``(1q gates, 2q gates)`` for each circuit of the job.
        error_mitigation: Whether debiasing is on.
        rates: Rate card to price with.
    """
    return sum(
        circuit_cost(backend, shots, n1, n2, error_mitigation, rates) for n1, n2 in gate_counts
    )
