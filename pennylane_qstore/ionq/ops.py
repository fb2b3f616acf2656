"""IonQ native gates as PennyLane operations, with every parameter in **turns** (1 turn = 2π rad).

These follow IonQ's published definitions (``ionq.circuit.v1`` with ``"gateset": "native"``)::

    GPI(φ)          = [[0, e^{-2πiφ}], [e^{2πiφ}, 0]]
    GPI2(φ)         = 1/√2 · [[1, -i·e^{-2πiφ}], [-i·e^{2πiφ}, 1]]
    MS(φ0, φ1, θ)   = exp(-iπθ · S(φ0) ⊗ S(φ1)),   S(φ) = cos(2πφ)·X + sin(2πφ)·Y
    ZZ(θ)           = exp(-iπθ · Z ⊗ Z)

Wire order: for the two-qubit gates the first wire carries ``phi0`` and is the most significant
qubit of the 4×4 matrix (PennyLane's convention); ``MS(a, b, θ, wires=[0, 1])`` is IonQ's
``{"gate": "ms", "targets": [0, 1], "phases": [a, b], "angle": θ}``.

Radians enter and leave the package only through :func:`rad_to_turns` and :func:`turns_to_rad`.
"""

from __future__ import annotations

import numpy as np
import pennylane as qml
from pennylane.operation import Operation

TURN = 2 * np.pi
"""Radians in one turn."""


def rad_to_turns(angle_rad: float) -> float:
    """Convert an angle in radians to turns (the unit IonQ's native gates take)."""
    return angle_rad / TURN


def turns_to_rad(angle_turns: float) -> float:
    """Convert an angle in turns to radians."""
    return angle_turns * TURN


def _phase(phi):
    """Return ``e^{2πiφ}`` for a phase ``phi`` in turns, keeping the autodiff interface."""
    return qml.math.exp(1j * TURN * qml.math.cast_like(phi, 1j))


class GPI(Operation):
    r"""IonQ's single-qubit π rotation about the equatorial axis at angle ``phi`` (turns).

    Args:
        phi: axis angle in turns.
        wires: the qubit.
    """

    num_wires = 1
    num_params = 1
    ndim_params = (0,)
    grad_method = "F"

    @staticmethod
    def compute_matrix(phi):  # pylint: disable=arguments-differ
        """Return ``[[0, e^{-2πiφ}], [e^{2πiφ}, 0]]``."""
        e = _phase(phi)
        zero = qml.math.zeros_like(e)
        return qml.math.stack([qml.math.stack([zero, qml.math.conj(e)]), qml.math.stack([e, zero])])

    def adjoint(self) -> GPI:
        """GPI is its own inverse."""
        return GPI(self.data[0], wires=self.wires)


class GPI2(Operation):
    r"""IonQ's single-qubit π/2 rotation about the equatorial axis at angle ``phi`` (turns).

    Args:
        phi: axis angle in turns.
        wires: the qubit.
    """

    num_wires = 1
    num_params = 1
    ndim_params = (0,)
    grad_method = "F"

    @staticmethod
    def compute_matrix(phi):  # pylint: disable=arguments-differ
        """Return ``1/√2 · [[1, -i e^{-2πiφ}], [-i e^{2πiφ}, 1]]``."""
        e = _phase(phi)
        one = qml.math.ones_like(e)
        mat = qml.math.stack(
            [qml.math.stack([one, -1j * qml.math.conj(e)]), qml.math.stack([-1j * e, one])]
        )
        return mat / np.sqrt(2)

    def adjoint(self) -> GPI2:
        """``GPI2(φ)† = GPI2(φ + 1/2)``, wrapped into [-1, 1] turns."""
        return GPI2(wrap_turns(self.data[0] + 0.5), wires=self.wires)


class MS(Operation):
    r"""IonQ's Mølmer–Sørensen gate ``exp(-iπθ S(φ0)⊗S(φ1))`` (all parameters in turns).

    ``theta=0.25`` (the default) is fully entangling; IonQ accepts ``0 < θ ≤ 0.25``.

    Args:
        phi0: axis angle on the first wire, in turns.
        phi1: axis angle on the second wire, in turns.
        theta: interaction angle in turns.
        wires: the two qubits; the first is the most significant.
    """

    num_wires = 2
    num_params = 3
    ndim_params = (0, 0, 0)
    grad_method = "F"

    def __init__(self, phi0, phi1, theta=0.25, wires=None, id=None):
        super().__init__(phi0, phi1, theta, wires=wires, id=id)

    @staticmethod
    def compute_matrix(phi0, phi1, theta):  # pylint: disable=arguments-differ
        """Return ``cos(πθ)·I - i·sin(πθ)·S(φ0)⊗S(φ1)`` (the closed form of the exponential)."""
        s = GPI.compute_matrix(phi0)  # GPI(φ) is exactly S(φ)
        t = GPI.compute_matrix(phi1)
        half = np.pi * qml.math.cast_like(theta, 1j)
        return qml.math.cos(half) * qml.math.eye(4, like=s) - 1j * qml.math.sin(
            half
        ) * qml.math.kron(s, t)

    def adjoint(self) -> MS:
        """``MS(φ0, φ1, θ)† = MS(φ0 + 1/2, φ1, θ)``: same angle, so still a valid IonQ gate."""
        phi0, phi1, theta = self.data
        return MS(wrap_turns(phi0 + 0.5), phi1, theta, wires=self.wires)


class ZZ(Operation):
    r"""IonQ's ZZ interaction ``exp(-iπθ Z⊗Z)`` (``theta`` in turns).

    Args:
        theta: interaction angle in turns.
        wires: the two qubits; the first is the most significant.
    """

    num_wires = 2
    num_params = 1
    ndim_params = (0,)
    grad_method = "F"

    @staticmethod
    def compute_matrix(theta):  # pylint: disable=arguments-differ
        """Return ``diag(e^{-iπθ}, e^{iπθ}, e^{iπθ}, e^{-iπθ})``."""
        e = qml.math.exp(-1j * np.pi * qml.math.cast_like(theta, 1j))
        ec = qml.math.conj(e)
        return qml.math.diag(qml.math.stack([e, ec, ec, e]))

    def adjoint(self) -> ZZ:
        """``ZZ(θ)† = ZZ(-θ)``."""
        return ZZ(-self.data[0], wires=self.wires)


NATIVE_OPS = (GPI, GPI2, MS, ZZ)
"""All IonQ native gate classes."""


def wrap_turns(phase: float) -> float:
    """Wrap a phase in turns into [-1, 1], which IonQ accepts (the result lies in (-1/2, 1/2])."""
    return 0.5 - (0.5 - phase) % 1.0
