"""Regression tests of issue 9: the layers give PennyLane's numbers for every QNode.

Each test compares a layer with the plain QNode on ``default.qubit`` (backprop), on circuits
chosen to break shortcuts: piecewise classical code, torch ops, second order, repeated backward.
Where a test is parametrised over the engine and the device path, ``fast_path`` selects the path
through the public option, and the routing/tracker record proves which one ran.
"""

from __future__ import annotations

import copy
import io
import math

import numpy as np
import pennylane as qml
import pytest

torch = pytest.importorskip("torch")

from qstore_layers.options import LayerOptions  # noqa: E402
from qstore_layers.torch import QuantumLayer, QuantumLinear  # noqa: E402

PATHS = [pytest.param(True, id="engine"), pytest.param(False, id="device")]


def piecewise(inputs, w):
    """Angles that equal the raw entries on [0, 1) probes but not elsewhere."""
    qml.RX(qml.math.clip(inputs[..., 0], 0, math.pi / 2), wires=0)
    qml.RY(torch.abs(w[0]) % 1.0, wires=1)
    qml.CNOT([0, 1])
    qml.RZ(torch.sin(inputs[..., 1]) * w[1], wires=1)
    qml.RX(torch.where(inputs[..., 1] > 0.5, w[1] ** 2, -w[0]), wires=0)
    return [qml.expval(qml.Z(1)), qml.expval(qml.X(0) @ qml.Y(1))]


def _reference(func, x, w):
    ref = qml.QNode(func, qml.device("default.qubit", wires=2), diff_method="backprop")
    return torch.stack(ref(x, w), -1)


def _layer(device: str, fast: bool, method: str = "best") -> QuantumLayer:
    qnode = qml.QNode(piecewise, qml.device(device, wires=2))
    layer = QuantumLayer(qnode, {"w": (2,)}, gradient_method=method, fast_path=fast).double()
    with torch.no_grad():
        layer.w.copy_(torch.tensor([-1.7, 0.9]))
    return layer


X = torch.tensor([[-0.3, 2.0], [5.0, -1.1], [0.2, 0.4], [1.4, 0.7]], dtype=torch.float64)


@pytest.mark.parametrize("fast", PATHS)
@pytest.mark.parametrize("device", ["qstore.router", "default.qubit"])
def test_piecewise_classical_code_matches_pennylane(device: str, fast: bool) -> None:
    layer = _layer(device, fast)
    with qml.Tracker(layer.qnode.device) as tracker:
        out = layer(X)
    assert ("engine_rows" in tracker.totals) is fast  # the path asked for is the path taken
    want = _reference(piecewise, X, layer.w.detach())
    torch.testing.assert_close(out, want, atol=1e-10, rtol=0)
    x = X.clone().requires_grad_(True)
    g = torch.autograd.grad(layer(x).sum(), (x, layer.w))
    xr, wr = X.clone().requires_grad_(True), layer.w.detach().clone().requires_grad_(True)
    r = torch.autograd.grad(_reference(piecewise, xr, wr).sum(), (xr, wr))
    for a, b in zip(g, r, strict=True):
        torch.testing.assert_close(a, b, atol=1e-8, rtol=0)


@pytest.mark.parametrize(
    ("device", "method", "fast"),
    [
        ("default.qubit", "best", True),
        ("qstore.router", "best", True),
        ("default.qubit", "backprop", False),
        ("default.qubit", "parameter-shift", False),
    ],
)
def test_gradcheck_gradgradcheck_and_repeated_backward(device: str, method: str, fast: bool):
    layer = _layer(device, fast, method)
    x = X[:3].clone().requires_grad_(True)

    def f(inputs, w):
        return layer.execution(inputs, {"w": w})

    assert torch.autograd.gradcheck(f, (x, layer.w))
    assert torch.autograd.gradgradcheck(f, (x, layer.w))
    out = layer(x)
    first = torch.autograd.grad(out.sum(), layer.w, retain_graph=True)[0]
    second = torch.autograd.grad(out.sum(), layer.w)[0]
    torch.testing.assert_close(first, second)
    jac = torch.autograd.functional.jacobian(lambda w: f(X[:3], w), layer.w.detach())
    assert jac.shape == (3, 2, 2)


