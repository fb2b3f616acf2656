"""Validation of a torch model on another device: train on simulators, validate on hardware.

:func:`on_device` runs every quantum layer of a model on a given device inside a ``with`` block
(weights shared, the layers' own devices restored on exit, also on exceptions), with its cost
tagged as phase ``"validation"``; :func:`evaluate_on` evaluates a metric over a data loader
that way. For example, training on ``qstore.router`` simulators and validating each epoch on
``qml.device("qstore.ionq", backend="qpu.aria-1", shots=..., budget=...)``.
"""

from __future__ import annotations

import contextlib
import logging
import numbers
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pennylane as qml
import torch
from torch import nn

from pennylane_qstore.budget import phase as budget_phase
from qstore_layers.torch_exec import TorchExecution

logger = logging.getLogger(__name__)

Metric = Callable[[torch.Tensor, torch.Tensor], Any]


def accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Fraction of rows whose largest output is the target class."""
    return (outputs.argmax(dim=-1) == targets).to(torch.float64).mean()


def quantum_layers(model: nn.Module) -> list[nn.Module]:
    """The quantum layers (``QuantumLayer``, ``QuantumLinear``) of ``model``, itself included."""
    return [m for m in model.modules() if isinstance(getattr(m, "execution", None), TorchExecution)]


def _device_for(device: Any, layer: nn.Module) -> Any:
    """``device`` itself, or a device of that name on the layer's wires."""
    if isinstance(device, str):
        return qml.device(device, wires=layer.executor.qnode.device.wires)
    if not isinstance(device, qml.devices.Device):
        raise TypeError(
            f"device must be a PennyLane device or a device name, got {type(device).__name__}; "
            "e.g. qml.device('qstore.ionq', wires=4, backend='qpu.aria-1', shots=1000)."
        )
    return device


@contextlib.contextmanager
def on_device(
    model: nn.Module, device: Any, phase: str | None = "validation"
) -> Iterator[nn.Module]:
    """Run every quantum layer of ``model`` on ``device`` inside the block.

    Args:
        model: A module containing quantum layers.
        device: A PennyLane device (its shots are used) or a device name.
        phase: Cost phase of the work in the block (``None``: the layers' own tags).

    Raises:
        ValueError: If ``model`` contains no quantum layer.
    """
    layers = quantum_layers(model)
    if not layers:
        raise ValueError(
            f"{type(model).__name__} contains no qstore_layers quantum layer "
            "(QuantumLayer, QuantumLinear); on_device has nothing to move."
        )
    saved = [(layer, layer.executor, layer.execution) for layer in layers]
    try:
        for layer, executor, _ in saved:
            moved = executor.for_device(_device_for(device, layer))
            layer.executor, layer.execution = moved, TorchExecution(moved)
        with budget_phase(phase) if phase is not None else contextlib.nullcontext():
            yield model
    finally:
        for layer, executor, execution in saved:
            layer.executor, layer.execution = executor, execution


def evaluate_on(
    model: nn.Module,
    device: Any,
    data: Iterable[tuple[Any, Any]],
    metric: Metric = accuracy,
    max_batches: int | None = None,
    phase: str = "validation",
) -> float:
    """Evaluate ``metric`` over ``data`` with the model's quantum layers on ``device``.

    The model runs in eval mode under ``torch.no_grad()`` (its mode is restored after).

    Args:
        model: The model to evaluate.
        device: See :func:`on_device`.
        data: Batches ``(inputs, targets)``, e.g. a ``DataLoader``.
        metric: ``metric(outputs, targets)`` -> number, averaged over rows weighted by batch
            size; default: :func:`accuracy`.
        max_batches: Evaluate at most this many batches (hardware is priced per shot).
        phase: Cost phase of the evaluation.

    Returns:
        The row-weighted mean of ``metric``.
    """
    if not callable(metric):
        raise TypeError(f"metric must be callable(outputs, targets), got {metric!r}.")
    if max_batches is not None and (
        isinstance(max_batches, bool)
        or not isinstance(max_batches, numbers.Integral)
        or max_batches < 1
    ):
        raise ValueError(f"max_batches must be an integer >= 1 or None, got {max_batches!r}.")
    total, rows = 0.0, 0
    was_training = model.training
    model.eval()
    try:
        with on_device(model, device, phase), torch.no_grad():
            for index, (inputs, targets) in enumerate(data):
                if max_batches is not None and index >= max_batches:
                    break
                n = len(inputs)
                total += float(metric(model(inputs), targets)) * n
                rows += n
    finally:
        model.train(was_training)
    if rows == 0:
        raise ValueError("evaluate_on got no batches from data; pass a non-empty data loader.")
    logger.debug("evaluated %d rows on %s", rows, getattr(device, "name", device))
    return total / rows
