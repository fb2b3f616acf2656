"""Parameter-shift, finite-difference and SPSA derivatives on the engine, in one batched pass.

The layers' hardware-style gradient methods differentiate the *gate parameters* of a recorded
circuit; torch's autograd then carries the result through the user's classical code to the
inputs and weights. Every shifted or perturbed parameter set is an extra block of batch rows, so
one engine pass (chunked to bound memory) evaluates them all, in the forward pass: the shifted
circuits do not depend on the upstream gradient.

* ``parameter-shift``: each gate parameter's own rule (``op.grad_recipe`` or the rule generated
  from ``op.parameter_frequencies``, as PennyLane's ``param_shift``), multi-term rules included;
* ``finite-diff``: forward differences with PennyLane's default step ``h = 1e-7``, always
  simulated in complex128;
* ``spsa``: central differences along ``num_directions`` Rademacher directions per row, step
  ``h``, as PennyLane's ``spsa_grad`` with ``approx_order=2``.

Parameters are "slots": one entry of one operation's data that requires a gradient; a slot is a
scalar shared by all rows or a ``(B,)`` tensor broadcast over the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pennylane as qml
import torch
from pennylane.operation import Operator
from pennylane.ops.functions import bind_new_parameters

from pennylane_qstore.engine.program import EngineUnsupportedError, Program
from pennylane_qstore.engine.runtime import _REAL, OpParameters, run_program
from pennylane_qstore.engine.sampling import ShotPlan, sample_expectations, shot_plan

RECIPE_METHODS = ("parameter-shift", "finite-diff", "spsa")
"""Gradient methods the engine evaluates by shifted/perturbed batch rows."""

FINITE_DIFF_STEP = 1e-7
"""PennyLane's default ``finite_diff`` step."""

MAX_ROW_AMPLITUDES = 2**23
"""Largest ``rows * 2**n`` simulated in one chunk of shifted rows (128 MiB of complex128)."""


@dataclass(frozen=True)
class Recipe:
    """A gradient method and its settings.

    Attributes:
        method: One of :data:`RECIPE_METHODS`.
        h: SPSA step (ignored otherwise).
        num_directions: SPSA directions per row.
        rng: NumPy generator of the SPSA directions and of the shot sampler.
        shots: Samples per measurement setting (``None``: exact expectation values). Every
            row, shifted or not, is sampled (:mod:`pennylane_qstore.engine.sampling`).
    """

    method: str
    h: float = 0.01
    num_directions: int = 1
    rng: Any = None
    shots: int | None = None


def _slots(ops: Sequence[Operator]) -> list[tuple[int, int]]:
    """``(op_index, data_index)`` of every gate parameter that needs a gradient."""
    return [
        (i, j)
        for i, op in enumerate(ops)
        for j, d in enumerate(op.data)
        if isinstance(d, torch.Tensor) and d.requires_grad
    ]


def _shift_terms(op: Operator, j: int) -> np.ndarray:
    """``(coeff, multiplier, shift)`` rows of the parameter-shift rule of ``op.data[j]``."""
    recipe = op.grad_recipe[j] if op.grad_recipe is not None else None
    if recipe is not None:
        return np.asarray(recipe, dtype=float).reshape(-1, 3)
    try:
        rule = qml.gradients.generate_shift_rule(op.parameter_frequencies[j])
    except (qml.operation.ParameterFrequenciesUndefinedError, ValueError) as exc:
        raise EngineUnsupportedError(f"{op.name} has no parameter-shift rule") from exc
    return np.column_stack([rule[:, 0], np.ones(len(rule)), rule[:, 1]])


def _is_broadcast(op: Operator, j: int) -> bool:
    return op.batch_size is not None and qml.math.ndim(op.data[j]) > op.ndim_params[j]


