"""One device batch per training step: forward and gradient circuits submitted together.

For parameter-shift and SPSA the shifted (perturbed) circuits do not depend on the upstream
gradient, so the layers can build them in the forward pass with PennyLane's own transforms
(``qml.gradients.param_shift`` / ``qml.gradients.spsa_grad``), execute them in the same
``device.execute`` call as the forward circuits, and keep the Jacobian. The backward pass then
only contracts the Jacobian with the cotangent: one job round trip per step on a remote device
instead of two (issue 11). Framework-neutral; the torch and Keras adapters live with their
layers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pennylane as qml

from qstore_layers.device_jacobian import flatten_result

logger = logging.getLogger(__name__)

PREFETCH_METHODS = ("parameter-shift", "spsa")
"""Gradient methods whose gradient circuits can be built before the backward pass."""

REMOTE_DEVICES = ("qstore.ionq",)
"""Device names whose batches are remote jobs (prefetch is on for them by default)."""

_MEASUREMENTS = (
    qml.measurements.ExpectationMP,
    qml.measurements.ProbabilityMP,
    qml.measurements.VarianceMP,
)

SECOND_ORDER_MESSAGE = (
    "Second derivatives (create_graph=True, Hessians) are not available through a prefetched "
    "gradient: the forward pass computed a first-order Jacobian only. Build the layer with "
    "prefetch_gradients=False for higher derivatives."
)


def is_remote(device: Any) -> bool:
    """Whether a batch on ``device`` is a remote job: ``qstore.ionq``, or a router whose
    ``has_remote_targets`` is true."""
    return getattr(device, "name", None) in REMOTE_DEVICES or bool(
        getattr(device, "has_remote_targets", False)
    )


def prefetch_enabled(option: bool | None, device: Any, method: str) -> bool:
    """Whether a step with ``method`` on ``device`` prefetches its gradient circuits.

    Args:
        option: The layer's ``prefetch_gradients`` (``None``: only for remote devices).
        device: The QNode's device.
        method: The resolved gradient method of the step.
    """
    if method not in PREFETCH_METHODS or option is False:
        return False
    return option is True or is_remote(device)


def supported(tape: qml.tape.QuantumScript, params: Sequence[Any]) -> bool:
    """Whether the prefetch path is exact for ``tape``: expectation values, probabilities or
    variances, and scalar trainable parameters (``params`` are the tape's trainable ones)."""
    if not tape.measurements or not all(isinstance(m, _MEASUREMENTS) for m in tape.measurements):
        return False
    return all(np.ndim(p) == 0 for p in params)


@dataclass(frozen=True)
class TapeGradient:
    """One tape's result and its Jacobian.

    Attributes:
        parts: The result per measurement, float64 arrays.
        jacobian: ``jacobian[m][p]``: derivative of measurement ``m`` by the tape's ``p``-th
            trainable parameter, shaped like ``parts[m]``.
    """

    parts: tuple[np.ndarray, ...]
    jacobian: tuple[tuple[np.ndarray, ...], ...]

    def matrix(self, flatten: Callable[[Sequence[np.ndarray]], np.ndarray]) -> np.ndarray:
        """The Jacobian as a ``(outputs, parameters)`` matrix; ``flatten`` lays out one
        result-shaped list of arrays (one per measurement) as the flat outputs."""
        n_params = len(self.jacobian[0]) if self.jacobian else 0
        size = flatten(self.parts).size
        if n_params == 0:
            return np.zeros((size, 0))
        cols = [flatten([jm[p] for jm in self.jacobian]) for p in range(n_params)]
        return np.stack(cols, axis=1)


def _normalise(jac: Any, n_meas: int, n_params: int) -> tuple[tuple[np.ndarray, ...], ...]:
    """PennyLane's Jacobian structure (squeezed for one measurement or one parameter) as
    ``[measurement][parameter]``."""
    per_meas = (jac,) if n_meas == 1 else tuple(jac)
    return tuple(
        tuple(np.asarray(j if n_params == 1 else j[p], dtype=np.float64) for p in range(n_params))
        for j in per_meas
    )


def _parts(result: Any, n_meas: int) -> tuple[np.ndarray, ...]:
    parts = (result,) if n_meas == 1 else tuple(result)
    return tuple(np.asarray(p, dtype=np.float64) for p in parts)


def _transform(method: str) -> Any:
    return qml.gradients.param_shift if method == "parameter-shift" else qml.gradients.spsa_grad


def gradient_level(
    tapes: Sequence[qml.tape.QuantumScript], method: str
) -> tuple[list[qml.tape.QuantumScript], bool]:
    """Apply the gradient transform's own expansion (what PennyLane does before it) to each
    tape; returns the tapes and whether the prefetch can take them (an expansion that splits a
    tape, for trainable observable coefficients, is left to the normal path)."""
    expand = _transform(method).expand_transform
    out = []
    for tape in tapes:
        params = tape.get_parameters(trainable_only=False)
        tape.trainable_params = qml.math.get_trainable_indices(params)
        batch, _ = expand(tape)
        if len(batch) != 1:
            return list(tapes), False
        out.append(batch[0])
    return out, True


def chunk_jacobian(
    device: Any, chunk: Any, gradient_kwargs: Mapping[str, Any]
) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]] | None:
    """Outputs and parameter VJP of a :class:`~qstore_layers.core` chunk, its gradient
    circuits run in the same batch; ``None`` when the prefetch is not exact for it."""
    tapes = []
    for tape, idx, shapes in zip(chunk.tapes, chunk.trainable, chunk.shapes, strict=True):
        params = tape.get_parameters(trainable_only=False)
        if not supported(tape, [params[i] for i in idx]) or any(sh != () for sh in shapes):
            return None
        tape = tape.copy()
        tape.trainable_params = list(idx)
        tapes.append(tape)
    grads = execute_with_jacobians(tapes, device, chunk.method, gradient_kwargs)

    def layout(tape: qml.tape.QuantumScript) -> Callable[[Sequence[np.ndarray]], np.ndarray]:
        return lambda parts: np.ravel(
            flatten_result(parts[0] if len(parts) == 1 else tuple(parts), tape)
        )

    outs = [
        np.asarray(flatten_result(g.parts[0] if len(g.parts) == 1 else g.parts, t))
        for g, t in zip(grads, tapes, strict=True)
    ]
    jacs = [g.matrix(layout(t)) for g, t in zip(grads, tapes, strict=True)]
    rows = np.cumsum([0, *(len(o) for o in outs)])

    def vjp(dy: np.ndarray) -> np.ndarray:
        dy = np.asarray(dy, dtype=np.float64)
        return np.concatenate(
            [j.T @ np.ravel(dy[a:b]) for j, a, b in zip(jacs, rows[:-1], rows[1:], strict=True)]
        )

    return np.concatenate(outs, axis=0).astype(np.float64), vjp


