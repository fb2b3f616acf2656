"""Keras 3 layers: gradients, fit/evaluate with tf.data and callbacks, saving, tf.distribute, training.

Grouped in one module because importing TensorFlow costs seconds.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import autograd
import numpy as np
import pennylane as qml
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from qstore_layers import ansatz  # noqa: E402
from qstore_layers.keras import QuantumDense, QuantumLayer  # noqa: E402


def _exact(x: np.ndarray, weights: np.ndarray, dy: np.ndarray, readout: str = "xyz"):
    """Outputs and VJPs of the default ansatz by autograd backprop on default.qubit."""
    dev = qml.device("default.qubit", wires=weights.shape[2])
    qnode = ansatz.make_qnode(weights.shape[2], "angle", tuple(readout), dev, None)
    circuit = qml.QNode(qnode.func, dev, interface="autograd", diff_method="backprop")

    def f(x, w):
        return autograd.numpy.stack(circuit(x, w), axis=-1)

    vjp, out = autograd.make_vjp(f, argnum=(0, 1))(x, weights)
    return out, *vjp(dy)


@pytest.mark.parametrize(
    ("device", "method"),
    [
        ("default.qubit", "backprop"),
        ("lightning.qubit", "adjoint"),
        ("lightning.qubit", "parameter-shift"),
        ("qstore.router", "best"),
    ],
)
def test_gradients_match_exact_backprop(device: str, method: str) -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(0, np.pi, (3, 3))
    dy = rng.normal(size=(3, 6))
    layer = QuantumDense(2, 1, device=device, gradient_method=method, dtype="float64")
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        out = layer(xt)
        loss = tf.reduce_sum(out * dy)
    gx, gw = tape.gradient(loss, [xt, layer.kernel])
    weights = layer.kernel.numpy().astype(np.float64)
    want_out, want_gx, want_gw = _exact(x, weights, dy)
    np.testing.assert_allclose(out.numpy(), want_out, atol=1e-6)
    np.testing.assert_allclose(gx.numpy(), want_gx, atol=1e-6)
    np.testing.assert_allclose(gw.numpy(), want_gw, atol=1e-5)  # float32 weights


def _model(n_features: int, **kwargs) -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((n_features,)),
            QuantumDense(3, 1, readout="z", device="lightning.qubit", **kwargs),
            keras.layers.Dense(2),
        ]
    )


def test_fit_evaluate_with_tf_data_and_tensorboard(tmp_path) -> None:
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (48, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    model = _model(4)
    model.compile(
        keras.optimizers.Adam(0.1),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    history = model.fit(
        data,
        epochs=3,
        verbose=0,
        callbacks=[keras.callbacks.TensorBoard(log_dir=str(tmp_path / "logs"))],
    )
    losses = history.history["loss"]
    assert losses[-1] < losses[0]
    loss, accuracy = model.evaluate(data, verbose=0)
    assert np.isfinite(loss) and 0 <= accuracy <= 1
    assert any((tmp_path / "logs" / "train").iterdir())  # TensorBoard event files


def test_save_and_load_reproduce_outputs(tmp_path) -> None:
    keras.utils.set_random_seed(2)
    model = _model(5, bias=True, activation="tanh")
    x = np.random.default_rng(3).uniform(-1, 1, (4, 5)).astype("float32")
    expected = model.predict(x, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, atol=1e-6)
    layer = loaded.layers[0]
    assert isinstance(layer, QuantumDense)
    assert (layer.n_qubits, layer.readout, layer.use_bias) == (3, ("z",), True)
    config = layer.get_config()
    assert QuantumDense.from_config(config).get_config() == config


def test_inside_a_distribution_strategy() -> None:
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    x = np.random.default_rng(4).uniform(-1, 1, (16, 3)).astype("float32")
    y = (x[:, 1] > 0).astype("int32")
    with strategy.scope():
        model = _model(3)
        model.compile(
            keras.optimizers.Adam(0.05),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
    before = model.layers[0].kernel.numpy().copy()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert not np.allclose(model.layers[0].kernel.numpy(), before)


def test_quantum_layer_wraps_a_qnode_and_explains_saving() -> None:
    dev = qml.device("default.qubit", wires=2)

    @qml.qnode(dev)
    def circuit(inputs, weights):
        qml.AngleEmbedding(inputs, wires=[0, 1])
        qml.BasicEntanglerLayers(weights, wires=[0, 1])
        return [qml.expval(qml.PauliZ(i)) for i in range(2)]

    layer = QuantumLayer(circuit, {"weights": (1, 2)}, output_dim=2, dtype="float64")
    x = np.array([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]])
    out = layer(x).numpy()
    w = layer.qweights[0].numpy()
    for row in range(3):
        np.testing.assert_allclose(out[row], circuit(x[row], w), atol=1e-6)
    with pytest.raises(TypeError, match="save_weights"):
        layer.get_config()
    leading = QuantumLayer(circuit, {"weights": (1, 2)}, output_dim=2)(np.zeros((2, 3, 2)))
    assert leading.shape == (2, 3, 2)  # leading dimensions as keras.layers.Dense
    with pytest.raises(ValueError, match=r"\['weights'\] of circuit have no entry"):
        QuantumLayer(circuit, {}, output_dim=2)


def test_bad_input_gives_clear_errors() -> None:
    with pytest.raises(ValueError, match="n_qubits must be an integer >= 1"):
        QuantumDense(0)
    with pytest.raises(ValueError, match="Unknown gradient_method 'sgd'"):
        QuantumDense(2, device="lightning.qubit", gradient_method="sgd")
    layer = QuantumDense(2, 1, device="lightning.qubit")
    with pytest.raises(Exception, match="NaN or inf"):
        layer(np.array([[0.1, np.nan]], dtype="float32"))
    with pytest.raises(TypeError, match="device given by name"):
        QuantumDense(2, device=qml.device("lightning.qubit", wires=2)).get_config()


def test_hybrid_classifier_learns_digits() -> None:
    """Digits 0 vs 1, PCA to 4 features: >= 90% test accuracy after 24 Adam steps."""
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    digits = load_digits(n_class=2)
    x_train, x_test, y_train, y_test = train_test_split(
        digits.data, digits.target, test_size=0.3, random_state=0, stratify=digits.target
    )
    pca = PCA(4, random_state=0).fit(x_train)
    scaler = StandardScaler().fit(pca.transform(x_train))
    x_train = scaler.transform(pca.transform(x_train)).astype("float32")
    x_test = scaler.transform(pca.transform(x_test)).astype("float32")

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((4,)),
            QuantumDense(4, 1, readout="z", device="lightning.qubit"),
            keras.layers.Dense(2),
        ]
    )
    model.compile(
        keras.optimizers.Adam(0.1),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(x_train[:192], y_train[:192], batch_size=32, epochs=4, verbose=0)  # 24 steps
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert accuracy >= 0.9, accuracy


@pytest.mark.parametrize("shape", [(3,), (1, 3), (5, 3)])
def test_output_shapes(shape: tuple[int, ...]) -> None:
    layer = QuantumDense(2, 1, device="lightning.qubit")
    out = layer(np.random.default_rng(5).uniform(size=shape).astype("float32"))
    assert tuple(out.shape) == (*shape[:-1], 6)
    assert out.dtype == tf.float32


def _piecewise(inputs, w):
    """Angles equal to the raw entries on [0, 1) probes, not elsewhere (issue 9)."""
    qml.RX(qml.math.clip(inputs[..., 0], 0, np.pi / 2), wires=0)
    qml.RY(qml.math.abs(w[0]) % 1.0, wires=1)
    qml.CNOT([0, 1])
    return [qml.expval(qml.Z(0)), qml.expval(qml.Z(1))]


@pytest.mark.parametrize("fast_path", [True, False], ids=["engine", "device"])
@pytest.mark.parametrize("device", ["qstore.router", "default.qubit"])
def test_piecewise_qnode_matches_pennylane(device: str, fast_path: bool) -> None:
    qnode = qml.QNode(_piecewise, qml.device(device, wires=2))
    layer = QuantumLayer(qnode, {"w": (2,)}, output_dim=2, fast_path=fast_path)
    x = np.array([[-2.0, 0.0], [3.0, 1.0], [0.4, 0.2]])
    with qml.Tracker(qnode.device) as tracker:
        out = layer(x.astype("float32")).numpy()
    assert ("engine_rows" in tracker.totals) is fast_path
    w = layer.qweights[0].numpy().astype(float)
    ref = qml.QNode(_piecewise, qml.device("default.qubit", wires=2))
    np.testing.assert_allclose(out, np.stack(ref(x, w), -1), atol=1e-6)


def test_keras_shapes_dtypes_jit_and_output_dim_errors() -> None:
    qnode = qml.QNode(_piecewise, qml.device("default.qubit", wires=2))
    layer = QuantumLayer(qnode, {"w": (2,)}, output_dim=2)
    assert layer(np.zeros((3, 4, 2), "float32")).shape == (3, 4, 2)  # (*, features) as Dense
    assert layer(np.zeros((0, 2), "float32")).shape == (0, 2)
    wrong = QuantumLayer(qnode, {"w": (2,)}, output_dim=5)
    with pytest.raises(Exception, match=r"returns 2 values per sample .* output_dim=5"):
        wrong(np.zeros((6, 2), "float32"))
    assert QuantumDense(2, 1).supports_jit is False
    model = keras.Sequential([keras.Input((3,)), QuantumDense(2, 1), keras.layers.Dense(1)])
    model.compile("adam", "mse", jit_compile=True)  # Keras declines XLA for this layer
    model.fit(np.random.rand(8, 3), np.random.rand(8, 1), epochs=1, verbose=0)
    policy = keras.config.dtype_policy()
    try:
        keras.config.set_dtype_policy("float64")
        dense = QuantumDense(2, 1)
        assert dense(np.zeros((2, 3))).dtype == "float64"
        assert dense.kernel.dtype == "float64"
    finally:
        keras.config.set_dtype_policy(policy)


def test_training_step_executes_the_batch_once() -> None:
    """training=True keeps the forward pass's VJP: one engine batch per step, same gradient."""
    qnode = qml.QNode(_piecewise, qml.device("default.qubit", wires=2))
    layer = QuantumLayer(qnode, {"w": (2,)}, output_dim=2)
    x = tf.constant([[0.3, 0.1], [2.0, 0.7]], tf.float32)
    grads, batches = [], []
    for training in (True, None):
        with qml.Tracker(qnode.device) as tracker:
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(layer(x, training=training) ** 2)
            grads.append(tape.gradient(loss, layer.qweights[0]).numpy())
        batches.append(tracker.totals["batches"])
    assert batches == [1, 2]
    np.testing.assert_allclose(grads[0], grads[1], atol=1e-6)


