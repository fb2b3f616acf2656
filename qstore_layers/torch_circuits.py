"""The Torch layer's forward pass on a batch of input circuits (see :mod:`.circuit_inputs`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pennylane as qml
import torch

from qstore_layers.circuit_inputs import EMPTY, CircuitInputs
from qstore_layers.torch_run import as_input_tensor, run_layer

__all__ = ["run_circuit_batch"]


def _features(ci: CircuitInputs, features: Any, n_rows: int, single: bool) -> torch.Tensor | None:
    """The numeric features as ``(rows, F)``, checked against the number of circuits."""
    if not ci.takes_features:
        if features is not None:
            raise TypeError(
                f"This QNode takes no {'inputs'!r} argument, only {ci.circuit_arg!r}: call "
                "layer(circuits), or add an inputs argument to the QNode for numeric features."
            )
        return None
    if features is None:
        raise TypeError(
            f"This QNode takes numeric features ({ci.input_arg!r}) and circuits: call "
            f"layer(x, {ci.circuit_arg}=circuits) with one row of x per circuit."
        )
    x = as_input_tensor(features)
    if x.dim() != (1 if single else 2) or (not single and x.shape[0] != n_rows):
        want = "(features,) for one circuit" if single else f"({n_rows}, features)"
        raise ValueError(
            f"With {n_rows} input circuit(s) the features must have shape {want}; got "
            f"{tuple(x.shape)}."
        )
    return x.reshape(n_rows, -1)


def run_circuit_batch(
    ci: CircuitInputs, features: Any, circuits: Any, weights: Mapping[str, torch.Tensor]
) -> torch.Tensor:
    """Run the model on every row's input circuit (and features); rows keep their order.

    Each group of same-structure circuits is one call of its structure's
    :class:`~qstore_layers.torch_exec.TorchExecution` (engine or QNode path).
    """
    if circuits is None:
        if ci.takes_features:
            raise TypeError(
                f"Pass the input circuits: layer(x, {ci.circuit_arg}=[tape_or_qasm, ...])."
            )
        features, circuits = None, features
    groups, single = ci.read(circuits)
    n_rows = sum(len(g.rows) for g in groups)
    x = _features(ci, features, n_rows, single)
    first = next(iter(weights.values()), None)
    like = x if x is not None else first if first is not None else torch.zeros(())
    if not like.is_floating_point():
        like = like.to(torch.get_default_dtype())
    n_features = 0 if x is None else x.shape[1]
    if not groups:  # an empty batch: the output shape of a circuit without gates
        empty = torch.zeros(0, max(n_features, 1), dtype=like.dtype, device=like.device)
        return run_layer(ci.executor(EMPTY, n_features), empty, weights)
    shots = qml.measurements.Shots(ci.qnode.shots)
    partitioned, sampled = shots.has_partitioned_shots, bool(shots)
    dim = 1 if partitioned else 0  # a shot vector puts one output per setting first
    outs, order = [], []
    for group in groups:
        execution = ci.executor(group.template, n_features)
        angles = torch.as_tensor(group.params, dtype=like.dtype, device=like.device)
        rows = angles if x is None else torch.cat([x[group.rows], angles], dim=1)
        if rows.shape[1] == 0 and not sampled:  # no features, no angles: one exact result
            out = run_layer(execution, rows.new_zeros(1, 1), weights)
            outs.append(out.expand(*out.shape[:dim], len(group.rows), *out.shape[dim + 1 :]))
        elif rows.shape[1] == 0:  # with shots every row is sampled on its own
            one = rows.new_zeros(1, 1)
            outs.append(torch.cat([run_layer(execution, one, weights) for _ in group.rows], dim))
        else:
            outs.append(run_layer(execution, rows, weights))
        order += group.rows
    out = torch.cat(outs, dim=dim)
    inverse = torch.empty(len(order), dtype=torch.long)
    inverse[torch.tensor(order)] = torch.arange(len(order))
    out = out.index_select(dim, inverse.to(out.device))
    return out.select(dim, 0) if single else out
