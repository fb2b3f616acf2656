"""How the Torch layers run a QNode on a batch: the engine fast path or the QNode itself.

Both paths keep torch tensors all the way, so any torch op in the user's circuit function works
and autograd differentiates it (first and higher order):

* **engine** (``qstore.router`` / ``default.qubit``, analytic, exact gradient method, a circuit
  the engine supports): the function is recorded once per call on that call's tensors and
  simulated in one vectorised pass; the adjoint backward is itself differentiable.
* **QNode** (every other device, shots, parameter-shift, finite-diff, SPSA, ``probs``, ...): the
  QNode is called with the whole batch as PennyLane's ``TorchLayer`` calls it, through
  PennyLane's torch interface with the chosen gradient method (``max_diff=2`` so gradient
  penalties and Hessians are exact).
"""

from __future__ import annotations

import contextlib
import copy
import logging
import time
from collections.abc import Iterator, Mapping
from typing import Any

import pennylane as qml
import torch

from qstore_layers.async_exec import PENNYLANE_LOCK
from qstore_layers.core import BatchExecutor, record_engine_batch

logger = logging.getLogger(__name__)

_SECOND_ORDER_METHODS = ("parameter-shift", "finite-diff", "spsa", "backprop")
_TRANSFORM_METHODS = ("parameter-shift", "finite-diff", "spsa")


@contextlib.contextmanager
def _default_dtype(dtype: torch.dtype) -> Iterator[None]:
    """Make ``dtype`` torch's default dtype for the body.

    PennyLane's torch interface turns device results into tensors with ``torch.as_tensor``;
    ``lightning.qubit`` returns Python floats, which become float32 under torch's default dtype
    and lose half the digits of a float64 layer. Called under :data:`PENNYLANE_LOCK`.
    """
    before = torch.get_default_dtype()
    if dtype not in (torch.float32, torch.float64) or dtype == before:
        yield
        return
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(before)


def torch_qnode(executor: BatchExecutor) -> qml.QNode:
    """The executor's QNode on PennyLane's torch interface with the layer's gradient options.

    ``best`` is left to PennyLane (it knows what each device differentiates for each
    measurement); an explicit method is used as asked.
    """
    method = executor.requested_method
    kwargs: dict[str, Any] = {}
    if method == "spsa":
        kwargs = {
            "h": executor.spsa_epsilon,
            "num_directions": executor.spsa_num_directions,
            "sampler_rng": executor._rng,
        }
    max_diff = 2 if method in _SECOND_ORDER_METHODS else 1
    return executor.qnode.update(
        interface="torch", diff_method=method, max_diff=max_diff, gradient_kwargs=kwargs
    )


def _shape_like_qnode(out: torch.Tensor, returned: Any, batched: bool) -> torch.Tensor:
    """Engine outputs ``(B, n)`` shaped as ``TorchLayer`` shapes the QNode's result."""
    if isinstance(returned, qml.measurements.MeasurementProcess):
        out = out[:, 0]
    return out if batched else out[0]


def _real(out: torch.Tensor) -> torch.Tensor:
    """Refuse complex results (``qml.state()``): casting them would drop the imaginary part."""
    if out.is_complex():
        raise TypeError(
            "The QNode returns complex values (qml.state() or a complex observable); a layer's "
            "outputs must be real. Return expectation values or probabilities, or split the state "
            "into real features inside the QNode's caller (torch.view_as_real)."
        )
    return out


def combine_qnode_result(result: Any, x: torch.Tensor) -> Any:
    """Flatten a QNode result into the layer's output, as ``TorchLayer`` does.

    A single measurement stays as it is; several are concatenated per row; a shot vector gives
    a tuple with one output per shot setting.
    """
    if isinstance(result, torch.Tensor):
        return _real(result).to(x.dtype)

    def combine(parts: Any) -> torch.Tensor:
        if x.dim() > 1:
            parts = [torch.reshape(torch.as_tensor(p), (x.shape[0], -1)) for p in parts]
        else:
            parts = [torch.reshape(torch.as_tensor(p), (-1,)) for p in parts]
        return _real(torch.hstack(parts)).to(x.dtype)

    if (
        isinstance(result, tuple)
        and len(result) > 1
        and all(isinstance(r, (tuple, list)) for r in result)
    ):
        return tuple(combine(r) for r in result)
    return combine(result)


class TorchExecution:
    """Runs one layer's QNode on torch batches (see the module docstring).

    Args:
        executor: The layer's :class:`~qstore_layers.core.BatchExecutor` (options, the resolved
            method, and the one place that decides whether the engine may run the circuit).
    """

    def __init__(self, executor: BatchExecutor) -> None:
        self.executor = executor
        self.qnode = torch_qnode(executor)
        # Gradient transforms cannot differentiate broadcast (per-row) parameters: when the
        # inputs need gradients the batch is expanded into one circuit per row first.
        method = self.qnode.diff_method
        self._row_qnode = (
            qml.transforms.broadcast_expand(self.qnode)
            if method in _TRANSFORM_METHODS or executor.gradient_method in _TRANSFORM_METHODS
            else self.qnode
        )

    def __deepcopy__(self, memo: dict[int, Any]) -> TorchExecution:
        """A copy shares the QNode and its device, as the executor's copies do."""
        return TorchExecution(copy.deepcopy(self.executor, memo))

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the executor only; the torch QNodes are rebuilt from it."""
        return {"executor": self.executor}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Rebuild from a pickled executor."""
        self.__init__(state["executor"])

    def __call__(self, x: torch.Tensor, weights: Mapping[str, torch.Tensor]) -> Any:
        """Evaluate ``x`` of shape ``(B, F)`` or ``(F,)`` with ``weights`` (already on ``x``'s
        dtype and device)."""
        out = self._engine(x, weights)
        if out is not None:
            return out
        qnode = self._row_qnode if x.requires_grad and x.dim() > 1 else self.qnode
        with PENNYLANE_LOCK, _default_dtype(x.dtype):
            result = qnode(**{self.executor.input_arg: x}, **weights)
        return combine_qnode_result(result, x)

    def _engine(self, x: torch.Tensor, weights: Mapping[str, torch.Tensor]) -> Any:
        ex = self.executor
        shapes = {name: tuple(w.shape) for name, w in weights.items()}
        traced = ex.engine_circuit(int(x.shape[-1]), shapes)
        if traced is None:
            return None
        from pennylane_qstore.engine.program import EngineUnsupportedError

        batched = x.dim() > 1
        x2d = x if batched else x.reshape(1, -1)
        dtype = torch.complex128 if x2d.dtype == torch.float64 else torch.complex64
        start = time.perf_counter()
        try:
            with PENNYLANE_LOCK:
                out, returned = traced.with_dtype(dtype).run(x2d, [weights[n] for n in shapes])
        except EngineUnsupportedError as exc:
            logger.debug("engine refused this call (%s); running the QNode", exc)
            return None
        record_engine_batch(ex.qnode.device, len(x2d), time.perf_counter() - start)
        return _shape_like_qnode(out.to(x2d.dtype), returned, batched)
