"""Torch layers: ``QuantumLayer`` wraps a QNode, ``QuantumLinear`` uses the default ansatz."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pennylane as qml

try:
    import torch
    from torch import nn
except ImportError as exc:  # pragma: no cover - exercised only without torch
    raise ImportError(
        'The Torch layers need PyTorch: pip install "pennylane-qstore[torch]"'
    ) from exc

from qstore_layers import ansatz
from qstore_layers.core import (
    BatchExecutor,
    BatchResult,
    record_engine_batch,
    validate_inputs,
    validate_weight_shapes,
)

__all__ = ["QuantumLayer", "QuantumLinear"]

_LAZY_INIT_LOCK = threading.RLock()


class _QuantumFunction(torch.autograd.Function):
    """Autograd node whose forward and backward are delegated to a :class:`BatchExecutor`."""

    @staticmethod
    def forward(ctx: Any, result: BatchResult, inputs: torch.Tensor, *weights: torch.Tensor) -> Any:
        ctx.vjp = result.vjp
        ctx.meta = (inputs.dtype, inputs.device, [(w.dtype, w.device) for w in weights])
        out_dtype = inputs.dtype if inputs.is_floating_point() else torch.get_default_dtype()
        return torch.from_numpy(result.outputs).to(device=inputs.device, dtype=out_dtype)

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> Any:
        d_x, d_w = ctx.vjp(grad_output.detach().cpu().double().numpy())
        x_dtype, x_device, w_meta = ctx.meta
        grad_x = torch.from_numpy(d_x).to(device=x_device, dtype=x_dtype)
        grads = [
            torch.from_numpy(g).to(device=dev, dtype=dt)
            for g, (dt, dev) in zip(d_w.values(), w_meta, strict=True)
        ]
        return (None, grad_x if ctx.needs_input_grad[1] else None, *grads)


def _default_init(tensor: torch.Tensor) -> torch.Tensor:
    """Uniform angles in [0, 2π), as PennyLane's TorchLayer."""
    return nn.init.uniform_(tensor, 0.0, 2 * math.pi)


def _run(executor: BatchExecutor, inputs: torch.Tensor, weights: Mapping[str, torch.Tensor]) -> Any:
    """Validate ``inputs``, execute the batch and connect it to torch autograd."""
    if not isinstance(inputs, torch.Tensor):
        inputs = torch.as_tensor(inputs, dtype=torch.get_default_dtype())
    x_np, unbatched = validate_inputs(inputs.detach().cpu().double().numpy())
    tensors = [weights[name] for name in executor.weight_names]
    # Engine fast path (issue 6, docs/performance.md): simulate the batch with torch on the
    # inputs' device, complex64 for float32 inputs and complex128 for float64; autograd runs
    # the engine's adjoint pass. ``None`` when the device/method/circuit does not qualify.
    fast = executor.engine_circuit(
        x_np.shape[1],
        {n: tuple(t.shape) for n, t in zip(executor.weight_names, tensors, strict=True)},
    )
    if fast is not None:
        x2d = inputs.reshape(1, -1) if unbatched else inputs
        if not x2d.is_floating_point():
            x2d = x2d.to(torch.get_default_dtype())
        precise = x2d.dtype == torch.float64
        start = time.perf_counter()
        out = fast.with_dtype(torch.complex128 if precise else torch.complex64)(x2d, tensors)
        record_engine_batch(executor.qnode.device, len(x2d), time.perf_counter() - start)
        out = out.to(x2d.dtype)
        return out[0] if unbatched else out
    needs_grad = torch.is_grad_enabled() and (
        inputs.requires_grad or any(w.requires_grad for w in tensors)
    )
    w_np = {
        name: t.detach().cpu().double().numpy()
        for name, t in zip(executor.weight_names, tensors, strict=True)
    }
    result = executor.execute(x_np, w_np, with_vjp=needs_grad)
    x2d = inputs.reshape(1, -1) if unbatched else inputs
    out = _QuantumFunction.apply(result, x2d, *tensors)
    return out[0] if unbatched else out


