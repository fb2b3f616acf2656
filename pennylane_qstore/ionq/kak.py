"""KAK (Cartan) decomposition of two-qubit unitaries.

Every 4×4 unitary is ``e^{iα} · (A0⊗A1) · exp(i(a·XX + b·YY + c·ZZ)) · (B0⊗B1)`` with one-qubit
unitaries ``A``/``B`` (Khaneja–Glaser; Kraus–Cirac). In the magic (Bell) basis local gates are
real orthogonal and the interaction is diagonal, so the decomposition is the eigendecomposition of
the symmetric unitary ``Uᵀ·U`` written in that basis. :func:`kak` returns the factors and checks
that their product reproduces the input to 1e-10; a coefficient that is a multiple of π/2 is a
Pauli product (a local gate), so :func:`nontrivial_count` is the number of XX/YY/ZZ-type
interactions (partial-angle MS or ZZ gates) the unitary needs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

_MAGIC = np.array([[1, 0, 0, 1j], [0, 1j, 1, 0], [0, 1j, -1, 0], [1, 0, 0, -1j]]) / math.sqrt(2)
_PAULI_X = np.array([[0, 1], [1, 0]], dtype=complex)
_PAULI_Y = np.array([[0, -1j], [1j, 0]])
_PAULI_Z = np.diag([1.0, -1.0]).astype(complex)
_SIGNS = np.array(
    [np.diag(_MAGIC.conj().T @ np.kron(p, p) @ _MAGIC).real for p in (_PAULI_X, _PAULI_Y, _PAULI_Z)]
    + [np.ones(4)]
)
"""Rows: the eigenvalues (±1) of XX, YY, ZZ and I on the magic basis vectors."""
VERIFY_ATOL = 1e-10
COEFFICIENT_ATOL = 1e-11
"""A coefficient closer than this to a multiple of π/2 is a Pauli product (matches the builder)."""


class KakError(ArithmeticError):
    """The numerical decomposition did not reproduce its input (never seen; callers fall back)."""


@dataclass(frozen=True)
class Kak:
    """``unitary = e^{i·phase} · (after[0]⊗after[1]) · exp(i Σ c_P P⊗P) · (before[0]⊗before[1])``.

    Attributes:
        before: one-qubit unitaries applied first (first, second qubit).
        coefficients: ``(a, b, c)`` of XX, YY, ZZ in radians.
        after: one-qubit unitaries applied last.
        phase: global phase in radians.
    """

    before: tuple[np.ndarray, np.ndarray]
    coefficients: tuple[float, float, float]
    after: tuple[np.ndarray, np.ndarray]
    phase: float

    def matrix(self) -> np.ndarray:
        """Return the product of the factors."""
        return np.exp(1j * self.phase) * (
            np.kron(*self.after) @ interaction(*self.coefficients) @ np.kron(*self.before)
        )


def interaction(a: float, b: float, c: float) -> np.ndarray:
    """Return ``exp(i(a·XX + b·YY + c·ZZ))``."""
    angles = np.array([a, b, c]) @ _SIGNS[:3]
    return _MAGIC @ np.diag(np.exp(1j * angles)) @ _MAGIC.conj().T


def nontrivial_count(coefficients: tuple[float, float, float]) -> int:
    """Return how many coefficients are not multiples of π/2 (each needs one MS or ZZ gate)."""
    return sum(
        abs(c - round(c / (math.pi / 2)) * math.pi / 2) > COEFFICIENT_ATOL for c in coefficients
    )


def _kron_factors(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(A, B)`` with ``A⊗B = matrix`` for a tensor product of unitaries."""
    rearranged = matrix.reshape(2, 2, 2, 2).transpose(0, 2, 1, 3).reshape(4, 4)
    left, values, right = np.linalg.svd(rearranged)
    scale = math.sqrt(values[0])
    return left[:, 0].reshape(2, 2) * scale, right[0].reshape(2, 2) * scale


def _real_diagonalise(symmetric: np.ndarray) -> np.ndarray:
    """Return a real orthogonal ``P`` (det +1) with ``Pᵀ·symmetric·P`` diagonal.

    The real and imaginary parts of a symmetric unitary commute, so a generic real combination of
    them has their common eigenvectors; degenerate draws are detected and redrawn.
    """
    rng = np.random.default_rng(12345)
    for _ in range(16):
        weight = rng.uniform(0.1, 0.9)
        _, vectors = np.linalg.eigh(weight * symmetric.real + (1 - weight) * symmetric.imag)
        rotated = vectors.T @ symmetric @ vectors
        if np.max(np.abs(rotated - np.diag(np.diag(rotated)))) < 1e-12:
            if np.linalg.det(vectors) < 0:
                vectors[:, 0] = -vectors[:, 0]
            return vectors
    raise KakError("no common real eigenbasis found for the symmetric unitary")


def kak(unitary: np.ndarray) -> Kak:
    """Return the KAK decomposition of a 4×4 unitary (first qubit most significant).

    Raises:
        KakError: if the factors do not reproduce ``unitary`` to 1e-10.
    """
    unitary = np.asarray(unitary, dtype=complex)
    special = unitary / np.linalg.det(unitary) ** 0.25
    magic = _MAGIC.conj().T @ special @ _MAGIC
    vectors = _real_diagonalise(magic.T @ magic)
    eigenphases = np.angle(np.diag(vectors.T @ magic.T @ magic @ vectors)) / 2
    roots = np.exp(1j * eigenphases)
    if np.real(np.prod(roots)) < 0:  # det(magic) = 1 needs the roots' product to be 1, not -1
        eigenphases[0] += math.pi
        roots[0] = -roots[0]
    left = (magic @ vectors @ np.diag(roots.conj())).real
    after = _kron_factors(_MAGIC @ left @ _MAGIC.conj().T)
    before = _kron_factors(_MAGIC @ vectors.T @ _MAGIC.conj().T)
    a, b, c, _ = np.linalg.solve(_SIGNS.T, eigenphases)
    result = Kak(before, (float(a), float(b), float(c)), after, 0.0)
    ratio = np.trace(result.matrix().conj().T @ unitary) / 4
    result = Kak(before, result.coefficients, after, float(np.angle(ratio)))
    if np.max(np.abs(result.matrix() - unitary)) > VERIFY_ATOL:
        raise KakError("the KAK factors do not reproduce the unitary to 1e-10")
    return result
