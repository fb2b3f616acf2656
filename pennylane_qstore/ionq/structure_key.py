"""Structure keys of circuits and their real parameters (see :mod:`.structure`).

A circuit's *structure* is its operation types, wires, hyperparameters and fixed data; its
*parameters* are the real floating-point data of its other operations, flattened in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pennylane as qml
from pennylane.operation import Operator
from pennylane.ops.op_math import CompositeOp, SymbolicOp

from pennylane_qstore.ionq.frames import NONLINEAR

_PLAIN = (qml.RX, qml.RY, qml.RZ, qml.Rot, qml.PhaseShift, qml.IsingXX, qml.IsingYY, qml.IsingZZ)
_PLAIN += (qml.CRX, qml.CRY, qml.CRZ, qml.ControlledPhaseShift, qml.Hadamard, qml.CNOT, qml.CZ)
_PLAIN += (qml.PauliX, qml.PauliY, qml.PauliZ, qml.S, qml.T, qml.SX, qml.SWAP, qml.ISWAP)
_PLAIN += (qml.CY, qml.Toffoli)
"""Operations whose type, wires and data shape are their whole structure."""


def _array(value) -> np.ndarray:
    if isinstance(value, float | np.ndarray):
        return np.asarray(value)
    return np.asarray(qml.math.unwrap(value))


_PLAIN_TYPES = frozenset(_PLAIN)
_SCALARS = frozenset({float, np.float64})


_CONTROLLED = frozenset({qml.CNOT, qml.CZ, qml.CY, qml.Toffoli, qml.CRX, qml.CRY, qml.CRZ})
_CONTROLLED |= {qml.ControlledPhaseShift}
_ADJOINT = type(qml.adjoint(qml.T(0)))


def _real_scalars(data: Sequence) -> list[float] | None:
    """Return ``data`` as floats if every entry is a real scalar, else ``None``."""
    out = []
    for d in data:
        if type(d) not in _SCALARS:
            d = _array(d)
            if d.ndim or d.dtype.kind != "f":
                return None
        out.append(float(d))
    return out


def flat_parameters(operations: Sequence[Operator]) -> tuple[np.ndarray, list]:
    """Return the real parameters (flattened) and, per operation, its structural key."""
    values: list[float] = []
    key: list[tuple] = []
    for op in operations:
        cls = type(op)
        if cls in _PLAIN_TYPES:  # the common case, kept quick; anything else takes the long way
            data = op.data
            if not data or (len(data) == 1 and type(data[0]) in _SCALARS):
                scalars = data
            else:
                scalars = _real_scalars(data)
            if scalars is not None:
                if cls in _CONTROLLED:  # Controlled.wires is rebuilt per call
                    wires = (op.hyperparameters["control_wires"].labels, op._wires.labels)
                else:
                    wires = op.wires.labels  # Wires hashes in Python, its labels do not
                values.extend(scalars)
                key.append((cls, wires, len(scalars)))
                continue
        elif cls is _ADJOINT:
            base = op.base
            if type(base) in _PLAIN_TYPES and not base.data:  # T†, S†
                key.append((cls, type(base), base.wires.labels))
                continue
        data = [_array(d) for d in op.data]
        variable = not isinstance(op, NONLINEAR) and all(d.dtype.kind == "f" for d in data)
        fixed = () if variable else tuple(d.tobytes() for d in data)
        hyper = "" if cls in _PLAIN_TYPES else _hyper(op)
        key.append((cls, op.wires.labels, tuple(d.shape for d in data), fixed, hyper))
        if variable:
            for d in data:
                values.extend(d.ravel().tolist())
    return np.array(values), key


def fully_keyed(operations: Sequence[Operator]) -> bool:
    """Whether the key and the parameters name one circuit: every operator held in a
    hyperparameter is a symbolic operator's base (keyed by its structure, its data the
    operator's own) or a composite's operand, and is itself fully keyed."""

    def whole(value: Any) -> bool:
        if isinstance(value, Operator):
            return False
        if isinstance(value, (list, tuple)):
            return all(whole(v) for v in value)
        return True

    for op in operations:
        if type(op) in _PLAIN_TYPES:
            continue
        for name, value in op.hyperparameters.items():
            if name == "base" and isinstance(op, SymbolicOp):
                nested = [value]
            elif name == "operands" and isinstance(op, CompositeOp):
                nested = list(value)
            elif whole(value):
                continue
            else:
                return False
            if not fully_keyed(nested):
                return False
    return True


def _value_key(value: Any) -> Any:
    if isinstance(value, Operator):
        return type(value).__name__, tuple(value.wires), _hyper(value)
    if isinstance(value, np.ndarray):  # whole: the repr of a long array is abbreviated
        return "array", value.shape, value.dtype.str, value.tobytes()
    if isinstance(value, (list, tuple)):
        return tuple(_value_key(v) for v in value)
    return value


def _hyper(op: Operator) -> str:
    """Return the structure of ``op`` beyond its type and wires: its hyperparameters, operators
    among them by their structure (see :func:`fully_keyed` for when their data is ``op.data``)."""
    return repr([(name, _value_key(value)) for name, value in op.hyperparameters.items()])


def _variable_data(op: Operator) -> list[np.ndarray] | None:
    """Return the data of ``op`` that counts as parameters, or ``None`` if it is fixed."""
    data = [np.asarray(qml.math.unwrap(d)) for d in op.data]
    if isinstance(op, NONLINEAR) or not all(np.issubdtype(d.dtype, np.floating) for d in data):
        return None
    return data


def with_parameters(operations: Sequence[Operator], values: np.ndarray) -> list[Operator]:
    """Return ``operations`` with their real parameters replaced by ``values``, in order."""
    out, i = [], 0
    for op in operations:
        data = _variable_data(op)
        if data is None:
            out.append(op)
            continue
        new = []
        for d in data:
            new.append(values[i : i + d.size].reshape(d.shape) if d.shape else values[i])
            i += d.size
        out.append(qml.ops.functions.bind_new_parameters(op, new))
    return out


def parameter_owners(operations: Sequence[Operator]) -> np.ndarray:
    """Return, per parameter (in the order of :func:`flat_parameters`), its operation's index."""
    owners: list[int] = []
    for k, op in enumerate(operations):
        data = _variable_data(op)
        if data is not None:
            owners.extend([k] * sum(d.size for d in data))
    return np.array(owners, dtype=int)


_PERIODIC = (qml.RX, qml.RY, qml.RZ, qml.Rot, qml.PhaseShift, qml.U1, qml.CRX, qml.CRY, qml.CRZ)
_PERIODIC += (qml.ControlledPhaseShift, qml.IsingXX, qml.IsingYY, qml.IsingZZ, qml.MultiRZ)
_PERIODIC += (qml.PauliRot,)
"""Operations that are ``exp(-iθG/2)`` with ``G`` of eigenvalues ±1, or phase shifts: the same
operator at ``θ + 4π`` in every parameter."""


def periodic_parameters(operations: Sequence[Operator]) -> np.ndarray:
    """Return, per parameter, whether moving it by 4π leaves its operation unchanged."""
    owners = parameter_owners(operations)
    kinds = np.array([type(op) in _PERIODIC for op in operations], dtype=bool)
    return kinds[owners] if owners.size else np.zeros(0, dtype=bool)