@pytest.mark.parametrize("fast", PATHS)
def test_gradient_penalty_matches_pennylane(fast: bool) -> None:
    """create_graph=True: the weight gradient of a penalty on input gradients."""
    layer = _layer("default.qubit", fast)
    x = X.clone().requires_grad_(True)
    (gx,) = torch.autograd.grad(layer(x).sum(), x, create_graph=True)
    (gw,) = torch.autograd.grad((gx**2).sum(), layer.w)
    wr = layer.w.detach().clone().requires_grad_(True)
    xr = X.clone().requires_grad_(True)
    (rx,) = torch.autograd.grad(_reference(piecewise, xr, wr).sum(), xr, create_graph=True)
    (rw,) = torch.autograd.grad((rx**2).sum(), wr)
    torch.testing.assert_close(gw, rw, atol=1e-8, rtol=0)


@pytest.mark.parametrize("fast", PATHS)
@pytest.mark.parametrize(
    ("method", "tol"), [("parameter-shift", 1e-9), ("finite-diff", 2e-5), ("spsa", None)]
)
def test_hardware_style_methods_on_both_paths(method: str, tol: float | None, fast: bool) -> None:
    """parameter-shift / finite-diff / SPSA: the engine's shifted rows and PennyLane's gradient
    transforms both give the exact gradient within the method's error."""
    layer = _layer("default.qubit", fast, method)
    x = X.clone().requires_grad_(True)
    with qml.Tracker(layer.qnode.device) as tracker:
        out = layer(x)
    assert ("engine_rows" in tracker.totals) is fast
    torch.testing.assert_close(out, _reference(piecewise, X, layer.w.detach()), atol=1e-10, rtol=0)
    out.sum().backward()
    xr, wr = X.clone().requires_grad_(True), layer.w.detach().clone().requires_grad_(True)
    _reference(piecewise, xr, wr).sum().backward()
    if tol is not None:
        torch.testing.assert_close(x.grad, xr.grad, atol=tol, rtol=0)
        torch.testing.assert_close(layer.w.grad, wr.grad, atol=tol, rtol=0)
    else:
        assert x.grad.shape == X.shape and torch.isfinite(layer.w.grad).all()


@pytest.mark.parametrize("fast", PATHS)
def test_spsa_mean_converges_to_the_exact_gradient(fast: bool) -> None:
    estimates = []
    for seed in range(12):
        qnode = qml.QNode(piecewise, qml.device("default.qubit", wires=2))
        layer = QuantumLayer(
            qnode,
            {"w": (2,)},
            gradient_method="spsa",
            seed=seed,
            fast_path=fast,
            spsa_num_directions=50 if fast else 4,
        ).double()
        with torch.no_grad():
            layer.w.copy_(torch.tensor([-1.7, 0.9]))
        layer(X).sum().backward()
        estimates.append(layer.w.grad.clone())
    est = torch.stack(estimates)
    wr = torch.tensor([-1.7, 0.9], dtype=torch.float64, requires_grad=True)
    _reference(piecewise, X, wr).sum().backward()
    sem = est.std(0) / math.sqrt(len(est))
    assert torch.all((est.mean(0) - wr.grad).abs() <= 5 * sem + 1e-3)


def test_parameter_shift_on_the_engine_is_differentiable_twice() -> None:
    layer = _layer("default.qubit", True, "parameter-shift")
    x = X[:2].clone().requires_grad_(True)
    assert torch.autograd.gradgradcheck(lambda a, w: layer.execution(a, {"w": w}), (x, layer.w))


@pytest.mark.parametrize("device", ["default.qubit", "lightning.qubit"])
def test_best_with_probs_and_var_does_not_use_adjoint(device: str) -> None:
    dev = qml.device(device, wires=2)

    @qml.qnode(dev)
    def circuit(inputs, w):
        qml.RY(inputs[..., 0], wires=0)
        qml.RX(w, wires=1)
        qml.CNOT([0, 1])
        return qml.probs(wires=[0, 1]), qml.var(qml.Z(1))

    layer = QuantumLayer(circuit, {"w": 1}).double()
    assert layer.w.shape == ()  # weight_shapes entry 1 is a scalar, as in TorchLayer
    x = torch.tensor([[0.4], [1.3]], dtype=torch.float64, requires_grad=True)
    out = layer(x)
    assert out.shape == (2, 5)
    out[:, 0].sum().backward()
    ref = qml.QNode(circuit.func, qml.device("default.qubit", wires=2), diff_method="backprop")
    xr = x.detach().clone().requires_grad_(True)
    want = torch.hstack([r.reshape(2, -1) for r in ref(xr, layer.w.detach())])
    want[:, 0].sum().backward()
    torch.testing.assert_close(out.detach(), want.detach(), atol=1e-10, rtol=0)
    torch.testing.assert_close(x.grad, xr.grad, atol=1e-8, rtol=0)


