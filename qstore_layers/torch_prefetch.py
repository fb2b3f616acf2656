"""Torch side of the gradient prefetch (:mod:`qstore_layers.prefetch`).

The QNode's tape is recorded on the call's torch tensors, PennyLane's transform program up to
the "gradient" level is applied (user transforms, row expansion, the gradient transform's own
decomposition), and every tape runs with its gradient tapes in one batch. Each tape's result is
then a :class:`_PrefetchedJacobian` of its trainable parameters, so torch's autograd carries the
cotangent through the classical code of the QNode function to the inputs and weights.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pennylane as qml
import torch
from pennylane.workflow.qnode import _to_qfunc_output_type

from qstore_layers.prefetch import SECOND_ORDER_MESSAGE, execute_with_jacobians, supported


class _PrefetchedJacobian(torch.autograd.Function):
    """``params -> outputs`` whose outputs and Jacobian were computed in the forward pass; the
    backward pass contracts the saved Jacobian with the cotangent (first order only)."""

    @staticmethod
    def forward(ctx: Any, params: torch.Tensor, out: torch.Tensor, jac: torch.Tensor) -> Any:
        ctx.save_for_backward(jac)
        ctx.mark_non_differentiable(jac)
        return out.clone()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        if torch.is_grad_enabled():
            raise RuntimeError(SECOND_ORDER_MESSAGE)
        (jac,) = ctx.saved_tensors
        return jac.T @ grad.to(jac.dtype), None, None


def _flat(parts: Any) -> np.ndarray:
    """Measurements of one tape laid out as one flat vector."""
    return np.concatenate([np.ravel(p) for p in parts])


def _numeric(tape: qml.tape.QuantumScript) -> tuple[qml.tape.QuantumScript, list[torch.Tensor]]:
    """The tape with detached NumPy parameters, and its trainable torch parameters."""
    params = tape.get_parameters(trainable_only=False)
    trainable = [i for i, p in enumerate(params) if isinstance(p, torch.Tensor) and p.requires_grad]
    values = [p.detach().cpu().numpy() if isinstance(p, torch.Tensor) else p for p in params]
    numeric = tape.bind_new_parameters(values, list(range(len(values))))
    numeric.trainable_params = trainable
    return numeric, [params[i] for i in trainable]


def prefetched_call(
    plain: qml.QNode,
    expanded: qml.QNode,
    tape: qml.tape.QuantumScript,
    kwargs: Mapping[str, Any],
) -> Any:
    """The QNode's result for ``tape`` (recorded by ``plain.construct``), with the gradient
    circuits executed in the same batch, or ``None`` when the prefetch is not exact for it.

    Args:
        plain: The QNode that recorded ``tape`` (its ``_qfunc_output`` shapes the result).
        expanded: The same QNode, with rows expanded when the gradient transform needs it.
        tape: The recorded tape, torch parameters attached to the autograd graph.
        kwargs: The call's arguments (the pipeline is resolved for them).
    """
    if expanded.compile_pipeline.is_informative:  # the QNode returns tapes, not results
        return None
    program = qml.workflow.get_compile_pipeline(expanded, level="gradient")(**kwargs)
    tapes, post = program((tape,))
    numeric = [_numeric(t) for t in tapes]
    if not all(supported(t, params) for t, (_, params) in zip(tapes, numeric, strict=True)):
        return None
    grads = execute_with_jacobians(
        [n for n, _ in numeric], plain.device, expanded.diff_method, expanded.gradient_kwargs
    )
    results = []
    for (_, params), grad in zip(numeric, grads, strict=True):
        like = params[0] if params else torch.zeros(())
        out = torch.as_tensor(_flat(grad.parts), device=like.device)
        if params:
            jac = torch.as_tensor(grad.matrix(_flat), device=like.device)
            flat_params = torch.stack([p.reshape(()).to(torch.float64) for p in params])
            out = _PrefetchedJacobian.apply(flat_params, out, jac)
        pieces, offset = [], 0
        for part in grad.parts:
            pieces.append(out[offset : offset + part.size].reshape(part.shape))
            offset += part.size
        results.append(pieces[0] if len(pieces) == 1 else tuple(pieces))
    return _to_qfunc_output_type(post(tuple(results))[0], plain._qfunc_output, False)
