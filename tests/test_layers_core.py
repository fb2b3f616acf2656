"""BatchExecutor: validation, gradient-method resolution, async chunking and the awaitable API."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import numpy as np
import pennylane as qml
import pytest

from qstore_layers import ansatz
from qstore_layers.core import BatchExecutor, validate_inputs, validate_weight_shapes


def _qnode(device: str = "default.qubit", n: int = 3, shots: int | None = None) -> qml.QNode:
    dev = qml.device(device, wires=n)

    def circuit(inputs, weights):
        qml.AngleEmbedding(inputs, wires=range(n))
        qml.StronglyEntanglingLayers(weights, wires=range(n))
        return [qml.expval(qml.PauliZ(i)) for i in range(n)]

    return qml.QNode(circuit, dev, shots=shots)


def test_validate_inputs_accepts_vectors_and_batches() -> None:
    x, unbatched = validate_inputs([0.1, 0.2])
    assert unbatched and x.shape == (1, 2)
    x, unbatched = validate_inputs(np.zeros((5, 3)))
    assert not unbatched and x.shape == (5, 3)


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.zeros((2, 3, 4)), r"shape \(features,\) or \(batch, features\)"),
        (np.zeros((4, 0)), "0 features"),
        (np.array([[0.1, np.nan], [0.2, 0.3]]), r"NaN or inf \(batch rows \[0\]\)"),
        (np.array([np.inf, 1.0]), "NaN or inf"),
    ],
)
def test_validate_inputs_rejects_bad_input(bad: np.ndarray, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        validate_inputs(bad)


def test_weight_shapes_must_match_the_qnode_signature() -> None:
    def circuit(inputs, weights, extra):
        return qml.expval(qml.PauliZ(0))

    with pytest.raises(ValueError, match=r"not arguments of circuit"):
        validate_weight_shapes(circuit, {"weights": 3, "extra": 1, "wieghts": 2})
    with pytest.raises(ValueError, match=r"\['extra'\] of circuit have no entry in weight_shapes"):
        validate_weight_shapes(circuit, {"weights": 3})
    with pytest.raises(TypeError, match="argument named 'inputs'"):
        validate_weight_shapes(lambda x, w: None, {"w": 1})
    assert validate_weight_shapes(circuit, {"weights": 3, "extra": (1, 2)}) == {
        "weights": (3,),
        "extra": (1, 2),
    }


def test_unknown_gradient_method_and_analytic_only_methods_with_shots() -> None:
    with pytest.raises(ValueError, match="Unknown gradient_method 'magic'; choose one of best"):
        BatchExecutor(_qnode(), ["weights"], gradient_method="magic")
    with pytest.raises(ValueError, match="needs analytic execution"):
        BatchExecutor(_qnode(shots=100), ["weights"], gradient_method="adjoint")
    assert BatchExecutor(_qnode(shots=100), ["weights"]).gradient_method == "parameter-shift"
    assert BatchExecutor(_qnode("lightning.qubit"), ["weights"]).gradient_method == "adjoint"


def test_ansatz_options_are_validated() -> None:
    with pytest.raises(ValueError, match="n_qubits must be an integer >= 1"):
        ansatz.validate_ansatz(0, 1, "angle")
    with pytest.raises(ValueError, match="Unknown encoding 'basis'"):
        ansatz.validate_ansatz(2, 1, "basis")
    with pytest.raises(ValueError, match="readout='xw'"):
        ansatz.parse_readout("xw")
    with pytest.raises(ValueError, match="needs at least 3 qubits"):
        ansatz.weight_shape(5, 2, 1, "amplitude")
    assert ansatz.weight_shape(7, 3, 2, "angle") == (3, 2, 3, 3)


@pytest.mark.parametrize("device", ["default.qubit", "lightning.qubit"])
def test_async_chunks_match_serial_execution(device: str) -> None:
    rng = np.random.default_rng(1)
    x, w = rng.uniform(0, np.pi, (7, 3)), rng.uniform(0, np.pi, (2, 3, 3))
    dy = rng.normal(size=(7, 3))
    serial = BatchExecutor(_qnode(device), ["weights"]).execute(x, {"weights": w})
    chunked = BatchExecutor(_qnode(device), ["weights"], async_execution=True, max_workers=3)
    result = chunked.execute(x, {"weights": w})
    np.testing.assert_allclose(result.outputs, serial.outputs, atol=1e-12)
    for got, want in zip(result.vjp(dy), serial.vjp(dy), strict=True):
        if isinstance(want, dict):
            np.testing.assert_allclose(got["weights"], want["weights"], atol=1e-12)
        else:
            np.testing.assert_allclose(got, want, atol=1e-12)


def test_execute_async_is_awaitable_and_runs_concurrently() -> None:
    rng = np.random.default_rng(2)
    x, w = rng.uniform(0, np.pi, (4, 3)), rng.uniform(0, np.pi, (2, 3, 3))
    executor = BatchExecutor(_qnode("lightning.qubit"), ["weights"])

    async def main() -> list:
        return await asyncio.gather(
            executor.execute_async(x, {"weights": w}, with_vjp=False),
            executor.execute_async(x[:2], {"weights": w}),
        )

    full, part = asyncio.run(main())
    assert full.vjp is None and full.outputs.shape == (4, 3)
    np.testing.assert_allclose(part.outputs, full.outputs[:2], atol=1e-12)
    d_x, d_w = part.vjp(np.ones((2, 3)))
    assert d_x.shape == (2, 3) and d_w["weights"].shape == (2, 3, 3)


@pytest.mark.parametrize(
    ("module", "absent"),
    [("qstore_layers.torch", "tensorflow"), ("qstore_layers.keras", "torch")],
)
def test_framework_modules_import_independently(module: str, absent: str) -> None:
    code = f"import sys, {module}; assert {absent!r} not in sys.modules, sorted(sys.modules)"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


def test_every_layer_takes_every_option_with_the_options_default() -> None:
    """The layers read their options back with ``options_from(locals())``: each constructor
    must name every ``LayerOptions`` field, with the same default, and hand it on unchanged."""
    import dataclasses
    import inspect

    from qstore_layers.options import LayerOptions

    torch_layer = pytest.importorskip("qstore_layers.torch_layer")
    keras_layer = pytest.importorskip("qstore_layers.keras_layer")
    layers = [
        torch_layer.QuantumLayer,
        torch_layer.QuantumLinear,
        keras_layer.QuantumLayer,
        keras_layer.QuantumDense,
    ]
    for cls in layers:
        params = inspect.signature(cls.__init__).parameters
        for field in dataclasses.fields(LayerOptions):
            assert params[field.name].default == field.default, (cls.__qualname__, field.name)
    chosen = {"spsa_epsilon": 0.05, "spsa_num_directions": 3, "seed": 7, "max_workers": 2}
    linear = torch_layer.QuantumLinear(2, 1, gradient_method="spsa", **chosen)
    dense = keras_layer.QuantumDense(2, 1, gradient_method="spsa", **chosen)
    for layer in (linear, dense):
        options = layer.executor.options
        assert options.gradient_method == "spsa"
        assert {k: getattr(options, k) for k in chosen} == chosen
    assert dense.get_config()["spsa_num_directions"] == 3 and "seed" in dense.get_config()
