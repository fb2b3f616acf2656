"""Compile once per structure: native circuits for new parameter values without recompiling.

Circuits that differ only in their rotation angles (every parameter-shift or SPSA batch, every
training step) share one *structure*: the operation types, wires, hyperparameters and fixed data.
:class:`StructureCache` compiles a structure once as a *template* and then only substitutes angles.

Why substitution is exact: every rotation angle is routed through a *frame ancilla* per qubit
(``RZ(θ)`` on ``q`` is ``IsingZZ(θ)`` of ``q`` with an ancilla in ``|0⟩``; ``RX``/``RY``/``Rot``/
``PhaseShift`` and the controlled rotations are written with fixed Cliffords around such
rotations; ``IsingXX/YY/ZZ``, ``MultiRZ`` and ``PauliRot`` keep their interaction), so every
single-qubit run the compiler fuses and synthesises is parameter-free, and angles only move virtual
Z frames and interaction angles. The emitted phases, angles, frames and global phase are then
affine in the parameters (modulo a turn). The template stores them at a generic point ``p_r`` and
their slopes ``J`` (one compile per parameter); a new circuit gets ``values(p_r) + J·(p - p_r)``.
Before a template is used it must reproduce a fresh template compile at a second random point to
1e-10; otherwise (a decomposition that is not affine in its data, like ``SpecialUnitary``'s)
the structure is marked uncacheable and every circuit is compiled afresh. A substituted MS/ZZ angle
outside IonQ's ``(0, 1/4]`` turns (a ±π/2 shift of a two-qubit rotation) is folded back exactly
(:mod:`.substitution`: sign into an MS phase or an X conjugation of ZZ, a half turn into a GPI
pair or virtual Z frames), at the price of two extra pulses; an angle that lands on 0 (the gate
vanishes) falls back to a fresh compile. Special angles (``RX(0)``) are not exploited: the
template keeps their pulses.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pennylane as qml
from pennylane.operation import Operator
from pennylane.tape import QuantumScript

from pennylane_qstore.ionq.compile_checks import PASSES, check_entangler, check_passes
from pennylane_qstore.ionq.compiler import compile_circuit, compile_operations
from pennylane_qstore.ionq.native import NativeCircuit, NativeGate
from pennylane_qstore.ionq.substitution import Template, substitute, wrapped_turns

logger = logging.getLogger(__name__)

MATCH_ATOL = 1e-10
"""A template must reproduce a fresh compile at a random point to this (turns)."""
ATTEMPTS = 3
"""Random points tried per pass set before a structure is declared uncacheable."""
STEP = 1e-3
"""Finite-difference step (radians) for the slopes (exact for affine values up to rounding)."""
JITTER = 0.01
"""The template point is this close to the first circuit's parameters (off special values)."""
_NONLINEAR = (qml.StatePrep, qml.AmplitudeEmbedding, qml.QubitUnitary, qml.BasisState)


def _ancilla_rz(theta, wire, ancillas: dict) -> Operator:
    return qml.IsingZZ(theta, wires=[wire, ancillas[wire]])


def _rz(theta, wire, anc: dict) -> list[Operator]:
    return [_ancilla_rz(theta, wire, anc)]


def _rx(theta, wire, anc: dict) -> list[Operator]:
    return [qml.Hadamard(wire), _ancilla_rz(theta, wire, anc), qml.Hadamard(wire)]


def _ry(theta, wire, anc: dict) -> list[Operator]:  # RY = S·RX·S†
    return [qml.adjoint(qml.S(wire)), *_rx(theta, wire, anc), qml.S(wire)]


def _crz(theta, control, target, anc: dict) -> list[Operator]:
    # CRZ(θ) = RZ_t(θ/2) · exp(+iθ/4 Z⊗Z)
    return [_ancilla_rz(theta / 2, target, anc), qml.IsingZZ(-theta / 2, wires=[control, target])]


