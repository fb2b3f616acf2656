"""Checks of what the IonQ compiler is given, each with an error naming the fix."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pennylane as qml
from pennylane.measurements import ExpectationMP, MeasurementProcess, ProbabilityMP, VarianceMP
from pennylane.operation import Operator
from pennylane.tape import QuantumScript

ENTANGLERS = ("ms", "zz")
PASSES = ("cancel", "toffoli", "resynthesise")
"""The optimising passes, in the order they run (virtual Z and one-qubit fusion always run)."""
SUPPORTED_MEASUREMENTS = "expval, var and probs (of any observable PennyLane can diagonalise)"


def check_entangler(entangler: str) -> None:
    if entangler not in ENTANGLERS:
        raise ValueError(
            f"entangler must be 'ms' (Aria) or 'zz' (Forte), got {entangler!r}; "
            "pass entangler='ms' or entangler='zz'"
        )


def check_finite(operations: Sequence[Operator]) -> None:
    for op in operations:
        ndims = getattr(op, "ndim_params", None) or (0,) * len(op.data)
        for value, ndim in zip(op.data, ndims, strict=False):
            array = np.asarray(qml.math.unwrap(value))
            if not np.issubdtype(array.dtype, np.number) or not np.all(np.isfinite(array)):
                raise ValueError(
                    f"{op.name} on wires {op.wires.tolist()} has a non-finite or non-numeric "
                    f"parameter {value!r}; IonQ gates need finite numbers"
                )
            if ndim == 0 and np.iscomplexobj(array):  # angles; matrices may be complex
                raise ValueError(
                    f"{op.name} on wires {op.wires.tolist()} has a complex parameter {value!r}; "
                    "IonQ gate angles must be real numbers"
                )


def check_operations(items: Sequence) -> None:
    for item in items:
        if isinstance(item, MeasurementProcess):
            raise TypeError(
                f"the operation list contains the measurement {item!r}; pass operations only "
                "(measurements are not compiled) or a tape (whose measurements are ignored)"
            )
        if not isinstance(item, Operator):
            raise TypeError(
                f"the operation list contains {item!r}, which is not a PennyLane operation; "
                "pass operations only, or a tape"
            )


def check_not_trainable(tape: QuantumScript) -> None:
    """Refuse parameters being differentiated: the compiled circuit is numeric."""
    for op in tape.operations:
        for value in op.data:
            if _is_trainable(value):
                raise ValueError(
                    f"to_native is not differentiable, but {op.name} on wires "
                    f"{op.wires.tolist()} has a parameter being differentiated; differentiate "
                    "the original QNode instead (or run it on the qstore.ionq device, which "
                    "compiles at execution)"
                )


def _is_trainable(value) -> bool:
    interface = qml.math.get_interface(value)
    if interface == "autograd":
        from autograd.numpy.numpy_boxes import ArrayBox

        return isinstance(value, ArrayBox)
    if interface == "torch":
        return bool(getattr(value, "requires_grad", False))
    if interface == "tensorflow":
        return bool(qml.math.requires_grad(value))
    if interface == "jax":
        import jax

        return isinstance(value, jax.core.Tracer) and type(value).__name__ in (
            "JVPTracer",
            "LinearizeTracer",
        )
    return False


def check_passes(passes: Sequence[str]) -> tuple[str, ...]:
    if isinstance(passes, str) or any(p not in PASSES for p in passes):
        raise ValueError(
            f"passes must be a sequence of names from {PASSES}, got {passes!r}; "
            "e.g. passes=('cancel',) or passes=() for none"
        )
    return tuple(p for p in PASSES if p in passes)


def check_measurements(tape: QuantumScript) -> None:
    for mp in tape.measurements:
        if not isinstance(mp, ExpectationMP | VarianceMP | ProbabilityMP):
            raise ValueError(
                f"{type(mp).__name__} ({mp}) cannot be computed from IonQ's probabilities; "
                f"supported measurements: {SUPPORTED_MEASUREMENTS}"
            )
