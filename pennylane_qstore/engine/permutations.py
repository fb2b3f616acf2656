"""Constant monomial gates as permutations of the amplitudes with phases.

A gate whose matrix has one nonzero per row (``CNOT``, ``CZ``, ``SWAP``, ``Toffoli``, a Pauli
word) moves every amplitude to one place and multiplies it by one phase; consecutive ones compose
into a single :class:`Permutation` of all ``2**n`` amplitudes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Permutation:
    """``psi[i] <- phase[i] * psi[perm[i]]``: a product of constant monomial gates."""

    perm: np.ndarray
    phase: np.ndarray | None


def monomial(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Return ``(col, value)`` per row if every row of ``matrix`` has one nonzero, else ``None``."""
    nonzero = np.abs(matrix) > 1e-12
    if not np.all(nonzero.sum(axis=1) == 1):
        return None
    cols = nonzero.argmax(axis=1)
    return cols, matrix[np.arange(len(cols)), cols]


def full_permutation(
    n: int, wires: tuple[int, ...], cols: np.ndarray, values: np.ndarray
) -> Permutation:
    """Lift a monomial gate on ``wires`` to a permutation of all ``2**n`` amplitudes."""
    index = np.arange(2**n, dtype=np.int64)
    shifts = [n - 1 - w for w in wires]
    sub = np.zeros_like(index)
    for s in shifts:
        sub = (sub << 1) | ((index >> s) & 1)
    target_sub = cols[sub]
    perm = index.copy()
    for j, s in enumerate(shifts):
        bit = (target_sub >> (len(shifts) - 1 - j)) & 1
        perm = (perm & ~(1 << s)) | (bit << s)
    phase = values[sub].astype(np.complex128)
    return Permutation(perm, None if np.allclose(phase, 1.0) else phase)


def compose(first: Permutation, second: Permutation) -> Permutation:
    """Return the permutation applying ``first`` then ``second``."""
    perm = first.perm[second.perm]
    if first.phase is None and second.phase is None:
        return Permutation(perm, None)
    ph1 = np.ones(len(perm)) if first.phase is None else first.phase
    ph2 = np.ones(len(perm)) if second.phase is None else second.phase
    return Permutation(perm, ph2 * ph1[second.perm])


def pauli_word_permutation(n: int, word: dict[int, str]) -> Permutation:
    """Return the permutation form of a Pauli word ``{wire_index: 'X'|'Y'|'Z'}``."""
    index = np.arange(2**n, dtype=np.int64)
    flip = 0
    phase = np.ones(2**n, dtype=np.complex128)
    for w, letter in word.items():
        s = n - 1 - w
        bit = (index >> s) & 1
        if letter in "XY":
            flip |= 1 << s
        if letter == "Y":
            phase *= np.where(bit == 0, -1j, 1j)
        elif letter == "Z":
            phase *= np.where(bit == 0, 1.0, -1.0)
    return Permutation(index ^ flip, phase)
