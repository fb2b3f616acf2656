"""Issue 14 item 4: circuits as layer inputs (Torch and Keras).

Every row's input circuit is placed in the model QNode; the reference is the same circuit
applied gate by gate (``qml.apply``) in a QNode on ``default.qubit``, one row at a time. Each
gradient method runs on the engine and on the QNode path (``fast_path``), and the device's
tracker proves which one ran.
"""

from __future__ import annotations

import copy
import math
import os

import numpy as np
import pennylane as qml
import pytest

torch = pytest.importorskip("torch")

from qstore_layers.circuit_inputs import group_rows, prepend  # noqa: E402
from qstore_layers.torch import QuantumLayer  # noqa: E402

PATHS = [pytest.param(True, id="engine"), pytest.param(False, id="device")]
QASM2 = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[3];\n'
QASM3 = 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[3] q;\n'

# (what the layer gets, the same circuit written by hand for the reference)
ROWS = [
    (
        qml.tape.QuantumScript([qml.RX(0.4, 0), qml.Hadamard(2), qml.CNOT([0, 1])]),
        [qml.RX(0.4, 0), qml.Hadamard(2), qml.CNOT([0, 1])],
    ),
    (
        QASM2 + "h q[2];\nry(-0.7) q[1];\ncx q[1],q[0];\n",
        [qml.H(2), qml.RY(-0.7, 1), qml.CNOT([1, 0])],
    ),
    (
        qml.tape.QuantumScript([qml.RX(-1.3, 0), qml.Hadamard(2), qml.CNOT([0, 1])]),
        [qml.RX(-1.3, 0), qml.Hadamard(2), qml.CNOT([0, 1])],
    ),
    (
        QASM3 + "rx(0.25) q[2];\ncrx(1.1) q[2], q[0];\nh q[1];\n",
        [qml.RX(0.25, 2), qml.CRX(1.1, [2, 0]), qml.H(1)],
    ),
    (
        qml.tape.QuantumScript([qml.Rot(0.3, torch.tensor(0.2, requires_grad=True), 0.1, 1)]),
        [qml.Rot(0.3, 0.2, 0.1, 1)],
    ),
    (QASM2 + "h q[0];\nh q[2];\n", [qml.H(0), qml.H(2)]),
    (
        QASM2 + "ry(-0.7) q[1];\nh q[2];\ncx q[1],q[0];\n",
        [qml.RY(-0.7, 1), qml.H(2), qml.CNOT([1, 0])],
    ),
]
CIRCUITS = [row for row, _ in ROWS]
W = torch.tensor([0.7, -0.4, 1.2, 0.5, -0.9], dtype=torch.float64)


def body(w):
    """The model after the input circuit: each weight is one gate angle."""
    qml.RY(w[0], 0)
    qml.RX(w[1], 1)
    qml.CNOT([0, 1])
    qml.RZ(w[2], 2)
    qml.CRX(w[3], [1, 2])
    qml.RY(w[4], 2)
    return [qml.expval(qml.Z(0) @ qml.Z(1)), qml.expval(qml.X(2)), qml.expval(qml.Y(1))]


def model(circuits, w):
    prepend(circuits)
    return body(w)


def reference(w: torch.Tensor) -> torch.Tensor:
    """Every row by hand: the circuit's gates applied in a default.qubit QNode, then the model."""
    dev = qml.device("default.qubit", wires=3)

    @qml.qnode(dev, diff_method="backprop")
    def row(ops, w):
        for op in ops:
            qml.apply(op)
        return body(w)

    return torch.stack([torch.stack(row(ops, w)) for _, ops in ROWS])


def _layer(method: str, fast: bool, device: str = "default.qubit", **kwargs) -> QuantumLayer:
    qnode = qml.QNode(model, qml.device(device, wires=3))
    layer = QuantumLayer(qnode, {"w": (5,)}, gradient_method=method, fast_path=fast, **kwargs)
    layer = layer.double()
    with torch.no_grad():
        layer.w.copy_(W)
    return layer


def _run(layer: QuantumLayer, circuits=CIRCUITS) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Outputs, the weights' gradient of their sum, and whether the engine ran."""
    with qml.Tracker(layer.qnode.device) as tracker:
        out = layer(circuits)
        (grad,) = torch.autograd.grad(out.sum(), layer.w)
    return out, grad, "engine_rows" in tracker.totals


@pytest.mark.parametrize("fast", PATHS)
@pytest.mark.parametrize("method", ["backprop", "adjoint", "parameter-shift"])
def test_analytic_methods_match_default_qubit(method: str, fast: bool) -> None:
    out, grad, engine = _run(_layer(method, fast))
    assert engine is fast
    wr = W.clone().requires_grad_(True)
    want = reference(wr)
    (want_grad,) = torch.autograd.grad(want.sum(), wr)
    torch.testing.assert_close(out, want, atol=1e-8, rtol=0)
    torch.testing.assert_close(grad, want_grad, atol=1e-8, rtol=0)
    assert want_grad.abs().sum() > 0.5  # the check is not vacuous


