"""Framework-agnostic execution of a circuit on a batch: outputs and vector-Jacobian products.

The Torch and Keras layers are thin adapters over :class:`BatchExecutor`. One call runs the
circuit for every row of an input batch and returns a :class:`BatchResult` whose ``vjp`` maps a
cotangent of the outputs to gradients for the inputs *and* every weight, with the gradient
method asked for.

Execution happens in two stages so that device work can run concurrently safely:

1. In the calling thread, the QNode's function builds one tape per chunk of the batch (PennyLane
   records operations in a global queue, so this stage never runs in worker threads). The
   classical map ``(inputs, weights) -> gate parameters`` is traced with autograd.
2. Each chunk's tapes are executed (and later differentiated) through ``qml.execute``, in worker
   threads when ``async_execution`` is on. Gradients with respect to the gate parameters are then
   chained back through the classical map.

The module is ~420 lines because :class:`BatchExecutor` is deliberately the one place where a
batch's execution path (engine or device, the gradient method per circuit, the device per
thread) is chosen. The chunks of the generic path are built and run in :mod:`qstore_layers.chunks`,
the engine's helpers live in :mod:`qstore_layers.engine_path`; validation, options, the
device-Jacobian shortcut and the gradient prefetch have their own modules.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pennylane as qml
from pennylane.devices import ExecutionConfig

from qstore_layers.async_exec import PENNYLANE_LOCK, ThreadDevices, thread_pool
from qstore_layers.chunks import build_chunk, locked_call, run_chunk
from qstore_layers.engine_path import (
    engine_module,
    record_engine_batch,
    second_order_on_engine,
)
from qstore_layers.options import EXACT_METHODS, GRADIENT_METHODS, LayerOptions
from qstore_layers.prefetch import prefetch_enabled
from qstore_layers.validation import (
    resolve_gradient_method,
    validate_inputs,
    validate_weight_shapes,
)

__all__ = [
    "GRADIENT_METHODS",
    "BatchExecutor",
    "BatchResult",
    "LayerOptions",
    "validate_inputs",
    "validate_weight_shapes",
]

VJPFunction = Callable[[np.ndarray], tuple[np.ndarray, dict[str, np.ndarray]]]


@dataclass(frozen=True)
class BatchResult:
    """Outputs of one batch and the function that pulls a cotangent back to inputs and weights.

    Attributes:
        outputs: Array of shape ``(batch, n_outputs)``, float64.
        vjp: ``vjp(dy) -> (d_inputs, {name: d_weight})`` for ``dy`` shaped like ``outputs``;
            ``None`` when the batch was executed without gradients.
    """

    outputs: np.ndarray
    vjp: VJPFunction | None


def _supports_vjp(device: Any) -> bool:
    """Whether ``device`` computes adjoint vector-Jacobian products itself (cheaper than a
    full Jacobian when the circuit has many outputs)."""
    try:
        return bool(device.supports_vjp(ExecutionConfig(gradient_method="adjoint")))
    except Exception:  # a device that cannot answer does not support it
        return False


class BatchExecutor:
    """Executes a QNode on a batch of inputs and returns outputs plus a VJP function.

    This is the single place where a batch is executed (forward and backward) for every layer.

    Args:
        qnode: QNode whose function takes ``inputs`` and the weights as keyword arguments.
        weight_names: Names of the weight arguments, in the order the layer stores them.
        gradient_method: One of :data:`GRADIENT_METHODS`.
        spsa_epsilon: Finite-difference step of SPSA.
        spsa_num_directions: Random directions averaged per SPSA estimate.
        seed: Seed of the SPSA direction sampler.
        async_execution: Split the batch into chunks executed concurrently in threads.
        max_workers: Threads (and chunks) used by ``async_execution``; default ``os.cpu_count()``.
        prefer: Exact methods tried in order when resolving ``"best"``.
    """

    def __init__(
        self,
        qnode: qml.QNode,
        weight_names: Sequence[str],
        *,
        options: LayerOptions | None = None,
        prefer: Sequence[str] = ("adjoint", "backprop"),
        input_arg: str = "inputs",
        **option_kwargs: Any,
    ) -> None:
        if options is None:
            options = LayerOptions(**option_kwargs)
        elif option_kwargs:
            raise TypeError("Pass either options=LayerOptions(...) or keyword options, not both.")
        method = options.gradient_method
        if method == "best" and isinstance(qnode.diff_method, str) and qnode.diff_method != "best":
            if qnode.diff_method not in GRADIENT_METHODS:
                raise ValueError(
                    f"The QNode has diff_method={qnode.diff_method!r}, which the layers do not "
                    f"run; build the QNode with one of {', '.join(GRADIENT_METHODS)}, or pass "
                    "gradient_method=... to the layer."
                )
            method = qnode.diff_method
        self.options = options
        self.qnode = qnode
        self.prefer = tuple(prefer)
        self.phase: str | None = None
        """An explicit cost phase for this executor's work (set by :meth:`running_on`)."""
        self.qnode_gradient_kwargs = dict(getattr(qnode, "gradient_kwargs", None) or {})
        self.input_arg = input_arg
        self.weight_names = tuple(weight_names)
        self.shots = qnode.shots if qnode.shots else None
        self.requested_method = method
        self.gradient_method = resolve_gradient_method(method, qnode.device, self.shots, prefer)
        self.device_vjp = self.gradient_method == "adjoint" and _supports_vjp(qnode.device)
        self.spsa_epsilon = float(options.spsa_epsilon)
        self.spsa_num_directions = int(options.spsa_num_directions)
        self.async_execution = options.async_execution
        self.max_workers = int(options.max_workers or os.cpu_count() or 1)
        self._rng = np.random.default_rng(options.seed)
        self._devices = ThreadDevices(qnode.device) if self.async_execution else None
        self._engine: dict[tuple, Any] = {}  # engine fast path per batch shape

    def for_device(self, device: Any) -> BatchExecutor:
        """A copy of this executor that runs on ``device``, with the device's shots and the
        ``best`` gradient method there (validation on another device; the options are kept)."""
        qnode = qml.set_shots(self.qnode.update(device=device, diff_method="best"), device.shots)
        return BatchExecutor(
            qnode,
            self.weight_names,
            options=dataclasses.replace(self.options, gradient_method="best"),
            prefer=self.prefer,
            input_arg=self.input_arg,
        )

    @contextlib.contextmanager
    def running_on(self, device: Any, phase: str | None = None) -> Iterator[BatchExecutor]:
        """Run on ``device`` inside the block (in place, so code holding this executor, such as
        a traced Keras function, follows), tagging its cost with ``phase``; restored on exit."""
        other = self.for_device(device)
        other.phase = phase
        saved = dict(self.__dict__)
        self.__dict__.update(other.__dict__)
        try:
            yield self
        finally:
            self.__dict__.clear()
            self.__dict__.update(saved)

    def engine_recipe(self) -> Any:
        """The engine's derivative recipe for this layer's method (``None``: adjoint)."""
        if self.gradient_method not in ("parameter-shift", "finite-diff", "spsa"):
            return None
        from pennylane_qstore.engine.recipes import Recipe

        shots = qml.measurements.Shots(self.shots).total_shots if self.shots else None
        return Recipe(
            self.gradient_method, self.spsa_epsilon, self.spsa_num_directions, self._rng, shots
        )

    def engine_note(self) -> str:
        """How the engine differentiates this layer's batches (for the routing record)."""
        how = "adjoint" if self.engine_recipe() is None else self.gradient_method
        return f"layer batch on the engine ({how} backward)"

    def method_for(self, tape: qml.tape.QuantumScript) -> str:
        """The gradient method for one recorded circuit.

        ``best`` resolved to adjoint, but adjoint differentiates expectation values only: a
        circuit measuring ``probs``, ``var``, ... uses backprop where the device has it, else
        parameter-shift (as PennyLane's own ``best`` does).
        """
        if self.requested_method != "best" or self.gradient_method != "adjoint":
            return self.gradient_method
        if all(isinstance(m, qml.measurements.ExpectationMP) for m in tape.measurements):
            return "adjoint"
        config = ExecutionConfig(gradient_method="backprop", interface="autograd")
        try:
            if self.qnode.device.supports_derivatives(config):
                return "backprop"
        except Exception:  # a device that cannot answer does not support it
            pass
        return "parameter-shift"

    def __deepcopy__(self, memo: dict[int, Any]) -> BatchExecutor:
        """Copy the options and sampler state; the QNode (function and device) is shared."""
        clone = copy.copy(self)
        clone._rng = copy.deepcopy(self._rng, memo)
        clone._devices = copy.deepcopy(self._devices, memo)  # no per-thread devices carried over
        return clone

    def __getstate__(self) -> dict[str, Any]:
        """Pickle/copy support: compiled engine circuits hold closures and are rebuilt."""
        state = self.__dict__.copy()
        state["_engine"] = {}
        return state

    def engine_circuit(self, n_features: int, weight_shapes: Mapping[str, Sequence[int]]) -> Any:
        """The engine fast path for this batch shape, or ``None`` (issue 6, docs/performance.md).

        Batches on ``qstore.router`` / ``default.qubit`` are simulated in one pass by
        :mod:`pennylane_qstore.engine`: exact methods by one adjoint sweep, parameter-shift,
        finite-diff and SPSA by extra batch rows (:meth:`engine_recipe`), with shots sampled;
        circuits the engine cannot run keep the generic path. The engine takes precedence over
        ``async_execution``: one vectorised pass beats chunks that would run serialized on these
        Python-executed devices (measured: 0.1 s vs 51 s for 64 rows on 10 qubits).
        """
        engine_batch = engine_module()
        if self.qnode_gradient_kwargs and self.gradient_method not in EXACT_METHODS:
            return None  # the QNode's own step/directions: PennyLane's transforms honour them
        if (
            not self.options.fast_path
            or engine_batch is None
            or not engine_batch.eligible(self.qnode.device, self.gradient_method, self.shots)
        ):
            return None
        key = (n_features, tuple((k, tuple(v)) for k, v in weight_shapes.items()))
        if key not in self._engine:
            with PENNYLANE_LOCK:
                self._engine[key] = engine_batch.engine_circuit(
                    self.qnode.func,
                    dict(weight_shapes),
                    n_features,
                    self.qnode.device.wires,
                    self.input_arg,
                )
        return self._engine[key]

    # ------------------------------------------------------------------ public API
    def execute(
        self, inputs: Any, weights: Mapping[str, Any], *, with_vjp: bool = True
    ) -> BatchResult:
        """Run the circuit for every row of ``inputs``.

        Args:
            inputs: Float array of shape ``(batch, features)``, already validated.
            weights: Weight arrays keyed by name.
            with_vjp: Also prepare the vector-Jacobian product (costs the classical trace).

        Returns:
            The outputs ``(batch, n_outputs)`` and, if asked, the VJP function.
        """
        x = np.asarray(inputs, dtype=np.float64)
        w = tuple(np.asarray(weights[name], dtype=np.float64) for name in self.weight_names)
        # Engine fast path (issue 6): this single batch-execution point hands analytic batches to
        # pennylane_qstore.engine (complex128 here); the generic path below serves the rest.
        result = self._execute_on_engine(x, w, with_vjp)
        if result is not None:
            return result
        with PENNYLANE_LOCK:
            chunks = [build_chunk(self, x, w, rows, with_vjp) for rows in self._split(len(x))]
        runs = self._map(lambda chunk: run_chunk(self, chunk, with_vjp), chunks)
        outputs = np.concatenate([out for out, _ in runs], axis=0)
        if not with_vjp:
            return BatchResult(outputs, None)

        def vjp(dy: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
            dy = np.asarray(dy, dtype=np.float64).reshape(outputs.shape)
            jobs = [(q_vjp, dy[c.rows]) for c, (_, q_vjp) in zip(chunks, runs, strict=True)]
            d_params = self._map(locked_call, jobs)
            d_x = np.zeros_like(x)
            d_w = [np.zeros_like(a) for a in w]
            for chunk, dp in zip(chunks, d_params, strict=True):
                if chunk.classical_vjp is None:
                    continue
                with PENNYLANE_LOCK:
                    cx, cw = chunk.classical_vjp(dp)
                d_x[chunk.rows] += cx
                for acc, g in zip(d_w, cw, strict=True):
                    acc += g
            return d_x, dict(zip(self.weight_names, d_w, strict=True))

        return BatchResult(outputs, vjp)

    def _execute_on_engine(
        self, x: np.ndarray, w: tuple[np.ndarray, ...], with_vjp: bool
    ) -> BatchResult | None:
        """:meth:`execute` on the engine, or ``None`` where the engine does not take the batch."""
        shapes = {name: a.shape for name, a in zip(self.weight_names, w, strict=True)}
        fast = self.engine_circuit(x.shape[1], shapes)
        if fast is None:
            return None
        start = time.perf_counter()
        try:
            outputs, engine_vjp = engine_module().run_numpy(
                fast, x, w, with_vjp, self.engine_recipe()
            )
        except engine_module().EngineUnsupportedError:  # this call's structure is not supported
            return None
        record_engine_batch(
            self.qnode.device, len(x), time.perf_counter() - start, self.engine_note()
        )
        if engine_vjp is None:
            return BatchResult(outputs, None)

        def fast_vjp(dy: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
            d_x, d_w = engine_vjp(dy)
            return d_x, dict(zip(self.weight_names, d_w, strict=True))

        return BatchResult(outputs, fast_vjp)

    def second_order(
        self,
        x: np.ndarray,
        w: Sequence[np.ndarray],
        dy: np.ndarray,
        ddx: np.ndarray,
        ddw: Sequence[np.ndarray],
    ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """Second-order pullback for a nested tape: the VJP of ``(x, w, dy) -> vjp(dy)``.

        Given the cotangents ``ddx``, ``ddw`` of the first-order gradients, returns their pullback
        to ``x``, ``dy`` and the weights. Runs on the engine (torch differentiates its backward
        pass again); other paths raise ``NotImplementedError`` naming the alternative.
        """
        shapes = {name: np.shape(a) for name, a in zip(self.weight_names, w, strict=True)}
        fast = self.engine_circuit(x.shape[1], shapes)
        recipe = self.engine_recipe()
        if fast is None or (recipe is not None and recipe.shots is not None):
            raise NotImplementedError(
                "Second derivatives (nested GradientTape) of a Keras quantum layer run only on "
                "the engine (qstore.router or default.qubit, no shots); use the torch layers "
                "for this device or method."
            )
        return second_order_on_engine(fast, recipe, x, w, dy, ddx, ddw)

    async def execute_async(
        self, inputs: Any, weights: Mapping[str, Any], *, with_vjp: bool = True
    ) -> BatchResult:
        """Awaitable :meth:`execute`: runs in a worker thread so the event loop stays free."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            None, lambda: self.execute(inputs, weights, with_vjp=with_vjp)
        )

    # ------------------------------------------------------------------ internals
    def _split(self, batch: int) -> list[list[int]]:
        """Row indices of each chunk: one chunk, or ``max_workers`` chunks when async."""
        n_chunks = min(self.max_workers, batch) if self.async_execution else 1
        size = math.ceil(batch / max(n_chunks, 1))
        return [list(range(i, min(i + size, batch))) for i in range(0, batch, size)]

    def _map(self, fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
        """Apply ``fn`` to every item, concurrently in threads when async and worthwhile."""
        if self.async_execution and len(items) > 1:
            return list(thread_pool(self.max_workers).map(fn, items))
        return [fn(item) for item in items]

    def prefetches(self) -> bool:
        """Whether training batches run their gradient circuits with the forward circuits
        (:mod:`qstore_layers.prefetch`)."""
        return prefetch_enabled(
            self.options.prefetch_gradients, self.qnode.device, self.gradient_method
        )

    def tapes_for(self, x: Any, w: Sequence[Any]) -> list[qml.tape.QuantumScript]:
        """Build the tapes of a chunk.

        Gradient transforms (parameter-shift, finite-diff, SPSA) cannot differentiate broadcast
        parameters, so their tapes are expanded to one per row; devices that differentiate
        themselves (backprop, adjoint) get the broadcast tape and expand it as they need.
        """
        kwargs = dict(zip(self.weight_names, w, strict=True))
        tape = qml.workflow.construct_tape(self.qnode, level="user")(
            **{self.input_arg: x}, **kwargs
        )
        if tape.batch_size is not None and self.method_for(tape) not in EXACT_METHODS:
            tapes, _ = qml.transforms.broadcast_expand(tape)
            return list(tapes)
        return [tape]

    def thread_device(self) -> Any:
        """The device for the current thread: the QNode's device, or with ``async_execution``
        the thread's own (:class:`~qstore_layers.async_exec.ThreadDevices`)."""
        if self._devices is None:
            return self.qnode.device
        return self._devices.get(self.qnode.device)

    def gradient_kwargs(self, method: str | None = None) -> dict[str, Any]:
        """Extra arguments of the gradient transform of ``method`` (default: the layer's): the
        SPSA step, directions and sampler, then the settings made on the QNode."""
        kwargs = {}
        if (method or self.gradient_method) == "spsa":
            kwargs = {
                "h": self.spsa_epsilon,
                "num_directions": self.spsa_num_directions,
                "sampler_rng": self._rng,
            }
        return {**kwargs, **self.qnode_gradient_kwargs}  # settings made on the QNode win
