"""Routing strategies: how the router orders a group's fallback chain when targets cost money.

``fastest`` (the default) keeps the policy's chain (simulators; named targets in the order given).
``cheapest`` orders the chain by estimated price, free targets first in the fastest order.
``hardware`` sends sampled tapes to the billed target (QPU) with the shortest expected completion
(queue time plus estimated execution) among those that can take them, then the other QPUs by
completion, then the simulators.

Under every strategy a billed target that is unavailable, degraded, over the budget or whose
status cannot be read leaves the chain for that batch, and the record says why. The numbers
come from each billed target's *standing* (:class:`Standing`), which its registration provides.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

STRATEGIES = ("fastest", "cheapest", "hardware")
"""The values of ``qstore.router``'s ``strategy=`` option."""


@dataclass(frozen=True)
class Standing:
    """What a billed target offers for one group of tapes right now.

    Attributes:
        target: The target's name.
        problem: Why it cannot take the tapes now (``"unavailable"``, ``"degraded"``...), or
            ``None`` when it can.
        queue_s: Expected seconds in the queue before the jobs start.
        execution_s: Estimated seconds of execution of all the tapes.
        estimated_usd: The price the target's device will reserve on the budget for the tapes
            (a target whose estimate exceeds what is left of the budget is skipped).
    """

    target: str
    problem: str | None
    queue_s: float = 0.0
    execution_s: float = 0.0
    estimated_usd: float = 0.0

    @property
    def completion_s(self) -> float:
        """Expected seconds until the results are back: queue plus execution."""
        return self.queue_s + self.execution_s

    def summary(self) -> str:
        """One line for the routing record."""
        if self.problem is not None:
            return f"{self.target}: {self.problem}"
        return (
            f"{self.target} ~{self.completion_s:.1f} s (queue {self.queue_s:.1f} + run "
            f"{self.execution_s:.1f}), ~${self.estimated_usd:.2f}"
        )


StandingFn = Callable[[str], Standing]
"""Returns the standing of the billed target of that name for the group being routed."""


def check_strategy(value: object) -> str:
    """Return ``value`` if it names a strategy.

    Raises:
        ValueError: Otherwise (the message lists the strategies).
    """
    if value not in STRATEGIES:
        raise ValueError(
            f"strategy= takes one of {', '.join(repr(s) for s in STRATEGIES)}, got {value!r}."
        )
    return str(value)


def order_chain(
    strategy: str,
    chain: Sequence[str],
    billed: Callable[[str], bool],
    standing: StandingFn,
    remaining_usd: float,
    sampled: bool,
) -> tuple[str, list[str], list[Standing]]:
    """Order and filter one group's chain for ``strategy``.

    Args:
        strategy: One of :data:`STRATEGIES`.
        chain: The group's chain in the fastest order.
        billed: Whether a target of the chain costs money.
        standing: The standing of a billed target for this group.
        remaining_usd: What is left of the budget (``math.inf`` without one).
        sampled: Whether the tapes have shots (billed targets only sample).

    Returns:
        ``(reason, chain, standings)``: a sentence for the routing record, the new chain and the
        standings consulted (skipped targets included).
    """
    free = [name for name in chain if not billed(name)]
    paid = [name for name in chain if billed(name)]
    if not paid:
        return "", list(chain), []
    if not sampled:
        return "analytic tapes stay on simulators", free, []
    standings = [_within(standing(name), remaining_usd) for name in paid]
    usable = [item for item in standings if item.problem is None]
    kept = {item.target for item in usable}
    if strategy == "hardware":
        ranked = sorted(usable, key=lambda s: (s.completion_s, paid.index(s.target)))
        order = [s.target for s in ranked] + free
        reason = f"hardware: {ranked[0].summary()}" if ranked else "hardware: no QPU can run it"
    elif strategy == "cheapest":
        ranked = sorted(usable, key=lambda s: (s.estimated_usd, paid.index(s.target)))
        order = free + [s.target for s in ranked]
        reason = "cheapest: free targets first" if free else f"cheapest: {ranked[0].summary()}"
    else:
        order = [name for name in chain if name in kept or not billed(name)]
        reason = ""
    return reason, order, standings


def _within(item: Standing, remaining_usd: float) -> Standing:
    """``item``, or a skipped standing when its estimate exceeds the budget left."""
    if item.problem is None and item.estimated_usd > remaining_usd:
        spare = "nothing" if remaining_usd <= 0 else f"${remaining_usd:.2f}"
        return Standing(
            item.target, f"over budget (this batch ~${item.estimated_usd:.2f}, {spare} left)"
        )
    return item