@pytest.mark.parametrize("fast", PATHS)
def test_finite_diff_is_the_forward_difference(fast: bool) -> None:
    out, grad, engine = _run(_layer("finite-diff", fast))
    torch.testing.assert_close(out, reference(W), atol=1e-8, rtol=0)
    assert engine is fast
    h = 1e-7  # PennyLane's default step, which both paths use
    with torch.no_grad():
        base = reference(W).sum()
        by_hand = torch.stack([(reference(W + h * e).sum() - base) / h for e in torch.eye(5)])
    torch.testing.assert_close(grad, by_hand, atol=1e-6, rtol=0)


def single_weight_model(circuits, w):
    prepend(circuits)
    qml.CNOT([0, 2])
    qml.RY(w, 1)
    return qml.expval(qml.Z(1) @ qml.X(2))


@pytest.mark.parametrize("fast", PATHS)
def test_spsa_with_one_gate_parameter_is_the_central_difference(fast: bool) -> None:
    """With one gate parameter a Rademacher direction is ±1, so each row's SPSA estimate is
    exactly the central difference with the step ``spsa_epsilon``."""
    dev = qml.device("default.qubit", wires=3)
    layer = QuantumLayer(
        qml.QNode(single_weight_model, dev),
        {"w": 1},
        gradient_method="spsa",
        spsa_epsilon=0.3,
        fast_path=fast,
        seed=4,
    ).double()
    with torch.no_grad():
        layer.w.fill_(0.8)
    with qml.Tracker(dev) as tracker:
        (grad,) = torch.autograd.grad(layer(CIRCUITS).sum(), layer.w)
    assert ("engine_rows" in tracker.totals) is fast

    @qml.qnode(qml.device("default.qubit", wires=3))
    def row(ops, w):
        for op in ops:
            qml.apply(op)
        qml.CNOT([0, 2])
        qml.RY(w, 1)
        return qml.expval(qml.Z(1) @ qml.X(2))

    def total(w: float) -> float:
        return sum(float(row(ops, w)) for _, ops in ROWS)

    by_hand = (total(0.8 + 0.3) - total(0.8 - 0.3)) / 0.6
    assert abs(float(grad) - by_hand) < 1e-8
    assert abs(by_hand) > 0.1


def features_model(inputs, circuits, w):
    qml.RX(inputs[..., 0], 2)
    prepend(circuits)
    qml.RY(inputs[..., 1] * w[0], 0)
    return body(w)


@pytest.mark.parametrize("fast", PATHS)
def test_features_and_circuits_together(fast: bool) -> None:
    dev = qml.device("default.qubit", wires=3)
    layer = QuantumLayer(qml.QNode(features_model, dev), {"w": (5,)}, fast_path=fast).double()
    with torch.no_grad():
        layer.w.copy_(W)
    x = torch.linspace(-1, 1, 2 * len(ROWS), dtype=torch.float64).reshape(-1, 2)
    x.requires_grad_(True)
    with qml.Tracker(dev) as tracker:
        out = layer(x, circuits=CIRCUITS)
    assert ("engine_rows" in tracker.totals) is fast
    gx, gw = torch.autograd.grad(out.sum(), (x, layer.w))

    @qml.qnode(qml.device("default.qubit", wires=3), diff_method="backprop")
    def row(xr, ops, w):
        qml.RX(xr[0], 2)
        for op in ops:
            qml.apply(op)
        qml.RY(xr[1] * w[0], 0)
        return body(w)

    xr, wr = x.detach().clone().requires_grad_(True), W.clone().requires_grad_(True)
    want = torch.stack([torch.stack(row(xr[i], ops, wr)) for i, (_, ops) in enumerate(ROWS)])
    rx, rw = torch.autograd.grad(want.sum(), (xr, wr))
    torch.testing.assert_close(out, want, atol=1e-8, rtol=0)
    torch.testing.assert_close(gx, rx, atol=1e-8, rtol=0)
    torch.testing.assert_close(gw, rw, atol=1e-8, rtol=0)


