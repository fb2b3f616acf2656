"""Keras 3 layers (TensorFlow backend): ``QuantumLayer`` wraps a QNode, ``QuantumDense`` uses the
default ansatz. Gradients come from :class:`~qstore_layers.core.BatchExecutor` through
``tf.custom_gradient``; PennyLane's (removed) TensorFlow interface is not used.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pennylane as qml

try:
    import keras
    import tensorflow as tf
except ImportError as exc:  # pragma: no cover - exercised only without tensorflow
    raise ImportError(
        'The Keras layers need TensorFlow and Keras 3: pip install "pennylane-qstore[tf]"'
    ) from exc

from qstore_layers import ansatz
from qstore_layers.circuit_inputs import EMPTY, CircuitInputs, model_signature, takes_circuits
from qstore_layers.core import BatchExecutor
from qstore_layers.keras_ops import quantum_call
from qstore_layers.options import options_from
from qstore_layers.validation import validate_weight_shapes

__all__ = ["QuantumDense", "QuantumLayer"]


def _check_rank(input_shape: Any, layer: str) -> None:
    """Raise when ``input_shape`` has no feature axis."""
    if len(input_shape) < 1:
        raise ValueError(
            f"{layer} inputs must have shape (*, features); got shape {tuple(input_shape)}."
        )


def _leading_dims_call(inputs: Any, n_outputs: int, run: Any) -> tf.Tensor:
    """Apply ``run`` to ``(*, features)`` inputs as ``Dense`` does: leading dimensions are
    flattened into one batch and restored on the ``(*, n_outputs)`` outputs."""
    inputs = tf.convert_to_tensor(inputs)
    if inputs.shape.rank is not None and inputs.shape.rank <= 2:
        return run(inputs)
    lead = tf.shape(inputs)[:-1]
    flat = tf.reshape(inputs, [-1, tf.shape(inputs)[-1]])
    return tf.reshape(run(flat), tf.concat([lead, [n_outputs]], 0))


class _QuantumBase(keras.layers.Layer):
    """Common Keras behaviour: the circuit runs in a ``tf.numpy_function`` (a host op), which XLA
    cannot compile, so ``jit_compile`` is declined and Keras compiles the rest of the model."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.supports_jit = False


