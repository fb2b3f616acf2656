"""State-vector kernels on a batch of states stored as ``(B, 2**n)`` complex tensors.

Wire 0 is the most significant bit (PennyLane's order). A *chunk* is a run of ``k`` adjacent wires
``start .. start+k-1``; viewing the state as ``(B, L, 2**k, R)`` with ``L = 2**start`` makes a
chunk gate one batched matmul without copying the state into another axis order.
"""

from __future__ import annotations

import numpy as np
import torch


def _split(n: int, start: int, k: int) -> tuple[int, int, int]:
    return 2**start, 2**k, 2 ** (n - start - k)


def apply_chunk(psi: torch.Tensor, u: torch.Tensor, n: int, start: int, k: int) -> torch.Tensor:
    """Return ``U`` applied to wires ``start..start+k-1`` of every state.

    Args:
        psi: States ``(B, 2**n)``.
        u: Matrices ``(B, 2**k, 2**k)``, one per state.
        n: Number of wires.
        start: First wire of the chunk.
        k: Number of wires in the chunk.
    """
    b = psi.shape[0]
    left, size, right = _split(n, start, k)
    if left == 1:
        return torch.bmm(u, psi.view(b, size, right)).view(b, -1)
    if right == 1:
        return torch.bmm(psi.view(b, left, size), u.mT).view(b, -1)
    return torch.matmul(u.unsqueeze(1), psi.view(b, left, size, right)).view(b, -1)


def apply_leading_rotate(psi: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Apply ``U`` (``(B, K, K)``) to the leading ``log2 K`` wires and move them to the end."""
    b, size = psi.shape[0], u.shape[-1]
    return torch.bmm(psi.view(b, size, -1).mT, u.mT).view(b, -1)


def unapply_trailing_rotate(psi: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`apply_leading_rotate`: apply ``U^†`` to the trailing wires, move them
    to the front."""
    b, size = psi.shape[0], u.shape[-1]
    return torch.bmm(u.mH, psi.view(b, -1, size).mT).view(b, -1)


def contract_trailing(x: torch.Tensor, z: torch.Tensor, size: int) -> torch.Tensor:
    """:func:`contract_chunk` for the trailing ``log2 size`` wires."""
    b = x.shape[0]
    return torch.bmm(x.view(b, -1, size).mT, z.view(b, -1, size))


def contract_chunk(x: torch.Tensor, z: torch.Tensor, n: int, start: int, k: int) -> torch.Tensor:
    """Return ``A[b, i, j] = sum over the other wires of x[b, ..i..] * z[b, ..j..]``.

    Callers pass ``z = conj(y)`` to get ``Σ x_i conj(y_j)`` (with ``x = y`` the reduced density
    matrix of the chunk); keeping the conjugate materialised avoids a copy per contraction.
    """
    b = x.shape[0]
    left, size, right = _split(n, start, k)
    if left == 1:
        return torch.bmm(x.view(b, size, right), z.view(b, size, right).mT)
    if right == 1:
        return torch.bmm(x.view(b, left, size).mT, z.view(b, left, size))
    xv, zv = x.view(b, left, size, right), z.view(b, left, size, right)
    return torch.matmul(xv, zv.mT).sum(1)


def _gather_wires(psi: torch.Tensor, n: int, wires: tuple[int, ...]) -> tuple[torch.Tensor, list]:
    """Permute ``wires`` to the front: return ``(B, 2**k, 2**(n-k))`` and the axis order used."""
    rest = [w for w in range(n) if w not in wires]
    order = [0, *(w + 1 for w in wires), *(w + 1 for w in rest)]
    moved = psi.view(psi.shape[0], *([2] * n)).permute(order)
    return moved.reshape(psi.shape[0], 2 ** len(wires), -1), order


def apply_wires(psi: torch.Tensor, u: torch.Tensor, n: int, wires: tuple[int, ...]) -> torch.Tensor:
    """Return ``U`` (``(B, 2**k, 2**k)``) applied to arbitrary ``wires`` (in ``U``'s order)."""
    b = psi.shape[0]
    moved, order = _gather_wires(psi, n, wires)
    out = torch.bmm(u, moved).view(b, *([2] * n))
    return out.permute(np.argsort(order).tolist()).reshape(b, -1)


def contract_wires(
    x: torch.Tensor, z: torch.Tensor, n: int, wires: tuple[int, ...]
) -> torch.Tensor:
    """:func:`contract_chunk` for arbitrary ``wires``, in the given wire order."""
    xm, _ = _gather_wires(x, n, wires)
    zm, _ = _gather_wires(z, n, wires)
    return torch.bmm(xm, zm.mT)


def apply_perm(psi: torch.Tensor, perm: torch.Tensor, phase: torch.Tensor | None) -> torch.Tensor:
    """Return ``out[b, i] = phase[i] * psi[b, perm[i]]`` (a monomial unitary)."""
    out = psi.index_select(1, perm)
    return out if phase is None else out.mul_(phase)


def kron(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Batched Kronecker product over the last two axes."""
    out = a[..., :, None, :, None] * b[..., None, :, None, :]
    return out.reshape(*a.shape[:-2], a.shape[-2] * b.shape[-2], a.shape[-1] * b.shape[-1])


def embed_in_chunk(m: torch.Tensor, pos: int, k: int) -> torch.Tensor:
    """Return ``I ⊗ m ⊗ I`` acting on position ``pos`` of a ``k``-wire chunk (``m``: ``(B, 2, 2)``)."""

    def eye(size: int) -> torch.Tensor:
        return torch.eye(size, dtype=m.dtype, device=m.device).expand(m.shape[0], -1, -1)

    if pos:
        m = kron(eye(2**pos), m)
    if k - pos - 1:
        m = kron(m, eye(2 ** (k - pos - 1)))
    return m


def product_state(vectors: torch.Tensor) -> torch.Tensor:
    """Return the ``(B, 2**n)`` product of one-wire states ``vectors`` (``(n, B, 2)``)."""
    psi = vectors[0]
    for v in vectors[1:]:
        psi = (psi.unsqueeze(-1) * v.unsqueeze(1)).reshape(psi.shape[0], -1)
    return psi


def one_wire_marginals(rho: torch.Tensor, k: int) -> torch.Tensor:
    """Return the ``(B, k, 2, 2)`` one-wire reduced density matrices of a ``k``-wire chunk."""
    b = rho.shape[0]
    out = []
    for pos in range(k):
        left, right = 2**pos, 2 ** (k - pos - 1)
        r = rho.reshape(b, left, 2, right, left, 2, right)
        r = r.diagonal(dim1=1, dim2=4).sum(-1)  # (b, 2, right, 2, right)
        out.append(r.diagonal(dim1=2, dim2=4).sum(-1))
    return torch.stack(out, 1)