def test_router_record_rows_grouped_by_structure_and_shapes() -> None:
    layer = _layer("best", True, device="qstore.router")
    out, _, engine = _run(layer)
    assert engine
    assert "engine" in layer.qnode.device.routing_record.tapes_per_target()
    torch.testing.assert_close(out, reference(W), atol=1e-8, rtol=0)
    groups = group_rows([qml.tape.QuantumScript(ops) for _, ops in ROWS])
    assert [g.rows for g in groups] == [[0, 2], [1], [3], [4], [5], [6]]
    assert groups[0].params.tolist() == [[0.4], [-1.3]]
    # one circuit: unbatched output; no circuits: an empty batch
    torch.testing.assert_close(layer(CIRCUITS[1]), out[1], atol=1e-12, rtol=0)
    assert layer([]).shape == (0, 3)
    # circuits without angles run once per structure and keep their rows
    plain = [QASM2 + "h q[0];\n", QASM2 + "x q[1];\n", QASM2 + "h q[0];\n"]
    rows = layer(plain)
    torch.testing.assert_close(rows[0], rows[2])
    assert not torch.allclose(rows[0], rows[1])
    clone = copy.deepcopy(layer)
    torch.testing.assert_close(clone(CIRCUITS), out.detach(), atol=1e-12, rtol=0)


@pytest.mark.parametrize(
    ("circuits", "match"),
    [
        ([qml.tape.QuantumScript([qml.X(0)], [qml.expval(qml.Z(0))])], "has measurements"),
        ([QASM2 + "creg c[3];\nh q[0];\nmeasure q -> c;\n"], "has measurements"),
        ([qml.tape.QuantumScript([qml.RX(0.1, 5)])], r"acts on wires \[5\]"),
        (["h q[0];"], "Input circuit 0 cannot be read"),
        ([qml.tape.QuantumScript([qml.measurements.MidMeasureMP(0)])], "mid-circuit"),
    ],
)
def test_bad_circuits_are_refused_with_the_fix(circuits: list, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        _layer("best", True)(circuits)


def test_bad_calls_name_the_right_call() -> None:
    layer = QuantumLayer(
        qml.QNode(features_model, qml.device("default.qubit", wires=3)), {"w": (5,)}
    )
    with pytest.raises(TypeError, match=r"layer\(x, circuits="):
        layer(torch.zeros(2, 2))
    with pytest.raises(ValueError, match=r"features must have shape \(2, features\)"):
        layer(torch.zeros(3, 2), circuits=CIRCUITS[:2])
    with pytest.raises(TypeError, match="only 'circuits'"):
        _layer("best", True)(torch.zeros(2, 2), circuits=CIRCUITS[:2])
    with pytest.raises(ValueError, match="no entry in weight_shapes"):
        QuantumLayer(qml.QNode(model, qml.device("default.qubit", wires=3)), {})


# ---------------------------------------------------------------------------------- Keras
QASM_ROWS = [(c, ops) for c, ops in ROWS if isinstance(c, str)]


def _keras():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    tf = pytest.importorskip("tensorflow")
    keras = pytest.importorskip("keras")
    from qstore_layers.keras import QuantumLayer as KerasQuantumLayer

    return tf, keras, KerasQuantumLayer


def _keras_layer(method: str, fast: bool):
    tf, keras, layer_cls = _keras()
    dev = qml.device("default.qubit", wires=3)
    layer = layer_cls(qml.QNode(model, dev), {"w": (5,)}, 3, gradient_method=method, fast_path=fast)
    layer.build((None,))
    layer.qweights[0].assign(W.numpy().astype(layer.qweights[0].dtype))
    return tf, keras, layer, dev


@pytest.mark.parametrize("fast", PATHS)
@pytest.mark.parametrize("method", ["backprop", "adjoint", "parameter-shift", "finite-diff"])
def test_keras_string_tensor_gradients_match_default_qubit(method: str, fast: bool) -> None:
    import keras

    keras.config.set_dtype_policy("float64")
    try:
        tf, keras, layer, dev = _keras_layer(method, fast)
        strings = tf.constant([[c] for c, _ in QASM_ROWS])  # (batch, 1)
        with qml.Tracker(dev) as tracker, tf.GradientTape() as tape:
            out = layer(strings, training=True)
            loss = tf.reduce_sum(out)
        (grad,) = tape.gradient(loss, layer.qweights)
    finally:
        keras.config.set_dtype_policy("float32")
    assert ("engine_rows" in tracker.totals) is fast
    keep = [i for i, (c, _) in enumerate(ROWS) if isinstance(c, str)]
    wr = W.clone().requires_grad_(True)
    want = reference(wr)[keep]
    (want_grad,) = torch.autograd.grad(want.sum(), wr)
    tol = 1e-6 if method == "finite-diff" else 1e-8
    np.testing.assert_allclose(out.numpy(), want.detach().numpy(), atol=1e-8, rtol=0)
    np.testing.assert_allclose(grad.numpy(), want_grad.numpy(), atol=tol, rtol=0)


def test_keras_fit_on_a_tf_data_pipeline_of_qasm_strings() -> None:
    tf, keras, layer_cls = _keras()
    dev = qml.device("qstore.router", wires=3)

    def one_output(circuits, w):
        prepend(circuits)
        qml.RY(w[0], 0)
        qml.CNOT([0, 1])
        qml.RY(w[1], 1)
        return qml.expval(qml.Z(1))

    rng = np.random.default_rng(3)
    angles = rng.uniform(-math.pi, math.pi, 32)
    qasm = np.array([QASM2 + f"rx({float(a)!r}) q[0];\n" for a in angles])
    labels = np.cos(angles + 1.0).astype("float32")  # learnable: w = (1, 0)
    inputs = keras.Input((), dtype="string")
    layer = layer_cls(qml.QNode(one_output, dev), {"w": (2,)}, 1, seed=1)
    model = keras.Model(inputs, layer(inputs))
    model.compile(keras.optimizers.Adam(0.1), "mse")
    data = tf.data.Dataset.from_tensor_slices((qasm, labels)).batch(8)
    before = model.evaluate(data, verbose=0)
    model.fit(data, epochs=8, verbose=0)
    assert model.evaluate(data, verbose=0) < 0.5 * before
    assert "engine" in dev.routing_record.tapes_per_target()
    with pytest.raises(TypeError, match="not both"):
        layer_cls(qml.QNode(features_model, dev), {"w": (5,)}, 3)


@pytest.mark.parametrize("fast", PATHS)
def test_keras_spsa_with_one_gate_parameter_is_the_central_difference(fast: bool) -> None:
    tf, _, layer_cls = _keras()
    dev = qml.device("default.qubit", wires=3)
    layer = layer_cls(
        qml.QNode(single_weight_model, dev),
        {"w": 1},
        1,
        gradient_method="spsa",
        spsa_epsilon=0.3,
        fast_path=fast,
    )
    layer.build((None,))
    layer.qweights[0].assign(0.8)
    with qml.Tracker(dev) as tracker, tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(tf.constant([c for c, _ in QASM_ROWS]), training=True))
    (grad,) = tape.gradient(loss, layer.qweights)
    assert ("engine_rows" in tracker.totals) is fast

    @qml.qnode(qml.device("default.qubit", wires=3))
    def row(ops, w):
        for op in ops:
            qml.apply(op)
        return single_weight_model(qml.tape.QuantumScript([]), w)

    def total(w: float) -> float:
        return sum(float(row(ops, w)) for _, ops in QASM_ROWS)

    w = float(np.float32(0.8))  # the float32 weight the layer holds
    by_hand = (total(w + 0.3) - total(w - 0.3)) / 0.6
    assert abs(float(grad) - by_hand) < 1e-6  # float32 outputs and gradient