def _parametric(op: Operator, anc: dict) -> list[Operator] | None:
    """Return ``op`` with its angles on frame ancillas, or ``None`` if it is not a rotation."""
    w = op.wires.tolist()
    if isinstance(op, qml.RZ) or (isinstance(op, qml.MultiRZ) and len(w) == 1):
        return _rz(op.data[0], w[0], anc)
    if isinstance(op, qml.RX):
        return _rx(op.data[0], w[0], anc)
    if isinstance(op, qml.RY):
        return _ry(op.data[0], w[0], anc)
    if isinstance(op, qml.PhaseShift | qml.U1):  # e^{iφ/2}·RZ(φ)
        return [qml.GlobalPhase(-op.data[0] / 2, wires=w), *_rz(op.data[0], w[0], anc)]
    if isinstance(op, qml.Rot):
        phi, theta, omega = op.data
        return [*_rz(phi, w[0], anc), *_ry(theta, w[0], anc), *_rz(omega, w[0], anc)]
    if isinstance(op, qml.CRZ):
        return _crz(op.data[0], *w, anc)
    if isinstance(op, qml.CRX):
        return [qml.Hadamard(w[1]), *_crz(op.data[0], *w, anc), qml.Hadamard(w[1])]
    if isinstance(op, qml.CRY):
        t = w[1]
        basis = [qml.adjoint(qml.S(t)), qml.Hadamard(t)]
        return [*basis, *_crz(op.data[0], *w, anc), qml.Hadamard(t), qml.S(t)]
    if isinstance(op, qml.ControlledPhaseShift):  # e^{iφ/4} RZ_c(φ/2) RZ_t(φ/2) e^{iφ/4 Z⊗Z}
        phi = op.data[0]
        return [
            qml.GlobalPhase(-phi / 4, wires=w),
            *_rz(phi / 2, w[0], anc),
            *_rz(phi / 2, w[1], anc),
            qml.IsingZZ(-phi / 2, wires=w),
        ]
    return None


_KEEP = (qml.IsingXX, qml.IsingYY, qml.IsingZZ, qml.MultiRZ, qml.PauliRot)
"""Two-qubit rotations whose interaction angle the compiler already keeps affine."""


def parametric_operations(operations: Sequence[Operator], anc: dict) -> list[Operator]:
    """Rewrite ``operations`` with every rotation angle on the frame ancillas ``anc``."""
    out: list[Operator] = []
    for op in operations:
        if not op.data or isinstance(op, (*_KEEP, qml.GlobalPhase)):
            out.append(op)
            continue
        rewritten = _parametric(op, anc)
        if rewritten is not None:
            out.extend(rewritten)
        elif op.has_decomposition and not isinstance(op, _NONLINEAR):
            out.extend(parametric_operations(op.decomposition(), anc))
        else:
            out.append(op)
    return out


_PLAIN = (qml.RX, qml.RY, qml.RZ, qml.Rot, qml.PhaseShift, qml.IsingXX, qml.IsingYY, qml.IsingZZ)
_PLAIN += (qml.CRX, qml.CRY, qml.CRZ, qml.ControlledPhaseShift, qml.Hadamard, qml.CNOT, qml.CZ)
"""Operations whose type, wires and data shape are their whole structure."""


def _array(value) -> np.ndarray:
    if isinstance(value, float | np.ndarray):
        return np.asarray(value)
    return np.asarray(qml.math.unwrap(value))


_PLAIN_TYPES = frozenset(_PLAIN)
_SCALARS = frozenset({float, np.float64})


_CONTROLLED = frozenset({qml.CNOT, qml.CZ, qml.CRX, qml.CRY, qml.CRZ, qml.ControlledPhaseShift})


def _wire_key(op: Operator):
    """Return the wires of ``op`` as a key, quickly (``Controlled.wires`` is rebuilt per call)."""
    if type(op) in _CONTROLLED:
        return op.hyperparameters["control_wires"].labels, op._wires.labels
    return op.wires


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


def _flat_parameters(operations: Sequence[Operator]) -> tuple[np.ndarray, list]:
    """Return the real parameters (flattened) and, per operation, its structural key."""
    values, key = [], []
    for op in operations:
        cls = type(op)
        scalars = _real_scalars(op.data) if cls in _PLAIN_TYPES else None
        if scalars is not None:  # the common case; anything else takes the long way
            values.extend(scalars)
            key.append((cls, _wire_key(op), len(scalars)))
            continue
        data = [_array(d) for d in op.data]
        variable = not isinstance(op, _NONLINEAR) and all(d.dtype.kind == "f" for d in data)
        fixed = () if variable else tuple(d.tobytes() for d in data)
        hyper = "" if type(op) in _PLAIN else _hyper(op)
        key.append((type(op), op.wires, tuple(d.shape for d in data), fixed, hyper))
        if variable:
            for d in data:
                values.extend(d.ravel().tolist())
    return np.array(values), key


