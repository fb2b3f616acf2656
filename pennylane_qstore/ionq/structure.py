"""Compile once per structure: native circuits for new parameter values without recompiling.

Circuits that differ only in their rotation angles (every parameter-shift or SPSA batch, every
training step) share one *structure* (:mod:`.structure_key`): the operation types, wires,
hyperparameters and fixed data. :class:`StructureCache` compiles a structure's *template* and then
only substitutes angles (:mod:`.substitution`).

Why substitution is exact: the operations holding a template's variable parameters are rewritten
with every angle on a *frame ancilla* (:mod:`.frames`), so every single-qubit run the compiler
fuses and synthesises is parameter-free and the angles only move virtual Z frames and interaction
angles. The emitted phases, angles, frames and global phase are then affine in those parameters
(modulo a turn). The template stores them at a generic point ``p_r`` and their slopes ``J`` (one
compile per parameter); a new circuit gets ``values(p_r) + J·(p - p_r)``. Before a template is
used it must reproduce a fresh template compile at a second random point to 1e-10; otherwise (a
decomposition that is not affine in its data, like ``SpecialUnitary``'s) it is not used. A
substituted MS/ZZ angle outside IonQ's ``(0, 1/4]`` turns is folded back exactly, and an
interaction that lands on the identity is left out.

Which parameters are variable: first all of them, which serves every later circuit. When that
template would have more two-qubit gates than a fresh compile (frame ancillas on rotations at
special angles, ``RY(0)`` from a decomposition, keep pulses and split blocks that a fresh compile
removes or resynthesises), the cache compiles afresh and learns which parameters actually change
between circuits of the structure; once it has compiled afresh as often as a template over those
costs, it builds one with the others held at their values (specials exploited), serving every
later circuit that changes only those. A circuit that changes another parameter is compiled afresh
and widens the set. A circuit identical to the structure's first is served its compile again.
A structure whose key does not name one circuit (an operator in a hyperparameter whose data may
not be the operation's own, :func:`~.structure_key.fully_keyed`) is compiled afresh every time.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pennylane.operation import Operator
from pennylane.tape import QuantumScript

from pennylane_qstore.ionq.compile_checks import (
    PASSES,
    check_entangler,
    check_operations,
    check_passes,
)
from pennylane_qstore.ionq.compiler import compile_circuit, compile_operations
from pennylane_qstore.ionq.frames import parametric_operations
from pennylane_qstore.ionq.native import NativeCircuit, NativeGate
from pennylane_qstore.ionq.slopes import grouped_slopes
from pennylane_qstore.ionq.structure_key import (
    flat_parameters,
    fully_keyed,
    parameter_owners,
    periodic_parameters,
    with_parameters,
)
from pennylane_qstore.ionq.substitution import Template, make_template, substitute, wrapped_turns

logger = logging.getLogger(__name__)

MATCH_ATOL = 1e-10
"""A template must reproduce a fresh compile at a random point to this (turns)."""
ATTEMPTS = 3
"""Random points tried per pass set before a template is given up."""
STEP = 1e-3
"""Finite-difference step (radians) for the slopes (exact for affine values up to rounding)."""
JITTER = 0.01
"""The template point is this close to the circuit's parameters (off special values)."""
REACH = 8 * np.pi
"""Radians a parameter may be from the template point (after taking out whole 4π periods where
its operation has them): the slopes are measured, so the error grows with the distance
(about 1e-11 per radian), and farther circuits are compiled afresh."""


@dataclass
class _Structure:
    """What the cache knows of one structure."""

    labels: tuple
    reference: np.ndarray
    """The first circuit's parameters."""
    first: NativeCircuit
    """Its fresh compile, served again to an identical circuit."""
    cacheable: bool
    """Whether the key and the parameters name one circuit (else every compile is fresh)."""
    varied: np.ndarray
    """Per parameter: seen to differ from the reference."""
    served: tuple[Template, np.ndarray, np.ndarray] | None = None
    """The template; per parameter, whether it is variable there (the others are the
    reference's); per variable, whether it has a 4π period. One attribute, so that another thread
    never sees a template with another mask."""
    fresh: int = 0
    """Fresh compiles since the last template attempt."""
    patience: int = 1
    """How many template costs of fresh compiles the next attempt waits for."""


