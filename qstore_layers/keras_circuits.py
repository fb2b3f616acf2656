"""The Keras layer's call on a ``tf.string`` tensor of OpenQASM programs, one circuit per row.

Rows are read and grouped by circuit structure (:mod:`.circuit_inputs`); each group runs through
its structure's :class:`~qstore_layers.core.BatchExecutor` (engine or device, every gradient
method) inside one host op, so the tensor flows through ``tf.data`` and ``model.fit``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
import pennylane as qml
import tensorflow as tf

from qstore_layers.circuit_inputs import CircuitInputs
from qstore_layers.keras_ops import PendingVJPs, cast_like

__all__ = ["circuit_call"]

_PENDING = PendingVJPs()

VJP = Callable[[np.ndarray], list[np.ndarray]]


def _decode(strings: np.ndarray) -> list[str]:
    """The rows of a ``(batch,)`` or ``(batch, 1)`` string array as Python strings."""
    flat = np.asarray(strings, dtype=object).reshape(-1)
    return [s.decode("utf-8") if isinstance(s, bytes) else str(s) for s in flat]


def run_groups(
    ci: CircuitInputs,
    strings: np.ndarray,
    weights: Sequence[np.ndarray],
    n_outputs: int,
    with_vjp: bool,
) -> tuple[np.ndarray, VJP | None]:
    """Outputs ``(batch, n_outputs)`` of every row and, if asked, the weights' VJP."""
    groups, _ = ci.read(_decode(strings))
    names = ci.weight_names
    w = dict(zip(names, weights, strict=True))
    outputs = np.zeros((sum(len(g.rows) for g in groups), n_outputs))
    sampled = bool(qml.measurements.Shots(ci.qnode.shots))  # rows then sampled one by one
    pulls = []
    for group in groups:
        executor = ci.executor(group.template, 0)
        same = group.params.shape[1] == 0  # no angles: every row runs the same circuit
        if same and sampled:  # with shots every row is sampled on its own
            parts = [([row], np.zeros((1, 1)), False) for row in group.rows]
        else:
            parts = [(group.rows, np.zeros((1, 1)) if same else group.params, same)]
        for rows, x, shared in parts:
            result = executor.execute(x, w, with_vjp=with_vjp)
            if result.outputs.shape[1] != n_outputs:
                raise ValueError(
                    f"The QNode returns {result.outputs.shape[1]} values per sample but the layer "
                    f"was built with output_dim={n_outputs}; pass "
                    f"output_dim={result.outputs.shape[1]}."
                )
            outputs[rows] = result.outputs
            pulls.append((rows, shared, result.vjp))
    if not with_vjp:
        return outputs, None

    def vjp(dy: np.ndarray) -> list[np.ndarray]:
        dy = np.asarray(dy, dtype=np.float64).reshape(outputs.shape)
        total = [np.zeros(np.shape(a)) for a in weights]
        for rows, same, pull in pulls:
            part = dy[rows].sum(axis=0, keepdims=True) if same else dy[rows]
            _, d_w = pull(part)
            for acc, name in zip(total, names, strict=True):
                acc += d_w[name]
        return total

    return outputs, vjp


def circuit_call(
    ci: CircuitInputs,
    circuits: tf.Tensor,
    weights: Sequence[tf.Tensor],
    n_outputs: int,
    training: bool = False,
) -> tf.Tensor:
    """Run the model on a ``tf.string`` tensor of circuits as a differentiable op.

    Gradients flow to the weights (input circuits are constants). With ``training=True`` the
    forward pass keeps its VJP for the backward pass; otherwise the backward pass re-executes.
    """
    out_dtype = weights[0].dtype if weights else keras.config.floatx()

    def forward(strings: np.ndarray, *w: np.ndarray) -> tuple[np.ndarray, np.int64]:
        out, vjp = run_groups(ci, strings, w, n_outputs, with_vjp=training)
        return out, np.int64(0 if vjp is None else _PENDING.put(vjp))

    def backward(token: np.int64, strings: np.ndarray, dy: np.ndarray, *w: np.ndarray) -> list:
        vjp = _PENDING.pop(token)
        if vjp is None:
            vjp = run_groups(ci, strings, w, n_outputs, with_vjp=True)[1]
        return vjp(dy)

    @tf.custom_gradient
    def backward_op(token: tf.Tensor, dy: tf.Tensor, *w: tf.Tensor) -> Any:
        grads = tf.numpy_function(
            backward, [token, circuits, dy, *w], [tf.float64] * len(w), stateful=True
        )
        grads = grads if isinstance(grads, list | tuple) else [grads]  # one weight: one tensor

        def second(*_: tf.Tensor) -> list[tf.Tensor]:
            raise NotImplementedError(
                "Second derivatives (nested GradientTape) of a Keras layer on input circuits are "
                "not available; use the torch QuantumLayer, which differentiates twice."
            )

        return cast_like(grads, w), second

    @tf.custom_gradient
    def op(*w: tf.Tensor) -> Any:
        out, token = tf.numpy_function(
            forward, [circuits, *w], [tf.float64, tf.int64], stateful=True
        )
        out = tf.reshape(out, [-1, n_outputs])

        def grad(dy: tf.Tensor) -> list[tf.Tensor]:
            return backward_op(token, tf.cast(dy, tf.float64), *w)

        return tf.cast(out, out_dtype), grad

    return op(*weights)