def _fully_keyed(operations: Sequence[Operator]) -> bool:
    """Whether :func:`_hyper` keeps every hyperparameter whole, so that a parameter-free key
    names one circuit (it reduces an operator-valued one to its type and wires, whose data is
    then only in ``op.data``, and NumPy abbreviates the repr of a long array)."""

    def whole(value: Any) -> bool:
        if isinstance(value, Operator):
            return False
        if isinstance(value, (list, tuple)):
            return all(whole(v) for v in value)
        return not (isinstance(value, np.ndarray) and value.size > 100)

    return all(
        type(op) in _PLAIN_TYPES or all(whole(v) for v in op.hyperparameters.values())
        for op in operations
    )


def _hyper(op: Operator) -> str:
    """Return the hyperparameters as a key (a controlled gate's base by type and wires only)."""
    items = []
    for name, value in op.hyperparameters.items():
        if isinstance(value, Operator):
            value = (type(value).__name__, tuple(value.wires))
        items.append((name, value))
    return repr(items)


def _with_parameters(operations: Sequence[Operator], values: np.ndarray) -> list[Operator]:
    """Return ``operations`` with their real parameters replaced by ``values``, in order."""
    out, i = [], 0
    for op in operations:
        data = [np.asarray(qml.math.unwrap(d)) for d in op.data]
        if isinstance(op, _NONLINEAR) or not all(np.issubdtype(d.dtype, np.floating) for d in data):
            out.append(op)
            continue
        new = []
        for d in data:
            new.append(values[i : i + d.size].reshape(d.shape) if d.shape else values[i])
            i += d.size
        out.append(qml.ops.functions.bind_new_parameters(op, new))
    return out


def _vector(native: NativeCircuit) -> tuple[tuple, np.ndarray]:
    """Return the gate skeleton and the numbers of ``native`` (turns, meaningful modulo 1).

    The numbers are the gate phases and angles, the frames, and ``global_phase - Σ frames/2``:
    a frame is only defined modulo 2 turns together with the global phase (``RZ(f+1) = -RZ(f)``),
    and that combination removes the ambiguity, so all of them are affine modulo 1.
    """
    skeleton = tuple((g.name, g.qubits) for g in native.gates)
    numbers = [
        x for g in native.gates for x in (*g.phases, *(() if g.angle is None else (g.angle,)))
    ]
    phase = native.global_phase - sum(native.frames) / 2
    return skeleton, np.array([*numbers, *native.frames, phase])


