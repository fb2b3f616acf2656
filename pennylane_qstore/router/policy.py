"""Routing policy v1: picks the first target of each tape's fallback chain.

Rules, first match wins (thresholds measured with ``benchmarks/routing.py``, see docs/router.md):

1. ``backprop`` derivatives -> ``backprop_targets`` (targets that keep the autodiff graph).
2. ``adjoint`` derivatives -> ``adjoint_targets``.
3. Sampled tapes, when the user lists ``shots_targets`` (e.g. ``("ionq",)``) -> those.
   Tapes measuring classical shadows -> ``shadow_targets`` (few simulators run them).
4. At least ``wide_wires`` wires -> ``wide_targets`` (qsim's gate fusion pays off).
5. Broadcasted tapes (parameter batches) below ``broadcast_wires`` wires -> ``broadcast_targets``
   (NumPy broadcasting).
6. Everything else -> ``small_targets``.

``diff_method="best"`` resolves to ``adjoint`` from ``adjoint_wires`` wires on, else ``backprop``.

Names that are not available here are skipped, so a policy can name optional targets such as
``lightning.gpu`` or ``engine``; a name no target is registered under is refused when the policy
is built (a typo would otherwise silently never route anything).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class TapeInfo:
    """What the policy knows about one tape.

    Attributes:
        num_wires: Wires the tape acts on.
        shots: Total shots, ``None`` when analytic.
        broadcast: Parameter-broadcasting batch size, ``None`` when not broadcasted.
        gradient_method: Device derivative method in use (``"adjoint"``, ``"backprop"``) or ``None``.
        shadow: Whether the tape measures a classical shadow.
    """

    num_wires: int
    shots: int | None
    broadcast: int | None
    gradient_method: str | None
    shadow: bool = False


@dataclass(frozen=True)
class RoutingPolicy:
    """Ordered target preferences of each routing rule (see the module docstring).

    Attributes:
        wide_wires: Wire count from which a tape counts as wide.
        broadcast_wires: Broadcasted tapes with fewer wires go to ``broadcast_targets``.
        adjoint_wires: Wire count from which ``diff_method="best"`` means ``adjoint``.
        backprop_targets: Preference order for ``backprop`` derivatives.
        adjoint_targets: Preference order for ``adjoint`` derivatives.
        shots_targets: If non-empty, sampled tapes go to these first (opt-in, e.g. hardware).
        wide_targets: Preference order for wide tapes.
        broadcast_targets: Preference order for broadcasted tapes that are not wide.
        small_targets: Preference order for everything else.
        shadow_targets: Preference order for sampled tapes measuring classical shadows.
    """

    wide_wires: int = 18
    broadcast_wires: int = 12
    adjoint_wires: int = 1
    backprop_targets: tuple[str, ...] = ("default.qubit",)
    adjoint_targets: tuple[str, ...] = ("lightning.gpu", "lightning.qubit", "default.qubit")
    shots_targets: tuple[str, ...] = ()
    wide_targets: tuple[str, ...] = ("lightning.gpu", "qsim", "lightning.qubit")
    broadcast_targets: tuple[str, ...] = ("default.qubit",)
    small_targets: tuple[str, ...] = ("lightning.qubit", "default.qubit")
    shadow_targets: tuple[str, ...] = ("default.qubit",)

    def __post_init__(self) -> None:
        for field in ("wide_wires", "broadcast_wires", "adjoint_wires"):
            value = getattr(self, field)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{field} must be a positive integer, got {value!r}.")
        for field in TARGET_FIELDS:
            names = getattr(self, field)
            if isinstance(names, str) or not all(isinstance(n, str) for n in names):
                raise TypeError(f"{field}= takes a tuple of target names, got {names!r}.")
            object.__setattr__(self, field, tuple(names))
            for name in names:
                _check_registered(field, name)

    def preferences(self, info: TapeInfo) -> tuple[str, tuple[str, ...]]:
        """Return ``(reason, preferred targets)`` of the first rule matching ``info``."""
        if info.gradient_method == "backprop":
            return "backprop", self.backprop_targets
        if info.gradient_method == "adjoint":
            return "adjoint", self.adjoint_targets
        if info.shots is not None and self.shots_targets:
            return "sampled, shots_targets", self.shots_targets
        if info.shadow:
            return "classical shadow", self.shadow_targets
        if info.num_wires >= self.wide_wires:
            return f"wide: {info.num_wires} >= {self.wide_wires} wires", self.wide_targets
        if info.broadcast is not None and info.num_wires < self.broadcast_wires:
            return f"broadcast x{info.broadcast}", self.broadcast_targets
        return "small", self.small_targets

    def chain(
        self, info: TapeInfo, usable: Sequence[str], fallbacks: Sequence[str]
    ) -> tuple[str, list[str]]:
        """Return ``(reason, fallback chain)`` for a tape.

        Args:
            info: The tape's description.
            usable: Targets that may be chosen (registered, available, allowed for this mode).
            fallbacks: Targets to append after the preferred ones, in order.
        """
        reason, preferred = self.preferences(info)
        chain: list[str] = []
        for name in (*preferred, *fallbacks):
            if name in usable and name not in chain:
                chain.append(name)
        return reason, chain


TARGET_FIELDS = (
    "backprop_targets",
    "adjoint_targets",
    "shots_targets",
    "wide_targets",
    "broadcast_targets",
    "small_targets",
    "shadow_targets",
)
"""The fields of :class:`RoutingPolicy` that name targets."""


def _check_registered(field: str, name: str) -> None:
    from .targets import get_target  # the registry imports target plugins: only when needed

    try:
        get_target(name)
    except KeyError as exc:
        raise ValueError(f"{field}: {exc.args[0]} (register it first, or fix the name)") from None


_default_policy = RoutingPolicy()


def default_policy() -> RoutingPolicy:
    """Return the policy routers use when none is given."""
    return _default_policy


def set_default_policy(policy: RoutingPolicy) -> None:
    """Replace the policy used by routers created without ``policy=`` from now on."""
    global _default_policy
    if not isinstance(policy, RoutingPolicy):
        raise TypeError(f"Expected a RoutingPolicy, got {type(policy).__name__}.")
    _default_policy = policy
