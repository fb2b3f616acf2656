"""Gradients through qstore.router agree with default.qubit for every differentiation route."""

from __future__ import annotations

import numpy as np
import pennylane as qml
import pytest
from pennylane import numpy as pnp
from pennylane.exceptions import QuantumFunctionError

from pennylane_qstore.router import RouterDevice, RoutingPolicy

WIRES = 3
X0 = np.array([0.41, -0.73, 1.2])


def _circuit(x):
    qml.RX(x[0], wires=0)
    qml.RY(x[1], wires=1)
    qml.CNOT(wires=[0, 1])
    qml.CRZ(x[2], wires=[1, 2])
    qml.Rot(x[0], x[2], 0.2, wires=2)
    qml.IsingZZ(x[1], wires=[0, 2])
    return qml.expval(qml.PauliZ(0) @ qml.PauliX(2)), qml.expval(qml.PauliY(1))


def _reference_jacobian() -> np.ndarray:
    qnode = qml.QNode(_circuit, qml.device("default.qubit", wires=WIRES), diff_method="backprop")
    return np.stack(qml.jacobian(lambda x: qml.math.stack(qnode(x)))(pnp.array(X0)))


REFERENCE = _reference_jacobian()


@pytest.mark.parametrize(
    ("diff_method", "kind", "atol"),
    [
        ("best", "derivatives", 1e-6),
        ("backprop", "execute", 1e-6),
        ("adjoint", "derivatives", 1e-6),
        ("parameter-shift", "execute", 1e-6),
        ("finite-diff", "execute", 1e-4),
    ],
)
def test_autograd_jacobian_matches_default_qubit(diff_method, kind, atol):
    dev = RouterDevice(wires=WIRES, seed=5)
    qnode = qml.QNode(_circuit, dev, diff_method=diff_method)
    jac = qml.jacobian(lambda x: qml.math.stack(qnode(x)))(pnp.array(X0, requires_grad=True))
    assert np.allclose(jac, REFERENCE, atol=atol)
    assert dev.routing_record.kind == kind


def test_adjoint_is_delegated_to_lightning():
    dev = RouterDevice(wires=WIRES)
    qnode = qml.QNode(_circuit, dev, diff_method="adjoint")
    qml.jacobian(lambda x: qml.math.stack(qnode(x)))(pnp.array(X0, requires_grad=True))
    record = dev.routing_record
    assert record.kind == "derivatives"
    assert record.tapes_per_target() == {"lightning.qubit": 1}


def test_parameter_shift_tapes_run_as_one_batch_on_qsim():
    dev = RouterDevice(wires=WIRES, target="qsim")
    qnode = qml.QNode(_circuit, dev, diff_method="parameter-shift")
    jac = qml.jacobian(lambda x: qml.math.stack(qnode(x)))(pnp.array(X0, requires_grad=True))
    assert np.allclose(jac, REFERENCE, atol=1e-6)
    record = dev.routing_record
    assert record.num_tapes > 2 and record.tapes_per_target() == {"qsim": record.num_tapes}


def test_best_is_backprop_below_adjoint_wires():
    dev = RouterDevice(wires=WIRES, policy=RoutingPolicy(adjoint_wires=4))
    qnode = qml.QNode(_circuit, dev)  # diff_method="best"
    jac = qml.jacobian(lambda x: qml.math.stack(qnode(x)))(pnp.array(X0, requires_grad=True))
    assert np.allclose(jac, REFERENCE, atol=1e-6)
    assert dev.routing_record.kind == "execute"
    assert dev.routing_record.tapes_per_target() == {"default.qubit": 1}


def test_best_falls_back_to_backprop_when_adjoint_cannot():
    dev = RouterDevice(wires=2)

    @qml.qnode(dev)
    def variance(x):
        qml.RX(x, wires=0)
        return qml.var(qml.PauliZ(0))

    grad = qml.grad(variance)(pnp.array(0.4, requires_grad=True))
    assert np.isclose(grad, 2 * np.cos(0.4) * np.sin(0.4))
    assert dev.routing_record.tapes_per_target() == {"default.qubit": 1}


def test_adjoint_unavailable_with_only_qsim():
    dev = RouterDevice(wires=WIRES, target="qsim")
    with pytest.raises(QuantumFunctionError, match="does not support adjoint"):
        qml.QNode(_circuit, dev, diff_method="adjoint")


def test_best_with_shots_uses_parameter_shift():
    dev = RouterDevice(wires=WIRES, seed=9)
    qnode = qml.set_shots(qml.QNode(_circuit, dev), shots=20_000)
    jac = qml.jacobian(lambda x: qml.math.stack(qnode(x)))(pnp.array(X0, requires_grad=True))
    # each entry is a difference of two expectation values of 20k shots: sigma <= 1/sqrt(10k)
    assert np.allclose(jac, REFERENCE, atol=5 / np.sqrt(10_000))
    record = dev.routing_record  # all shifted tapes of the gradient went out as one batch
    assert record.num_tapes >= 2 * len(X0) and len(record.routes) == 1
    assert record.routes[0].shots == 20_000


@pytest.mark.parametrize("diff_method", ["best", "adjoint", "parameter-shift", "backprop"])
def test_torch_gradients_match(diff_method):
    torch = pytest.importorskip("torch")
    dev = RouterDevice(wires=WIRES)
    qnode = qml.QNode(_circuit, dev, interface="torch", diff_method=diff_method)
    x = torch.tensor(X0, requires_grad=True, dtype=torch.float64)
    a, b = qnode(x)
    (a + 2 * b).backward()
    assert np.allclose(x.grad.numpy(), REFERENCE[0] + 2 * REFERENCE[1], atol=1e-6)


def test_adjoint_falls_back_to_default_qubit(monkeypatch):
    dev = RouterDevice(wires=WIRES)
    qnode = qml.QNode(_circuit, dev, diff_method="adjoint")
    x = pnp.array(X0, requires_grad=True)
    qml.jacobian(lambda v: qml.math.stack(qnode(v)))(x)

    def crash(*args, **kwargs):
        raise RuntimeError("adjoint crashed")

    monkeypatch.setattr(dev._devices["lightning.qubit"], "execute_and_compute_derivatives", crash)
    jac = qml.jacobian(lambda v: qml.math.stack(qnode(v)))(x)
    assert np.allclose(jac, REFERENCE, atol=1e-6)
    record = dev.routing_record
    assert record.tapes_per_target() == {"default.qubit": 1}
    assert [f.error for f in record.fallbacks] == ["RuntimeError: adjoint crashed"]
