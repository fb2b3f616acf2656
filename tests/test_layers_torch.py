"""Torch layers: gradients of every method against exact backprop, shapes, conventions, training."""

from __future__ import annotations

import asyncio
import copy
import math
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pennylane as qml
import pytest
import torch

from qstore_layers.torch import QuantumLayer, QuantumLinear

N_QUBITS, N_FEATURES, BATCH = 2, 3, 3


def _reference(x: torch.Tensor, weights: torch.Tensor, readout: str = "xyz") -> torch.Tensor:
    """The default ansatz written directly with PennyLane's torch interface (backprop)."""
    dev = qml.device("default.qubit", wires=N_QUBITS)
    paulis = {"x": qml.PauliX, "y": qml.PauliY, "z": qml.PauliZ}

    @qml.qnode(dev, interface="torch", diff_method="backprop")
    def circuit(inputs, w):
        for block in range(w.shape[0]):
            for wire in range(min(N_QUBITS, N_FEATURES - block * N_QUBITS)):
                qml.RY(inputs[:, block * N_QUBITS + wire], wires=wire)
            for q in range(N_QUBITS):  # the documented entangling layer, written out
                qml.Rot(*w[block, 0, q], wires=q)
            qml.CNOT(wires=[0, 1])
        return [qml.expval(paulis[p](q)) for p in readout for q in range(N_QUBITS)]

    return torch.stack(circuit(x, weights), dim=-1)