def execute_with_jacobians(
    tapes: Sequence[qml.tape.QuantumScript],
    device: Any,
    method: str,
    gradient_kwargs: Mapping[str, Any],
) -> list[TapeGradient]:
    """Execute ``tapes`` (numeric parameters, ``trainable_params`` set) and their gradient
    tapes in one ``qml.execute`` call, i.e. one batch on ``device``.

    Args:
        tapes: Tapes at PennyLane's "gradient" level (user transforms and the gradient
            transform's own expansion applied).
        device: The device that runs the batch.
        method: ``"parameter-shift"`` or ``"spsa"``.
        gradient_kwargs: Keyword arguments of the gradient transform (SPSA step, sampler, ...).
    """
    transform = _transform(method)
    batch: list[qml.tape.QuantumScript] = list(tapes)
    pending: list[tuple[int, int, Any]] = []
    for tape in tapes:
        if not tape.trainable_params:
            pending.append((len(batch), 0, None))
            continue
        grad_tapes, fn = transform(tape, **gradient_kwargs)
        pending.append((len(batch), len(grad_tapes), fn))
        batch.extend(grad_tapes)
    results = qml.execute(batch, device, diff_method=None)
    logger.debug(
        "prefetched %d gradient circuits with %d forward circuits",
        len(batch) - len(tapes),
        len(tapes),
    )
    out = []
    for i, (tape, (start, count, fn)) in enumerate(zip(tapes, pending, strict=True)):
        n_meas, n_params = len(tape.measurements), len(tape.trainable_params)
        parts = _parts(results[i], n_meas)
        if fn is None:
            jac = tuple(() for _ in parts)
        else:
            jac = _normalise(fn(results[start : start + count]), n_meas, n_params)
        out.append(TapeGradient(parts, jac))
    return out
