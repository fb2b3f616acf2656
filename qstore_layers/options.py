"""Options shared by the Torch and Keras layers, checked once at construction."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

GRADIENT_METHODS = ("best", "backprop", "adjoint", "parameter-shift", "finite-diff", "spsa")
"""Gradient methods accepted by every layer."""

EXACT_METHODS = ("backprop", "adjoint")
"""Methods that need analytic execution (``shots=None``)."""


def validate_gradient_method(method: Any) -> str:
    """Return ``method`` if it is a known gradient method, else raise ``ValueError``."""
    if method not in GRADIENT_METHODS:
        raise ValueError(
            f"Unknown gradient_method {method!r}; choose one of {', '.join(GRADIENT_METHODS)}."
        )
    return method


def _positive_int(name: str, value: Any, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")
    return int(value)


@dataclass(frozen=True)
class LayerOptions:
    """How a layer executes and differentiates its circuit.

    Attributes:
        gradient_method: One of :data:`GRADIENT_METHODS`; ``best`` honours a method set on the
            QNode, else picks the fastest exact method the device supports.
        spsa_epsilon: SPSA finite-difference step (finite, > 0).
        spsa_num_directions: Random directions averaged per SPSA estimate (integer >= 1).
        seed: Seed of the SPSA direction sampler (``None``: fresh entropy).
        async_execution: Split a batch into chunks executed concurrently in threads.
        max_workers: Threads (and chunks) of ``async_execution``; default: CPU count.
        fast_path: Let analytic batches on ``qstore.router`` / ``default.qubit`` run on the
            torch engine (exact, one vectorised pass). ``False`` always uses the device.
        prefetch_gradients: Submit a training step's parameter-shift / SPSA circuits together
            with its forward circuits, in the forward pass (one device batch per step).
            ``None`` (default): on for remote devices (``qstore.ionq``, a ``qstore.router``
            with IonQ targets); ``True``: on every device; ``False``: off.
    """

    gradient_method: str = "best"
    spsa_epsilon: float = 0.01
    spsa_num_directions: int = 1
    seed: int | None = None
    async_execution: bool = False
    max_workers: int | None = None
    fast_path: bool = True
    prefetch_gradients: bool | None = None

    def __post_init__(self) -> None:
        validate_gradient_method(self.gradient_method)
        eps = self.spsa_epsilon
        if (
            isinstance(eps, bool)
            or not isinstance(eps, numbers.Real)
            or not math.isfinite(eps)
            or eps <= 0
        ):
            raise ValueError(f"spsa_epsilon must be a finite number > 0, got {eps!r}.")
        _positive_int("spsa_num_directions", self.spsa_num_directions)
        _positive_int("max_workers", self.max_workers, allow_none=True)
        if self.seed is not None and (
            isinstance(self.seed, bool) or not isinstance(self.seed, numbers.Integral)
        ):
            raise ValueError(f"seed must be an integer or None, got {self.seed!r}.")
        for flag in ("async_execution", "fast_path"):
            if not isinstance(getattr(self, flag), bool):
                raise ValueError(f"{flag} must be True or False, got {getattr(self, flag)!r}.")
        if self.prefetch_gradients is not None and not isinstance(self.prefetch_gradients, bool):
            raise ValueError(
                "prefetch_gradients must be None (automatic: on for remote devices), True or "
                f"False, got {self.prefetch_gradients!r}."
            )

    def as_dict(self) -> dict[str, Any]:
        """The options as keyword arguments (for ``get_config`` and copies)."""
        return asdict(self)


def options_from(scope: Mapping[str, Any]) -> LayerOptions:
    """The :class:`LayerOptions` a layer constructor was given: ``scope`` is its ``locals()``,
    which hold one keyword argument per option (the layers list them for their signatures and
    docs; this reads them back without listing them again)."""
    return LayerOptions(**{field.name: scope[field.name] for field in fields(LayerOptions)})