def _penalty_circuit(inputs, w):
    qml.RX(inputs[..., 0], wires=0)
    qml.RY(w[0] * inputs[..., 1], wires=0)
    qml.CNOT([0, 1])
    qml.RX(w[1], wires=1)
    return [qml.expval(qml.Z(0)), qml.expval(qml.X(1) @ qml.Z(0))]


def _penalised_weight_gradient(layer, x):
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            inner.watch(x)
            value = tf.reduce_sum(tf.cast(layer(x), tf.float64))
        g = inner.gradient(value, x)
        loss = value + 10 * tf.reduce_sum(g**2)
    return outer.gradient(loss, layer.qweights[0])


@pytest.mark.parametrize("method", ["best", "parameter-shift"])
def test_nested_gradient_tape_matches_pennylane_on_the_engine(method: str) -> None:
    """A gradient penalty (second derivatives) through the Keras layer on the engine."""
    qnode = qml.QNode(_penalty_circuit, qml.device("default.qubit", wires=2))
    layer = QuantumLayer(qnode, {"w": (2,)}, output_dim=2, gradient_method=method)
    x = tf.constant([[0.3, 0.5], [1.2, -0.4]], tf.float64)
    got = _penalised_weight_gradient(layer, x).numpy()
    w = layer.qweights[0].numpy().astype(float)
    ref = qml.QNode(_penalty_circuit, qml.device("default.qubit", wires=2), diff_method="backprop")

    def loss(w):
        def value(x):
            return autograd.numpy.sum(autograd.numpy.stack(ref(x, w)))

        return value(x.numpy()) + 10 * autograd.numpy.sum(autograd.grad(value)(x.numpy()) ** 2)

    np.testing.assert_allclose(got, autograd.grad(loss)(w), atol=1e-5)


def test_nested_gradient_tape_off_the_engine_raises() -> None:
    qnode = qml.QNode(_penalty_circuit, qml.device("lightning.qubit", wires=2))
    layer = QuantumLayer(qnode, {"w": (2,)}, output_dim=2)
    x = tf.constant([[0.3, 0.5]], tf.float64)
    with pytest.raises(Exception, match="run only on the engine"):
        _penalised_weight_gradient(layer, x)