def test_shapes_follow_torchlayer_and_nn_linear() -> None:
    dev = qml.device("default.qubit", wires=2)

    @qml.qnode(dev)
    def single(w, inputs):  # inputs need not come first
        qml.RY(inputs[..., 0], wires=0)
        qml.RX(w, wires=0)
        return qml.expval(qml.Z(0))

    layer = QuantumLayer(single, {"w": 1})
    assert layer(torch.rand(5, 1)).shape == (5,)
    assert layer(torch.rand(1)).shape == ()
    assert layer(torch.rand(3, 4, 1)).shape == (3, 4)
    empty = layer(torch.rand(0, 1))
    assert empty.shape == (0,)
    assert layer(np.array([[0.1], [0.2]])).shape == (2,)
    assert layer([[0.1], [0.2]]).shape == (2,)
    linear = QuantumLinear(2, 1, readout="z", device="default.qubit")
    assert linear(torch.rand(2, 3, 4)).shape == (2, 3, 2)
    out = linear(torch.rand(0, 4))
    assert out.shape == (0, 2)
    out.sum().backward()
    assert linear.weights.grad.abs().sum() == 0


def test_kwargs_qnode_init_methods_and_input_argument() -> None:
    dev = qml.device("default.qubit", wires=1)

    @qml.qnode(dev)
    def circuit(inputs, **kwargs):
        qml.RX(inputs[..., 0] * kwargs["a"], wires=0)
        qml.RY(kwargs["b"][0], wires=0)
        return qml.expval(qml.Z(0))

    fixed = {"a": torch.tensor(0.5), "b": torch.tensor([0.25])}
    layer = QuantumLayer(circuit, {"a": 1, "b": (1,)}, init_method=fixed)
    assert float(layer.a) == 0.5 and layer.b.tolist() == [0.25]
    with pytest.raises(KeyError, match=r"missing \['b'\]"):
        QuantumLayer(circuit, {"a": 1, "b": (1,)}, init_method={"a": torch.tensor(0.5)})
    with pytest.raises(ValueError, match=r"shape \(2,\), but weight_shapes gives \(1,\)"):
        QuantumLayer(circuit, {"a": 1, "b": (1,)}, init_method={"a": 0.1, "b": torch.zeros(2)})
    ones = QuantumLayer(circuit, {"a": 1, "b": (1,)}, init_method=torch.nn.init.ones_)
    assert float(ones.a) == 1.0 and ones.b.tolist() == [1.0]
    returned = QuantumLayer(
        circuit, {"a": 1, "b": (1,)}, init_method=lambda t: torch.full_like(t, 3.0)
    )
    assert float(returned.a) == 3.0  # the callable's return value is the initial value

    @qml.qnode(dev)
    def starred(inputs, *args):
        return qml.expval(qml.Z(0))

    with pytest.raises(TypeError, match=r"\*args"):
        QuantumLayer(starred, {})

    @qml.qnode(dev)
    def named(features, w):
        qml.RX(features[..., 0] + w, wires=0)
        return qml.expval(qml.Z(0))

    try:
        QuantumLayer.set_input_argument("features")
        assert QuantumLayer(named, {"w": 1})(torch.zeros(2, 1)).shape == (2,)
    finally:
        QuantumLayer.set_input_argument("inputs")
    assert "RX" in layer.draw(torch.tensor([0.3]))
    assert "RY" in qml.draw(layer)(torch.tensor([0.3]))  # as for TorchLayer
    tape = qml.workflow.construct_tape(layer)(torch.tensor([0.3]))
    assert [op.name for op in tape.operations] == ["RX", "RY"]
    assert layer.device is dev and layer.specs(torch.tensor([0.3]))["num_device_wires"] == 1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"spsa_epsilon": float("nan")}, "spsa_epsilon must be a finite number > 0"),
        ({"spsa_epsilon": 0.0}, "spsa_epsilon must be a finite number > 0"),
        ({"spsa_num_directions": 2.5}, "spsa_num_directions must be an integer >= 1"),
        ({"max_workers": 0}, "max_workers must be an integer >= 1"),
        ({"gradient_method": "adam"}, "Unknown gradient_method 'adam'"),
        ({"fast_path": "yes"}, "fast_path must be True or False"),
    ],
)
def test_options_are_checked_at_construction(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        LayerOptions(**kwargs)
    with pytest.raises(ValueError, match=match):
        QuantumLinear(2, **kwargs)


def test_checkpoints_state_and_pickling() -> None:
    two = QuantumLinear(2, 2, device="default.qubit")
    two(torch.rand(1, 2))
    one = QuantumLinear(2, 1, device="default.qubit")
    one(torch.rand(1, 2))
    with pytest.raises(RuntimeError, match=r"n_layers=2.*build the layer with the checkpoint"):
        two.load_state_dict(one.state_dict())
    model = torch.nn.Sequential(QuantumLinear(2, 1, device="default.qubit"), torch.nn.Linear(6, 1))
    x = torch.rand(3, 2)
    expected = model(x)
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    torch.testing.assert_close(loaded(x), expected)
    torch.testing.assert_close(copy.deepcopy(model)(x), expected)
    amp = QuantumLinear(2, 1, encoding="amplitude", device="default.qubit")
    with pytest.raises(ValueError, match=r"all-zero input row \(rows \[1\]\)"):
        amp(torch.tensor([[1.0, 0.0], [0.0, 0.0]]))


def test_state_outputs_are_refused_and_torch_func_is_explained() -> None:
    @qml.qnode(qml.device("default.qubit", wires=1))
    def state(inputs):
        qml.RX(inputs[..., 0], wires=0)
        return qml.state()

    with pytest.raises(TypeError, match="complex values"):
        QuantumLayer(state, {})(torch.rand(2, 1))
    layer = QuantumLinear(2, 1, device="default.qubit")
    layer(torch.rand(2))
    with pytest.raises(RuntimeError, match=r"torch\.func transforms"):
        torch.func.grad(lambda x: layer(x).sum())(torch.rand(2))


def test_shots_and_shot_vectors_on_the_layer() -> None:
    dev = qml.device("default.qubit", wires=1, seed=7)

    @qml.qnode(dev, shots=[2000, 3000])
    def circuit(inputs, w):
        qml.RX(inputs[..., 0] + w, wires=0)
        return qml.expval(qml.Z(0))

    layer = QuantumLayer(circuit, {"w": 1}, init_method={"w": torch.tensor(0.2)})
    x = torch.tensor([[0.1], [1.2], [2.0]])
    out = layer(x)
    assert out.shape == (2, 3)  # one output per shot setting, as TorchLayer
    exact = torch.cos(x[:, 0] + 0.2)
    for shots, row in zip((2000, 3000), out, strict=True):
        sigma = torch.sqrt((1 - exact**2) / shots)
        assert torch.all((row - exact).abs() <= 5 * sigma + 1e-9)


def test_adjoint_second_order_raises_instead_of_zero() -> None:
    layer = _layer("lightning.qubit", True, "adjoint")
    x = X.clone().requires_grad_(True)
    with pytest.raises(RuntimeError, match=r"Second derivatives .* not available with"):
        torch.autograd.grad(layer(x).sum(), x, create_graph=True)
    (gx,) = torch.autograd.grad(layer(x).sum(), x)  # first order is fine
    assert torch.isfinite(gx).all()


@pytest.mark.parametrize("fast", PATHS)
@pytest.mark.parametrize("method", ["parameter-shift", "spsa"])
def test_shots_are_sampled_like_default_qubit(method: str, fast: bool) -> None:
    """With shots every row (shifted rows included) is sampled: outputs within 5σ of the exact
    values, gradient means over seeds within 5 standard errors of the exact gradient."""
    shots = 2000
    wr = torch.tensor([-1.7, 0.9], dtype=torch.float64, requires_grad=True)
    exact = _reference(piecewise, X, wr)
    exact.sum().backward()
    grads, engine = [], []
    for seed in range(8):
        qnode = qml.QNode(piecewise, qml.device("default.qubit", wires=2, seed=seed), shots=shots)
        layer = QuantumLayer(
            qnode,
            {"w": (2,)},
            gradient_method=method,
            fast_path=fast,
            seed=seed,
            spsa_num_directions=8,
        ).double()
        with torch.no_grad():
            layer.w.copy_(wr.detach())
        with qml.Tracker(qnode.device) as tracker:
            out = layer(X)
        engine.append("engine_rows" in tracker.totals)
        sigma = torch.sqrt((1 - exact.detach() ** 2).clamp(min=0) / shots)
        assert torch.all((out - exact.detach()).abs() <= 5 * sigma + 1e-9)
        assert not torch.allclose(out, exact.detach(), atol=1e-12)  # really sampled
        out.sum().backward()
        grads.append(layer.w.grad.clone())
    assert all(e is fast for e in engine)
    est = torch.stack(grads)
    sem = est.std(0) / math.sqrt(len(est))
    assert torch.all((est.mean(0) - wr.grad).abs() <= 5 * sem + 2e-2)


@pytest.mark.parametrize("device", ["qstore.router", "default.qubit", "lightning.qubit"])
def test_unbatched_inputs_reach_the_qnode_unbatched(device: str) -> None:
    """TorchLayer idiom: index features as inputs[0], inputs[-1] on a (features,) input."""

    @qml.qnode(qml.device(device, wires=2))
    def circuit(inputs, w):
        qml.RX(inputs[0], wires=0)
        qml.RY(inputs[-1], wires=1)
        qml.RY(w, wires=0)
        return [qml.expval(qml.Z(0)), qml.expval(qml.Z(1))]

    layer = QuantumLayer(
        circuit, {"w": 1}, init_method={"w": torch.tensor(0.4, dtype=torch.float64)}
    )
    x = torch.tensor([0.3, 0.5, -0.9], dtype=torch.float64)
    want = torch.stack(_plain(circuit.func, x, 0.4))
    torch.testing.assert_close(layer(x), want, atol=1e-10, rtol=0)


_fd_coarse = {"diff_method": "finite-diff", "gradient_kwargs": {"h": 0.3}}


def _plain(func, x, w):
    ref = qml.QNode(func, qml.device("default.qubit", wires=2), diff_method="backprop")
    return ref(x, torch.tensor(w, dtype=torch.float64))


def test_qnode_gradient_settings_wire_dependent_circuits_and_odd_inputs() -> None:
    dev = qml.device("default.qubit")

    @qml.qnode(dev, diff_method="finite-diff", gradient_kwargs={"h": 0.3})
    def coarse(inputs, w):
        qml.RX(inputs[..., 0], wires=0)
        qml.RY(w[0], wires=0)
        qml.RZ(w[1], wires=0)
        qml.RX(w[1], wires=0)
        return qml.expval(qml.Z(0))

    init = {"w": torch.tensor([0.3, 1.1], dtype=torch.float64)}
    layer = QuantumLayer(coarse, {"w": (2,)}, init_method=init)
    x = torch.tensor([[0.2], [0.9]], dtype=torch.float64)
    with qml.Tracker(dev) as tracker:
        layer(x).sum().backward()
    assert "engine_rows" not in tracker.totals  # the QNode's own step: PennyLane runs it
    wr = torch.tensor([0.3, 1.1], dtype=torch.float64, requires_grad=True)
    ref = qml.QNode(coarse.func, qml.device("default.qubit"), **_fd_coarse)
    for row in x:  # PennyLane's finite differences with h=0.3, row by row
        ref(row, wr).backward()
    # h=0.3 is ~0.1 away from the exact gradient; float32 round trips in PennyLane's torch
    # backward leave ~1e-8
    torch.testing.assert_close(layer.w.grad, wr.grad, atol=1e-6, rtol=0)

    @qml.qnode(dev)
    def branching(inputs, w):
        qml.RX(inputs[..., 0], wires=0)
        if w[1] > 0.5:  # wires depend on the weights' values
            qml.CNOT([0, 2])
        qml.RY(w[0], wires=2)
        return qml.expval(qml.Z(2))

    layer = QuantumLayer(branching, {"w": (2,)}, init_method={"w": torch.tensor([0.3, 0.9])})
    out = layer(torch.tensor([[0.2], [0.9]]))
    ref = qml.QNode(branching.func, qml.device("default.qubit"))
    torch.testing.assert_close(out, ref(torch.tensor([[0.2], [0.9]]), layer.w.detach()).float())

    @qml.qnode(qml.device("default.qubit", wires=1), diff_method="hadamard")
    def hadamard(inputs):
        qml.RX(inputs[..., 0], wires=0)
        return qml.expval(qml.Z(0))

    with pytest.raises(ValueError, match="diff_method='hadamard', which the layers do not run"):
        QuantumLayer(hadamard, {})
    with pytest.raises(TypeError, match="int or a sequence of ints"):
        QuantumLayer(coarse, {"w": "12"})
    linear = QuantumLinear(2, 1, readout="z", device="default.qubit")
    assert linear(np.zeros((3, 2), dtype=np.float32)).dtype == torch.float32
    x = torch.zeros(0, 2, requires_grad=True)
    linear(x).sum().backward()
    assert x.grad is not None and x.grad.shape == (0, 2)


def test_qnode_weights_entries_and_shot_vectors_with_unbatched_inputs() -> None:
    dev = qml.device("default.qubit", wires=1)

    @qml.qnode(dev)
    def circuit(inputs, w):
        qml.RX(inputs[..., 0] + w, wires=0)
        return qml.expval(qml.Z(0))

    layer = QuantumLayer(circuit, {"w": 1}, init_method=torch.nn.init.zeros_)
    layer.qnode_weights["w"] = torch.tensor(math.pi)
    torch.testing.assert_close(layer(torch.zeros(2, 1)), -torch.ones(2), atol=1e-6, rtol=0)

    @qml.set_shots([100, 200])
    @qml.qnode(qml.device("default.qubit", wires=1, seed=1))
    def sampled(inputs, w):
        qml.RX(inputs[..., 0] + w, wires=0)
        return qml.expval(qml.Z(0))

    assert QuantumLayer(sampled, {"w": 1})(torch.zeros(1)).shape == (2,)


def test_router_pinned_to_another_target_keeps_the_layers_off_the_engine() -> None:
    dev = qml.device("qstore.router", wires=2, target="lightning.qubit")
    assert dev.pinned_targets == ("lightning.qubit",)
    layer = QuantumLayer(qml.QNode(piecewise, dev), {"w": (2,)}).double()
    with qml.Tracker(dev) as tracker:
        out = layer(X)
    assert "engine_rows" not in tracker.totals
    torch.testing.assert_close(out, _reference(piecewise, X, layer.w.detach()), atol=1e-10, rtol=0)


def _matrix_gates(inputs, w):
    """Gates the engine applies by their matrices: CRX (four-term shift rule), IsingXX, Rot."""
    qml.RY(inputs[..., 0], wires=0)
    qml.CRX(w[0], wires=[0, 1])
    qml.IsingXX(inputs[..., 1] * w[1], wires=[0, 1])
    qml.Rot(w[0], inputs[..., 0], w[1], wires=1)
    return [qml.expval(qml.Z(1)), qml.expval(qml.Y(0) @ qml.X(1))]


@pytest.mark.parametrize("method", ["parameter-shift", "finite-diff"])
def test_shift_rules_of_matrix_gates_on_the_engine(method: str) -> None:
    qnode = qml.QNode(_matrix_gates, qml.device("default.qubit", wires=2))
    init = {"w": torch.tensor([0.7, -1.3], dtype=torch.float64)}
    layer = QuantumLayer(qnode, {"w": (2,)}, gradient_method=method, init_method=init)
    x = X.clone().requires_grad_(True)
    with qml.Tracker(qnode.device) as tracker:
        out = layer(x)
    assert "engine_rows" in tracker.totals
    out.sum().backward()
    xr, wr = X.clone().requires_grad_(True), init["w"].clone().requires_grad_(True)
    torch.stack(
        qml.QNode(_matrix_gates, qml.device("default.qubit", wires=2))(xr, wr), -1
    ).sum().backward()
    tol = 1e-9 if method == "parameter-shift" else 2e-5
    torch.testing.assert_close(x.grad, xr.grad, atol=tol, rtol=0)
    torch.testing.assert_close(layer.w.grad, wr.grad, atol=tol, rtol=0)
