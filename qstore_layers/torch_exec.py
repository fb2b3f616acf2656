"""How the Torch layers run a QNode on a batch: the engine fast path or the QNode itself.

Both paths keep torch tensors all the way, so any torch op in the user's circuit function works
and autograd differentiates it (first and higher order):

* **engine** (``qstore.router`` / ``default.qubit``, a circuit of Pauli-word expectation values
  the engine supports): the function is recorded once per call on that call's tensors and the
  whole batch is simulated in one pass, with every gradient method: adjoint for the exact ones,
  shifted/perturbed batch rows for parameter-shift, finite-diff and SPSA, and sampling when the
  QNode has shots (:mod:`pennylane_qstore.engine.recipes`);
* **QNode** (every other device, shot vectors, ``probs``/``var``/``state``, gates the engine
  cannot run, QNodes with their own ``gradient_kwargs``): the QNode is called with the whole
  batch as PennyLane's ``TorchLayer`` calls it, through PennyLane's torch interface with the
  chosen gradient method (``max_diff=2`` so gradient penalties and Hessians are exact).
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
from pennylane.devices import ExecutionConfig

from qstore_layers.async_exec import PENNYLANE_LOCK
from qstore_layers.core import BatchExecutor, record_engine_batch
from qstore_layers.torch_prefetch import prefetched_call

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


def torch_qnode(executor: BatchExecutor, method: str, expand: bool) -> qml.QNode:
    """The executor's QNode on PennyLane's torch interface with ``method`` and the layer's
    gradient options; ``expand`` splits broadcast circuits into one circuit per row first."""
    kwargs = executor.gradient_kwargs(method)
    max_diff = 2 if method in _SECOND_ORDER_METHODS else 1
    qnode = executor.qnode.update(
        interface="torch", diff_method=method, max_diff=max_diff, gradient_kwargs=kwargs
    )
    return qml.transforms.broadcast_expand(qnode) if expand else qnode


def _trainable_broadcast(tape: qml.tape.QuantumScript) -> bool:
    """Whether a gate has a parameter that is broadcast over the rows and needs a gradient
    (gradient transforms cannot differentiate those; PennyLane issue #4462)."""
    return any(
        op.batch_size is not None and any(qml.math.requires_grad(d) for d in op.data)
        for op in tape.operations
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

    A single measurement stays as it is; several are concatenated per row. (A shot vector's
    result is combined per shot setting by the caller.)
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


class _FirstOrderOnly(torch.autograd.Function):
    """Identity whose backward refuses ``create_graph=True``: device adjoint derivatives are
    first order only, and PennyLane would return a silent zero second derivative."""

    @staticmethod
    def forward(ctx: Any, out: torch.Tensor) -> torch.Tensor:
        return out.clone()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled():
            raise RuntimeError(
                "Second derivatives (create_graph=True, Hessians) are not available with "
                "gradient_method='adjoint' on this device; use 'parameter-shift' or 'backprop', "
                "or run on qstore.router / default.qubit where the engine differentiates twice."
            )
        return grad


class TorchExecution:
    """Runs one layer's QNode on torch batches (see the module docstring).

    Args:
        executor: The layer's :class:`~qstore_layers.core.BatchExecutor` (options, the resolved
            method, and the one place that decides whether the engine may run the circuit).
    """

    def __init__(self, executor: BatchExecutor) -> None:
        self.executor = executor
        self._qnodes: dict[tuple[str, bool], qml.QNode] = {}
        self.default_method = executor.gradient_method
        if executor.requested_method == "best" and executor.shots is None:
            # off the engine, backprop (where the device has it) is exact to every order
            config = ExecutionConfig(gradient_method="backprop", interface="torch")
            with contextlib.suppress(Exception):
                if executor.qnode.device.supports_derivatives(config):
                    self.default_method = "backprop"
        self.qnode = self.qnode_for(self.default_method, expand=False)

    def qnode_for(self, method: str, expand: bool) -> qml.QNode:
        """The torch QNode for ``method`` (built once per method and expansion)."""
        key = (method, expand)
        if key not in self._qnodes:
            self._qnodes[key] = torch_qnode(self.executor, method, expand)
        return self._qnodes[key]

    def _device_qnode(self, kwargs: Mapping[str, Any], batched: bool) -> qml.QNode:
        """Pick the method for this call from the recorded circuit (``best`` never sends
        ``probs``/``var`` to adjoint) and expand rows when a gradient transform needs it."""
        ex = self.executor
        if not torch.is_grad_enabled() or (
            ex.requested_method != "best" and ex.gradient_method not in _TRANSFORM_METHODS
        ):
            return self.qnode
        tape = qml.workflow.construct_tape(self.qnode, level="user")(**kwargs)
        method = self.default_method if self.default_method == "backprop" else ex.method_for(tape)
        expand = batched and method in _TRANSFORM_METHODS and _trainable_broadcast(tape)
        return self.qnode_for(method, expand)

    def _prefetched(self, kwargs: Mapping[str, Any], batched: bool) -> Any:
        """The QNode's result with its gradient circuits run in the same batch
        (:mod:`qstore_layers.prefetch`), or ``None`` when this call does not prefetch."""
        ex = self.executor
        method = ex.gradient_method
        if (
            not torch.is_grad_enabled()
            or not any(isinstance(v, torch.Tensor) and v.requires_grad for v in kwargs.values())
            or qml.measurements.Shots(ex.shots).has_partitioned_shots
            or not ex.prefetches()
        ):
            return None
        plain = self.qnode_for(method, expand=False)
        tape = plain.construct((), dict(kwargs))
        expanded = self.qnode_for(method, batched and _trainable_broadcast(tape))
        return prefetched_call(plain, expanded, tape, kwargs)

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
        kwargs = {self.executor.input_arg: x, **weights}
        with PENNYLANE_LOCK, _default_dtype(x.dtype):
            result = self._prefetched(kwargs, x.dim() > 1)
            qnode = self.qnode
            if result is None:
                qnode = self._device_qnode(kwargs, x.dim() > 1)
                result = qnode(**kwargs)
        if qml.measurements.Shots(self.executor.shots).has_partitioned_shots:
            out = tuple(combine_qnode_result(r, x) for r in result)
        else:
            out = combine_qnode_result(result, x)
        if qnode.diff_method == "adjoint" and torch.is_grad_enabled():
            out = (
                tuple(map(_FirstOrderOnly.apply, out))
                if isinstance(out, tuple)
                else (_FirstOrderOnly.apply(out))
            )
        return out

    def _engine(self, x: torch.Tensor, weights: Mapping[str, torch.Tensor]) -> Any:
        ex = self.executor
        shapes = {name: tuple(w.shape) for name, w in weights.items()}
        traced = ex.engine_circuit(int(x.shape[-1]), shapes)
        if traced is None:
            return None
        from pennylane_qstore.engine.program import EngineUnsupportedError

        batched = x.dim() > 1
        dtype = torch.complex128 if x.dtype == torch.float64 else torch.complex64
        start = time.perf_counter()
        try:
            with PENNYLANE_LOCK:
                out, returned = traced.with_dtype(dtype).run(
                    x, [weights[n] for n in shapes], ex.engine_recipe()
                )
        except EngineUnsupportedError as exc:  # the QNode runs what the engine cannot
            logger.debug("engine refused this call (%s); running the QNode", exc)
            return None
        rows = x.shape[0] if batched else 1
        record_engine_batch(ex.qnode.device, rows, time.perf_counter() - start, ex.engine_note())
        return _shape_like_qnode(out.to(x.dtype), returned, batched)
