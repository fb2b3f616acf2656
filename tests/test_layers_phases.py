"""Automatic cost phases of the layers and validation on another device (issue 11, items 4).

Phases are observed where the devices read them: ``current_phase()`` inside the QNode function
(it runs during the device call) and the rows of ``dev.cost_report()`` on qstore.ionq against the
local server and on qstore.router.
"""

from __future__ import annotations

import math

import pennylane as qml
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from pennylane_qstore.budget import current_phase, phase  # noqa: E402
from qstore_layers.torch import QuantumLayer, QuantumLinear, evaluate_on, on_device  # noqa: E402

SEEN: list[str] = []


def recording(inputs, w):
    """A circuit that notes the phase it is built in."""
    SEEN.append(current_phase())
    qml.RY(inputs[..., 0], wires=0)
    qml.RX(w[0], wires=0)
    return qml.expval(qml.Z(0))


def _ionq(server, **kwargs):
    return qml.device(
        "qstore.ionq", wires=2, seed=3, api_url=server.url, api_key=server.api_key, **kwargs
    )


def test_torch_layers_tag_training_and_evaluation_explicit_phase_wins() -> None:
    layer = QuantumLayer(qml.QNode(recording, qml.device("default.qubit", wires=1)), {"w": (1,)})
    x = torch.rand(3, 1)
    SEEN.clear()
    layer(x)
    layer.eval()
    layer(x)
    with phase("calibration"):
        layer(x)
    assert current_phase() == "default"  # nothing leaks out of the forward pass
    assert SEEN[0] == "training" and SEEN[-1] == "calibration"
    assert "evaluation" in SEEN and set(SEEN) == {"training", "evaluation", "calibration"}


def test_quantum_linear_phases_reach_the_router_cost_report() -> None:
    dev = qml.device("qstore.router", wires=2)
    layer = QuantumLinear(2, 1, device=dev, readout="z")
    x = torch.rand(4, 2)
    layer(x).sum().backward()
    with torch.no_grad():
        layer.eval()(x)
    phases = {row["phase"] for row in dev.cost_report().rows}
    assert {"training", "evaluation"} <= phases


def _model(device: str = "qstore.router") -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(QuantumLinear(2, 1, device=device, readout="z"), nn.Linear(2, 2))
    model(torch.rand(1, 2))
    return model


def test_on_device_shares_weights_restores_and_tags_validation(server) -> None:
    model = _model()
    x = torch.rand(6, 2)
    before = model[0].qnode.device
    want = model(x).detach()
    exact = qml.device("default.qubit", wires=2)
    with on_device(model, exact) as moved:
        assert moved[0].qnode.device is exact
        torch.testing.assert_close(model(x).detach(), want, atol=1e-6, rtol=0)
    assert model[0].qnode.device is before
    dev = _ionq(server, shots=200)
    with pytest.raises(RuntimeError, match="boom"), on_device(model, dev):
        model(x)
        raise RuntimeError("boom")
    assert model[0].qnode.device is before  # restored on the exception too
    assert {r["phase"] for r in dev.cost_report().rows} == {"validation"}
    with pytest.raises(ValueError, match="no qstore_layers quantum layer"):
        on_device(nn.Linear(2, 2), exact).__enter__()
    with pytest.raises(TypeError, match="PennyLane device"):
        on_device(model, 3).__enter__()
    assert model[0].qnode.device is before


def test_evaluate_on_a_shots_device_is_the_exact_metric_within_five_sigma() -> None:
    model = _model()
    x, y = torch.rand(32, 2), torch.randint(0, 2, (32,))
    data = [(x[:16], y[:16]), (x[16:], y[16:])]

    def first_output(outputs, targets):
        return outputs[:, 0].mean()

    exact = evaluate_on(model, qml.device("default.qubit", wires=2), data, metric=first_output)
    shots = 4000
    sampled = evaluate_on(
        model, qml.device("default.qubit", wires=2, shots=shots, seed=1), data, first_output
    )
    # the head's first output is linear in the <Z_i>; each estimate has variance <= 1/shots
    head = model[1].weight[0].abs().sum().item()
    sigma = head / math.sqrt(shots * len(x))
    assert abs(sampled - exact) <= 5 * sigma
    assert model.training  # the mode is restored


def test_evaluate_on_ionq_counts_only_max_batches(server) -> None:
    model = _model()
    x, y = torch.rand(8, 2), torch.arange(8) % 2
    data = [(x[:4], y[:4]), (x[4:], y[4:])]
    dev = _ionq(server, shots=300)
    acc = evaluate_on(model, dev, data, max_batches=1)
    assert 0.0 <= acc <= 1.0
    rows = dev.cost_report().rows
    assert [(r["phase"], r["circuits"]) for r in rows] == [("validation", 4)]
    with pytest.raises(ValueError, match="max_batches"):
        evaluate_on(model, dev, data, max_batches=0)
    with pytest.raises(ValueError, match="no batches"):
        evaluate_on(model, dev, [])


# ---------------------------------------------------------------- Keras
def test_keras_fit_and_validate_on_another_device(server, tmp_path) -> None:
    """fit (graph mode) tags training/evaluation; ValidateOn logs val_<label>_<metric> that
    History and CSVLogger see, runs on its device under phase "validation" and restores."""
    pytest.importorskip("tensorflow")
    import keras

    from qstore_layers.keras import QuantumDense, ValidateOn

    train = qml.device("qstore.router", wires=2)
    hardware = _ionq(server, shots=200, backend="qpu.aria-1")
    quantum = QuantumDense(2, 1, readout="z", device=train)
    model = keras.Sequential([keras.Input((2,)), quantum, keras.layers.Dense(2)])
    model.compile(
        "adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"]
    )
    rng = torch.Generator().manual_seed(0)
    x = torch.rand(8, 2, generator=rng).numpy()
    y = (torch.arange(8) % 2).numpy()
    callback = ValidateOn(hardware, (x[:4], y[:4]), every=2)
    log = tmp_path / "log.csv"
    history = model.fit(
        x,
        y,
        batch_size=4,
        epochs=2,
        verbose=0,
        validation_data=(x[4:], y[4:]),
        callbacks=[callback, keras.callbacks.CSVLogger(str(log))],
    )
    assert callback.label == "ionq_qpu_aria_1"
    key = "val_ionq_qpu_aria_1_accuracy"
    first, second = history.history[key]  # every=2: NaN, then the second epoch's accuracy
    assert math.isnan(first) and 0.0 <= second <= 1.0
    assert key in log.read_text().splitlines()[0]
    assert quantum.executor.qnode.device is train
    assert {r["phase"] for r in hardware.cost_report().rows} == {"validation"}
    hardware_rows = hardware.cost_report().rows
    assert hardware_rows[0]["circuits"] == 4 and hardware_rows[0]["billed_usd"] > 0
    assert {"training", "evaluation"} <= {r["phase"] for r in train.cost_report().rows}
    with pytest.raises(ValueError, match="every must be an integer"):
        ValidateOn(hardware, (x, y), every=0)
    with pytest.raises(TypeError, match="device instance"):
        ValidateOn("qstore.ionq", (x, y))
