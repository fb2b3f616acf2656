"""Substituting parameters into a structure's template (see :mod:`.structure`).

A template holds the native circuit's phases, angles, frames and global phase at one point and
their slopes; :func:`substitute` evaluates them at new parameters and folds any MS/ZZ angle that
left IonQ's ``(0, 1/4]`` turns back into range exactly (:func:`_fold`), all of it array arithmetic
over precomputed index tables, so a hit costs a matrix-vector product and one pass building gates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pennylane_qstore.ionq.native import NativeCircuit, NativeGate

EPS = 1e-12
"""Turns below which an interaction angle counts as 0 (the gate is the identity) or on a bound."""


@dataclass(frozen=True)
class Template:
    """Values at ``point`` and slopes of a structure's native circuit, with its index tables.

    Build it with :func:`make_template`. ``gates`` holds, per skeleton gate, its name, qubits,
    first number slot, number of phases, interaction index (-1 for a single-qubit gate) and,
    when none of its numbers depends on the parameters, the gate itself (else ``None``);
    ``later[s, a]`` is 1 when number slot ``s`` is a phase of a gate after interaction ``a`` on one
    of its qubits, ``flip_before[a, b]`` when interaction ``b`` precedes ``a`` and touches its
    first qubit, and ``frame_hits[q, a]`` when interaction ``a`` touches qubit ``q``.
    """

    skeleton: tuple[NativeGate, ...]
    output_qubits: tuple[int, ...]
    point: np.ndarray
    values: np.ndarray
    slopes: np.ndarray
    angle_slots: np.ndarray
    gates: tuple[tuple[str, tuple[int, ...], int, int, int, NativeGate | None], ...]
    later: np.ndarray
    flip_before: np.ndarray
    frame_hits: np.ndarray


def make_template(
    skeleton: Sequence[NativeGate],
    output_qubits: tuple[int, ...],
    point: np.ndarray,
    values: np.ndarray,
    slopes: np.ndarray,
) -> Template:
    """Return the template of ``skeleton`` with its index tables (see :class:`Template`)."""
    qubits = len(output_qubits)
    gates, slots, interactions, phase_slots = [], [], [], []
    fixed = ~np.any(slopes != 0, axis=1)
    constants = wrapped_turns(values).tolist()
    index = 0
    for position, gate in enumerate(skeleton):
        count = len(gate.phases)
        for offset, qubit in enumerate(gate.qubits[:count]):
            phase_slots.append((index + offset, position, qubit))
        interaction, end = -1, index + count + (gate.angle is not None)
        if gate.angle is not None:
            interaction = len(slots)
            slots.append(index + count)
            interactions.append((position, gate.qubits))
        same = None
        if fixed[index:end].all():  # in range: the template's values come from a compile
            angle = None if gate.angle is None else min(values[index + count], 0.25)
            same = NativeGate(
                gate.name, gate.qubits, tuple(constants[index : index + count]), angle
            )
        gates.append((gate.name, gate.qubits, index, count, interaction, same))
        index = end
    later = np.zeros((len(values), len(slots)))
    for slot, position, qubit in phase_slots:
        for a, (where, pair) in enumerate(interactions):
            later[slot, a] = where < position and qubit in pair
    flip_before = np.zeros((len(slots), len(slots)))
    frame_hits = np.zeros((qubits, len(slots)))
    for a, (_, pair) in enumerate(interactions):
        frame_hits[list(pair), a] = 1.0
        for b in range(a):
            flip_before[a, b] = pair[0] in interactions[b][1]
    return Template(
        tuple(skeleton),
        output_qubits,
        point,
        values,
        slopes,
        np.array(slots, dtype=int),
        tuple(gates),
        later,
        flip_before,
        frame_hits,
    )


def wrapped_turns(delta: np.ndarray) -> np.ndarray:
    """Return ``delta`` (turns) wrapped into ``[-1/2, 1/2)``."""
    return (delta + 0.5) % 1.0 - 0.5


def substitute(
    template: Template, values: np.ndarray, labels: tuple, entangler: str
) -> NativeCircuit:
    """Return the template's circuit at ``values``.

    Angles outside IonQ's ``(0, 1/4]`` turns are folded back exactly (:func:`_fold`); an
    interaction whose angle lands on a whole turn is the identity (times a sign) and is left out.
    """
    numbers = template.values + template.slopes @ (values - template.point)
    angles = numbers[template.angle_slots]
    wrapped = wrapped_turns(numbers)
    frames = wrapped[-1 - len(labels) : -1]
    phase = float(wrapped[-1] + frames.sum() / 2)
    if np.all(angles > EPS) and np.all(angles <= 0.25 + EPS):
        wrapped[template.angle_slots] = np.minimum(angles, 0.25)
        flat = wrapped.tolist()
        gates = [
            same
            or (
                NativeGate(name, qubits, tuple(flat[start : start + count]))
                if a < 0
                else NativeGate(
                    name, qubits, tuple(flat[start : start + count]), flat[start + count]
                )
            )
            for name, qubits, start, count, a, same in template.gates
        ]
    else:
        gates, frames, extra = _fold(template, angles, wrapped, frames, entangler)
        phase += extra
    return NativeCircuit(
        gates=tuple(gates),
        wires=labels,
        output_qubits=template.output_qubits,
        frames=tuple(frames.tolist()),
        global_phase=float(wrapped_turns(np.asarray(phase))),
        entangler=entangler,
    )


def _fold(
    template: Template, angles: np.ndarray, wrapped: np.ndarray, frames: np.ndarray, entangler: str
) -> tuple[list[NativeGate], np.ndarray, float]:
    """Bring every MS/ZZ angle into ``(0, 1/4]`` turns exactly.

    Returns the gates, the final Z frames and the global phase added (turns). With ``t`` the angle
    modulo 1 in ``(-1/2, 1/2]`` (a whole turn is a sign, 1/2 global phase):

    - ``|t| > 1/4``: ``MS(t) = -i·sgn(t)·MS(t - sgn(t)/2)·GPI(φ0)⊗GPI(φ1)`` (``S⊗S`` commutes with
      the MS); ``ZZ(t) = -i·sgn(t)·ZZ(t - sgn(t)/2)·Z⊗Z``, whose ``Z`` moves to the end of the
      circuit adding 1/2 to every later phase on its qubit (``GPI(φ)·Z = Z·GPI(φ + 1/2)``, also
      for GPI2, and ``Z`` commutes with ZZ), then ``Z = i·Rz(1/2 turn)`` joins the frames;
    - ``t < 0``: ``MS(φ0, φ1, t) = MS(φ0 + 1/2, φ1, -t)``; ``ZZ(t) = X₀·ZZ(-t)·X₀`` with
      ``X = GPI(0)`` (shifted by the Z frames moved past it);
    - ``t = 0`` after the steps above: the interaction is the identity and is left out.
    """
    t = wrapped_turns(angles)
    t[t == -0.5] = 0.5
    extra = float(np.round(angles - t).sum() / 2)
    sign = np.where(t > 0, 1.0, -1.0)
    big = np.abs(t) > 0.25 + EPS
    t = t - big * sign / 2
    extra -= float((big * sign).sum() / 4)
    vanish = (np.abs(t) <= EPS).tolist()
    negative = (t < 0).tolist()
    magnitude = np.minimum(np.abs(t), 0.25).tolist()
    if entangler == "ms":
        originals = wrapped.tolist()
        flipped = wrapped.copy()
        first_phase = template.angle_slots - 2
        flipped[first_phase] = wrapped_turns(flipped[first_phase] + 0.5 * (t < 0))
        flat, flips = flipped.tolist(), None
    else:
        moved = big.astype(float)
        shifted = wrapped_turns(wrapped + 0.5 * (template.later @ moved))
        flat, originals = shifted.tolist(), None
        flips = wrapped_turns(0.5 * (template.flip_before @ moved)).tolist()
        raw = frames + 0.5 * (template.frame_hits @ moved)
        frames = wrapped_turns(raw)
        extra += 0.5 * float(moved.sum()) + float(np.round(raw - frames).sum() / 2)
    big = big.tolist()
    out: list[NativeGate] = []
    for name, qubits, start, count, a, _ in template.gates:
        if a < 0:
            out.append(NativeGate(name, qubits, tuple(flat[start : start + count])))
            continue
        if entangler == "ms":
            if not vanish[a]:
                out.append(NativeGate("ms", qubits, tuple(flat[start : start + 2]), magnitude[a]))
            if big[a]:
                out.append(NativeGate("gpi", qubits[:1], (originals[start],)))
                out.append(NativeGate("gpi", qubits[1:], (originals[start + 1],)))
            continue
        if vanish[a]:
            continue
        core = NativeGate("zz", qubits, (), magnitude[a])
        if negative[a]:
            flip = NativeGate("gpi", qubits[:1], (flips[a],))
            out.extend((flip, core, flip))
        else:
            out.append(core)
    return out, frames, extra
