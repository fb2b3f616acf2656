"""One device batch per training step (issue 11, item 5): ``prefetch_gradients``.

The prefetch path is compared with the layers' normal path (PennyLane's torch interface, which
executes the gradient circuits in the backward pass) on analytic devices, with SPSA under the same
seed, and with shots against the exact gradient within 5 sigma. Round trips are counted with
``qml.Tracker`` (one ``batches`` per ``device.execute``) on qstore.ionq against the local server.
"""

from __future__ import annotations

import math

import numpy as np
import pennylane as qml
import pytest

torch = pytest.importorskip("torch")

from qstore_layers.options import LayerOptions  # noqa: E402
from qstore_layers.prefetch import is_remote, prefetch_enabled  # noqa: E402
from qstore_layers.torch import QuantumLayer, QuantumLinear  # noqa: E402

X = torch.tensor([[0.3, -1.2], [2.1, 0.4], [-0.7, 0.9]], dtype=torch.float64)
W = torch.tensor([0.4, -0.8, 1.3], dtype=torch.float64)


def circuit(inputs, w):
    """Classical code on the angles, a template, two measurements (one of them probs)."""
    qml.AngleEmbedding(inputs, wires=[0, 1])
    qml.RY(qml.math.sin(w[0]) * inputs[..., 1], wires=0)
    qml.CNOT([0, 1])
    qml.Rot(w[1], w[2] ** 2, -w[0], wires=1)
    return qml.expval(qml.Z(1) @ qml.X(0)), qml.probs(wires=[0])


def _layer(device, prefetch, method="parameter-shift", seed=5, func=circuit, **kwargs):
    qnode = qml.QNode(func, device)
    layer = QuantumLayer(
        qnode,
        {"w": (3,)},
        gradient_method=method,
        fast_path=False,
        prefetch_gradients=prefetch,
        seed=seed,
        **kwargs,
    ).double()
    with torch.no_grad():
        layer.w.copy_(W)
    return layer


def _step(layer, x=X):
    """Outputs, input and weight gradients of one step, and the device batches it took."""
    x = x.clone().requires_grad_(True)
    with qml.Tracker(layer.qnode.device) as tracker:
        out = layer(x)
        (out * torch.arange(1, out.shape[-1] + 1)).sum().backward()
    return out.detach(), x.grad, layer.w.grad.clone(), tracker.totals["batches"]


@pytest.mark.parametrize("device", ["default.qubit", "qstore.router"])
@pytest.mark.parametrize("method", ["parameter-shift", "spsa"])
def test_prefetch_equals_the_normal_path(device: str, method: str) -> None:
    runs = [_step(_layer(qml.device(device, wires=2), p, method)) for p in (True, False)]
    (out, gx, gw, batches), (ref_out, ref_gx, ref_gw, ref_batches) = runs
    assert (batches, ref_batches) == (1, 2)  # forward + gradient circuits in one batch
    torch.testing.assert_close(out, ref_out, atol=1e-10, rtol=0)
    torch.testing.assert_close(gx, ref_gx, atol=1e-10, rtol=0)
    torch.testing.assert_close(gw, ref_gw, atol=1e-10, rtol=0)


def test_parameter_shift_prefetch_matches_backprop() -> None:
    layer = _layer(qml.device("default.qubit", wires=2), True)
    _, gx, gw, _ = _step(layer)
    ref = QuantumLayer(
        qml.QNode(circuit, qml.device("default.qubit", wires=2), diff_method="backprop"),
        {"w": (3,)},
        fast_path=False,
    ).double()
    with torch.no_grad():
        ref.w.copy_(W)
    _, rx, rw, _ = _step(ref)
    torch.testing.assert_close(gx, rx, atol=1e-10, rtol=0)
    torch.testing.assert_close(gw, rw, atol=1e-10, rtol=0)