class StructureCache:
    """Compile circuits that share a structure once, then substitute their parameters.

    A structure whose template would need more two-qubit gates than a fresh compile (the frame
    ancillas can split a block that resynthesis would have shrunk) is compiled afresh instead.

    Args:
        max_structures: how many templates to keep (least recently built dropped first).
    """

    def __init__(self, max_structures: int = 64) -> None:
        self.max_structures = max_structures
        self._templates: dict[tuple, tuple[tuple, Template | NativeCircuit | None]] = {}
        self.hits = 0
        self.misses = 0

    def compile(
        self,
        circuit: QuantumScript | Sequence[Operator],
        entangler: str = "ms",
        wires: Sequence | None = None,
        max_qubits: int | None = None,
        passes: Sequence[str] = PASSES,
    ) -> NativeCircuit:
        """Return the native circuit, from the structure's template when it has one.

        Same arguments, checks and contract as
        :func:`~pennylane_qstore.ionq.compiler.compile_circuit` (the gates may differ from a fresh
        compile, the unitary does not).
        """
        check_entangler(entangler)
        passes = check_passes(passes)
        operations = list(circuit.operations if isinstance(circuit, QuantumScript) else circuit)
        values, key = _flat_parameters(operations)
        full_key = (entangler, None if wires is None else tuple(wires), passes, tuple(key))
        entry = self._templates.get(full_key)
        if entry is None:  # the wires of the operations are part of the key: labels are too
            self.misses += 1
            labels = tuple(
                dict.fromkeys(w for op in operations for w in op.wires) if wires is None else wires
            )
            fresh = compile_circuit(operations, entangler, labels, max_qubits, passes)
            if values.size == 0 and _fully_keyed(operations):
                # nothing to substitute and the key holds every gate's data and settings: the
                # key is the circuit, so this compile serves every later copy as it is
                self._store(full_key, (labels, fresh))
                return fresh
            template = self._build(operations, values, entangler, labels, passes)
            if template is not None and _two_qubit(template.skeleton) > _two_qubit(fresh.gates):
                logger.debug("structure not cached: its template has more two-qubit gates")
                template = None
            self._store(full_key, (labels, template))
            if template is None:
                return fresh
        else:
            labels, template = entry
            if max_qubits is not None and len(labels) > max_qubits:
                return compile_circuit(operations, entangler, labels, max_qubits, passes)  # raises
        if isinstance(template, NativeCircuit):  # a parameter-free structure, compiled once
            self.hits += 1
            return template
        usable = template is not None and np.all(np.isfinite(values))
        native = substitute(template, values, labels, entangler) if usable else None
        if native is None:  # a fresh compile (which also names a non-finite parameter)
            return compile_circuit(operations, entangler, labels, max_qubits, passes)
        self.hits += 1
        return native

    def _store(self, key: tuple, entry: tuple[tuple, Template | NativeCircuit | None]) -> None:
        if len(self._templates) >= self.max_structures:
            self._templates.pop(next(iter(self._templates)))
        self._templates[key] = entry

    def _build(self, operations, values, entangler, labels, passes) -> Template | None:
        """Return the template of a structure, or ``None`` when it cannot be substituted."""
        rng = np.random.default_rng(len(values))
        for attempt_passes in (passes, tuple(p for p in passes if p != "resynthesise")):
            for _ in range(ATTEMPTS):  # a random point may sit where an angle changes branch
                try:
                    template = _template(operations, values, entangler, labels, attempt_passes, rng)
                except (
                    ValueError,
                    ArithmeticError,
                    TypeError,
                    LookupError,
                    NotImplementedError,
                ) as exc:
                    # e.g. an operator whose parameters cannot be rebound one by one (an Exp of
                    # a Hamiltonian): compiled afresh, exactly, every time
                    logger.debug("structure not cacheable: %s", exc)
                    return None
                if template is not None:
                    return template
        logger.debug("structure not cacheable: its compiled values are not affine")
        return None


def _two_qubit(gates: Sequence[NativeGate]) -> int:
    return sum(len(g.qubits) == 2 for g in gates)


def _structure_compile(operations, values, entangler, labels, passes) -> NativeCircuit:
    anc = {w: ("__frame__", w) for w in labels}
    ops = parametric_operations(_with_parameters(operations, values), anc)
    return compile_operations(ops, entangler, labels, passes, tuple(anc.values()))


def _template(operations, values, entangler, labels, passes, rng) -> Template | None:
    """Build and check a template at a random point; ``None`` if it does not reproduce."""
    point = values + rng.uniform(-JITTER, JITTER, values.shape)
    base = _structure_compile(operations, point, entangler, labels, passes)
    skeleton, at_point = _vector(base)
    slopes = np.zeros((len(at_point), len(values)))
    for j in range(len(values)):
        shifted = point.copy()
        shifted[j] += STEP
        other_skeleton, there = _vector(
            _structure_compile(operations, shifted, entangler, labels, passes)
        )
        if other_skeleton != skeleton:
            return None
        slopes[:, j] = wrapped_turns(there - at_point) / STEP
    check = point + rng.uniform(-2 * JITTER, 2 * JITTER, values.shape)
    check_skeleton, expected = _vector(
        _structure_compile(operations, check, entangler, labels, passes)
    )
    predicted = at_point + slopes @ (check - point)
    if check_skeleton != skeleton or np.max(
        np.abs(wrapped_turns(predicted - expected)), initial=0
    ) > (MATCH_ATOL):
        return None
    slots, index = [], 0
    for gate in base.gates:
        index += len(gate.phases)
        if gate.angle is not None:
            slots.append(index)
            index += 1
    return Template(
        base.gates, base.output_qubits, point, at_point, slopes, np.array(slots, dtype=int)
    )
