"""Checks of ``qstore.router``'s keyword options, each raising an error that names the fix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .policy import RoutingPolicy, default_policy


def explicit_targets(target: str | None, targets: Sequence[str] | None) -> list[str] | None:
    """The targets named with ``target=`` or ``targets=[...]`` (``None``: the policy picks)."""
    if target is not None and targets is not None:
        raise ValueError("Pass either target= or targets=[...] to qstore.router, not both.")
    if isinstance(targets, str):
        raise TypeError(f"targets= takes a list of names; use target={targets!r} for one.")
    if target is not None:
        return [target]
    if targets is None:
        return None
    if not list(targets):
        raise ValueError("targets= must name at least one target.")
    return list(targets)


def check_policy(policy: Any) -> RoutingPolicy:
    """``policy``, or the default policy for ``None``."""
    if policy is not None and not isinstance(policy, RoutingPolicy):
        raise TypeError(
            f"policy= takes a pennylane_qstore.router.RoutingPolicy, got {type(policy).__name__}."
        )
    return policy or default_policy()


def check_fallback(fallback: Any) -> bool:
    """``fallback`` as a bool (only ``True`` or ``False`` are accepted)."""
    if not isinstance(fallback, (bool, np.bool_)):
        raise TypeError(f"fallback= takes True or False, got {fallback!r}.")
    return bool(fallback)


def router_rng(seed: Any) -> tuple[np.random.Generator, bool]:
    """``(generator, seeded)`` from ``seed=`` (``"global"`` draws it from NumPy's global
    generator, as ``default.qubit`` does)."""
    if isinstance(seed, str) and seed == "global":
        seed = int(np.random.randint(2**31 - 1))
    try:
        return np.random.default_rng(seed), seed is not None
    except (TypeError, ValueError) as exc:
        negative = isinstance(seed, (int, np.integer)) and seed < 0
        hint = " (an int seed must be 0 or more)" if negative else ""
        raise TypeError(
            f"seed= takes an int, a numpy.random.Generator, 'global' or None, got {seed!r}{hint}."
        ) from exc
