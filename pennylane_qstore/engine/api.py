"""Entry points: run a PennyLane tape on the engine, with compiled programs cached by structure."""

from __future__ import annotations

from collections import OrderedDict

import pennylane as qml
import torch
from pennylane.tape import QuantumScript

from pennylane_qstore.engine.program import (
    Program,
    compile_program,
    expand_operations,
    structure_key,
)
from pennylane_qstore.engine.recipes import Recipe, simulate_with_recipe
from pennylane_qstore.engine.runtime import batch_size_of, simulate

_CACHE: OrderedDict[tuple, Program] = OrderedDict()
_CACHE_SIZE = 128


def default_chunk_wires(n_wires: int) -> int:
    """Adjacent wires fused into one layer matmul: a ``16x16`` block, fewer for tiny registers."""
    return min(4, n_wires)


def compile_tape(tape: QuantumScript, wires: qml.wires.Wires | None = None) -> Program:
    """Compile (or fetch from the cache) the program of ``tape``.

    Args:
        tape: Circuit with ``expval`` measurements.
        wires: Register wire order; defaults to ``tape.wires``.

    Raises:
        EngineUnsupportedError: If the circuit uses an unsupported operation or measurement.
    """
    wires = tape.wires if wires is None else qml.wires.Wires(wires)
    ops = expand_operations(tape.operations)
    return _compile(ops, tape, wires)


def _compile(ops, tape: QuantumScript, wires: qml.wires.Wires) -> Program:
    key = (structure_key(ops, tape), tuple(wires))
    program = _CACHE.get(key)
    if program is None:
        program = compile_program(ops, tape.measurements, wires, default_chunk_wires(len(wires)))
        _CACHE[key] = program
        if len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    else:
        _CACHE.move_to_end(key)
    return program


def execute_tape(
    tape: QuantumScript,
    dtype: torch.dtype = torch.complex64,
    wires: qml.wires.Wires | None = None,
    device: torch.device | str | None = None,
    recipe: Recipe | None = None,
) -> torch.Tensor:
    """Simulate ``tape`` analytically and return its expectation values as a torch tensor.

    Broadcast (batched) parameters are simulated in one pass. The result is differentiable with
    respect to every torch parameter of the tape; gradients come from one adjoint sweep.

    Args:
        tape: Circuit whose measurements are ``expval`` of Pauli words or sums of them.
        dtype: ``torch.complex64`` (default; outputs agree with complex128 to about 1e-6) or
            ``torch.complex128``.
        wires: Register wire order; defaults to ``tape.wires``.
        device: Torch device; defaults to where the tape's torch parameters live.
        recipe: Differentiate by parameter-shift, finite differences or SPSA
            (:mod:`pennylane_qstore.engine.recipes`) instead of the adjoint method.

    Returns:
        ``(batch, n_measurements)`` for a broadcast tape, else ``(n_measurements,)``; real, of
        the real dtype matching ``dtype``.

    Raises:
        EngineUnsupportedError: If the circuit uses an unsupported operation or measurement.
    """
    wires = tape.wires if wires is None else qml.wires.Wires(wires)
    ops = expand_operations(tape.operations)
    program = _compile(ops, tape, wires)
    batch = batch_size_of(ops)
    device = None if device is None else torch.device(device)
    if recipe is not None:
        if device is None:
            device = next(
                (d.device for op in ops for d in op.data if isinstance(d, torch.Tensor)),
                torch.device("cpu"),
            )
        out = simulate_with_recipe(program, ops, batch, dtype, device, recipe, tape.measurements)
    else:
        out = simulate(program, ops, batch, dtype, device)
    return out if tape.batch_size is not None else out[0]
