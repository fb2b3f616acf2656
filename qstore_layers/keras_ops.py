"""The TensorFlow op behind the Keras layers: a batch run as a host op with custom gradients.

:func:`quantum_call` runs a :class:`~qstore_layers.core.BatchExecutor` in ``tf.numpy_function``
host ops (eager or graph, ``tf.function`` and ``tf.distribute`` replicas): the forward op, its
backward pass as an op of its own (so that an outer tape differentiates it again) and the
second-order pullback on the engine.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

from pennylane_qstore.budget import default_phase
from pennylane_qstore.budget import phase as budget_phase
from qstore_layers.core import BatchExecutor
from qstore_layers.validation import validate_inputs

__all__ = ["PendingVJPs", "cast_like", "quantum_call"]


class PendingVJPs:
    """VJPs of forward passes run with ``training=True``, kept until their backward pass.

    A token (returned by the forward op) finds them again, so the backward pass does not run
    the batch a second time. Bounded: a forward whose gradient is never asked for is dropped
    after :attr:`SIZE` newer ones, and a backward that finds no entry recomputes.
    """

    SIZE = 16

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next = 0
        self._entries: OrderedDict[int, Any] = OrderedDict()

    def put(self, vjp: Any) -> int:
        """Keep ``vjp``; returns its token (never 0, which means "none kept")."""
        with self._lock:
            self._next += 1
            self._entries[self._next] = vjp
            while len(self._entries) > self.SIZE:
                self._entries.popitem(last=False)
            return self._next

    def pop(self, token: int) -> Any:
        """The VJP kept under ``token``, removed; ``None`` when it was dropped or never kept."""
        with self._lock:
            return self._entries.pop(int(token), None)


_PENDING = PendingVJPs()


def cast_like(values: Sequence[tf.Tensor], like: Sequence[tf.Tensor]) -> list[tf.Tensor]:
    """Each of ``values`` reshaped and cast to the shape and dtype of its partner in ``like``."""
    return [tf.cast(tf.reshape(v, tf.shape(t)), t.dtype) for v, t in zip(values, like, strict=True)]


def cost_phase(executor: BatchExecutor, training: bool) -> Any:
    """The cost phase of a host op's device work: the executor's explicit phase (validation on
    another device), else ``training`` / ``evaluation`` from Keras' ``training=``. Set inside
    the op because TensorFlow runs graph-mode host ops in its own threads, which do not see
    the caller's ``with phase(...)`` block."""
    if executor.phase is not None:
        return budget_phase(executor.phase)
    return default_phase("training" if training else "evaluation")


