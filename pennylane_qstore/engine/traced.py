"""Compile a circuit function ``qfunc(inputs, **weights)`` once and run it on any batch.

Layers call the same circuit every step with new inputs and weights. Recording a PennyLane tape
and decomposing templates each step costs more than simulating a small circuit, so
:class:`TracedCircuit` records the function twice with random probe values, finds for every gate
angle the input column or weight entry it equals exactly, and from then on gathers all angles
with one indexing op. Circuits whose angles are not plain entries of the inputs or weights
(``2 * x``, amplitude encoding, gates without a vectorised builder) are re-recorded each call
and still simulated by the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import pennylane as qml
import torch
from pennylane.tape import QuantumScript

from pennylane_qstore.engine.api import default_chunk_wires, execute_tape
from pennylane_qstore.engine.program import (
    compile_program,
    expand_operations,
    structure_key,
)
from pennylane_qstore.engine.runtime import _REAL, run_program
from pennylane_qstore.engine.threads import engine_threads, scoped_backward


def record(
    qfunc: Callable, inputs: torch.Tensor, weights: Mapping[str, torch.Tensor]
) -> QuantumScript:
    """Record ``qfunc(inputs, **weights)`` as a tape without executing it."""
    with qml.queuing.AnnotatedQueue() as queue:
        qfunc(inputs, **weights)
    return QuantumScript.from_queue(queue)


class _GatheredParameters:
    """Gate angles gathered from a ``(features + weights, B)`` pool by precomputed rows."""

    def __init__(self, pool: torch.Tensor, rows: dict[str, torch.Tensor]) -> None:
        self.pool, self.rows = pool, rows

    def angles(self, kind: str, gates: list[int], n_angles: int, batch: int) -> torch.Tensor:
        """Return ``(len(gates), n_angles, batch)`` angles of ``kind``'s gates."""
        return self.pool[self.rows[kind]].reshape(len(gates), n_angles, batch)


class TracedCircuit:
    """``qfunc(inputs, **weights)`` on a fixed register, simulated by the engine.

    Args:
        qfunc: Quantum function taking ``inputs`` of shape ``(batch, features)`` and keyword
            weights; it returns ``expval`` measurements.
        weight_shapes: Shape of every weight argument, in the order weights are passed.
        n_features: Number of input features.
        wires: Register wires, in order; defaults to the wires the circuit uses.
        dtype: ``torch.complex64`` or ``torch.complex128``.

    Raises:
        EngineUnsupportedError: If the circuit uses something the engine cannot run.
    """

    def __init__(
        self,
        qfunc: Callable,
        weight_shapes: Mapping[str, Sequence[int]],
        n_features: int,
        wires: Sequence | None = None,
        dtype: torch.dtype = torch.complex64,
    ) -> None:
        self.qfunc = qfunc
        self.weight_shapes = {k: tuple(v) for k, v in weight_shapes.items()}
        self.n_features = int(n_features)
        self.dtype = dtype
        first = self._probe(seed=1)
        self.wires = first[0].wires if wires is None else qml.wires.Wires(wires)
        self.program = compile_program(
            first[1], first[0].measurements, self.wires, default_chunk_wires(len(self.wires))
        )
        self._rows = self._find_rows(first[1], seed=1)
        if self._rows is not None:
            second = self._probe(seed=2)
            same = structure_key(second[1], second[0]) == structure_key(first[1], first[0])
            if not same or self._find_rows(second[1], seed=2) != self._rows:
                self._rows = None
        self._row_tensors: dict[str, dict[str, torch.Tensor]] = {}

    def with_dtype(self, dtype: torch.dtype) -> TracedCircuit:
        """Return this circuit simulated in ``dtype`` (shares the compiled program)."""
        if dtype == self.dtype:
            return self
        twins = self.__dict__.setdefault("_twins", {})
        if dtype not in twins:
            twin = object.__new__(TracedCircuit)
            twin.__dict__.update({k: v for k, v in self.__dict__.items() if k != "_twins"})
            twin.dtype = dtype
            twins[dtype] = twin
        return twins[dtype]

    @property
    def gathered(self) -> bool:
        """Whether angles are gathered by index (the fast path) rather than re-recorded."""
        return self._rows is not None

    def _probe_values(self, seed: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        gen = torch.Generator().manual_seed(seed)
        x = torch.rand(2, self.n_features, generator=gen, dtype=torch.float64)
        w = {
            k: torch.rand(s, generator=gen, dtype=torch.float64)
            for k, s in self.weight_shapes.items()
        }
        return x, w

    def _probe(self, seed: int):
        x, w = self._probe_values(seed)
        tape = record(self.qfunc, x, w)
        return tape, expand_operations(tape.operations)

    def _find_rows(self, ops, seed: int) -> dict[str, list[int]] | None:
        """Return, per gate kind, the pool row of every angle, or ``None`` if one has no row."""
        x, w = self._probe_values(seed)
        inputs = {float(v): i for i, v in enumerate(x[0])}
        flat = torch.cat([t.reshape(-1) for t in w.values()]) if w else torch.zeros(0)
        weights = {float(v): self.n_features + i for i, v in enumerate(flat)}
        rows: dict[str, list[int]] = {}
        for gate in self.program.gates:
            if gate.kind in ("const",):
                continue
            if gate.kind == "matrix":
                return None
            for value in ops[gate.op_index].data:
                value = torch.as_tensor(value)
                if value.ndim == 1 and value.shape[0] == 2:
                    row = inputs.get(float(value[0]))
                    if row is None or float(x[1, row]) != float(value[1]):
                        return None
                elif value.ndim == 0:
                    row = weights.get(float(value))
                    if row is None:
                        return None
                else:
                    return None
                rows.setdefault(gate.kind, []).append(row)
        if self.program.state_prep is not None or any(
            getattr(step, "const", 0) is None for step in self.program.steps
        ):
            return None
        return rows

    def __call__(self, inputs: torch.Tensor, weights: Sequence[torch.Tensor]) -> torch.Tensor:
        """Return ``(batch, n_outputs)`` expectation values, differentiable by adjoint.

        Args:
            inputs: ``(batch, features)`` tensor; its device is where the simulation runs.
            weights: One tensor per entry of ``weight_shapes``, in the same order.
        """
        batch = inputs.shape[0]
        device = inputs.device
        if self._rows is None:
            tape = record(self.qfunc, inputs, dict(zip(self.weight_shapes, weights, strict=True)))
            out = execute_tape(tape, self.dtype, self.wires, device)
            return out if tape.batch_size is not None else out.expand(batch, -1)
        real = _REAL[self.dtype]
        amplitudes = batch * 2 ** len(self.wires)
        with engine_threads(amplitudes, device):
            flat = [w.reshape(-1) for w in weights]
            w_pool = torch.cat(flat).to(real) if flat else inputs.new_zeros(0, dtype=real)
            pool = torch.cat([inputs.T.to(real), w_pool[:, None].expand(-1, batch)])
            pool, close = scoped_backward(pool, amplitudes)
            key = str(device)
            if key not in self._row_tensors:
                self._row_tensors[key] = {
                    k: torch.tensor(v, dtype=torch.long, device=device)
                    for k, v in self._rows.items()
                }
            source = _GatheredParameters(pool, self._row_tensors[key])
            return close(run_program(self.program, source, batch, self.dtype, device))