@keras.saving.register_keras_serializable(package="qstore_layers")
class QuantumDense(_QuantumBase):
    """Quantum replacement for ``keras.layers.Dense`` built on the default ansatz.

    The input size is inferred in ``build``; see :mod:`qstore_layers.ansatz` for the encoding
    and the readout. Outputs: ``len(readout) * n_qubits`` per sample.

    Args:
        n_qubits: Qubits of the circuit (>= 1).
        n_layers: Entangling layers after every encoded block (>= 1).
        encoding: ``"angle"`` (re-uploads when features exceed qubits) or ``"amplitude"``.
        readout: Paulis measured on every qubit, e.g. ``"xyz"`` (default) or ``"z"``.
        device: Device name (default ``"qstore.router"``); names keep the layer serializable.
        shots: ``None`` for exact expectation values, or a number of shots.
        gradient_method: ``best``, ``backprop``, ``adjoint``, ``parameter-shift``,
            ``finite-diff`` or ``spsa``.
        spsa_epsilon: SPSA step size.
        spsa_num_directions: Directions averaged per SPSA estimate.
        async_execution: Execute chunks of the batch concurrently in threads.
        max_workers: Number of concurrent chunks (default: CPU count).
        bias: Add a trainable bias to the outputs.
        activation: Keras activation applied to the outputs.
        seed: Seed of the device's shot sampler and of the SPSA sampler.
        fast_path: Allow the exact torch-engine path for analytic batches.
        prefetch_gradients: With ``training=True``, run the parameter-shift / SPSA circuits
            with the forward circuits in one device batch (``None``: only on remote devices).

    With ``encoding="amplitude"`` inputs receive gradients only with ``backprop``; with other
    methods the layer trains its weights but passes no gradient to the layers before it.
    """

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
        activation: Any = None,
        seed: int | None = None,
        fast_path: bool = True,
        prefetch_gradients: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        ansatz.validate_ansatz(n_qubits, n_layers, encoding)
        self.n_qubits, self.n_layers, self.encoding = n_qubits, n_layers, encoding
        self.readout = ansatz.parse_readout(readout)
        self.units = len(self.readout) * n_qubits
        self.device_spec, self.shots, self.seed = device, shots, seed
        self.use_bias, self.activation = bias, keras.activations.get(activation)
        options = options_from(locals())
        # the options get_config writes (the seed is written with the layer's own settings)
        self._options = {k: v for k, v in options.as_dict().items() if k != "seed"}
        dev = ansatz.make_device(device, n_qubits, seed)
        qnode = ansatz.make_qnode(n_qubits, encoding, self.readout, dev, shots)
        self.executor = BatchExecutor(
            qnode, ["weights"], options=options, prefer=ansatz.preferred_methods(encoding)
        )
        self.in_features: int | None = None

    def build(self, input_shape: Any) -> None:
        """Create the weights once the number of input features is known."""
        _check_rank(input_shape, "QuantumDense")
        if input_shape[-1] is None:
            raise ValueError("QuantumDense needs a known number of input features.")
        self.in_features = int(input_shape[-1])
        shape = ansatz.weight_shape(self.in_features, self.n_qubits, self.n_layers, self.encoding)
        self.kernel = self.add_weight(
            name="weights",
            shape=shape,
            initializer=keras.initializers.RandomUniform(0.0, 2 * math.pi, seed=self.seed),
        )
        self.bias = (
            self.add_weight(name="bias", shape=(self.units,), initializer="zeros")
            if self.use_bias
            else None
        )

    def call(self, inputs: Any, training: bool | None = None) -> tf.Tensor:
        """Run the circuit on ``inputs`` of shape ``(*, features)``."""
        input_grad = self.encoding != "amplitude" or self.executor.gradient_method == "backprop"
        out = _leading_dims_call(
            inputs,
            self.units,
            lambda x: quantum_call(
                self.executor,
                x,
                [self.kernel.value],
                self.units,
                input_grad=input_grad,
                training=bool(training),
            ),
        )
        if self.bias is not None:
            out = out + tf.cast(self.bias.value, out.dtype)
        return self.activation(out) if self.activation is not None else out

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        """``(batch, units)`` for ``(batch, features)`` inputs."""
        return (*tuple(input_shape)[:-1], self.units)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments (the device must be given by name to be serializable)."""
        if not isinstance(self.device_spec, str):
            raise TypeError(
                "QuantumDense can only be serialized with a device given by name, e.g. "
                "device='lightning.qubit'; got a device instance."
            )
        config = super().get_config()
        config.update(
            n_qubits=self.n_qubits,
            n_layers=self.n_layers,
            encoding=self.encoding,
            readout="".join(self.readout),
            device=self.device_spec,
            shots=self.shots,
            bias=self.use_bias,
            activation=keras.activations.serialize(self.activation) if self.activation else None,
            seed=self.seed,
            **self._options,
        )
        return config


@keras.saving.register_keras_serializable(package="qstore_layers")
class QuantumLayer(_QuantumBase):
    """A Keras 3 layer that runs a user's QNode on each row of its input.

    Args:
        qnode: QNode taking ``inputs`` (the batch, shape ``(batch, features)``) and the weights.
        weight_shapes: Shape of every weight argument of the QNode.
        output_dim: Number of outputs per sample (measurements flattened and concatenated).
        gradient_method: See :class:`QuantumDense`; ``best`` honours a method set on the QNode.
        spsa_epsilon: SPSA step size.
        spsa_num_directions: Directions averaged per SPSA estimate.
        async_execution: Execute chunks of the batch concurrently in threads.
        max_workers: Number of concurrent chunks (default: CPU count).
        activation: Keras activation applied to the outputs.
        seed: Seed of the weight initializer and of the SPSA sampler.
        fast_path: Allow the exact torch-engine path for analytic batches.
        prefetch_gradients: With ``training=True``, run the parameter-shift / SPSA circuits
            with the forward circuits in one device batch (``None``: only on remote devices).

    A QNode is Python code, not configuration: save models that contain this layer with
    ``model.save_weights`` and rebuild them in code (``QuantumDense`` supports ``model.save``).
    """

    def __init__(
        self,
        qnode: qml.QNode,
        weight_shapes: Mapping[str, int | Sequence[int]],
        output_dim: int,
        *,
        # the LayerOptions fields, one argument each (read back by options_from(locals()))
        gradient_method: str = "best",
        spsa_epsilon: float = 0.01,
        spsa_num_directions: int = 1,
        async_execution: bool = False,
        max_workers: int | None = None,
        activation: Any = None,
        seed: int | None = None,
        fast_path: bool = True,
        prefetch_gradients: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(qnode, qml.QNode):
            raise TypeError(f"QuantumLayer needs a pennylane QNode, got {type(qnode).__name__}.")
        if int(output_dim) < 1:
            raise ValueError(f"output_dim must be >= 1, got {output_dim}.")
        circuit_mode = takes_circuits(qnode.func)
        func = model_signature(qnode.func, "inputs") if circuit_mode else qnode.func
        self.weight_shapes = validate_weight_shapes(func, weight_shapes)
        self.qnode, self.output_dim, self.seed = qnode, int(output_dim), seed
        self.activation = keras.activations.get(activation)
        options = options_from(locals())
        self.circuit_inputs: CircuitInputs | None = None
        """Input circuits of a QNode taking ``circuits``: the layer's input is then a
        ``tf.string`` tensor of OpenQASM programs (see :mod:`.keras_circuits`)."""
        if circuit_mode:
            self.circuit_inputs = CircuitInputs(qnode, list(self.weight_shapes), options)
            if self.circuit_inputs.takes_features:
                raise TypeError(
                    "The Keras QuantumLayer takes input circuits alone: its QNode may take "
                    "'circuits' or 'inputs', not both. Use the torch QuantumLayer for both."
                )
            self.executor = self.circuit_inputs.executor(EMPTY, 0)
        else:
            self.executor = BatchExecutor(qnode, list(self.weight_shapes), options=options)

    def build(self, input_shape: Any) -> None:
        """Create one weight per entry of ``weight_shapes``."""
        _check_rank(input_shape, "QuantumLayer")
        self.qweights = [
            self.add_weight(
                name=name,
                shape=shape,
                initializer=keras.initializers.RandomUniform(
                    0.0, 2 * math.pi, seed=None if self.seed is None else self.seed + index
                ),
            )
            for index, (name, shape) in enumerate(self.weight_shapes.items())
        ]

    def call(self, inputs: Any, training: bool | None = None) -> tf.Tensor:
        """Run the QNode on ``inputs`` of shape ``(*, features)``, or on a ``tf.string`` tensor
        of OpenQASM programs of shape ``(batch,)`` / ``(batch, 1)`` for a QNode taking
        ``circuits``."""
        if self.circuit_inputs is not None:
            from qstore_layers.keras_circuits import circuit_call

            out = circuit_call(
                self.circuit_inputs,
                inputs,
                [w.value for w in self.qweights],
                self.output_dim,
                training=bool(training),
            )
            return self.activation(out) if self.activation is not None else out
        out = _leading_dims_call(
            inputs,
            self.output_dim,
            lambda x: quantum_call(
                self.executor,
                x,
                [w.value for w in self.qweights],
                self.output_dim,
                training=bool(training),
            ),
        )
        return self.activation(out) if self.activation is not None else out

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        """``(batch, output_dim)`` for ``(batch, features)`` inputs or a batch of circuits."""
        if self.circuit_inputs is not None:
            return (input_shape[0], self.output_dim)
        return (*tuple(input_shape)[:-1], self.output_dim)

    def get_config(self) -> dict[str, Any]:
        """Not serializable: a QNode is code. Raises with the alternative."""
        raise TypeError(
            "qstore_layers.keras.QuantumLayer wraps a QNode (Python code) and cannot be saved in "
            "a .keras config; use model.save_weights(...) and rebuild the model in code, or use "
            "QuantumDense, which model.save() supports."
        )