def test_a_qnode_that_ignores_its_circuits_is_refused() -> None:
    def forgetful(circuits, w):
        return body(w)

    layer = QuantumLayer(qml.QNode(forgetful, qml.device("default.qubit", wires=3)), {"w": (5,)})
    with pytest.raises(ValueError, match=r"never applies it.*prepend\(circuits\)"):
        layer(CIRCUITS[:2])


@pytest.mark.parametrize("fast", PATHS)
def test_with_shots_rows_of_one_gate_free_circuit_are_sampled_independently(fast: bool) -> None:
    def plain(circuits, w):
        prepend(circuits)
        qml.RY(w[0], 0)
        return qml.expval(qml.Z(0))

    dev = qml.device("default.qubit", wires=1, seed=3)
    qnode = qml.set_shots(qml.QNode(plain, dev), 50)
    layer = QuantumLayer(qnode, {"w": (1,)}, fast_path=fast).double()
    with torch.no_grad():
        layer.w.fill_(1.0)
    rows = [qml.tape.QuantumScript([])] * 64
    out = layer(rows).detach().numpy().ravel()
    assert len(set(out.round(12))) > 1  # one sample copied to every row would be one value
    assert abs(out.mean() - math.cos(1.0)) < 5 * math.sin(1.0) / math.sqrt(50 * 64)


def test_keras_with_shots_rows_of_one_gate_free_circuit_are_sampled_independently() -> None:
    tf, _, layer_cls = _keras()

    def plain(circuits, w):
        prepend(circuits)
        qml.RY(w[0], 0)
        return qml.expval(qml.Z(0))

    qnode = qml.set_shots(qml.QNode(plain, qml.device("default.qubit", wires=3, seed=4)), 50)
    layer = layer_cls(qnode, {"w": (1,)}, 1)
    layer.build((None,))
    layer.qweights[0].assign(np.ones(1, dtype=layer.qweights[0].dtype))
    out = layer(tf.constant([QASM2 + "h q[2];\nh q[2];\n"] * 32)).numpy().ravel()
    assert len(set(out.round(6))) > 1
    assert abs(out.mean() - math.cos(1.0)) < 5 * math.sin(1.0) / math.sqrt(50 * 32)