def _data(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(BATCH, N_FEATURES, generator=gen, dtype=torch.float64) * math.pi
    dy = torch.randn(BATCH, 3 * N_QUBITS, generator=gen, dtype=torch.float64)
    return x, dy


def _layer_grads(layer: QuantumLinear, x: torch.Tensor, dy: torch.Tensor, weights: torch.Tensor):
    layer(x)  # materialise the lazy weights
    layer.double()
    with torch.no_grad():
        layer.weights.copy_(weights)
    layer.zero_grad()
    x = x.clone().requires_grad_(True)
    out = layer(x)
    (out * dy).sum().backward()
    return out.detach(), x.grad, layer.weights.grad.clone()


@pytest.fixture(scope="module")
def exact() -> dict[str, torch.Tensor]:
    x, dy = _data()
    weights = torch.rand(
        2, 1, N_QUBITS, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(3)
    )
    weights = (weights * 2 * math.pi).requires_grad_(True)
    xr = x.clone().requires_grad_(True)
    out = _reference(xr, weights)
    (out * dy).sum().backward()
    return {
        "x": x,
        "dy": dy,
        "w": weights.detach(),
        "out": out.detach(),
        "gx": xr.grad,
        "gw": weights.grad,
    }


@pytest.mark.parametrize(
    ("device", "method", "tol"),
    [
        ("default.qubit", "backprop", 1e-6),
        ("default.qubit", "adjoint", 1e-6),
        ("default.qubit", "parameter-shift", 1e-6),
        ("lightning.qubit", "adjoint", 1e-6),
        ("qstore.router", "best", 1e-6),
        ("default.qubit", "finite-diff", 1e-5),  # first-order step h=1e-7: error O(h) + O(eps/h)
    ],
)
def test_gradients_match_exact_backprop(device: str, method: str, tol: float, exact) -> None:
    layer = QuantumLinear(N_QUBITS, 1, device=device, gradient_method=method)
    out, gx, gw = _layer_grads(layer, exact["x"], exact["dy"], exact["w"])
    torch.testing.assert_close(out, exact["out"], atol=1e-10, rtol=0)
    torch.testing.assert_close(gx, exact["gx"], atol=tol, rtol=0)
    torch.testing.assert_close(gw, exact["gw"], atol=tol, rtol=0)


def test_spsa_is_unbiased(exact) -> None:
    """The mean of independent SPSA estimates converges to the exact gradient."""
    x, dy, w = exact["x"][:1], exact["dy"][:1], exact["w"].clone().requires_grad_(True)
    xr = x.clone().requires_grad_(True)
    (_reference(xr, w) * dy).sum().backward()
    layer = QuantumLinear(
        N_QUBITS, 1, device="lightning.qubit", gradient_method="spsa", spsa_num_directions=4, seed=7
    )
    estimates = [_layer_grads(layer, x, dy, exact["w"]) for _ in range(24)]
    for index, want in ((1, xr.grad), (2, w.grad)):
        samples = torch.stack([e[index].flatten() for e in estimates])
        mean, sem = samples.mean(0), samples.std(0) / math.sqrt(len(samples))
        error = (mean - want.flatten()).abs()
        # 5 standard errors plus the O(h^2) bias of central differences with h = 0.01
        assert torch.all(error <= 5 * sem + 1e-3), (error / sem).max()
        assert samples.std(0).max() > 1e-2  # the estimates really are random


def test_shots_agree_with_analytic_within_five_sigma() -> None:
    torch.manual_seed(0)
    analytic = QuantumLinear(3, 1, device="default.qubit")
    x = torch.rand(4, 3, dtype=torch.float64)
    expected = analytic(x).detach()
    sampled = QuantumLinear(3, 1, device="default.qubit", shots=4000, seed=11)
    sampled(x)
    sampled.load_state_dict(analytic.state_dict())
    got = sampled(x).detach()
    sigma = torch.sqrt((1 - expected**2).clamp_min(1e-4) / 4000)
    assert torch.all((got - expected).abs() <= 5 * sigma)
    assert sampled.executor.gradient_method == "parameter-shift"


@pytest.mark.parametrize("shape", [(5, 3), (1, 3), (3,), (7, 9)])
def test_output_shapes(shape: tuple[int, ...]) -> None:
    layer = QuantumLinear(2, 1, device="lightning.qubit", readout="xz")
    out = layer(torch.rand(*shape))
    assert out.shape == (*shape[:-1], 4)
    assert layer.in_features == shape[-1]


def test_async_chunks_give_the_same_outputs_and_gradients_for_odd_batches() -> None:
    torch.manual_seed(1)
    sync = QuantumLinear(3, 1, device="lightning.qubit")
    chunked = QuantumLinear(3, 1, device="lightning.qubit", async_execution=True, max_workers=2)
    x = torch.rand(5, 4, requires_grad=True)
    sync(x)
    chunked(x)
    chunked.load_state_dict(sync.state_dict())
    a, b = sync(x), chunked(x)
    torch.testing.assert_close(a, b)
    (ga,) = torch.autograd.grad(a.sum(), x)
    (gb,) = torch.autograd.grad(b.sum(), x)
    torch.testing.assert_close(ga, gb)


def test_forward_async_is_awaitable() -> None:
    layer = QuantumLinear(2, 1, device="lightning.qubit")
    x = torch.rand(4, 2, requires_grad=True)
    expected = layer(x)

    async def main() -> list[torch.Tensor]:
        return await asyncio.gather(layer.forward_async(x), layer.forward_async(x[:2]))

    full, part = asyncio.run(main())
    torch.testing.assert_close(full, expected)
    torch.testing.assert_close(part, expected[:2])
    full.sum().backward()
    assert x.grad is not None and torch.all(torch.isfinite(x.grad))


def test_outputs_follow_input_dtype_and_device() -> None:
    layer = QuantumLinear(2, 1, device="lightning.qubit", bias=True)
    for dtype in (torch.float32, torch.float64):
        x = torch.rand(3, 2, dtype=dtype, requires_grad=True)
        out = layer(x)
        assert out.dtype == dtype and out.device == x.device
        out.sum().backward()
        assert x.grad.dtype == dtype
    assert layer.bias.grad is not None and layer.bias.shape == (6,)


def test_parameters_registered_and_state_dict_round_trips(tmp_path) -> None:
    torch.manual_seed(2)
    model = torch.nn.Sequential(
        QuantumLinear(3, 2, device="lightning.qubit"), torch.nn.Linear(9, 2)
    )
    x = torch.rand(4, 5)
    expected = model(x)
    names = [name for name, _ in model.named_parameters()]
    assert names == ["0.weights", "1.weight", "1.bias"]
    assert model[0].weights.shape == (2, 2, 3, 3)  # 5 features on 3 qubits: 2 uploads
    torch.save(model.state_dict(), tmp_path / "model.pt")
    clone = torch.nn.Sequential(
        QuantumLinear(3, 2, device="lightning.qubit"), torch.nn.Linear(9, 2)
    )
    clone.load_state_dict(torch.load(tmp_path / "model.pt"))
    torch.testing.assert_close(clone(x), expected)
    assert clone[0].in_features == 5
    torch.testing.assert_close(copy.deepcopy(model)(x), expected)


def test_quantum_layer_wraps_a_qnode() -> None:
    dev = qml.device("default.qubit", wires=2)

    @qml.qnode(dev, diff_method="parameter-shift")
    def circuit(inputs, weights, phase):
        qml.AngleEmbedding(inputs, wires=[0, 1])
        qml.BasicEntanglerLayers(weights, wires=[0, 1])
        qml.RZ(phase[0], wires=0)
        return qml.expval(qml.PauliZ(0)), qml.probs(wires=[0, 1])

    layer = QuantumLayer(circuit, {"weights": (2, 2), "phase": (1,)})
    assert layer.executor.gradient_method == "parameter-shift"  # honours the QNode's method
    x = torch.rand(3, 2, requires_grad=True)
    out = layer(x)
    assert out.shape == (3, 5)
    w, phase = layer.weights.detach().double(), layer.phase.detach().double()
    for row in range(3):
        ev, probs = circuit(x[row].detach().double().numpy(), w.numpy(), phase.numpy())
        np.testing.assert_allclose(out[row].detach().numpy(), [ev, *probs], atol=1e-6)
    out[:, 0].sum().backward()
    assert x.grad.abs().sum() > 0 and layer.weights.grad.abs().sum() > 0
    assert layer(torch.rand(2)).shape == (5,)


def test_bad_input_gives_clear_errors() -> None:
    layer = QuantumLinear(2, 1, device="lightning.qubit")
    assert layer(torch.rand(2, 5, 3)).shape == (2, 5, 6)  # leading dimensions, as nn.Linear
    with pytest.raises(ValueError, match="NaN or inf"):
        layer(torch.tensor([[0.1, float("nan"), 0.3]]))
    with pytest.raises(ValueError, match="built for 3 input features, got 4"):
        layer(torch.rand(2, 4))
    with pytest.raises(ValueError, match="n_qubits must be an integer >= 1"):
        QuantumLinear(0)
    with pytest.raises(ValueError, match="Unknown gradient_method 'adam'"):
        QuantumLinear(2, device="lightning.qubit", gradient_method="adam")
    dev = qml.device("default.qubit", wires=1)

    @qml.qnode(dev)
    def circuit(inputs, weights):
        qml.RX(inputs[..., 0] * weights, wires=0)
        return qml.expval(qml.PauliZ(0))

    with pytest.raises(ValueError, match=r"\['wieghts'\], which are not arguments"):
        QuantumLayer(circuit, {"wieghts": 1})
    with pytest.raises(ValueError, match=r"\['weights'\] of circuit have no entry"):
        QuantumLayer(circuit, {})


def test_amplitude_encoding_matches_normalised_state() -> None:
    layer = QuantumLinear(2, 1, encoding="amplitude", readout="z", device="default.qubit")
    x = torch.tensor([[3.0, 4.0, 0.0], [1.0, 1.0, 1.0]], dtype=torch.float64, requires_grad=True)
    out = layer(x)
    assert layer.executor.gradient_method == "backprop"
    dev = qml.device("default.qubit", wires=2)

    @qml.qnode(dev)
    def reference(state, w):
        qml.StatePrep(state, wires=[0, 1])
        qml.Rot(*w[0, 0], wires=0)
        qml.Rot(*w[0, 1], wires=1)
        qml.CNOT(wires=[0, 1])
        return [qml.expval(qml.PauliZ(i)) for i in range(2)]

    w = layer.weights.detach().double().numpy()[0]
    for row in range(2):
        state = np.pad(x[row].detach().numpy(), (0, 1))
        np.testing.assert_allclose(
            out[row].detach().numpy(), reference(state / np.linalg.norm(state), w), atol=1e-10
        )
    out.sum().backward()
    assert torch.all(torch.isfinite(x.grad))
    with pytest.raises(ValueError, match=r"amplitude.*only with gradient_method='backprop'"):
        QuantumLinear(2, 1, encoding="amplitude", device="lightning.qubit")(
            torch.rand(2, 3, requires_grad=True)
        )


def test_hybrid_classifier_learns_digits() -> None:
    """Digits 0 vs 1, PCA to 4 features: >= 90% test accuracy after 30 Adam steps."""
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
    prep = lambda a: torch.tensor(scaler.transform(pca.transform(a)), dtype=torch.float32)  # noqa: E731
    x_train, x_test = prep(x_train), prep(x_test)
    y_train, y_test = torch.tensor(y_train), torch.tensor(y_test)

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        QuantumLinear(4, 1, readout="z", device="lightning.qubit"), torch.nn.Linear(4, 2)
    )
    model(x_train[:1])
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    gen = torch.Generator().manual_seed(0)
    for _ in range(30):
        idx = torch.randint(len(x_train), (32,), generator=gen)
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x_train[idx]), y_train[idx])
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        accuracy = (model(x_test).argmax(1) == y_test).float().mean().item()
    assert accuracy >= 0.9, accuracy


def test_concurrent_first_calls_initialise_the_lazy_weights_once() -> None:
    layer = QuantumLinear(n_qubits=2, n_layers=1)
    initialise = layer.initialize_parameters

    def slow_initialise(inputs: torch.Tensor) -> None:
        time.sleep(0.2)  # keep the first caller inside the hook while the others arrive
        initialise(inputs)

    layer.initialize_parameters = slow_initialise
    x = torch.rand(4, 3)
    with ThreadPoolExecutor(max_workers=4) as pool:
        outputs = list(pool.map(lambda _: layer(x), range(4)))
    assert layer.in_features == 3
    for out in outputs[1:]:
        torch.testing.assert_close(out, outputs[0])