def test_spsa_prefetch_is_pennylanes_spsa_grad_with_the_same_seed() -> None:
    """Same seed, same directions: the prefetched SPSA gradient is spsa_grad's."""

    def direct(inputs, w):
        qml.RX(inputs[0], wires=0)
        qml.RY(w[0], wires=0)
        qml.CNOT([0, 1])
        qml.RX(w[1], wires=1)
        qml.RY(w[2], wires=0)
        return qml.expval(qml.Z(0) @ qml.Z(1))

    layer = _layer(qml.device("default.qubit", wires=2), True, "spsa", seed=11, func=direct)
    layer(X[0]).backward()
    tape = qml.tape.QuantumScript(
        [
            qml.RX(X[0, 0].item(), 0),
            qml.RY(W[0].item(), 0),
            qml.CNOT([0, 1]),
            qml.RX(W[1].item(), 1),
            qml.RY(W[2].item(), 0),
        ],
        [qml.expval(qml.Z(0) @ qml.Z(1))],
        trainable_params=[1, 2, 3],
    )
    rng = np.random.default_rng(11)
    tapes, fn = qml.gradients.spsa_grad(tape, h=0.01, num_directions=1, sampler_rng=rng)
    want = torch.tensor(np.stack(fn(qml.execute(tapes, qml.device("default.qubit")))))
    torch.testing.assert_close(layer.w.grad, want, atol=1e-10, rtol=0)
    other = _layer(qml.device("default.qubit", wires=2), True, "spsa", seed=12, func=direct)
    other(X[0]).backward()
    assert not torch.allclose(layer.w.grad, other.w.grad)  # the seed is what fixes it


def test_shots_within_five_sigma_of_the_exact_gradient() -> None:
    shots = 20000

    def one(inputs, w):
        qml.RY(inputs[..., 0], wires=0)
        qml.RX(w[0], wires=0)
        qml.CNOT([0, 1])
        qml.RY(w[1] * w[2], wires=1)
        return qml.expval(qml.Z(1))

    dev = qml.device("default.qubit", wires=2, shots=shots, seed=3)
    layer = _layer(dev, True, func=one)
    x = X[:1].clone().requires_grad_(True)
    with qml.Tracker(dev) as tracker:
        layer(x).sum().backward()
    assert tracker.totals["batches"] == 1
    exact = _layer(qml.device("default.qubit", wires=2), False, func=one)
    xe = X[:1].clone().requires_grad_(True)
    exact(xe).sum().backward()
    # each derivative is (f+ - f-) / 2 of two independent estimates of variance <= 1/shots;
    # w[1] * w[2] is one gate angle, so its derivative is scaled by the other weight
    sigma = math.sqrt(2 / shots) / 2
    scale = torch.tensor([1.0, abs(W[2].item()), abs(W[1].item())], dtype=torch.float64)
    assert (layer.w.grad - exact.w.grad).abs().le(5 * sigma * scale).all()
    assert (x.grad - xe.grad).abs().max() <= 5 * sigma


def test_second_backward_with_create_graph_is_refused_retain_graph_works() -> None:
    layer = _layer(qml.device("default.qubit", wires=2), True)
    x = X.clone().requires_grad_(True)
    loss = layer(x).sum()
    first = torch.autograd.grad(loss, (x, layer.w), retain_graph=True)
    second = torch.autograd.grad(loss, (x, layer.w), retain_graph=True)
    for a, b in zip(first, second, strict=True):
        torch.testing.assert_close(a, b, atol=0, rtol=0)
    with pytest.raises(RuntimeError, match="prefetch_gradients=False"):
        torch.autograd.grad(loss, (x, layer.w), create_graph=True)


def test_no_prefetch_without_gradients_or_for_other_methods() -> None:
    counts = []
    for prefetch in (True, False):
        layer = _layer(qml.device("default.qubit", wires=2), prefetch)
        with torch.no_grad(), qml.Tracker(layer.qnode.device) as tracker:
            layer(X)
        counts.append(tracker.totals["executions"])
    assert counts[0] == counts[1]  # no gradient circuits were run
    fd = _layer(qml.device("default.qubit", wires=2), True, "finite-diff")
    assert _step(fd)[3] == 2  # finite-diff keeps the normal path


