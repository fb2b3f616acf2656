"""IonQ native gates: matrices against independent definitions, unitarity, adjoints, units."""

from __future__ import annotations

import numpy as np
import pennylane as qml
import pytest
from scipy.linalg import expm

from pennylane_qstore.ionq import GPI, GPI2, MS, ZZ, rad_to_turns, turns_to_rad, wrap_turns

X = np.array([[0, 1], [1, 0]], dtype=complex)
Y = np.array([[0, -1j], [1j, 0]])
Z = np.diag([1.0 + 0j, -1.0])
RNG = np.random.default_rng(1234)
ANGLES = RNG.uniform(-1, 1, size=6)


def axis(phi: float) -> np.ndarray:
    """Equatorial Pauli S(φ) = cos(2πφ) X + sin(2πφ) Y."""
    return np.cos(2 * np.pi * phi) * X + np.sin(2 * np.pi * phi) * Y


def assert_unitary(mat: np.ndarray) -> None:
    assert np.allclose(mat.conj().T @ mat, np.eye(len(mat)), atol=1e-12)


@pytest.mark.parametrize("phi", ANGLES)
def test_gpi_is_pi_rotation_about_equatorial_axis(phi):
    # exp(-iπ/2 S) = -i S, so GPI = i·exp(-iπ/2 S(φ))
    expected = 1j * expm(-1j * np.pi / 2 * axis(phi))
    mat = qml.matrix(GPI(phi, wires=0))
    assert np.allclose(mat, expected, atol=1e-12)
    assert_unitary(mat)


@pytest.mark.parametrize("phi", ANGLES)
def test_gpi2_is_half_pi_rotation_about_equatorial_axis(phi):
    expected = expm(-1j * np.pi / 4 * axis(phi))
    mat = qml.matrix(GPI2(phi, wires=0))
    assert np.allclose(mat, expected, atol=1e-12)
    assert_unitary(mat)


@pytest.mark.parametrize(("phi0", "phi1", "theta"), RNG.uniform(-1, 1, size=(6, 3)))
def test_ms_matches_exponential_of_pauli_sum(phi0, phi1, theta):
    expected = expm(-1j * np.pi * theta * np.kron(axis(phi0), axis(phi1)))
    mat = qml.matrix(MS(phi0, phi1, theta, wires=[0, 1]))
    assert np.allclose(mat, expected, atol=1e-12)
    assert_unitary(mat)


def test_ms_default_angle_is_fully_entangling_and_wire_order_is_phi0_first():
    op = MS(0.25, 0.0, wires=["a", "b"])
    assert op.data[2] == 0.25
    # the first wire is the most significant one and carries phi0 (Y), the second X
    expected = (np.eye(4) - 1j * np.kron(Y, X)) / np.sqrt(2)
    assert np.allclose(qml.matrix(op), expected, atol=1e-12)
    state = qml.matrix(op) @ np.eye(4)[:, 0]
    assert np.isclose(abs(state[0]) ** 2, 0.5) and np.isclose(abs(state[3]) ** 2, 0.5)


@pytest.mark.parametrize("theta", ANGLES)
def test_zz_matches_exponential_and_is_diagonal(theta):
    expected = expm(-1j * np.pi * theta * np.kron(Z, Z))
    mat = qml.matrix(ZZ(theta, wires=[0, 1]))
    assert np.allclose(mat, expected, atol=1e-12)
    assert_unitary(mat)


@pytest.mark.parametrize(
    "op",
    [
        GPI(0.3, wires=0),
        GPI2(0.7, wires=0),
        GPI2(-0.9, wires=0),
        MS(0.1, -0.8, 0.2, wires=[0, 1]),
        MS(0.9, 0.4, wires=[1, 0]),
        ZZ(0.13, wires=[0, 1]),
    ],
)
def test_adjoint_inverts_and_keeps_ionq_ranges(op):
    adj = op.adjoint()
    assert type(adj) is type(op) and adj.wires == op.wires
    assert np.allclose(qml.matrix(adj) @ qml.matrix(op), np.eye(2 ** len(op.wires)), atol=1e-12)
    if isinstance(op, GPI | GPI2 | MS):
        phases = adj.data[:2] if isinstance(op, MS) else adj.data
        assert all(-1 <= p <= 1 for p in phases)
    if isinstance(op, MS):
        assert adj.data[2] == op.data[2]  # the angle stays in IonQ's (0, 0.25]


def test_native_gates_run_on_default_qubit():
    @qml.qnode(qml.device("default.qubit", wires=2))
    def circuit():
        GPI2(0.0, wires=0)
        MS(0.0, 0.0, wires=[0, 1])
        ZZ(0.25, wires=[0, 1])
        GPI(0.25, wires=1)
        return qml.probs(wires=[0, 1])

    mat = (
        np.kron(np.eye(2), qml.matrix(GPI(0.25, wires=0)))
        @ qml.matrix(ZZ(0.25, wires=[0, 1]))
        @ qml.matrix(MS(0, 0, wires=[0, 1]))
        @ np.kron(qml.matrix(GPI2(0.0, wires=0)), np.eye(2))
    )
    assert np.allclose(circuit(), np.abs(mat[:, 0]) ** 2, atol=1e-12)


def test_turns_radians_boundary():
    assert turns_to_rad(0.25) == pytest.approx(np.pi / 2)
    assert rad_to_turns(np.pi) == pytest.approx(0.5)
    for value in ANGLES:
        assert rad_to_turns(turns_to_rad(value)) == pytest.approx(value)
    # GPI2 at 0 turns is RX(π/2); at 1/4 turn it is RY(π/2)
    assert np.allclose(qml.matrix(GPI2(0.0, wires=0)), qml.matrix(qml.RX(np.pi / 2, wires=0)))
    assert np.allclose(
        qml.matrix(GPI2(rad_to_turns(np.pi / 2), wires=0)), qml.matrix(qml.RY(np.pi / 2, wires=0))
    )


@pytest.mark.parametrize(
    ("raw", "wrapped"),
    [(0.0, 0.0), (0.5, 0.5), (-0.5, 0.5), (1.25, 0.25), (-0.75, 0.25), (3.1, 0.1)],
)
def test_wrap_turns_into_half_open_interval(raw, wrapped):
    assert wrap_turns(raw) == pytest.approx(wrapped)
    assert -0.5 < wrap_turns(raw) <= 0.5