class StructureCache:
    """Compile circuits that share a structure once, then substitute their parameters.

    ``hits`` counts circuits served without compiling, ``misses`` fresh compiles.

    Args:
        max_structures: how many structures to keep (least recently added dropped first).
    """

    def __init__(self, max_structures: int = 64) -> None:
        self.max_structures = max_structures
        self._structures: dict[tuple, _Structure] = {}
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
        :func:`~pennylane_qstore.ionq.compiler.compile_circuit`. The gates may differ from a fresh
        compile, the unitary does not; the two-qubit gates are never more than a fresh compile's
        at generic values of the parameters the template varies (at a special value of one, such
        as ``RX(0)``, a fresh compile may drop gates the template keeps).
        """
        check_entangler(entangler)
        passes = check_passes(passes)
        operations = list(circuit.operations if isinstance(circuit, QuantumScript) else circuit)
        wires = None if wires is None else tuple(wires)
        try:
            values, key = flat_parameters(operations)
        except AttributeError:  # not an operation (a measurement in the list): the clear error
            check_operations(operations)
            raise
        full_key = (entangler, wires, passes, tuple(key))
        entry = self._structures.get(full_key)
        if entry is None:  # the wires of the operations are part of the key: labels are too
            labels = tuple(
                dict.fromkeys(w for op in operations for w in op.wires) if wires is None else wires
            )
            return self._first(full_key, operations, values, entangler, labels, max_qubits, passes)
        labels = entry.labels
        if max_qubits is not None and len(labels) > max_qubits:
            return compile_circuit(operations, entangler, labels, max_qubits, passes)  # raises
        changed = values != entry.reference
        if entry.cacheable and not changed.any():
            self.hits += 1
            return entry.first
        served = entry.served
        if served is not None and not (changed & ~served[1]).any() and np.isfinite(values).all():
            template, mask, periodic = served
            delta = values[mask] - template.point
            delta[periodic] = (delta[periodic] + 2 * np.pi) % (4 * np.pi) - 2 * np.pi
            if np.max(np.abs(delta), initial=0.0) <= REACH:
                self.hits += 1
                return substitute(template, template.point + delta, labels, entangler)
            self.misses += 1
            return compile_circuit(operations, entangler, labels, max_qubits, passes)
        return self._learn(entry, operations, values, changed, entangler, max_qubits, passes)

    def _first(self, key, operations, values, entangler, labels, max_qubits, passes):
        """Compile the first circuit of a structure and try a template over all parameters."""
        self.misses += 1
        fresh = compile_circuit(operations, entangler, labels, max_qubits, passes)
        entry = _Structure(
            labels, values, fresh, fully_keyed(operations), np.zeros(values.shape, dtype=bool)
        )
        if values.size and entry.cacheable:
            everything = np.ones(values.shape, dtype=bool)
            template = _build(operations, values, everything, entangler, labels, passes, fresh)
            entry.served = _served(template, everything, operations)
        if len(self._structures) >= self.max_structures:
            self._structures.pop(next(iter(self._structures)))
        self._structures[key] = entry
        return fresh

    def _learn(self, entry, operations, values, changed, entangler, max_qubits, passes):
        """Compile afresh, widen the varying parameters and build a template when it pays."""
        self.misses += 1
        fresh = compile_circuit(operations, entangler, entry.labels, max_qubits, passes)
        entry.varied |= changed
        entry.fresh += 1
        count = int(entry.varied.sum())
        if entry.cacheable and entry.fresh >= entry.patience * (count + 2):  # a template's cost
            entry.fresh = 0
            mask = entry.varied.copy()
            template = _build(operations, values, mask, entangler, entry.labels, passes, None)
            if template is None:
                entry.patience *= 2
            else:
                entry.served = _served(template, mask, operations)
        return fresh


def _served(template: Template | None, mask: np.ndarray, operations) -> tuple | None:
    return None if template is None else (template, mask, periodic_parameters(operations)[mask])


def _build(operations, values, mask, entangler, labels, passes, fresh) -> Template | None:
    """Return a template with the parameters in ``mask`` variable, or ``None`` if none serves.

    It may not have more two-qubit gates than ``fresh``, or with ``fresh=None`` (the variables
    are known to change) than a fresh compile at its point (the held parameters at their values,
    the variables at generic ones: a circuit's own special values must not refuse a template).
    """
    rewrite = np.zeros(len(operations), dtype=bool)
    owners = parameter_owners(operations)
    rewrite[owners[mask]] = True
    variables = np.flatnonzero(mask)
    rng = np.random.default_rng(len(values))
    bar = None if fresh is None else _two_qubit(fresh.gates)
    for attempt_passes in (passes, tuple(p for p in passes if p != "resynthesise")):
        for _ in range(ATTEMPTS):  # a random point may sit where an angle changes branch
            try:
                how = (entangler, labels, attempt_passes)
                template = _template(
                    operations, values, (variables, owners), rewrite, how, rng, bar, passes
                )
            except (
                ValueError,
                ArithmeticError,
                TypeError,
                LookupError,
                NotImplementedError,
            ) as exc:
                # e.g. an operator whose parameters cannot be rebound one by one (an Exp of a
                # Hamiltonian): compiled afresh, exactly, every time
                logger.debug("structure not cacheable: %s", exc)
                return None
            if template is _WORSE:
                logger.debug("template not used: more two-qubit gates than a fresh compile")
                break
            if template is not None:
                return template
    logger.debug("no template for this structure and these variable parameters")
    return None


def _two_qubit(gates: Sequence[NativeGate]) -> int:
    return sum(len(g.qubits) == 2 for g in gates)


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


def _structure_compile(operations, values, rewrite, how) -> tuple[NativeCircuit, tuple, np.ndarray]:
    """Compile ``operations`` at ``values`` with the ``rewrite`` ones on frame ancillas."""
    entangler, labels, passes = how
    anc = {w: ("__frame__", w) for w in labels}
    ops = parametric_operations(with_parameters(operations, values), anc, rewrite)
    native = compile_operations(ops, entangler, labels, passes, tuple(anc.values()))
    return (native, *_vector(native))


_WORSE = object()
"""What :func:`_template` returns for a template with more two-qubit gates than allowed."""


def _template(
    operations, values, parameters, rewrite, how, rng, bar, passes
) -> Template | object | None:
    """Build and check a template at a random point; ``None`` if it does not reproduce, and
    ``_WORSE`` (after one compile) if it has more two-qubit gates than ``bar`` or, when that is
    ``None``, than a fresh compile at the point with the user's ``passes`` (also when ``how``
    tries the template without resynthesis). ``parameters`` is the variables' indices and, per
    parameter, the index of its operation."""
    variables, owners = parameters
    point = values.copy()
    point[variables] += rng.uniform(-JITTER, JITTER, variables.size)
    base, skeleton, at_point = _structure_compile(operations, point, rewrite, how)
    if bar is None:
        entangler, labels, _ = how
        bar = _two_qubit(
            compile_operations(with_parameters(operations, point), entangler, labels, passes).gates
        )
    if _two_qubit(base.gates) > bar:
        return _WORSE

    def numbers_at(values: np.ndarray) -> tuple[tuple, np.ndarray]:
        return _structure_compile(operations, values, rewrite, how)[1:]

    slopes = grouped_slopes(operations, point, variables, owners, base, at_point, numbers_at, STEP)
    if slopes is None:  # each parameter alone
        slopes = np.zeros((len(at_point), variables.size))
        for column, j in enumerate(variables):
            shifted = point.copy()
            shifted[j] += STEP
            other_skeleton, there = numbers_at(shifted)
            if other_skeleton != skeleton:
                return None
            slopes[:, column] = wrapped_turns(there - at_point) / STEP
    check = point.copy()
    check[variables] += rng.uniform(-2 * JITTER, 2 * JITTER, variables.size)
    _, check_skeleton, expected = _structure_compile(operations, check, rewrite, how)
    if check_skeleton != skeleton:  # another branch: the caller tries another point
        return None
    predicted = at_point + slopes @ (check - point)[variables]
    if np.max(np.abs(wrapped_turns(predicted - expected)), initial=0) > MATCH_ATOL:
        return None
    return make_template(base.gates, base.output_qubits, point[variables], at_point, slopes)