def test_option_is_validated_and_auto_means_remote_only(server) -> None:
    with pytest.raises(ValueError, match="prefetch_gradients must be None"):
        LayerOptions(prefetch_gradients="yes")
    with pytest.raises(ValueError, match="prefetch_gradients must be None"):
        QuantumLinear(2, 1, prefetch_gradients=1)
    local = qml.device("default.qubit", wires=2)
    ionq = qml.device("qstore.ionq", wires=2, api_url=server.url, api_key=server.api_key)
    ionq_options = {"ionq": {"api_url": server.url, "api_key": server.api_key}}
    router = qml.device(
        "qstore.router", wires=2, shots=100, targets=["ionq.simulator"], target_options=ionq_options
    )
    assert not is_remote(local) and is_remote(ionq) and is_remote(router)
    assert not is_remote(qml.device("qstore.router", wires=2))
    assert prefetch_enabled(None, ionq, "parameter-shift")
    assert not prefetch_enabled(None, local, "parameter-shift")
    assert prefetch_enabled(True, local, "spsa")
    assert not prefetch_enabled(False, ionq, "spsa")
    assert not prefetch_enabled(True, ionq, "finite-diff")


@pytest.mark.parametrize(("prefetch", "round_trips"), [(None, 1), (False, 2)])
def test_one_round_trip_per_training_step_on_ionq(server, prefetch, round_trips) -> None:
    """A QuantumLinear training step on qstore.ionq: POSTed jobs and device batches."""
    dev = qml.device(
        "qstore.ionq", wires=2, shots=500, seed=4, api_url=server.url, api_key=server.api_key
    )
    layer = QuantumLinear(2, 1, device=dev, shots=500, readout="z", prefetch_gradients=prefetch)
    opt = torch.optim.SGD(layer.parameters(), lr=0.1)
    x = torch.rand(4, 2)
    with torch.no_grad():
        layer.eval()(x)  # materialise the lazy weights (phase "evaluation")
    layer.train()
    jobs = server.job_count
    with qml.Tracker(dev) as tracker:
        opt.zero_grad()
        layer(x).pow(2).sum().backward()
        opt.step()
    assert tracker.totals["batches"] == round_trips
    assert server.job_count - jobs == round_trips  # one multi-circuit job per batch here
    assert torch.isfinite(layer.weights.grad).all() and layer.weights.grad.abs().sum() > 0
    rows = {r["phase"]: r["circuits"] for r in dev.cost_report().rows}
    assert rows["evaluation"] == len(x)
    if prefetch is None:  # the whole step ran inside forward: tagged "training"
        assert rows["training"] == tracker.totals["executions"]
    else:  # the backward batch runs after forward returned: the phase active at backward()
        assert rows["training"] == len(x)
        assert rows["default"] == tracker.totals["executions"] - len(x)


# ---------------------------------------------------------------- Keras (training=True)
def _keras_step(prefetch, method):
    pytest.importorskip("tensorflow")
    import tensorflow as tf

    from qstore_layers.keras import QuantumLayer as KerasQuantumLayer

    dev = qml.device("default.qubit", wires=2)
    layer = KerasQuantumLayer(
        qml.QNode(circuit, dev),
        {"w": (3,)},
        3,
        gradient_method=method,
        fast_path=False,
        prefetch_gradients=prefetch,
        seed=4,
        dtype="float64",
    )
    layer.build((None, 2))
    layer.qweights[0].assign(W.numpy())
    x = tf.constant(X.numpy())
    with qml.Tracker(dev) as tracker:
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = layer(x, training=True)
            loss = tf.reduce_sum(out * tf.constant([1.0, 2.0, 3.0], tf.float64))
        grads = tape.gradient(loss, [x, layer.qweights[0]])
    return out.numpy(), [g.numpy() for g in grads], tracker.totals["batches"]


