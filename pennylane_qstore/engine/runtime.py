"""Turn a tape's parameters into the engine's inputs and run the adjoint simulation.

All gate matrices of one kind are built in one vectorised call, fused blocks are multiplied for
every block at once (one batched matmul per gate position), and the Kronecker products of a
layer's chunks are formed per chunk size; everything here is ordinary differentiable torch code
on ``(B, 2, 2)``-sized tensors, so its cost does not grow with the state size.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pennylane as qml
import torch
from pennylane.operation import Operator

from pennylane_qstore.engine import kernels
from pennylane_qstore.engine.adjoint import AdjointSimulation, device_tables
from pennylane_qstore.engine.adjoint import _simulate as simulate_states
from pennylane_qstore.engine.gates import FAST_BUILDERS
from pennylane_qstore.engine.program import Generic, Layer, Program
from pennylane_qstore.engine.threads import engine_threads

_REAL = {torch.complex64: torch.float32, torch.complex128: torch.float64}


def _batched(matrix: torch.Tensor, batch: int, dtype: torch.dtype) -> torch.Tensor:
    """Return ``matrix`` (``(K, K)`` or ``(B, K, K)``) as ``(batch, K, K)`` of ``dtype``."""
    matrix = matrix.to(dtype)
    if matrix.ndim == 2:
        matrix = matrix.unsqueeze(0)
    return matrix.expand(batch, -1, -1)


class _Plan:
    """Index tables of a program on one device: gate grouping, fusion and chunk gathers."""

    def __init__(self, program: Program, device: torch.device) -> None:
        self.kinds: dict[str, list[int]] = {}
        for g, gate in enumerate(program.gates):
            self.kinds.setdefault(gate.kind, []).append(g)
        order = [g for gates in self.kinds.values() for g in gates]
        row_of = {g: r for r, g in enumerate(order)}
        ident = len(order)  # identity row appended after all gates
        width = max((len(b) for b in program.blocks), default=1)
        table = [[ident] * (width - len(b)) + [row_of[g] for g in b] for b in program.blocks]
        self.fuse = torch.tensor(table, dtype=torch.long, device=device).reshape(-1, width)
        self.consts = None
        if "const" in self.kinds:
            mats = np.stack([program.gates[g].const for g in self.kinds["const"]])
            self.consts = torch.as_tensor(mats, device=device)
        none_block = len(program.blocks)  # identity block appended after all blocks
        self.initial = torch.tensor(
            [none_block if b is None else b for b in program.initial], device=device
        )
        by_size: dict[int, list[tuple[int, ...]]] = {}
        self.chunk_slots: list[tuple[int, int]] = []
        for step in program.steps:
            if isinstance(step, Layer):
                for chunk in step.chunks:
                    rows = tuple(none_block if b is None else b for b in chunk.blocks)
                    group = by_size.setdefault(len(rows), [])
                    self.chunk_slots.append((len(rows), len(group)))
                    group.append(rows)
        self.chunk_tables = {
            k: torch.tensor(rows, dtype=torch.long, device=device) for k, rows in by_size.items()
        }


def _plan(program: Program, device: torch.device) -> _Plan:
    cache = program.__dict__.setdefault("_plans", {})
    key = str(device)
    if key not in cache:
        cache[key] = _Plan(program, device)
    return cache[key]


def batch_size_of(ops: Sequence[Operator]) -> int:
    """Return the broadcast batch size of ``ops`` (1 when nothing is batched)."""
    sizes = {op.batch_size for op in ops if op.batch_size is not None}
    if len(sizes) > 1:
        raise ValueError(f"Operations have different batch sizes {sorted(sizes)}.")
    return sizes.pop() if sizes else 1


class OpParameters:
    """Gate parameters read from the operations a program was compiled from."""

    def __init__(
        self, program: Program, ops: Sequence[Operator], real: torch.dtype, device
    ) -> None:
        self.program, self.ops, self.real, self.device = program, ops, real, device

    def angles(self, kind: str, gates: list[int], n_angles: int, batch: int) -> torch.Tensor:
        """Return ``(len(gates), n_angles, batch)`` angles of the one-qubit ``gates`` of ``kind``."""
        values = [
            torch.as_tensor(d, dtype=self.real, device=self.device).expand(batch)
            for g in gates
            for d in self.ops[self.program.gates[g].op_index].data
        ]
        return torch.stack(values).reshape(len(gates), n_angles, batch)

    def matrix(self, op_index: int) -> torch.Tensor:
        """Return the matrix of operation ``op_index`` (``(K, K)`` or ``(B, K, K)``)."""
        return torch.as_tensor(self.ops[op_index].matrix(), device=self.device)

    def state(self, op_index: int) -> torch.Tensor:
        """Return the state vector prepared by operation ``op_index`` (on all wires, in order)."""
        prep = self.ops[op_index]
        if isinstance(prep, qml.BasisState):
            return torch.as_tensor(
                prep.state_vector(wire_order=self.program.wires), device=self.device
            )
        # StatePrep (and AmplitudeEmbedding, a subclass) holds the padded, normalised amplitudes
        return torch.as_tensor(prep.data[0], device=self.device)


def simulate(
    program: Program,
    ops: Sequence[Operator],
    batch: int,
    dtype: torch.dtype = torch.complex64,
    device: torch.device | None = None,
) -> torch.Tensor:
    """Run ``program`` with the parameters of ``ops`` and return ``(batch, n_outputs)`` values.

    Args:
        program: The compiled program of ``ops``.
        ops: The expanded operations the program was compiled from (same structure).
        batch: Batch size (rows of broadcast parameters; 1 when unbatched).
        dtype: ``torch.complex64`` or ``torch.complex128``.
        device: Torch device; defaults to the device of the first tensor parameter, else CPU.

    Returns:
        Real tensor of expectation values, differentiable with respect to every torch
        parameter of ``ops`` through the adjoint method.
    """
    if dtype not in _REAL:
        raise ValueError(f"dtype must be torch.complex64 or torch.complex128, got {dtype}.")
    if device is None:
        device = next(
            (d.device for op in ops for d in op.data if isinstance(d, torch.Tensor)),
            torch.device("cpu"),
        )
    source = OpParameters(program, ops, _REAL[dtype], device)
    return run_program(program, source, batch, dtype, device)


def run_program(
    program: Program,
    source,
    batch: int,
    dtype: torch.dtype,
    device: torch.device,
    final_state: bool = False,
) -> torch.Tensor:
    """Build the engine inputs from ``source`` (see :class:`OpParameters`) and simulate
    (with ``final_state=True``, return the ``(batch, 2**n)`` final states, not differentiable)."""
    with engine_threads(batch * 2**program.n_wires, device):
        plan = _plan(program, device)
        eye = torch.eye(2, dtype=dtype, device=device).expand(1, batch, 2, 2)
        blocks = torch.cat([_fused_blocks(plan, program, source, batch, dtype, eye), eye])
        if program.state_prep is not None:
            psi0 = (
                source.state(program.state_prep)
                .to(dtype)
                .reshape(-1, 2**program.n_wires)
                .expand(batch, -1)
            )
        else:
            psi0 = blocks[plan.initial][..., 0]  # (n, B, 2) one-wire vectors of a product state
        matrices = _step_matrices(plan, program, source, blocks, batch, dtype, device)
        tables = device_tables(program, device, dtype)
        if final_state:
            with torch.no_grad():
                return simulate_states(program, tables, psi0.contiguous(), matrices)[1]
        return AdjointSimulation.apply(program, tables, psi0.contiguous(), *matrices)


def _fused_blocks(
    plan: _Plan, program: Program, source, batch: int, dtype: torch.dtype, eye: torch.Tensor
) -> torch.Tensor:
    """Return ``(n_blocks, B, 2, 2)``: every gate matrix built per kind, then fused per block."""
    parts = []
    for kind, gates in plan.kinds.items():
        if kind == "const":
            parts.append(plan.consts.to(dtype).unsqueeze(1).expand(-1, batch, -1, -1))
            continue
        if kind == "matrix":
            parts.append(
                torch.stack(
                    [
                        _batched(source.matrix(program.gates[g].op_index), batch, dtype)
                        for g in gates
                    ]
                )
            )
            continue
        n_angles, builder = FAST_BUILDERS[kind]
        angles = source.angles(kind, gates, n_angles, batch)
        angles = angles[:, 0] if n_angles == 1 else angles.transpose(1, 2)
        parts.append(builder(angles, dtype))
    table = torch.cat([*parts, eye]) if parts else eye
    blocks = table[plan.fuse[:, 0]]
    for j in range(1, plan.fuse.shape[1]):
        blocks = table[plan.fuse[:, j]] @ blocks
    return blocks


def _step_matrices(
    plan: _Plan,
    program: Program,
    source,
    blocks: torch.Tensor,
    batch: int,
    dtype: torch.dtype,
    device: torch.device,
) -> list[torch.Tensor]:
    """Return the ``(B, K, K)`` matrix of each program step: layer chunks as Kronecker products."""
    krons = {}
    for k, rows in plan.chunk_tables.items():
        gathered = blocks[rows]  # (chunks, k, B, 2, 2)
        acc = gathered[:, 0]
        for pos in range(1, k):
            acc = kernels.kron(acc, gathered[:, pos])
        krons[k] = acc
    matrices = []
    slots = iter(plan.chunk_slots)
    for step in program.steps:
        if isinstance(step, Layer):
            for _chunk in step.chunks:
                k, idx = next(slots)
                matrices.append(krons[k][idx])
        elif isinstance(step, Generic):
            if step.const is not None:
                mat = torch.as_tensor(step.const, device=device)
            else:
                mat = source.matrix(step.op_index)
            matrices.append(_batched(mat, batch, dtype))
    return matrices