@dataclass(frozen=True)
class _Host:
    """The NumPy side of one layer call, run inside ``tf.numpy_function`` host ops."""

    executor: BatchExecutor
    n_outputs: int
    training: bool

    def _weights(self, w: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
        return dict(zip(self.executor.weight_names, w, strict=True))

    def forward(self, x: np.ndarray, *w: np.ndarray) -> tuple[np.ndarray, np.int64]:
        """Outputs ``(batch, n_outputs)`` and the token of the kept VJP (0: none kept)."""
        x2d, _ = validate_inputs(x)
        if x2d.shape[0] == 0:
            return np.zeros((0, self.n_outputs)), np.int64(0)
        with cost_phase(self.executor, self.training):
            result = self.executor.execute(x2d, self._weights(w), with_vjp=self.training)
        out = result.outputs
        if out.shape[1] != self.n_outputs:
            raise ValueError(
                f"The QNode returns {out.shape[1]} values per sample but the layer was built with "
                f"output_dim={self.n_outputs}; pass output_dim={out.shape[1]}."
            )
        return out, np.int64(0 if result.vjp is None else _PENDING.put(result.vjp))

    def backward(
        self, token: np.ndarray, x: np.ndarray, dy: np.ndarray, *w: np.ndarray
    ) -> list[np.ndarray]:
        """Gradients for ``x`` and every weight; re-executes when no VJP was kept."""
        x2d, _ = validate_inputs(x)
        if x2d.shape[0] == 0:
            return [np.zeros(x.shape), *(np.zeros(a.shape) for a in w)]
        vjp = _PENDING.pop(token)
        with cost_phase(self.executor, True):
            if vjp is None:
                vjp = self.executor.execute(x2d, self._weights(w), with_vjp=True).vjp
            d_x, d_w = vjp(dy.reshape(len(x2d), self.n_outputs))
        return [d_x.reshape(x.shape), *(d_w[n] for n in self.executor.weight_names)]

    def second(self, x: np.ndarray, dy: np.ndarray, *rest: np.ndarray) -> list[np.ndarray]:
        """The pullback of the backward pass to ``x``, ``dy`` and the weights (engine only)."""
        n_weights = len(self.executor.weight_names)
        w, dd = rest[:n_weights], rest[n_weights:]
        x2d, _ = validate_inputs(x)
        gx, gdy, gw = self.executor.second_order(
            x2d,
            list(w),
            dy.reshape(len(x2d), self.n_outputs),
            dd[0].reshape(x2d.shape),
            list(dd[1:]),
        )
        return [gx.reshape(x.shape), gdy.reshape(dy.shape), *gw]


def _backward_op(host: _Host) -> Callable[..., Any]:
    """The backward pass ``(token, x, dy, *w) -> [dx, *dw]`` as a differentiable op."""

    @tf.custom_gradient
    def vjp_op(token: tf.Tensor, x: tf.Tensor, dy: tf.Tensor, *w: tf.Tensor) -> Any:
        grads = tf.numpy_function(host.backward, [token, x, dy, *w], [tf.float64] * (1 + len(w)))

        def second(*dd: tf.Tensor) -> list[tf.Tensor]:
            dd = [
                tf.zeros_like(t, tf.float64) if d is None else tf.cast(d, tf.float64)
                for d, t in zip(dd, [x, *w], strict=True)
            ]
            out = tf.numpy_function(host.second, [x, dy, *w, *dd], [tf.float64] * (2 + len(w)))
            return [None, *cast_like(out, [x, dy, *w])]

        return cast_like(grads, [x, *w]), second

    return vjp_op


def quantum_call(
    executor: BatchExecutor,
    inputs: tf.Tensor,
    weights: Sequence[tf.Tensor],
    n_outputs: int,
    *,
    input_grad: bool = True,
    training: bool = False,
) -> tf.Tensor:
    """Run ``executor`` on ``inputs`` as a differentiable TensorFlow op (eager or graph).

    With ``input_grad=False`` no gradient flows to ``inputs`` (weights still get theirs).

    With ``training=True`` the forward pass keeps its VJP for the backward pass (no second
    execution; shots and SPSA directions of the forward pass are the ones differentiated);
    otherwise (``predict``, evaluation) no VJP is prepared and a backward pass, if any,
    re-executes the batch. Both are safe in ``tf.function`` and ``tf.distribute`` replicas.
    """
    host = _Host(executor, n_outputs, training)
    out_dtype = inputs.dtype if inputs.dtype.is_floating else tf.float32
    unbatched = inputs.shape.rank == 1
    vjp_op = _backward_op(host)

    @tf.custom_gradient
    def op(x: tf.Tensor, *w: tf.Tensor) -> Any:
        out, token = tf.numpy_function(host.forward, [x, *w], [tf.float64, tf.int64], stateful=True)
        out = tf.reshape(out, [n_outputs] if unbatched else [-1, n_outputs])

        def grad(dy: tf.Tensor) -> list[tf.Tensor]:
            out = vjp_op(token, x, tf.cast(dy, tf.float64), *w)
            return [out[0] if input_grad else None, *out[1:]]

        return tf.cast(out, out_dtype), grad

    return op(inputs, *weights)
