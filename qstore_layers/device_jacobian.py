"""Adjoint Jacobians taken from the device directly, for the Keras/NumPy generic path.

When device preprocessing leaves a chunk's circuits as they are, the device's own
``execute_and_compute_derivatives`` gives every Jacobian in one call and the cotangent is
contracted with it in NumPy, without PennyLane's autograd interface in between.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import autograd.numpy as anp
import numpy as np
import pennylane as qml
from pennylane.devices import ExecutionConfig


def device_jacobian(
    device: Any, chunk: Any
) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]] | None:
    """Adjoint without autograd in the quantum stage, when the circuit allows it.

    Applies when device preprocessing keeps every gate parameter as it is (no
    decomposition of parametrized gates), every measurement is an expectation value and
    every differentiable parameter is a scalar or broadcast over the rows. The device's
    Jacobians are then contracted with the cotangent directly. Returns ``None`` otherwise,
    and the generic path (PennyLane's autograd interface) is used.
    """
    positions: list[list[np.ndarray]] = []  # per expanded tape: flat index of each column
    expanded: list[qml.tape.QuantumScript] = []
    offset = 0
    for tape, idx, shapes in zip(chunk.tapes, chunk.trainable, chunk.shapes, strict=True):
        rows = tape.batch_size or 1
        if any(shape not in ((), (rows,)) for shape in shapes):
            return None
        parts = qml.transforms.broadcast_expand(tape)[0] if tape.batch_size else [tape]
        starts = offset + np.cumsum([0, *(int(np.prod(sh)) for sh in shapes[:-1])])
        broadcast = np.array([shape != () for shape in shapes], dtype=bool)
        for row, part in enumerate(parts):
            part.trainable_params = list(idx)
            expanded.append(part)
            positions.append(starts + broadcast * row)
        offset += sum(int(np.prod(sh)) for sh in shapes)
    config = device.setup_execution_config(ExecutionConfig(gradient_method="adjoint"))
    processed, postprocess = device.preprocess_transforms(config)(expanded)
    if len(processed) != len(expanded):
        return None
    for new, old in zip(processed, expanded, strict=True):
        if not all(isinstance(m, qml.measurements.ExpectationMP) for m in new.measurements):
            return None
        new_params = new.get_parameters(trainable_only=False)
        old_params = old.get_parameters(trainable_only=False)
        if len(new_params) != len(old_params) or new.trainable_params != old.trainable_params:
            return None
        if not all(np.array_equal(a, b) for a, b in zip(new_params, old_params, strict=True)):
            return None
    results, jacobians = device.execute_and_compute_derivatives(tuple(processed), config)
    results = postprocess(results)
    out = np.concatenate(
        [flatten_result(r, t) for r, t in zip(results, expanded, strict=True)], axis=0
    ).astype(np.float64)
    jac = [
        np.asarray(j, dtype=np.float64).reshape(len(t.measurements), len(t.trainable_params))
        for j, t in zip(jacobians, expanded, strict=True)
    ]
    size = chunk.params.size

    def vjp(dy: np.ndarray) -> np.ndarray:
        d_params = np.zeros(size)
        for row, (j, pos) in enumerate(zip(jac, positions, strict=True)):
            np.add.at(d_params, pos, dy[row] @ j)
        return d_params

    return out, vjp


def flatten_result(result: Any, tape: qml.tape.QuantumScript) -> Any:
    """Turn one tape's result into rows ``(batch, n_outputs)``: measurements concatenated."""
    batch = tape.batch_size or 1
    parts = result if len(tape.measurements) > 1 else (result,)
    return anp.concatenate([anp.reshape(part, (batch, -1)) for part in parts], axis=1)
