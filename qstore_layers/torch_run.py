"""Inputs, initial weights and the batched call shared by the Torch layers.

:func:`run_layer` runs a :class:`~qstore_layers.torch_exec.TorchExecution` on inputs shaped as
``nn.Linear`` takes them; :func:`initial_values` reads ``init_method`` as PennyLane's
``TorchLayer`` does.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from qstore_layers.torch_exec import TorchExecution

__all__ = ["as_input_tensor", "default_init", "initial_values", "run_layer", "to_thread"]


def default_init(tensor: torch.Tensor) -> torch.Tensor:
    """Uniform angles in [0, 2π), as PennyLane's TorchLayer."""
    return nn.init.uniform_(tensor, 0.0, 2 * math.pi)


def _initial_value(name: str, shape: tuple[int, ...], init: Any) -> torch.Tensor:
    """The initial value of weight ``name``: ``init`` is a callable ``init(tensor)`` (its return
    value is used when it returns a tensor, as ``torch.nn.init`` functions do) or a tensor."""
    if isinstance(init, torch.Tensor | np.ndarray | list | tuple | float | int):
        value = (
            init.detach().clone()
            if isinstance(init, torch.Tensor) and init.is_floating_point()
            else torch.as_tensor(init, dtype=torch.get_default_dtype())
        )
        if tuple(value.shape) != shape:
            raise ValueError(
                f"init_method[{name!r}] has shape {tuple(value.shape)}, but weight_shapes gives "
                f"{shape}; pass a tensor of that shape or an init function."
            )
        return value
    if not callable(init):
        raise TypeError(
            f"init_method for {name!r} must be a callable init(tensor) or a tensor, got "
            f"{type(init).__name__}."
        )
    tensor = torch.zeros(shape if shape else (1,))  # an init that fills nothing leaves zeros
    with torch.no_grad():
        returned = init(tensor)
    value = returned if isinstance(returned, torch.Tensor) else tensor
    value = torch.as_tensor(value).detach().clone()
    if not shape:
        value = value.reshape(-1)[0]
    if tuple(value.shape) != shape:
        raise ValueError(
            f"init_method for {name!r} returned shape {tuple(value.shape)}, expected {shape}."
        )
    return value


def initial_values(
    shapes: Mapping[str, tuple[int, ...]], init_method: Any
) -> dict[str, torch.Tensor]:
    """Initial weights from ``init_method`` (``None``, a callable, or a dict per weight)."""
    if isinstance(init_method, Mapping):
        missing = sorted(set(shapes) - set(init_method))
        unknown = sorted(set(init_method) - set(shapes))
        if missing or unknown:
            raise KeyError(
                f"init_method must give every weight exactly once: missing {missing}, unknown "
                f"{unknown}."
            )
        return {name: _initial_value(name, s, init_method[name]) for name, s in shapes.items()}
    init = default_init if init_method is None else init_method
    return {name: _initial_value(name, s, init) for name, s in shapes.items()}


def as_input_tensor(inputs: Any) -> torch.Tensor:
    """Inputs as a floating tensor; arrays and lists are accepted like ``nn.Linear`` users expect."""
    if not isinstance(inputs, torch.Tensor):
        array = np.asarray(inputs)
        inputs = torch.as_tensor(array if array.dtype.kind == "f" else array.astype(float))
    if not inputs.is_floating_point():
        inputs = inputs.to(torch.get_default_dtype())
    if inputs.dim() == 0:
        raise ValueError(
            "Quantum layer inputs must have shape (features,) or (*, features); got a scalar."
        )
    if inputs.shape[-1] == 0:
        raise ValueError("Quantum layer inputs have 0 features; pass at least one feature.")
    if not bool(torch.isfinite(inputs).all()):
        raise ValueError(
            "Quantum layer inputs contain NaN or inf; clean or impute the data before the "
            "quantum layer."
        )
    return inputs


def run_layer(
    execution: TorchExecution, inputs: Any, weights: Mapping[str, torch.Tensor]
) -> torch.Tensor:
    """Run a layer on ``inputs`` of shape ``(features,)`` or ``(*, features)``.

    Leading dimensions are flattened into one batch and restored on the outputs (as
    ``nn.Linear`` does); an empty batch gives an empty output with the right trailing shape.
    Under ``torch.compile`` this runs eagerly (a graph break): the circuit is simulated by
    PennyLane or the engine, not by Inductor.
    """
    x = as_input_tensor(inputs)
    if torch._C._functorch.is_functorch_wrapped_tensor(x) or any(
        torch._C._functorch.is_functorch_wrapped_tensor(w) for w in weights.values()
    ):
        raise RuntimeError(
            "Quantum layers do not run under torch.func transforms (grad, vmap, jacrev, ...): "
            "their circuits run outside torch's functional tracing. Use torch.autograd.grad, "
            "torch.autograd.functional.jacobian/hessian, or a batch dimension instead of vmap."
        )
    weights = {name: w.to(x) for name, w in weights.items()}
    if x.dim() == 1:
        out = execution(x, weights)
        return torch.stack(out, dim=0) if isinstance(out, tuple) else out
    lead = x.shape[:-1]
    flat = x.reshape(-1, x.shape[-1])
    if flat.shape[0] == 0:  # evaluate one zero row for the output shape, keep none of it
        probe = execution(flat.new_zeros(1, flat.shape[-1]), weights)
        # connected to the inputs, so their gradient is an empty tensor, as for nn.Linear
        return _reshape(probe, lead, empty=True) + flat.sum() * 0
    return _reshape(execution(flat, weights), lead)


def _reshape(out: Any, lead: torch.Size, empty: bool = False) -> torch.Tensor:
    """Restore the leading dimensions; a shot vector stacks one output per shot setting."""
    if isinstance(out, tuple):
        return torch.stack([_reshape(o, lead, empty) for o in out], dim=0)
    if empty:
        out = out[:0]
    return out.reshape(*lead, *out.shape[1:])


async def to_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn(*args)`` in the default executor, keeping torch's grad mode of the caller."""
    grad_enabled = torch.is_grad_enabled()

    def call() -> Any:
        with torch.set_grad_enabled(grad_enabled):
            return fn(*args)

    return await asyncio.get_running_loop().run_in_executor(None, call)
