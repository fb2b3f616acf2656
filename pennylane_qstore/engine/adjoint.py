"""Forward simulation and batched adjoint differentiation as one ``torch.autograd.Function``.

The function's inputs are the initial states and the matrix of every non-permutation step (one
per batch row); its output is the ``(B, n_outputs)`` expectation values. Backward runs the
circuit in reverse once, carrying the state and one *combined bra*
``λ = Σ_j (dL/d<O_j>) O_j |ψ>`` (all readouts at once), and returns for every matrix ``U`` the
gradient ``2 λ_after ψ_before^†`` (torch's convention for complex tensors) and ``2 λ_0`` for the
initial state. Torch's autograd then carries those to the gate angles, inputs and weights.
Only the final state is kept from the forward pass, so memory stays at a few batch states.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from pennylane_qstore.engine import kernels
from pennylane_qstore.engine.program import Layer, Permutation, Program


class _DeviceTables:
    """Permutation/phase tensors and readout coefficients of a program on one device/dtype."""

    def __init__(self, program: Program, device: torch.device, dtype: torch.dtype) -> None:
        real = torch.float32 if dtype == torch.complex64 else torch.float64
        self.perms: dict[int, tuple] = {}
        for i, step in enumerate(program.steps):
            if isinstance(step, Permutation):
                self.perms[i] = (
                    self._perm(step.perm, step.phase, device, dtype),
                    self._perm(*_inverse(step), device, dtype),
                )
        ro = program.readout
        self.words = [self._perm(w.perm, w.phase, device, dtype) for w in ro.words]
        self.coeffs = torch.as_tensor(ro.coeffs, dtype=real, device=device)
        self.offset = torch.as_tensor(ro.offset, dtype=real, device=device)
        pauli = torch.tensor(
            [[[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]], dtype=dtype, device=device
        )
        self.paulis = pauli

    @staticmethod
    def _perm(perm, phase, device, dtype) -> tuple[torch.Tensor, torch.Tensor | None]:
        p = torch.as_tensor(perm, dtype=torch.long, device=device)
        ph = None if phase is None else torch.as_tensor(phase, dtype=dtype, device=device)
        return p, ph


def _inverse(step: Permutation) -> tuple[np.ndarray, np.ndarray | None]:
    inv = np.argsort(step.perm)
    phase = None if step.phase is None else np.conj(step.phase)[inv]
    return inv, phase


def device_tables(program: Program, device: torch.device, dtype: torch.dtype) -> _DeviceTables:
    """Return (and cache on the program) the tables of ``program`` for ``device``/``dtype``."""
    cache = program.__dict__.setdefault("_tables", {})
    key = (str(device), dtype)
    if key not in cache:
        cache[key] = _DeviceTables(program, device, dtype)
    return cache[key]


def _readout(program: Program, tables: _DeviceTables, psi: torch.Tensor) -> torch.Tensor:
    n = program.n_wires
    parts = []
    for start, k in program.readout.chunks:
        rho = kernels.cross_chunk(psi, psi, n, start, k)
        marg = kernels.one_wire_marginals(rho, k)  # (B, k, 2, 2)
        r01 = marg[:, :, 0, 1]
        z = (marg[:, :, 0, 0] - marg[:, :, 1, 1]).real
        parts.append(torch.stack((2 * r01.real, -2 * r01.imag, z), -1).flatten(1))
    for perm, phase in tables.words:
        moved = kernels.apply_perm(psi, perm, phase)
        parts.append((psi.conj() * moved).real.sum(1, keepdim=True))
    basis = torch.cat(parts, 1)
    return basis @ tables.coeffs + tables.offset


def _combined_bra(
    program: Program, tables: _DeviceTables, psi: torch.Tensor, grad_out: torch.Tensor
) -> torch.Tensor:
    """Return ``Σ_j g_j O_j |ψ>`` for the cotangent ``g`` of the outputs."""
    n = program.n_wires
    gb = (grad_out @ tables.coeffs.T).to(psi.dtype)  # (B, n_basis)
    lam = torch.zeros_like(psi)
    col = 0
    for start, k in program.readout.chunks:
        h = None
        for pos in range(k):
            g = gb[:, col : col + 3]
            m = torch.einsum("bp,pij->bij", g, tables.paulis)
            term = kernels.embed_in_chunk(m, pos, k)
            h = term if h is None else h + term
            col += 3
        lam += kernels.apply_chunk(psi, h, n, start, k)
    for perm, phase in tables.words:
        lam += gb[:, col : col + 1] * kernels.apply_perm(psi, perm, phase)
        col += 1
    return lam


class AdjointSimulation(torch.autograd.Function):
    """``apply(program, tables, psi0, *matrices) -> (B, n_outputs)`` expectation values."""

    @staticmethod
    def forward(
        ctx: Any,
        program: Program,
        tables: _DeviceTables,
        psi0: torch.Tensor,
        *matrices: torch.Tensor,
    ) -> torch.Tensor:
        n = program.n_wires
        psi = psi0
        it = iter(matrices)
        for i, step in enumerate(program.steps):
            if isinstance(step, Layer):
                for chunk in step.chunks:
                    psi = kernels.apply_chunk(psi, next(it), n, chunk.start, len(chunk.blocks))
            elif isinstance(step, Permutation):
                psi = kernels.apply_perm(psi, *tables.perms[i][0])
            else:
                psi = kernels.apply_wires(psi, next(it), n, step.wires)
        out = _readout(program, tables, psi)
        ctx.program, ctx.tables, ctx.psi = program, tables, psi
        ctx.save_for_backward(*matrices)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_out: torch.Tensor):
        program, tables = ctx.program, ctx.tables
        psi, ctx.psi = ctx.psi, None
        matrices = ctx.saved_tensors
        n = program.n_wires
        lam = _combined_bra(program, tables, psi, grad_out)
        grads: list[torch.Tensor | None] = [None] * len(matrices)
        m = len(matrices)
        for i in range(len(program.steps) - 1, -1, -1):
            step = program.steps[i]
            if isinstance(step, Permutation):
                inv = tables.perms[i][1]
                psi = kernels.apply_perm(psi, *inv)
                lam = kernels.apply_perm(lam, *inv)
                continue
            if isinstance(step, Layer):
                for chunk in reversed(step.chunks):
                    m -= 1
                    u, start, k = matrices[m], chunk.start, len(chunk.blocks)
                    if ctx.needs_input_grad[3 + m]:
                        grads[m] = 2 * kernels.cross_chunk(lam, psi, n, start, k) @ u
                    uh = u.mH
                    psi = kernels.apply_chunk(psi, uh, n, start, k)
                    lam = kernels.apply_chunk(lam, uh, n, start, k)
                continue
            m -= 1
            u = matrices[m]
            if ctx.needs_input_grad[3 + m]:
                grads[m] = 2 * kernels.cross_wires(lam, psi, n, step.wires) @ u
            psi = kernels.apply_wires(psi, u.mH, n, step.wires)
            lam = kernels.apply_wires(lam, u.mH, n, step.wires)
        grad_psi0 = 2 * lam if ctx.needs_input_grad[2] else None
        return (None, None, grad_psi0, *grads)
