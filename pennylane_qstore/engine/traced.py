"""Run a circuit function ``qfunc(inputs, **weights)`` on the engine, recorded on every call.

Layers call the same circuit every step with new inputs and weights. Every call records the
user's function once on that call's own torch tensors (the inputs broadcast over the batch), so
whatever the function computes from its arguments (``clip``, ``abs``, ``%``, control flow on
values, any torch op) is what the engine simulates, and torch's autograd differentiates that
classical code itself. What is reused between calls is the compiled program, cached by circuit
structure (:func:`pennylane_qstore.engine.api.compile_tape`), never the angles.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pennylane as qml
import torch
from pennylane.tape import QuantumScript

from pennylane_qstore.engine.api import execute_tape
from pennylane_qstore.engine.program import EngineUnsupportedError
from pennylane_qstore.engine.recipes import Recipe


def record(
    qfunc: Callable,
    inputs: torch.Tensor,
    weights: Mapping[str, torch.Tensor],
    input_arg: str = "inputs",
) -> tuple[QuantumScript, Any]:
    """Record ``qfunc(input_arg=inputs, **weights)`` as a tape without executing it.

    Returns:
        The tape and the function's return value (its measurement structure).
    """
    with qml.queuing.AnnotatedQueue() as queue:
        returned = qfunc(**{input_arg: inputs}, **weights)
    return QuantumScript.from_queue(queue), returned


class TracedCircuit:
    """``qfunc(inputs, **weights)`` on a fixed register, simulated by the engine.

    Args:
        qfunc: Quantum function taking ``inputs`` of shape ``(batch, features)`` and keyword
            weights; it returns ``expval`` measurements.
        weight_shapes: Shape of every weight argument, in the order weights are passed.
        n_features: Number of input features.
        wires: Register wires, in order; defaults to the wires the circuit uses.
        dtype: ``torch.complex64`` or ``torch.complex128``.
        input_arg: Name of the argument that receives the inputs.

    Raises:
        EngineUnsupportedError: If the circuit (recorded once on zeros) uses something the
            engine cannot run. A later call whose structure differs may raise it too.
    """

    def __init__(
        self,
        qfunc: Callable,
        weight_shapes: Mapping[str, Sequence[int]],
        n_features: int,
        wires: Sequence | None = None,
        dtype: torch.dtype = torch.complex64,
        input_arg: str = "inputs",
    ) -> None:
        self.qfunc = qfunc
        self.weight_shapes = {k: tuple(v) for k, v in weight_shapes.items()}
        self.n_features = int(n_features)
        self.dtype = dtype
        self.input_arg = input_arg
        probe_x = torch.zeros(2, self.n_features, dtype=torch.float64)
        probe_w = [torch.zeros(s, dtype=torch.float64) for s in self.weight_shapes.values()]
        tape, _ = self._record(probe_x, probe_w)
        self.wires = tape.wires if wires is None else qml.wires.Wires(wires)
        execute_tape(tape, torch.complex128, self.wires)  # raises if the engine cannot run it

    def with_dtype(self, dtype: torch.dtype) -> TracedCircuit:
        """Return this circuit simulated in ``dtype``."""
        if dtype == self.dtype:
            return self
        twin = object.__new__(TracedCircuit)
        twin.__dict__.update(self.__dict__)
        twin.dtype = dtype
        return twin

    def _record(
        self, inputs: torch.Tensor, weights: Sequence[torch.Tensor]
    ) -> tuple[QuantumScript, Any]:
        return record(
            self.qfunc, inputs, dict(zip(self.weight_shapes, weights, strict=True)), self.input_arg
        )

    def run(
        self, inputs: torch.Tensor, weights: Sequence[torch.Tensor], recipe: Recipe | None = None
    ) -> tuple[torch.Tensor, Any]:
        """Record and simulate one call; return ``(batch, n_outputs)`` values and the return value
        of the function (so callers can shape outputs as the QNode would).

        ``recipe`` differentiates by parameter-shift, finite differences or SPSA instead of the
        adjoint method (:mod:`pennylane_qstore.engine.recipes`).
        """
        batch = inputs.shape[0] if inputs.dim() > 1 else 1
        tape, returned = self._record(inputs, weights)
        if not set(tape.wires) <= set(self.wires):
            raise EngineUnsupportedError(
                f"this call uses wires {tape.wires.tolist()} outside the register "
                f"{self.wires.tolist()}"
            )
        try:
            out = execute_tape(tape, self.dtype, self.wires, inputs.device, recipe)
        except (RuntimeError, ValueError, TypeError, IndexError) as exc:
            # the user's function ran fine; the engine cannot simulate what it recorded (e.g. a
            # custom gate whose matrix does not broadcast): callers fall back to the device
            raise EngineUnsupportedError(f"the engine cannot simulate this circuit: {exc}") from exc
        return (out if tape.batch_size is not None else out.expand(batch, -1)), returned

    def __call__(
        self, inputs: torch.Tensor, weights: Sequence[torch.Tensor], recipe: Recipe | None = None
    ) -> torch.Tensor:
        """Return ``(batch, n_outputs)`` expectation values, differentiable by adjoint (or by
        ``recipe``).

        Args:
            inputs: ``(batch, features)`` tensor (or ``(features,)``, recorded unbatched: the
                function sees exactly what it was given); its device is where it runs.
            weights: One tensor per entry of ``weight_shapes``, in the same order.
        """
        return self.run(inputs, weights, recipe)[0]
