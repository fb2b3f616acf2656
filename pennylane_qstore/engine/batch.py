"""The engine as the fast path of the quantum layers (``qstore_layers``).

:func:`engine_circuit` decides whether a layer's QNode may run on the engine and compiles it;
:func:`run_numpy` serves the framework-agnostic core (NumPy in and out, complex128, so results
match ``default.qubit`` to ~1e-12); the torch layer calls the returned
:class:`~pennylane_qstore.engine.traced.TracedCircuit` directly on its tensors (any torch
device, complex64 for float32 inputs).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pennylane as qml

from pennylane_qstore.engine.program import EngineUnsupportedError

__all__ = [
    "ENGINE_DEVICES",
    "ENGINE_METHODS",
    "EngineUnsupportedError",
    "eligible",
    "engine_circuit",
]

ENGINE_DEVICES = ("qstore.router", "default.qubit")
"""Devices whose analytic simulation the engine may take over."""

ENGINE_METHODS = ("adjoint", "backprop", "parameter-shift", "finite-diff", "spsa")
"""Resolved gradient methods the engine serves analytically: the exact ones by its adjoint pass,
the others by shifted/perturbed batch rows (:mod:`pennylane_qstore.engine.recipes`)."""


def eligible(device: Any, gradient_method: str, shots: Any) -> bool:
    """Whether a layer on ``device`` with this (resolved) method may use the engine.

    ``qstore.router`` qualifies unless the user pinned targets other than ``engine``;
    ``default.qubit`` qualifies as is. With shots, only the sampled methods (parameter-shift,
    finite-diff, SPSA) and a single shot count (no shot vector) qualify.
    """
    if gradient_method not in ENGINE_METHODS:
        return False
    if shots:
        shots = qml.measurements.Shots(shots)
        if shots.has_partitioned_shots or gradient_method in ("adjoint", "backprop"):
            return False
    name = getattr(device, "name", None)
    if name not in ENGINE_DEVICES:
        return False
    pinned = getattr(device, "pinned_targets", None)
    return pinned is None or tuple(pinned) == ("engine",)


def engine_circuit(
    qfunc: Callable,
    weight_shapes: Mapping[str, Sequence[int]],
    n_features: int,
    wires: Sequence,
    input_arg: str = "inputs",
):
    """Compile ``qfunc(inputs, **weights)`` for the engine, or return ``None`` if it cannot run.

    Returns ``None`` (the caller keeps its generic path) when torch is missing or the circuit
    uses an operation or measurement the engine does not support. The function is recorded
    again on every call with that call's tensors, so its angles are always its own.
    """
    try:
        import torch  # noqa: F401
    except ImportError:
        return None
    from pennylane_qstore.engine.program import EngineUnsupportedError
    from pennylane_qstore.engine.traced import TracedCircuit

    try:
        return TracedCircuit(qfunc, weight_shapes, n_features, wires, input_arg=input_arg)
    except (EngineUnsupportedError, RuntimeError, ValueError, TypeError, IndexError):
        # anything the engine cannot simulate (a custom gate whose matrix does not broadcast,
        # a function that needs real inputs to run) stays on the caller's generic path
        return None


def run_numpy(
    traced,
    inputs: np.ndarray,
    weights: Sequence[np.ndarray],
    with_vjp: bool,
    recipe=None,
) -> tuple[np.ndarray, Callable | None]:
    """Run ``traced`` in complex128 on NumPy arrays.

    Returns:
        ``(outputs, vjp)`` with ``vjp(dy) -> (d_inputs, [d_weight, ...])``, or ``None``.
    """
    import torch

    from pennylane_qstore.engine.traced import TracedCircuit

    exact = TracedCircuit.with_dtype(traced, torch.complex128)
    x = torch.as_tensor(inputs, dtype=torch.float64).requires_grad_(with_vjp)
    w = [torch.as_tensor(a, dtype=torch.float64).requires_grad_(with_vjp) for a in weights]
    with torch.set_grad_enabled(with_vjp):
        out = exact(x, w, recipe)
    outputs = out.detach().numpy().copy()
    if not with_vjp:
        return outputs, None

    def vjp(dy: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        grads = torch.autograd.grad(
            out, [x, *w], torch.as_tensor(dy, dtype=out.dtype), allow_unused=True
        )
        arrays = [
            np.zeros(t.shape) if g is None else g.numpy()
            for g, t in zip(grads, [x, *w], strict=True)
        ]
        return arrays[0], arrays[1:]

    return outputs, vjp
