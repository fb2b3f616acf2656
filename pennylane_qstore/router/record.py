"""The routing record: which tapes of a batch ran on which target, for how long, and fallbacks."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Failure:
    """A target that raised while executing tapes (they then went to the next target).

    Attributes:
        target: Name of the target that failed.
        error: ``"ExceptionType: message"`` of what it raised.
    """

    target: str
    error: str


@dataclass(frozen=True)
class Route:
    """One group of tapes executed together on one target.

    Attributes:
        target: Target that produced the results.
        tapes: Indices of the tapes in the executed batch.
        num_wires: Largest wire count among these tapes.
        shots: Total shots per tape (``None`` for analytic execution).
        reason: The policy rule (or user option) that chose the first target of the chain.
        seconds: Wall time spent on this group, failed attempts included.
        failures: Targets tried before ``target`` that raised, in order.
        skipped: Billed targets left out of the chain for this group, each with why
            (unavailable, degraded, over budget...).
        estimated_usd: The estimated price of the group (0 on free targets).
        cost_usd: What it was billed (``None`` while the provider has not said).
    """

    target: str
    tapes: tuple[int, ...]
    num_wires: int
    shots: int | None
    reason: str
    seconds: float
    failures: tuple[Failure, ...] = ()
    skipped: tuple[str, ...] = ()
    estimated_usd: float = 0.0
    cost_usd: float | None = 0.0


@dataclass
class RoutingRecord:
    """How the router executed one batch (one ``execute`` or derivative call).

    Attributes:
        kind: ``"execute"`` or ``"derivatives"``.
        num_tapes: Number of tapes in the batch.
        routes: One :class:`Route` per target group, in execution order.
    """

    kind: str
    num_tapes: int
    routes: list[Route] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        """Total wall time of the batch."""
        return sum(route.seconds for route in self.routes)

    @property
    def fallbacks(self) -> list[Failure]:
        """Every failure that sent tapes to a later target."""
        return [failure for route in self.routes for failure in route.failures]

    @property
    def cost_usd(self) -> float | None:
        """What the batch was billed, ``None`` while any group's bill is unknown."""
        costs = [route.cost_usd for route in self.routes]
        return None if any(c is None for c in costs) else float(sum(costs))

    def tapes_per_target(self) -> dict[str, int]:
        """Return how many tapes each target executed."""
        counts: Counter[str] = Counter()
        for route in self.routes:
            counts[route.target] += len(route.tapes)
        return dict(counts)

    def target_of(self, tape_index: int) -> str:
        """Return the target that executed tape ``tape_index`` of the batch.

        Raises:
            IndexError: If the batch had no such tape.
        """
        for route in self.routes:
            if tape_index in route.tapes:
                return route.target
        raise IndexError(f"tape {tape_index} is not in this batch of {self.num_tapes} tapes")

    def __str__(self) -> str:
        lines = [f"{self.kind}: {self.num_tapes} tape(s) in {self.seconds * 1e3:.2f} ms"]
        for route in self.routes:
            shots = "analytic" if route.shots is None else f"{route.shots} shots"
            cost = "" if not route.estimated_usd else _money(route)
            lines.append(
                f"  {route.target:<16} {len(route.tapes):>4} tape(s)  {route.num_wires:>3} wires  "
                f"{shots:<12} {route.seconds * 1e3:9.2f} ms{cost}  [{route.reason}]"
            )
            lines.extend(f"    skipped: {note}" for note in route.skipped)
            lines.extend(
                f"    fallback: {failure.target} failed: {failure.error}"
                for failure in route.failures
            )
        return "\n".join(lines)


def _money(route: Route) -> str:
    billed = "billed ?" if route.cost_usd is None else f"billed ${route.cost_usd:.2f}"
    return f"  est ${route.estimated_usd:.2f}, {billed}"
