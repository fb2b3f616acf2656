"""Checks of what users pass to the layers: inputs, weight shapes and the gradient method."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from pennylane.devices import ExecutionConfig

from qstore_layers.options import EXACT_METHODS, validate_gradient_method


def validate_inputs(inputs: Any) -> tuple[np.ndarray, bool]:
    """Check a batch of features and return it as a float64 ``(batch, features)`` array.

    Args:
        inputs: Array-like of shape ``(features,)`` or ``(batch, features)``.

    Returns:
        The 2-D array and whether the input was a single unbatched sample.

    Raises:
        ValueError: On a rank other than 1 or 2, zero features, or NaN/inf values.
    """
    array = np.asarray(inputs, dtype=np.float64)
    if array.ndim not in (1, 2):
        raise ValueError(
            f"Quantum layer inputs must have shape (features,) or (batch, features); got shape "
            f"{array.shape}. Flatten the trailing dimensions first, e.g. x.reshape(len(x), -1)."
        )
    unbatched = array.ndim == 1
    array = array.reshape(1, -1) if unbatched else array
    if array.shape[1] == 0:
        raise ValueError("Quantum layer inputs have 0 features; pass at least one feature.")
    if not np.all(np.isfinite(array)):
        rows = np.unique(np.nonzero(~np.isfinite(array))[0]).tolist()
        raise ValueError(
            f"Quantum layer inputs contain NaN or inf (batch rows {rows[:10]}); clean or impute "
            "the data before the quantum layer."
        )
    return array, unbatched


def normalise_shape(shape: int | Iterable[int]) -> tuple[int, ...]:
    """A ``weight_shapes`` entry as a tuple, as PennyLane's ``TorchLayer`` reads it: an iterable
    is the shape, the integer ``1`` is a scalar ``()``, any other integer ``n`` is ``(n,)``."""
    if isinstance(shape, str | bytes):
        raise TypeError(f"A weight shape must be an int or a sequence of ints, got {shape!r}.")
    if isinstance(shape, Iterable):
        return tuple(int(s) for s in shape)
    size = int(shape)
    return () if size == 1 else (size,)


def validate_weight_shapes(
    func: Callable[..., Any],
    weight_shapes: Mapping[str, int | Sequence[int]],
    input_arg: str = "inputs",
) -> dict[str, tuple[int, ...]]:
    """Check ``weight_shapes`` against the signature of a QNode's function.

    The function must take an argument named ``input_arg`` (anywhere in its signature); every
    other argument without a default value must be a weight named in ``weight_shapes``, and every
    name in ``weight_shapes`` must be an argument, or reach a ``**kwargs``. ``*args`` is refused.

    Returns:
        The shapes normalised with :func:`normalise_shape`.
    """
    signature = inspect.signature(func)
    params = signature.parameters
    name = getattr(func, "__name__", "the QNode function")
    if input_arg not in params:
        raise TypeError(
            f"QNode must include an argument with name {input_arg} for inputting data: "
            f"{name}{signature} must take an argument named {input_arg!r} that receives the batch "
            "of features."
        )
    kinds = {p.kind for p in params.values()}
    if inspect.Parameter.VAR_POSITIONAL in kinds:
        raise TypeError(
            f"Cannot have a variable number of positional arguments: {name}{signature} takes "
            "*args; layers pass weights by name, so give every weight its own argument (or "
            "collect them in **kwargs)."
        )
    if input_arg in weight_shapes:
        raise ValueError(
            f"{input_arg} argument should not have its dimension specified in weight_shapes: "
            f"{input_arg!r} receives the batch and cannot be a weight."
        )
    unknown = sorted(set(weight_shapes) - set(params))
    if unknown and inspect.Parameter.VAR_KEYWORD not in kinds:
        raise ValueError(
            f"weight_shapes names {unknown}, which are not arguments of {name}{signature}."
        )
    missing = [
        arg
        for arg, p in params.items()
        if arg != input_arg
        and arg not in weight_shapes
        and p.default is inspect.Parameter.empty
        and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]
    if missing:
        raise ValueError(
            "Must specify a shape for every non-input parameter in the QNode: "
            f"arguments {missing} of {name} have no entry in weight_shapes; add their "
            "shapes, e.g. weight_shapes={" + ", ".join(f"{m!r}: (2, 3)" for m in missing) + "}."
        )
    return {arg: _checked_shape(arg, shape) for arg, shape in weight_shapes.items()}


def _checked_shape(name: str, shape: int | Iterable[int]) -> tuple[int, ...]:
    """``weight_shapes[name]`` normalised with :func:`normalise_shape`; no negative dimension."""
    shape_t = normalise_shape(shape)
    if any(s < 0 for s in shape_t):
        raise ValueError(f"weight_shapes[{name!r}] = {shape_t} has a negative dimension.")
    return shape_t


def resolve_gradient_method(
    method: str, device: Any, shots: Any, prefer: Sequence[str] = ("adjoint", "backprop")
) -> str:
    """Turn ``"best"`` into a concrete method for ``device`` and check the method fits ``shots``.

    ``best`` picks the first method of ``prefer`` (default: ``adjoint`` with device
    vector-Jacobian products, then ``backprop``) that the device supports analytically, else
    ``parameter-shift``. A circuit that measures something adjoint cannot differentiate
    (``probs``, ``var``, ...) is moved off adjoint per batch by the executors.
    """
    validate_gradient_method(method)
    analytic = shots is None
    if method == "best":
        if not analytic:
            return "parameter-shift"
        for candidate in prefer:
            config = ExecutionConfig(gradient_method=candidate, interface="autograd")
            try:
                if device.supports_derivatives(config):
                    return candidate
            except Exception:  # a device that cannot answer does not support it
                continue
        return "parameter-shift"
    if method in EXACT_METHODS and not analytic:
        raise ValueError(
            f"gradient_method={method!r} needs analytic execution (shots=None); with shots use "
            "'parameter-shift', 'finite-diff' or 'spsa'."
        )
    return method