class _Runner:
    """Simulates the recorded ``ops`` with some slots replaced, for stacked blocks of rows."""

    def __init__(
        self,
        program: Program,
        ops: Sequence[Operator],
        batch: int,
        dtype: torch.dtype,
        device,
        sampler: tuple[ShotPlan, int, torch.Generator] | None = None,
    ) -> None:
        self.program, self.ops, self.batch, self.dtype, self.device = (
            program,
            list(ops),
            batch,
            dtype,
            device,
        )
        self.sampler = sampler
        self.slots = _slots(ops)

    def slot_values(self, params: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Every slot as a ``(B,)`` tensor (scalars repeated over the rows)."""
        return [p.reshape(-1).expand(self.batch) if p.dim() == 0 else p for p in params]

    def run(
        self, params: Sequence[torch.Tensor], blocks: int, overrides: dict[int, torch.Tensor]
    ) -> torch.Tensor:
        """Outputs ``(blocks * B, n)`` of ``blocks`` stacked copies of the batch, slot ``k``
        taking ``overrides[k]`` (``(blocks * B,)``) instead of its value."""
        rows = blocks * self.batch
        by_op: dict[int, dict[int, torch.Tensor]] = {}
        for k, (i, j) in enumerate(self.slots):
            value = overrides.get(k)
            if value is None:
                value = self.slot_values([params[k]])[0].repeat(blocks)
            by_op.setdefault(i, {})[j] = value
        data = []
        for i, op in enumerate(self.ops):
            values = list(op.data)
            for j, d in enumerate(values):
                if j in by_op.get(i, {}):
                    values[j] = by_op[i][j]
                elif _is_broadcast(op, j):
                    t = torch.as_tensor(d, device=self.device)
                    values[j] = t.repeat(blocks, *([1] * (t.dim() - 1)))
            data.append(values)
        source = _TableParameters(self.program, self.ops, data, _REAL[self.dtype], self.device)
        if self.sampler is None:
            return run_program(self.program, source, rows, self.dtype, self.device)
        plan, shots, generator = self.sampler
        psi = run_program(self.program, source, rows, self.dtype, self.device, final_state=True)
        return sample_expectations(psi, plan, self.program.n_wires, shots, generator)


class _TableParameters(OpParameters):
    """Gate parameters from a table of per-operation data (shifted and tiled rows) instead of
    the operations themselves; operations are rebuilt only where a matrix or state is needed
    (constructing PennyLane operators costs more than simulating these rows)."""

    def __init__(self, program: Program, ops: Sequence[Operator], data, real, device) -> None:
        super().__init__(program, ops, real, device)
        self.data = data

    def angles(self, kind: str, gates: list[int], n_angles: int, batch: int) -> torch.Tensor:
        values = [
            torch.as_tensor(d, dtype=self.real, device=self.device).expand(batch)
            for g in gates
            for d in self.data[self.program.gates[g].op_index]
        ]
        return torch.stack(values).reshape(len(gates), n_angles, batch)

    def _rebound(self, op_index: int) -> OpParameters:
        """The plain source of the operations with operation ``op_index`` rebuilt from its row."""
        ops = list(self.ops)
        ops[op_index] = bind_new_parameters(ops[op_index], self.data[op_index])
        return OpParameters(self.program, ops, self.real, self.device)

    def matrix(self, op_index: int) -> torch.Tensor:
        return self._rebound(op_index).matrix(op_index)

    def state(self, op_index: int) -> torch.Tensor:
        return self._rebound(op_index).state(op_index)


def _chunks(runner: _Runner, n_terms: int) -> list[range]:
    per = max(1, MAX_ROW_AMPLITUDES // (runner.batch * 2**runner.program.n_wires))
    return [range(s, min(s + per, n_terms)) for s in range(0, n_terms, per)]


def jacobian(
    runner: _Runner, params: Sequence[torch.Tensor], recipe: Recipe, out0: torch.Tensor
) -> torch.Tensor:
    """``(B, n_outputs, n_slots)`` derivative of the outputs by the recipe.

    Differentiable in ``params`` when grad mode is on (used for second derivatives).
    """
    batch, n_out, n_slots = runner.batch, out0.shape[1], len(runner.slots)
    values = runner.slot_values(params)
    if recipe.method == "spsa":
        return _spsa(runner, params, values, recipe, n_out)
    terms: list[tuple[int, float, float, float]] = []  # (slot, coeff, mult, shift)
    for k, (i, j) in enumerate(runner.slots):
        if recipe.method == "parameter-shift":
            terms.extend((k, c, m, s) for c, m, s in _shift_terms(runner.ops[i], j))
        else:
            terms.append((k, 1.0 / FINITE_DIFF_STEP, 1.0, FINITE_DIFF_STEP))
    jac = out0.new_zeros(batch, n_out, n_slots)
    for chunk in _chunks(runner, len(terms)):
        block = [terms[t] for t in chunk]
        overrides: dict[int, list] = {}
        for b, (k, _c, m, s) in enumerate(block):
            overrides.setdefault(k, []).append((b, m, s))
        stacked = {}
        for k, entries in overrides.items():
            base = values[k].repeat(len(block))
            pieces = list(base.split(batch))
            for b, m, s in entries:
                pieces[b] = m * values[k] + s
            stacked[k] = torch.cat(pieces)
        out = runner.run(params, len(block), stacked).reshape(len(block), batch, n_out)
        for b, (k, c, _m, _s) in enumerate(block):
            jac[:, :, k] = jac[:, :, k] + c * out[b]
    if recipe.method == "finite-diff":
        jac = jac - out0.unsqueeze(-1) / FINITE_DIFF_STEP * (n_slots > 0)
    return jac


def _spsa(
    runner: _Runner,
    params: Sequence[torch.Tensor],
    values: list[torch.Tensor],
    recipe: Recipe,
    n_out: int,
) -> torch.Tensor:
    batch, n_slots, dirs, h = runner.batch, len(runner.slots), recipe.num_directions, recipe.h
    signs = recipe.rng.choice([-1.0, 1.0], size=(dirs, batch, n_slots))
    delta = torch.as_tensor(signs, dtype=values[0].dtype, device=values[0].device)
    # blocks: (direction d, sign +) then (d, -), each B rows
    overrides = {
        k: torch.cat(
            [values[k] + sgn * h * delta[d, :, k] for d in range(dirs) for sgn in (1.0, -1.0)]
        )
        for k in range(n_slots)
    }
    out = runner.run(params, 2 * dirs, overrides).reshape(dirs, 2, batch, n_out)
    diff = (out[:, 0] - out[:, 1]) / (2 * h)  # (D, B, n_out)
    return torch.einsum("dbo,dbk->bok", diff, delta) / dirs


class RecipeSimulation(torch.autograd.Function):
    """``apply(runner, recipe, *slot_params) -> (B, n_outputs)``: outputs, with the recipe's
    Jacobian (computed in the forward pass) as the backward pass."""

    @staticmethod
    def forward(ctx: Any, runner: _Runner, recipe: Recipe, *params: torch.Tensor) -> torch.Tensor:
        detached = [p.detach() for p in params]
        with torch.no_grad():
            out = runner.run(detached, 1, {})
            jac = jacobian(runner, detached, recipe, out) if any(ctx.needs_input_grad[2:]) else None
        ctx.runner, ctx.recipe, ctx.jac = runner, recipe, jac
        ctx.save_for_backward(*params)
        return out

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor):
        params = ctx.saved_tensors
        if torch.is_grad_enabled() and ctx.runner.sampler is not None:
            raise RuntimeError(
                "Second derivatives of sampled (shots) engine results are not available; build "
                "the layer with fast_path=False to let PennyLane differentiate its shifted "
                "circuits again, or use shots=None."
            )
        if torch.is_grad_enabled():  # create_graph=True: the recipe's Jacobian, differentiated
            out0 = ctx.runner.run(params, 1, {})
            jac = jacobian(ctx.runner, params, ctx.recipe, out0)
        else:
            jac = ctx.jac
        per_row = torch.einsum("bo,bok->bk", grad_out.to(jac.dtype), jac)
        grads = [
            (per_row[:, k].sum() if p.dim() == 0 else per_row[:, k]).to(p.dtype)
            for k, p in enumerate(params)
        ]
        return (None, None, *grads)


def simulate_with_recipe(
    program: Program,
    ops: Sequence[Operator],
    batch: int,
    dtype: torch.dtype,
    device,
    recipe: Recipe,
    measurements: Sequence[Any] = (),
) -> torch.Tensor:
    """``(batch, n_outputs)`` outputs of ``ops`` whose derivatives follow ``recipe`` (sampled
    with ``recipe.shots`` from the tape's ``measurements`` when shots are set).

    Raises:
        EngineUnsupportedError: A trainable parameter has no rule (state preparations, gates
            without parameter frequencies) or is not a scalar or ``(B,)`` vector.
    """
    if recipe.method == "finite-diff":
        dtype = torch.complex128
    sampler = None
    if recipe.shots is not None:
        generator = torch.Generator(device=device)
        generator.manual_seed(int(recipe.rng.integers(2**62)))
        sampler = (shot_plan(measurements, program.wires), int(recipe.shots), generator)
    runner = _Runner(program, ops, batch, dtype, device, sampler)
    params = []
    for i, j in runner.slots:
        p = runner.ops[i].data[j]
        if p.dim() > 1 or (p.dim() == 1 and p.shape[0] != batch) or program.state_prep == i:
            raise EngineUnsupportedError(
                f"{runner.ops[i].name} parameter of shape {tuple(p.shape)}"
            )
        if recipe.method == "parameter-shift":
            _shift_terms(runner.ops[i], j)
        params.append(p)
    return RecipeSimulation.apply(runner, recipe, *params)
