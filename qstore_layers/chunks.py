"""The generic (device) path of :class:`~qstore_layers.core.BatchExecutor`, one chunk at a time.

Stage 1, :func:`build_chunk`, runs in the calling thread: the QNode's function records the
chunk's tapes and autograd traces the classical map ``(inputs, weights) -> gate parameters``.
Stage 2, :func:`run_chunk`, runs in any thread: the tapes go through ``qml.execute`` (or a
device-Jacobian / prefetched-Jacobian shortcut) and a VJP with respect to the gate parameters
comes back, to be chained through the classical map by the executor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import autograd
import autograd.numpy as anp
import numpy as np
import pennylane as qml
from autograd.tracer import Box, getval

from qstore_layers.async_exec import PENNYLANE_LOCK
from qstore_layers.device_jacobian import device_jacobian, flatten_result
from qstore_layers.prefetch import chunk_jacobian, gradient_level

if TYPE_CHECKING:
    from qstore_layers.core import BatchExecutor

ParameterVJP = Callable[[np.ndarray], np.ndarray]


@dataclass
class Chunk:
    """Tapes of one chunk with numeric parameters, and the classical map's VJP."""

    tapes: list[qml.tape.QuantumScript]
    trainable: list[list[int]]
    shapes: list[list[tuple[int, ...]]]
    rows: list[int]
    classical_vjp: Callable[[np.ndarray], tuple[np.ndarray, tuple[np.ndarray, ...]]] | None
    params: np.ndarray
    method: str
    prefetch: bool = False


def build_chunk(
    executor: BatchExecutor,
    x: np.ndarray,
    w: tuple[np.ndarray, ...],
    rows: list[int],
    with_vjp: bool,
) -> Chunk:
    """Stage 1 (calling thread, :data:`PENNYLANE_LOCK` held): build tapes and trace the
    classical parameter map of rows ``rows``."""
    captured: dict[str, Any] = {"prefetch": with_vjp and executor.prefetches()}

    def classical(xc: Any, *wc: Any) -> Any:
        tapes = executor.tapes_for(xc, wc)
        if captured["prefetch"]:
            tapes, captured["prefetch"] = gradient_level(tapes, executor.gradient_method)
        captured["tapes"] = tapes
        flat = []
        captured["trainable"], captured["shapes"] = [], []
        for tape in tapes:
            params = tape.get_parameters(trainable_only=False)
            idx = [i for i, p in enumerate(params) if isinstance(p, Box)]
            captured["trainable"].append(idx)
            captured["shapes"].append([np.shape(getval(params[i])) for i in idx])
            flat.extend(anp.ravel(params[i]) for i in idx)
        return anp.concatenate(flat) if flat else anp.zeros(0)

    if with_vjp:
        vjp_fn, flat_params = autograd.make_vjp(classical, argnum=tuple(range(1 + len(w))))(
            x[rows], *w
        )
    else:
        flat_params, vjp_fn = np.asarray(classical(x[rows], *w)), None

    def classical_vjp(dp: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        grads = vjp_fn(dp)
        return grads[0], tuple(grads[1:])

    numeric = []
    for tape in captured["tapes"]:
        values = [getval(p) for p in tape.get_parameters(trainable_only=False)]
        numeric.append(tape.bind_new_parameters(values, list(range(len(values)))))
    return Chunk(
        tapes=numeric,
        trainable=captured["trainable"],
        shapes=captured["shapes"],
        rows=rows,
        classical_vjp=classical_vjp if vjp_fn is not None else None,
        params=np.asarray(getval(flat_params), dtype=np.float64),
        method=executor.method_for(captured["tapes"][0]),
        prefetch=captured["prefetch"],
    )


def run_chunk(
    executor: BatchExecutor, chunk: Chunk, with_vjp: bool
) -> tuple[np.ndarray, ParameterVJP | None]:
    """Stage 2 (any thread): execute the chunk's tapes under :data:`PENNYLANE_LOCK`; return
    the outputs and, if asked, the VJP with respect to the chunk's gate parameters."""
    with PENNYLANE_LOCK:
        device = executor.thread_device()
        if with_vjp and chunk.method == "adjoint" and chunk.params.size:
            fast = device_jacobian(device, chunk)
            if fast is not None:
                return fast
        if with_vjp and chunk.prefetch and chunk.params.size:
            fast = chunk_jacobian(device, chunk, executor.gradient_kwargs())
            if fast is not None:
                return fast

        def quantum(p: Any) -> Any:
            tapes = _bind(chunk, p)
            results = qml.execute(
                tapes,
                device,
                diff_method=chunk.method if with_vjp else None,
                interface="autograd" if with_vjp else None,
                device_vjp=with_vjp and executor.device_vjp and chunk.method == "adjoint",
                gradient_kwargs=executor.gradient_kwargs(),
            )
            return anp.concatenate(
                [flatten_result(r, t) for r, t in zip(results, tapes, strict=True)], axis=0
            )

        if not with_vjp or chunk.params.size == 0:
            out = np.asarray(getval(quantum(chunk.params)), dtype=np.float64)
            zero = np.zeros_like(chunk.params)
            return out, (lambda _dy: zero) if with_vjp else None
        vjp_fn, out = autograd.make_vjp(quantum)(chunk.params)
        return np.asarray(out, dtype=np.float64), vjp_fn


def _bind(chunk: Chunk, p: Any) -> list[qml.tape.QuantumScript]:
    """The chunk's tapes with the flat gate parameters ``p`` bound to their trainable slots."""
    tapes, offset = [], 0
    for tape, idx, shapes in zip(chunk.tapes, chunk.trainable, chunk.shapes, strict=True):
        values = []
        for shape in shapes:
            size = int(np.prod(shape))
            values.append(anp.reshape(p[offset : offset + size], shape))
            offset += size
        tapes.append(tape.bind_new_parameters(values, idx) if idx else tape)
    return tapes


def locked_call(job: tuple[Callable[[Any], Any], Any]) -> Any:
    """Call ``job[0](job[1])`` holding :data:`PENNYLANE_LOCK` (used for chunk VJPs)."""
    fn, arg = job
    with PENNYLANE_LOCK:
        return fn(arg)
