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
    """

    target: str
    tapes: tuple[int, ...]
    num_wires: int
    shots: int | None
    reason: str
    seconds: float
    failures: tuple[Failure, ...] = ()


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
            lines.append(
                f"  {route.target:<16} {len(route.tapes):>4} tape(s)  {route.num_wires:>3} wires  "
                f"{shots:<12} {route.seconds * 1e3:9.2f} ms  [{route.reason}]"
            )
            lines.extend(
                f"    fallback: {failure.target} failed: {failure.error}"
                for failure in route.failures
            )
        return "\n".join(lines)
