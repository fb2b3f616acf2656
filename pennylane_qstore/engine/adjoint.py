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

from pennylane_qstore.engine import kernels
from pennylane_qstore.engine.program import Layer, Permutation, Program
from pennylane_qstore.engine.threads import engine_threads


class _DeviceTables:
    """Permutation/phase tensors and readout coefficients of a program on one device/dtype."""

    def __init__(self, program: Program, device: torch.device, dtype: torch.dtype) -> None:
        real = torch.float32 if dtype == torch.complex64 else torch.float64
        self.perms: dict[int, tuple] = {}
        for i, step in enumerate(program.steps):
            if isinstance(step, Permutation):
                inv, inv_phase = _inverse(step)
                self.perms[i] = (
                    self._perm(step.perm, step.phase, device, dtype),
                    self._perm(inv, inv_phase, device, dtype),
                    self._perm(inv, None if inv_phase is None else inv_phase.conj(), device, dtype),
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
    psi_c = psi.conj().resolve_conj()
    for start, k in program.readout.chunks:
        rho = kernels.contract_chunk(psi, psi_c, n, start, k)
        marg = kernels.one_wire_marginals(rho, k)  # (B, k, 2, 2)
        r01 = marg[:, :, 0, 1]
        z = (marg[:, :, 0, 0] - marg[:, :, 1, 1]).real
        parts.append(torch.stack((2 * r01.real, -2 * r01.imag, z), -1).flatten(1))
    for perm, phase in tables.words:
        moved = kernels.apply_perm(psi, perm, phase)
        parts.append((psi_c * moved).real.sum(1, keepdim=True))
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
            m = (g @ tables.paulis.reshape(3, 4)).reshape(-1, 2, 2)
            term = kernels.embed_in_chunk(m, pos, k)
            h = term if h is None else h + term
            col += 3
        lam += kernels.apply_chunk(psi, h, n, start, k)
    for perm, phase in tables.words:
        lam += gb[:, col : col + 1] * kernels.apply_perm(psi, perm, phase)
        col += 1
    return lam


def _simulate(
    program: Program,
    tables: _DeviceTables,
    initial: torch.Tensor,
    matrices: tuple[torch.Tensor, ...] | list[torch.Tensor],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run the program forward; return the outputs and the final state (torch ops only, so it is
    differentiable when called with grad mode on)."""
    n = program.n_wires
    psi = initial if program.state_prep is not None else kernels.product_state(initial)
    it = iter(matrices)
    for i, step in enumerate(program.steps):
        if isinstance(step, Layer) and step.cyclic:
            for _chunk in step.chunks:
                psi = kernels.apply_leading_rotate(psi, next(it))
        elif isinstance(step, Layer):
            for chunk in step.chunks:
                psi = kernels.apply_chunk(psi, next(it), n, chunk.start, len(chunk.blocks))
        elif isinstance(step, Permutation):
            psi = kernels.apply_perm(psi, *tables.perms[i][0])
        else:
            psi = kernels.apply_wires(psi, next(it), n, step.wires)
    return _readout(program, tables, psi), psi


class AdjointSimulation(torch.autograd.Function):
    """``apply(program, tables, initial, *matrices) -> (B, n_outputs)`` expectation values.

    ``initial`` is the ``(B, 2**n)`` prepared state when the program starts with a state
    preparation, else the ``(n, B, 2)`` one-wire vectors of the initial product state.
    """

    @staticmethod
    def forward(
        ctx: Any,
        program: Program,
        tables: _DeviceTables,
        initial: torch.Tensor,
        *matrices: torch.Tensor,
    ) -> torch.Tensor:
        out, psi = _simulate(program, tables, initial, matrices)
        ctx.program, ctx.tables, ctx.psi = program, tables, psi
        ctx.save_for_backward(initial, *matrices)
        return out

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor):
        if torch.is_grad_enabled():
            # create_graph=True (gradient penalties, Hessians, gradgradcheck): the adjoint sweep
            # is not itself differentiable, so the gradient is recomputed by differentiating the
            # forward simulation, with a graph torch can differentiate again.
            return AdjointSimulation._backward_differentiable(ctx, grad_out)
        with engine_threads(ctx.psi.numel(), ctx.psi.device):
            return AdjointSimulation._backward(ctx, grad_out)

    @staticmethod
    def _backward_differentiable(ctx: Any, grad_out: torch.Tensor):
        initial, *matrices = ctx.saved_tensors
        inputs = [initial, *matrices]
        wanted = [i for i, t in enumerate(inputs) if ctx.needs_input_grad[2 + i]]
        out, _ = _simulate(ctx.program, ctx.tables, initial, matrices)
        grads = torch.autograd.grad(
            out, [inputs[i] for i in wanted], grad_out, create_graph=True, allow_unused=True
        )
        result: list[torch.Tensor | None] = [None] * len(inputs)
        for i, g in zip(wanted, grads, strict=True):
            result[i] = g
        return (None, None, *result)

    @staticmethod
    def _backward(ctx: Any, grad_out: torch.Tensor):
        # The sweep carries the bra λ and psi_c = conj(ψ): the contraction Σ λ_i conj(ψ_j) is
        # then a plain matmul (a conjugated operand would be copied by torch), and undoing U on
        # conj(ψ) is applying conj(U^†) = U^T.
        program, tables = ctx.program, ctx.tables
        psi = ctx.psi  # kept on ctx: a retained graph (retain_graph=True) is swept again
        initial, *matrices = ctx.saved_tensors
        n = program.n_wires
        lam = _combined_bra(program, tables, psi, grad_out)
        psi_c = psi.conj().resolve_conj()
        del psi
        grads: list[torch.Tensor | None] = [None] * len(matrices)
        m = len(matrices)
        for i in range(len(program.steps) - 1, -1, -1):
            step = program.steps[i]
            if isinstance(step, Permutation):
                _, inv, inv_c = tables.perms[i]
                psi_c = kernels.apply_perm(psi_c, *inv_c)
                lam = kernels.apply_perm(lam, *inv)
                continue
            if isinstance(step, Layer) and step.cyclic:
                for _chunk in reversed(step.chunks):
                    m -= 1
                    u = matrices[m]
                    if ctx.needs_input_grad[3 + m]:
                        grads[m] = 2 * kernels.contract_trailing(lam, psi_c, u.shape[-1]) @ u
                    psi_c = kernels.unapply_trailing_rotate(psi_c, u.conj())
                    lam = kernels.unapply_trailing_rotate(lam, u)
                continue
            if isinstance(step, Layer):
                for chunk in reversed(step.chunks):
                    m -= 1
                    u, start, k = matrices[m], chunk.start, len(chunk.blocks)
                    if ctx.needs_input_grad[3 + m]:
                        grads[m] = 2 * kernels.contract_chunk(lam, psi_c, n, start, k) @ u
                    psi_c = kernels.apply_chunk(psi_c, u.mT, n, start, k)
                    lam = kernels.apply_chunk(lam, u.mH, n, start, k)
                continue
            m -= 1
            u = matrices[m]
            if ctx.needs_input_grad[3 + m]:
                grads[m] = 2 * kernels.contract_wires(lam, psi_c, n, step.wires) @ u
            psi_c = kernels.apply_wires(psi_c, u.mT, n, step.wires)
            lam = kernels.apply_wires(lam, u.mH, n, step.wires)
        grad_initial = None
        if ctx.needs_input_grad[2] and program.state_prep is not None:
            grad_initial = 2 * lam
        elif ctx.needs_input_grad[2]:
            # ψ0 = ⊗_w v_w with unit v_w: d/dv_w of 2 Re<λ0|ψ0> is 2 A_w v_w, where
            # A_w = Σ_(other wires) λ0 conj(ψ0) is the one-wire contraction on wire w.
            contractions = [
                kernels.one_wire_marginals(kernels.contract_chunk(lam, psi_c, n, start, k), k)
                for start, k in program.readout_chunks
            ]
            a = torch.cat(contractions, 1).transpose(0, 1)  # (n, B, 2, 2)
            grad_initial = 2 * (a @ initial.unsqueeze(-1)).squeeze(-1)
        return (None, None, grad_initial, *grads)
