"""Torch layers: ``QuantumLayer`` wraps a QNode, ``QuantumLinear`` uses the default ansatz."""

from __future__ import annotations

import threading
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

from pennylane_qstore.budget import default_phase
from qstore_layers import ansatz
from qstore_layers.circuit_inputs import EMPTY, CircuitInputs, model_signature, takes_circuits
from qstore_layers.core import BatchExecutor
from qstore_layers.options import options_from
from qstore_layers.torch_exec import TorchExecution
from qstore_layers.torch_run import (
    as_input_tensor,
    default_init,
    initial_values,
    run_layer,
    to_thread,
)
from qstore_layers.validation import validate_weight_shapes

__all__ = ["QuantumLayer", "QuantumLinear"]

_LAZY_INIT_LOCK = threading.RLock()


class QuantumLayer(nn.Module):
    """A ``torch.nn.Module`` that runs a QNode on each row of its input; a drop-in for
    PennyLane's ``qml.qnn.TorchLayer``.

    Args:
        qnode: QNode with an ``inputs`` argument (see :meth:`set_input_argument`) and weights.
        weight_shapes: Shape of every weight argument of the QNode (``1`` means a scalar, as in
            ``TorchLayer``).
        init_method: ``init(tensor)`` for all weights (e.g. ``torch.nn.init.normal_``), or a dict
            giving every weight a callable or a fixed tensor. Default: uniform in [0, 2π).
        gradient_method: ``best`` (default), ``backprop``, ``adjoint``, ``parameter-shift``,
            ``finite-diff`` or ``spsa``. ``best`` honours a method set on the QNode.
        spsa_epsilon: SPSA step size.
        spsa_num_directions: Directions averaged per SPSA estimate.
        async_execution: Kept for the Keras layer's option set; ``forward_async`` is the torch
            way to overlap batches.
        max_workers: See ``async_execution``.
        seed: Seed of the SPSA sampler.
        fast_path: Allow the exact engine path (see :mod:`qstore_layers.torch_exec`).
        prefetch_gradients: Run a step's parameter-shift / SPSA circuits with its forward
            circuits, in one device batch (``None``: only on remote devices; see
            :mod:`qstore_layers.prefetch`).

    Outputs are shaped as ``TorchLayer`` shapes them: ``(*, n_outputs)`` for several
    measurements (flattened and concatenated), ``(*,)`` for one expectation value, and a leading
    axis per shot setting for a shot vector; on the input's dtype.
    """

    _input_arg = "inputs"

    def __init__(
        self,
        qnode: qml.QNode,
        weight_shapes: Mapping[str, int | Sequence[int]],
        init_method: Callable[[torch.Tensor], Any] | Mapping[str, Any] | None = None,
        *,
        # the LayerOptions fields, one argument each (read back by options_from(locals()))
        gradient_method: str = "best",
        spsa_epsilon: float = 0.01,
        spsa_num_directions: int = 1,
        async_execution: bool = False,
        max_workers: int | None = None,
        seed: int | None = None,
        fast_path: bool = True,
        prefetch_gradients: bool | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(qnode, qml.QNode):
            raise TypeError(f"QuantumLayer needs a pennylane QNode, got {type(qnode).__name__}.")
        if qnode.interface not in ("auto", "torch"):
            raise ValueError(
                f"QuantumLayer runs QNodes on the torch interface; this QNode has "
                f"interface={qnode.interface!r}. Build it with interface='auto' or 'torch'."
            )
        input_arg = type(self)._input_arg
        circuit_mode = takes_circuits(qnode.func)
        func = model_signature(qnode.func, input_arg) if circuit_mode else qnode.func
        shapes = validate_weight_shapes(func, weight_shapes, input_arg)
        options = options_from(locals())
        self.circuit_inputs: CircuitInputs | None = None
        """Input circuits of a QNode taking ``circuits`` (see :mod:`.circuit_inputs`)."""
        if circuit_mode:
            self.circuit_inputs = CircuitInputs(
                qnode, list(shapes), options, input_arg, wrap=TorchExecution
            )
            self.execution = self.circuit_inputs.executor(EMPTY, 0)
            self.executor = self.execution.executor
        else:
            self.executor = BatchExecutor(qnode, list(shapes), options=options, input_arg=input_arg)
            self.execution = TorchExecution(self.executor)
        self.input_arg = input_arg
        self.qnode_weights: dict[str, nn.Parameter] = {}
        """The QNode's weights by name, as ``TorchLayer.qnode_weights`` (forward reads them
        from here, so assigning a tensor to an entry takes effect)."""
        for name, value in initial_values(shapes, init_method).items():
            self.qnode_weights[name] = nn.Parameter(value)
            self.register_parameter(name, self.qnode_weights[name])

    def __getattr__(self, item: str) -> Any:
        """Fall back to the QNode's attributes (``layer.device``, ``layer.diff_method``, ...),
        as ``TorchLayer`` does, so ``qml.draw(layer)`` and ``qml.specs(layer)`` work."""
        try:
            return super().__getattr__(item)
        except AttributeError:
            execution = self.__dict__.get("execution")
            if execution is None or item.startswith("__"):
                raise
            return getattr(execution.qnode, item)

    @property
    def func(self) -> Callable[..., Any]:
        """The QNode's function with the layer's weights bound: ``func(inputs)``. PennyLane's
        tape constructors read it, so ``qml.draw(layer)(x)`` draws the circuit the layer runs."""
        qfunc = self.qnode.func

        def bound(*args: Any, **kwargs: Any) -> Any:
            inputs = kwargs.pop(self.input_arg) if self.input_arg in kwargs else args[0]
            x = as_input_tensor(inputs)
            return qfunc(**self._qnode_kwargs(x))

        return bound

    @staticmethod
    def set_input_argument(input_name: str = "inputs") -> None:
        """Name the QNode argument that receives the inputs for layers built after this call
        (as ``TorchLayer.set_input_argument``)."""
        QuantumLayer._input_arg = input_name

    @property
    def qnode(self) -> qml.QNode:
        """The wrapped QNode."""
        return self.executor.qnode

    def _qnode_kwargs(self, x: torch.Tensor) -> dict[str, Any]:
        return {self.input_arg: x, **{n: w.to(x) for n, w in self.qnode_weights.items()}}

    def construct(self, args: Sequence[Any], kwargs: Mapping[str, Any] | None = None) -> Any:
        """Record the QNode on ``args[0]`` with the layer's weights; returns the tape (for
        ``qml.draw``/``qml.specs`` style inspection, as ``TorchLayer.construct``)."""
        x = as_input_tensor(args[0])
        return qml.workflow.construct_tape(self.execution.qnode)(**self._qnode_kwargs(x))

    def draw(self, inputs: Any, **draw_kwargs: Any) -> str:
        """``qml.draw`` of the QNode on ``inputs`` with the layer's current weights."""
        x = as_input_tensor(inputs)
        return qml.draw(self.execution.qnode, **draw_kwargs)(**self._qnode_kwargs(x))

    def specs(self, inputs: Any) -> dict[str, Any]:
        """``qml.specs`` of the QNode on ``inputs`` with the layer's current weights."""
        x = as_input_tensor(inputs)
        return qml.specs(self.execution.qnode)(**self._qnode_kwargs(x))

    @torch.compiler.disable(recursive=True)
    def forward(self, inputs: Any, circuits: Any = None) -> torch.Tensor:
        """Run the QNode on ``inputs`` of shape ``(features,)`` or ``(*, features)``; cost is
        tagged with phase ``"training"`` or ``"evaluation"`` from ``self.training``.

        A QNode taking ``circuits`` runs ``layer(circuits)`` or ``layer(x, circuits=...)``: a
        list of input circuits (tapes, OpenQASM 2/3 strings), one per row (docs/layers.md).
        """
        with default_phase("training" if self.training else "evaluation"):
            if self.circuit_inputs is not None:
                from qstore_layers.torch_circuits import run_circuit_batch

                return run_circuit_batch(self.circuit_inputs, inputs, circuits, self.qnode_weights)
            return run_layer(self.execution, inputs, self.qnode_weights)

    async def forward_async(self, inputs: Any, circuits: Any = None) -> torch.Tensor:
        """Awaitable forward: executes in a worker thread; autograd works as for ``forward``."""
        return await to_thread(self, inputs, circuits)

    def extra_repr(self) -> str:
        """Summary shown by ``print(module)``."""
        return f"func={self.qnode.func.__name__}, gradient_method={self.executor.gradient_method!r}"


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
        fast_path: Allow the exact engine path (see :mod:`qstore_layers.torch_exec`).
        prefetch_gradients: Run a step's parameter-shift / SPSA circuits with its forward
            circuits, in one device batch (``None``: only on remote devices; see
            :mod:`qstore_layers.prefetch`).

    Like ``nn.Linear`` it takes ``(*, in_features)`` and returns ``(*, out_features)``.
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
        # the LayerOptions fields, one argument each (read back by options_from(locals()))
        gradient_method: str = "best",
        spsa_epsilon: float = 0.01,
        spsa_num_directions: int = 1,
        async_execution: bool = False,
        max_workers: int | None = None,
        bias: bool = False,
        seed: int | None = None,
        fast_path: bool = True,
        prefetch_gradients: bool | None = None,
    ) -> None:
        super().__init__()
        ansatz.validate_ansatz(n_qubits, n_layers, encoding)
        self.n_qubits, self.n_layers, self.encoding = n_qubits, n_layers, encoding
        self.readout = ansatz.parse_readout(readout)
        self.out_features = len(self.readout) * n_qubits
        dev = ansatz.make_device(device, n_qubits, seed)
        qnode = ansatz.make_qnode(n_qubits, encoding, self.readout, dev, shots)
        options = options_from(locals())
        self.executor = BatchExecutor(
            qnode, ["weights"], options=options, prefer=ansatz.preferred_methods(encoding)
        )
        self.execution = TorchExecution(self.executor)
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
            inputs = as_input_tensor(inputs)
            n_features = int(inputs.shape[-1])
            shape = ansatz.weight_shape(n_features, self.n_qubits, self.n_layers, self.encoding)
            with torch.no_grad():
                self.n_features.fill_(n_features)
                self.weights.materialize(shape)
                default_init(self.weights)

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

    @torch.compiler.disable(recursive=True)
    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Run the circuit on ``inputs`` of shape ``(*, features)`` or ``(features,)``."""
        x = torch.as_tensor(inputs) if not isinstance(inputs, torch.Tensor) else inputs
        n_features = int(x.shape[-1]) if x.dim() else 0
        if n_features != self.in_features:
            raise ValueError(
                f"QuantumLinear was built for {self.in_features} input features, got {n_features}."
            )
        if x.requires_grad:
            ansatz.check_input_gradient(self.encoding, self.executor.gradient_method)
        if self.encoding == "amplitude" and x.numel():
            ansatz.check_amplitude_rows(
                torch.linalg.vector_norm(x.detach().reshape(-1, n_features), dim=1)
            )
        with default_phase("training" if self.training else "evaluation"):
            out = run_layer(self.execution, x, {"weights": self.weights})
        return out + self.bias.to(out) if self.bias is not None else out

    def _load_from_state_dict(self, state_dict: Mapping[str, Any], prefix: str, *args: Any) -> None:
        """Refuse a checkpoint of another architecture (other n_layers, n_qubits, encoding)."""
        weights, features = (
            state_dict.get(prefix + "weights"),
            state_dict.get(prefix + "n_features"),
        )
        if weights is not None and features is not None and int(features) > 0:
            want = ansatz.weight_shape(int(features), self.n_qubits, self.n_layers, self.encoding)
            if tuple(weights.shape) != want:
                raise RuntimeError(
                    f"This checkpoint's weights have shape {tuple(weights.shape)}, but "
                    f"QuantumLinear(n_qubits={self.n_qubits}, n_layers={self.n_layers}, "
                    f"encoding={self.encoding!r}) with {int(features)} input features needs "
                    f"{want}; build the layer with the checkpoint's settings."
                )
        super()._load_from_state_dict(state_dict, prefix, *args)

    async def forward_async(self, inputs: torch.Tensor) -> torch.Tensor:
        """Awaitable forward: executes in a worker thread; autograd works as for ``forward``."""
        return await to_thread(self, inputs)

    def extra_repr(self) -> str:
        """Summary shown by ``print(module)``."""
        return (
            f"n_qubits={self.n_qubits}, n_layers={self.n_layers}, in_features={self.in_features}, "
            f"out_features={self.out_features}, encoding={self.encoding!r}, "
            f"readout={''.join(self.readout)!r}, gradient_method={self.executor.gradient_method!r}"
        )