class QuantumLayer(nn.Module):
    """A ``torch.nn.Module`` that runs a QNode on each row of its input.

    Args:
        qnode: QNode taking ``inputs`` (the batch, shape ``(batch, features)``) and the weights.
        weight_shapes: Shape of every weight argument of the QNode.
        gradient_method: ``best`` (default), ``backprop``, ``adjoint``, ``parameter-shift``,
            ``finite-diff`` or ``spsa``. ``best`` honours a method set on the QNode.
        spsa_epsilon: SPSA step size.
        spsa_num_directions: Directions averaged per SPSA estimate.
        async_execution: Execute chunks of the batch concurrently in threads.
        max_workers: Number of concurrent chunks (default: CPU count).
        seed: Seed of the SPSA sampler.
        init_method: ``init(tensor)`` for the weights, or a dict of them per weight name.

    Outputs have shape ``(batch, n_outputs)`` (measurements flattened and concatenated), on the
    input's device and dtype; an unbatched ``(features,)`` input gives ``(n_outputs,)``.
    """

    def __init__(
        self,
        qnode: qml.QNode,
        weight_shapes: Mapping[str, int | Sequence[int]],
        *,
        gradient_method: str = "best",
        spsa_epsilon: float = 0.01,
        spsa_num_directions: int = 1,
        async_execution: bool = False,
        max_workers: int | None = None,
        seed: int | None = None,
        init_method: Callable[[torch.Tensor], Any] | Mapping[str, Callable] | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(qnode, qml.QNode):
            raise TypeError(f"QuantumLayer needs a pennylane QNode, got {type(qnode).__name__}.")
        shapes = validate_weight_shapes(qnode.func, weight_shapes)
        self.executor = BatchExecutor(
            qnode,
            list(shapes),
            gradient_method=gradient_method,
            spsa_epsilon=spsa_epsilon,
            spsa_num_directions=spsa_num_directions,
            seed=seed,
            async_execution=async_execution,
            max_workers=max_workers,
        )
        for name, shape in shapes.items():
            init = (
                init_method.get(name, _default_init) if isinstance(init_method, Mapping) else None
            )
            init = init or init_method or _default_init
            param = nn.Parameter(torch.empty(shape))
            with torch.no_grad():
                init(param)
            self.register_parameter(name, param)

    @property
    def qnode(self) -> qml.QNode:
        """The wrapped QNode."""
        return self.executor.qnode

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Run the QNode on ``inputs`` of shape ``(batch, features)`` or ``(features,)``."""
        return _run(self.executor, inputs, dict(self.named_parameters(recurse=False)))

    async def forward_async(self, inputs: torch.Tensor) -> torch.Tensor:
        """Awaitable forward: executes in a worker thread; autograd works as for ``forward``."""
        return await _to_thread(self, inputs)


class QuantumLinear(nn.modules.lazy.LazyModuleMixin, nn.Module):
    """Drop-in quantum replacement for ``nn.Linear`` built on the default ansatz.

    The number of input features is inferred at the first call (like ``nn.LazyLinear``); see
    :mod:`qstore_layers.ansatz` for the encoding and readout. Outputs: ``len(readout) * n_qubits``.

    Args:
        n_qubits: Qubits of the circuit (>= 1).
        n_layers: Entangling layers after every encoded block (>= 1).
        encoding: ``"angle"`` (re-uploads when features exceed qubits) or ``"amplitude"``.
        readout: Paulis measured on every qubit, e.g. ``"xyz"`` (default) or ``"z"``.
        device: Device name or instance (default ``"qstore.router"``).
        shots: ``None`` for exact expectation values, or a number of shots.
        gradient_method: See :class:`QuantumLayer`.
        spsa_epsilon: SPSA step size.
        spsa_num_directions: Directions averaged per SPSA estimate.
        async_execution: Execute chunks of the batch concurrently in threads.
        max_workers: Number of concurrent chunks (default: CPU count).
        bias: Add a trainable bias to the outputs.
        seed: Seed of the device's shot sampler (named devices) and of the SPSA sampler.
    """

    cls_to_become = None

    def __init__(
        self,
        n_qubits: int,
        n_layers: int = 2,
        *,
        encoding: str = "angle",
        readout: str | Sequence[str] = "xyz",
        device: Any = "qstore.router",
        shots: int | None = None,
        gradient_method: str = "best",
        spsa_epsilon: float = 0.01,
        spsa_num_directions: int = 1,
        async_execution: bool = False,
        max_workers: int | None = None,
        bias: bool = False,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        ansatz.validate_ansatz(n_qubits, n_layers, encoding)
        self.n_qubits, self.n_layers, self.encoding = n_qubits, n_layers, encoding
        self.readout = ansatz.parse_readout(readout)
        self.out_features = len(self.readout) * n_qubits
        dev = ansatz.make_device(device, n_qubits, seed)
        qnode = ansatz.make_qnode(n_qubits, encoding, self.readout, dev, shots)
        self.executor = BatchExecutor(
            qnode,
            ["weights"],
            gradient_method=gradient_method,
            spsa_epsilon=spsa_epsilon,
            spsa_num_directions=spsa_num_directions,
            seed=seed,
            async_execution=async_execution,
            max_workers=max_workers,
            prefer=ansatz.preferred_methods(encoding),
        )
        self.register_buffer("n_features", torch.tensor(0))
        self.weights = nn.parameter.UninitializedParameter()
        self.bias = nn.Parameter(torch.zeros(self.out_features)) if bias else None

    def initialize_parameters(self, inputs: torch.Tensor) -> None:  # type: ignore[override]
        """Materialise the weights once the number of input features is known.

        Guarded by a lock: concurrent first calls (e.g. ``forward_async``) initialise once.
        """
        with _LAZY_INIT_LOCK:
            if not self.has_uninitialized_params():
                return
            if inputs.dim() not in (1, 2):
                validate_inputs(inputs.detach().cpu().numpy())  # raises the rank error
            n_features = int(inputs.shape[-1])
            shape = ansatz.weight_shape(n_features, self.n_qubits, self.n_layers, self.encoding)
            with torch.no_grad():
                self.n_features.fill_(n_features)
                self.weights.materialize(shape)
                _default_init(self.weights)

    def _infer_parameters(self, module: nn.Module, args: Any, kwargs: Any = None) -> None:
        """Torch's lazy-init pre-hook, made safe for concurrent first calls.

        Several threads (``forward_async``, user threads) may enter the hook before the first
        one removes it; the others find the hook gone and simply run the forward.
        """
        with _LAZY_INIT_LOCK:
            if "_initialize_hook" in module.__dict__:
                super()._infer_parameters(module, args, kwargs)

    @property
    def qnode(self) -> qml.QNode:
        """The default-ansatz QNode; ``layer.qnode.device`` is the device it runs on."""
        return self.executor.qnode

    @property
    def in_features(self) -> int:
        """Number of input features (0 until the first call or a loaded state_dict)."""
        return int(self.n_features)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Run the circuit on ``inputs`` of shape ``(batch, features)`` or ``(features,)``."""
        n_features = int(inputs.shape[-1]) if inputs.dim() else 0
        if n_features != self.in_features:
            raise ValueError(
                f"QuantumLinear was built for {self.in_features} input features, got {n_features}."
            )
        if isinstance(inputs, torch.Tensor) and inputs.requires_grad:
            ansatz.check_input_gradient(self.encoding, self.executor.gradient_method)
        out = _run(self.executor, inputs, {"weights": self.weights})
        return out + self.bias.to(out) if self.bias is not None else out

    async def forward_async(self, inputs: torch.Tensor) -> torch.Tensor:
        """Awaitable forward: executes in a worker thread; autograd works as for ``forward``."""
        return await _to_thread(self, inputs)

    def extra_repr(self) -> str:
        """Summary shown by ``print(module)``."""
        return (
            f"n_qubits={self.n_qubits}, n_layers={self.n_layers}, in_features={self.in_features}, "
            f"out_features={self.out_features}, encoding={self.encoding!r}, "
            f"readout={''.join(self.readout)!r}, gradient_method={self.executor.gradient_method!r}"
        )


async def _to_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn(*args)`` in the default executor, keeping torch's grad mode of the caller."""
    import asyncio

    grad_enabled = torch.is_grad_enabled()

    def call() -> Any:
        with torch.set_grad_enabled(grad_enabled):
            return fn(*args)

    return await asyncio.get_running_loop().run_in_executor(None, call)
