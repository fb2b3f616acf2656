"""Substituting parameters into a structure's template (see :mod:`.structure`).

A template holds the native circuit's phases, angles, frames and global phase at one point and
their slopes; :func:`substitute` evaluates them at new parameters and folds any MS/ZZ angle that
left IonQ's ``(0, 1/4]`` turns back into range exactly (:func:`_fold`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pennylane_qstore.ionq.native import NativeCircuit, NativeGate


@dataclass
class Template:
    """Values at ``point`` and slopes of a structure's native circuit."""

    skeleton: tuple[NativeGate, ...]
    output_qubits: tuple[int, ...]
    point: np.ndarray
    values: np.ndarray
    slopes: np.ndarray
    angle_slots: np.ndarray


def wrapped_turns(delta: np.ndarray) -> np.ndarray:
    """Return ``delta`` (turns) wrapped into ``[-1/2, 1/2)``."""
    return (delta + 0.5) % 1.0 - 0.5


def substitute(
    template: Template, values: np.ndarray, labels: tuple, entangler: str
) -> NativeCircuit | None:
    """Return the template's circuit at ``values``, or ``None`` if an angle lands on 0.

    Angles outside IonQ's ``(0, 1/4]`` turns are folded back exactly (:func:`_fold`).
    """
    numbers = template.values + template.slopes @ (values - template.point)
    angles = numbers[template.angle_slots]
    folded = np.any(angles <= 1e-12) or np.any(angles > 0.25 + 1e-12)
    wrapped = wrapped_turns(numbers)
    wrapped[template.angle_slots] = np.minimum(angles, 0.25)
    gates, index = [], 0
    for gate in template.skeleton:
        end = index + len(gate.phases)
        phases = tuple(wrapped[index:end].tolist())
        angle = None if gate.angle is None else float(numbers[end] if folded else wrapped[end])
        index = end + (gate.angle is not None)
        gates.append(NativeGate(gate.name, gate.qubits, phases, angle))
    frames = wrapped[index : index + len(labels)]
    phase = float(wrapped[-1] + frames.sum() / 2)
    if folded:
        result = _fold(gates, len(labels), entangler)
        if result is None:
            return None
        gates, offsets, extra = result
        raw = frames + offsets
        frames = wrapped_turns(raw)
        phase += extra + np.round(raw - frames).sum() / 2  # Rz(f + 1) = -Rz(f)
    return NativeCircuit(
        gates=tuple(gates),
        wires=labels,
        output_qubits=template.output_qubits,
        frames=tuple(frames.tolist()),
        global_phase=float(wrapped_turns(np.asarray(phase))),
        entangler=entangler,
    )


def _fold(
    gates: list[NativeGate], qubits: int, entangler: str
) -> tuple[list[NativeGate], np.ndarray, float] | None:
    """Bring every MS/ZZ angle into ``(0, 1/4]`` turns exactly; ``None`` if one is 0.

    Returns the gates, the Z frames (turns) left at the end per qubit and the global phase added.
    With ``t`` the angle modulo 1 in ``(-1/2, 1/2]`` (a whole turn is a sign, 1/2 global phase):

    - ``|t| > 1/4``: ``MS(t) = -i·sgn(t)·MS(t - sgn(t)/2)·GPI(φ0)⊗GPI(φ1)`` (``S⊗S`` commutes with
      the MS); ``ZZ(t) = -i·sgn(t)·ZZ(t - sgn(t)/2)·Z⊗Z``, whose ``Z`` moves to the end of the
      circuit adding 1/2 to every later phase on its qubit (``GPI(φ)·Z = Z·GPI(φ + 1/2)``, also
      for GPI2, and ``Z`` commutes with ZZ), then ``Z = i·Rz(1/2 turn)`` joins the frames;
    - ``t < 0``: ``MS(φ0, φ1, t) = MS(φ0 + 1/2, φ1, -t)``; ``ZZ(t) = X₀·ZZ(-t)·X₀`` with
      ``X = GPI(0)``.
    """
    offsets = [0.0] * qubits
    phase = 0.0
    out: list[NativeGate] = []
    for gate in gates:
        if gate.angle is None:
            if any(offsets[q] for q in gate.qubits):
                shifted = tuple(
                    p + offsets[q] for p, q in zip(gate.phases, gate.qubits, strict=True)
                )
                gate = NativeGate(gate.name, gate.qubits, _turns(shifted))
            out.append(gate)
            continue
        t = (gate.angle + 0.5) % 1.0 - 0.5
        t = 0.5 if t == -0.5 else t
        phase += round(gate.angle - t) / 2
        sign = 1.0 if t > 0 else -1.0
        if abs(t) <= 1e-12:
            return None
        big = abs(t) > 0.25 + 1e-12
        if big:
            t -= sign / 2
            phase -= sign / 4
            if abs(t) <= 1e-12:
                return None
        first, second = gate.qubits
        if entangler == "ms":
            phi0, phi1 = gate.phases
            flipped = (phi0 + 0.5, phi1) if t < 0 else (phi0, phi1)
            out.append(NativeGate("ms", gate.qubits, _turns(flipped), min(abs(t), 0.25)))
            if big:
                out.append(NativeGate("gpi", (first,), _turns((phi0,))))
                out.append(NativeGate("gpi", (second,), _turns((phi1,))))
            continue
        flip = NativeGate("gpi", (first,), _turns((offsets[first],)))
        core = NativeGate("zz", gate.qubits, (), min(abs(t), 0.25))
        out.extend([flip, core, flip] if t < 0 else [core])
        if big:  # the Z⊗Z of the fold acts after the gate
            offsets[first] += 0.5
            offsets[second] += 0.5
            phase += 0.5
    return out, np.array(offsets), phase


def _turns(phases: tuple) -> tuple[float, ...]:
    """Return ``phases`` wrapped into ``[-1/2, 1/2)`` turns."""
    return tuple((x + 0.5) % 1.0 - 0.5 for x in phases)