@pytest.mark.parametrize("method", ["parameter-shift", "spsa"])
def test_keras_prefetch_equals_the_normal_path(method: str) -> None:
    out, grads, batches = _keras_step(True, method)
    ref_out, ref_grads, ref_batches = _keras_step(False, method)
    assert (batches, ref_batches) == (1, 2)
    np.testing.assert_allclose(out, ref_out, atol=1e-10, rtol=0)
    for g, r in zip(grads, ref_grads, strict=True):
        np.testing.assert_allclose(g, r, atol=1e-10, rtol=0)
    _, torch_gx, torch_gw, _ = _step(_layer(qml.device("default.qubit", wires=2), False))
    if method == "parameter-shift":  # and PennyLane's numbers, as the torch layer gets them
        np.testing.assert_allclose(grads[0], torch_gx.numpy(), atol=1e-10, rtol=0)
        np.testing.assert_allclose(grads[1], torch_gw.numpy(), atol=1e-10, rtol=0)


@pytest.mark.parametrize(("prefetch", "round_trips"), [(None, 1), (False, 2)])
def test_keras_fit_one_round_trip_per_step_on_ionq(server, prefetch, round_trips) -> None:
    pytest.importorskip("tensorflow")
    import keras

    from qstore_layers.keras import QuantumDense

    dev = qml.device(
        "qstore.ionq", wires=2, shots=200, seed=4, api_url=server.url, api_key=server.api_key
    )
    quantum = QuantumDense(2, 1, readout="z", device=dev, shots=200, prefetch_gradients=prefetch)
    model = keras.Sequential([keras.Input((2,)), quantum, keras.layers.Dense(2)])
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = np.random.default_rng(0).random((4, 2)).astype("float32"), np.arange(4) % 2
    with qml.Tracker(dev) as tracker:
        model.fit(x, y, batch_size=4, epochs=2, verbose=0)
    assert tracker.totals["batches"] == 2 * round_trips  # two steps


def test_router_with_an_ionq_target_prefetches_by_default(server) -> None:
    """has_remote_targets turns the prefetch on: the step is one router batch and one job."""
    options = {"ionq": {"api_url": server.url, "api_key": server.api_key}}
    dev = qml.device(
        "qstore.router", wires=2, shots=300, targets=["ionq.simulator"], target_options=options
    )
    layer = QuantumLinear(2, 1, device=dev, shots=300, readout="z")
    x = torch.rand(4, 2)
    with torch.no_grad():
        layer.eval()(x)
    layer.train()
    jobs = server.job_count
    with qml.Tracker(dev) as tracker:
        layer(x).sum().backward()
    assert tracker.totals["batches"] == 1 and server.job_count - jobs == 1
    assert layer.weights.grad.abs().sum() > 0
    training = [r for r in dev.cost_report().rows if r["phase"] == "training"]
    assert sum(r["circuits"] for r in training) == tracker.totals["executions"]


def test_trainable_hamiltonian_coefficients_match_the_normal_path() -> None:
    """The gradient expansion splits the Hamiltonian; its coefficient trains through torch."""

    def ham(inputs, w):
        qml.RY(inputs[..., 0], wires=0)
        qml.RX(w[0], wires=1)
        qml.CNOT([0, 1])
        qml.RY(w[2] * inputs[..., 0], wires=1)
        return qml.expval(qml.Hamiltonian([w[1], 0.5], [qml.Z(0) @ qml.Z(1), qml.X(1)]))

    runs = [
        _step(_layer(qml.device("default.qubit", wires=2), p, func=ham), X[:, :1])
        for p in (True, False)
    ]
    assert (runs[0][3], runs[1][3]) == (1, 2)
    for a, b in zip(runs[0][:3], runs[1][:3], strict=True):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)
    assert runs[0][2][1].abs() > 0.1  # the coefficient's gradient is there


def test_keras_option_is_validated_and_serialized() -> None:
    pytest.importorskip("tensorflow")
    from qstore_layers.keras import QuantumDense

    layer = QuantumDense(2, 1, device="default.qubit", prefetch_gradients=True)
    assert QuantumDense.from_config(layer.get_config()).executor.options.prefetch_gradients
    with pytest.raises(ValueError, match="prefetch_gradients must be None"):
        QuantumDense(2, 1, device="default.qubit", prefetch_gradients="auto")
