"""``EngineDevice``: the engine behind PennyLane's new device API (a ``qstore.router`` target).

Analytic only. Circuits with torch parameters return torch tensors that are differentiable
through the engine's adjoint pass, so the device offers ``diff_method="backprop"`` with the
torch interface; other interfaces get NumPy results and PennyLane's gradient transforms.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pennylane as qml
import torch
from autograd.numpy.numpy_boxes import ArrayBox
from pennylane.devices import Device, ExecutionConfig
from pennylane.devices.capabilities import observable_stopping_condition_factory
from pennylane.devices.modifiers import single_tape_support
from pennylane.devices.preprocess import decompose, validate_measurements, validate_observables
from pennylane.tape import QuantumScript
from pennylane.transforms.core import CompilePipeline

from pennylane_qstore.engine.api import execute_tape
from pennylane_qstore.engine.program import (
    MAX_GENERIC_WIRES,
    EngineUnsupportedError,
    is_state_prep,
)

_TORCH_OR_NONE = (qml.math.Interface.TORCH, qml.math.Interface.AUTO, qml.math.Interface.NUMPY)
"""Interfaces whose backprop the engine serves (torch autograd; NumPy needs no gradient)."""

_DTYPES = {"complex64": torch.complex64, "complex128": torch.complex128}


def _stops_at(op: qml.operation.Operator) -> bool:
    if is_state_prep(op) or isinstance(op, qml.GlobalPhase):
        return True
    return op.has_matrix and 0 < len(op.wires) <= MAX_GENERIC_WIRES


def _traced_elsewhere(value) -> bool:
    """Whether ``value`` is being differentiated or traced by a framework other than torch."""
    interface = qml.math.get_interface(value)
    if interface in ("numpy", "torch", "scipy"):
        return False
    if interface == "autograd":
        return isinstance(value, ArrayBox)
    return True  # jax / tensorflow values: traced or watched, the engine cannot follow them


@single_tape_support
class EngineDevice(Device):
    """Batched torch state-vector simulator with adjoint gradients.

    Args:
        wires: Device wires (optional).
        shots: Must be ``None``: the engine is analytic.
        c_dtype: ``"complex128"`` (default, agrees with ``default.qubit`` to ~1e-12) or
            ``"complex64"`` (about 2x faster on large states, ~1e-6).

    Raises:
        ValueError: On shots or an unknown ``c_dtype``.
    """

    name = "qstore.engine"
    config_filepath = Path(__file__).with_name("engine.toml")

    def __init__(self, wires: Any = None, shots: Any = None, c_dtype: str = "complex128") -> None:
        if shots is not None:
            raise ValueError(
                "The engine is analytic: use shots=None, or route sampled circuits to another "
                "target (qstore.router does this automatically)."
            )
        if c_dtype not in _DTYPES:
            raise ValueError(f"c_dtype must be one of {sorted(_DTYPES)}, got {c_dtype!r}.")
        super().__init__(wires=wires, shots=shots)
        self.c_dtype = _DTYPES[c_dtype]

    def supports_derivatives(self, execution_config=None, circuit=None) -> bool:
        """Backprop with the torch interface (gradients by the engine's adjoint pass)."""
        if execution_config is None:
            return True
        interface = execution_config.interface
        return execution_config.gradient_method in ("backprop", "best") and (
            interface is None or qml.math.Interface(interface) in _TORCH_OR_NONE
        )

    def setup_execution_config(self, config=None, circuit=None) -> ExecutionConfig:
        """Resolve ``best`` to ``backprop``."""
        config = config or ExecutionConfig()
        if config.gradient_method == "best":
            config = replace(config, gradient_method="backprop")
        return config

    def preprocess_transforms(self, execution_config=None) -> CompilePipeline:
        """Decompose to gates the engine applies directly; accept the measurements and
        observables of ``engine.toml`` (analytic expectation values of Pauli sums)."""
        caps = self.capabilities
        program = CompilePipeline()
        program.add_transform(decompose, stopping_condition=_stops_at, name=self.name)
        program.add_transform(
            validate_measurements,
            analytic_measurements=lambda mp: type(mp).__name__ in caps.measurement_processes,
            name=self.name,
        )
        supported = observable_stopping_condition_factory(caps)
        program.add_transform(
            validate_observables,
            stopping_condition=lambda obs: supported(obs) and obs.pauli_rep is not None,
            name=self.name,
        )
        return program

    def execute(self, circuits, execution_config=None):
        """Simulate every circuit; torch parameters give torch results, else NumPy."""
        return tuple(self._run(c) for c in circuits)

    def _run(self, tape: QuantumScript):
        if tape.shots:
            raise EngineUnsupportedError("The engine is analytic; this tape has shots.")
        foreign = {
            qml.math.get_interface(d)
            for op in tape.operations
            for d in op.data
            if _traced_elsewhere(d)
        }
        if foreign:
            raise EngineUnsupportedError(
                f"The engine computes with torch and cannot trace {sorted(foreign)} parameters; "
                "use interface='torch', or run this circuit on another device or target."
            )
        wires = self.wires if self.wires is not None else tape.wires
        values = execute_tape(tape, self.c_dtype, wires)
        uses_torch = any(isinstance(d, torch.Tensor) for op in tape.operations for d in op.data)
        if not uses_torch:
            values = np.asarray(values.detach().cpu().numpy(), dtype=np.float64)
        columns = tuple(values[..., j] for j in range(len(tape.measurements)))
        return columns[0] if len(columns) == 1 else columns
