"""The engine fast path of :class:`~qstore_layers.core.BatchExecutor` (issue 6).

Analytic and shifted-row batches on ``qstore.router`` / ``default.qubit`` are simulated in one
vectorised pass by :mod:`pennylane_qstore.engine`; this module imports it lazily (it needs torch,
which the Keras layers must not import at import time), reports its batches to the device, and
computes second derivatives through it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def engine_module() -> Any:
    """The engine's layer module, imported on first use; ``None`` when torch is not installed."""
    try:
        from pennylane_qstore.engine import batch
    except ImportError:
        return None
    return batch


def record_engine_batch(device: Any, rows: int, seconds: float, note: str = "") -> None:
    """Report a batch the engine simulated to the device's ``qml.Tracker`` and, on
    ``qstore.router``, to its routing record.

    The tracker sees one batch of ``rows`` executions, as if the device had run it.
    """
    tracker = getattr(device, "tracker", None)
    if tracker is not None and tracker.active:
        tracker.update(batches=1, executions=rows, engine_rows=rows)
        tracker.record()
    record = getattr(device, "record_batch", None)
    if record is not None:
        record("engine", rows, seconds, note or "layer batch on the engine (adjoint backward)")


def second_order_on_engine(
    fast: Any,
    recipe: Any,
    x: np.ndarray,
    w: Sequence[np.ndarray],
    dy: np.ndarray,
    ddx: np.ndarray,
    ddw: Sequence[np.ndarray],
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """The VJP of ``(x, w, dy) -> vjp(dy)`` on the engine circuit ``fast``: torch differentiates
    the engine's backward pass again. Returns the pullbacks to ``x``, ``dy`` and the weights."""
    import torch

    def leaf(a: Any) -> Any:
        return torch.as_tensor(np.asarray(a, dtype=np.float64)).requires_grad_(True)

    x_t, dy_t, w_t = leaf(x), leaf(dy), [leaf(a) for a in w]
    out = fast.with_dtype(torch.complex128)(x_t, w_t, recipe)
    first = torch.autograd.grad(out, [x_t, *w_t], dy_t, create_graph=True, allow_unused=True)
    pairs = [
        (g, torch.as_tensor(np.asarray(d, dtype=np.float64)))
        for g, d in zip(first, [ddx, *ddw], strict=True)
        if g is not None and g.requires_grad
    ]
    inputs = [x_t, dy_t, *w_t]
    if not pairs:
        return np.zeros(x.shape), np.zeros(dy.shape), [np.zeros(np.shape(a)) for a in w]
    second = torch.autograd.grad(
        [g for g, _ in pairs], inputs, [d for _, d in pairs], allow_unused=True
    )
    arrays = [
        np.zeros(t.shape) if g is None else g.detach().numpy()
        for g, t in zip(second, inputs, strict=True)
    ]
    return arrays[0], arrays[1], arrays[2:]
