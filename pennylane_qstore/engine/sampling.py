"""Finite-shot expectation values on the engine, measured as PennyLane measures them.

The measured observables (Pauli words: ``X``, ``Y``, ``Z`` and products of them on distinct
wires) are grouped into qubit-wise commuting settings; each setting rotates the final state of
every row into its eigenbasis (``H`` for ``X``, ``H S^†`` for ``Y``) and draws ``shots`` samples
from the exact per-row probabilities with a seeded torch generator. Each expectation value is the
mean eigenvalue of its samples, so ``<X_i>``, ``<Y_i>``, ``<Z_i>`` of one layer are three
sampled settings, as on ``default.qubit`` with shots.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pennylane as qml
import torch
from pennylane.measurements import ExpectationMP, MeasurementProcess

from pennylane_qstore.engine.program import EngineUnsupportedError

_ROTATIONS = {
    "X": np.array([[1, 1], [1, -1]]) / np.sqrt(2),
    "Y": np.array([[1, -1j], [1, 1j]]) / np.sqrt(2),  # H S^dagger
}


def pauli_word(obs: qml.operation.Operator) -> dict:
    """``{wire: "X"|"Y"|"Z"}`` of a Pauli-word observable; raises when it is not one."""
    if isinstance(obs, qml.ops.Prod):
        word: dict = {}
        for factor in obs.operands:
            part = pauli_word(factor)
            if set(part) & set(word):
                raise EngineUnsupportedError(f"{obs} repeats a wire")
            word.update(part)
        return word
    name = {"PauliX": "X", "PauliY": "Y", "PauliZ": "Z"}.get(obs.name)
    if name is None and obs.name != "Identity":
        raise EngineUnsupportedError(f"shots on the engine measure Pauli words, not {obs.name}")
    return {} if name is None else {obs.wires[0]: name}


@dataclass(frozen=True)
class ShotPlan:
    """Qubit-wise commuting settings of the measurements and where each result comes from.

    Attributes:
        settings: Per setting, ``{wire index: "X"|"Y"|"Z"}`` of the basis measured.
        members: Per measurement, ``(setting, wire indices of its word)``.
    """

    settings: tuple[dict, ...]
    members: tuple[tuple[int, tuple[int, ...]], ...]


def shot_plan(measurements: Sequence[MeasurementProcess], wires: qml.wires.Wires) -> ShotPlan:
    """Group the expectation values of a tape into settings (greedy, first fit)."""
    settings: list[dict] = []
    members = []
    for m in measurements:
        if not isinstance(m, ExpectationMP) or m.obs is None:
            raise EngineUnsupportedError("shots on the engine measure expectation values only")
        word = {wires.index(w): p for w, p in pauli_word(m.obs).items()}
        index = next(
            (
                i
                for i, setting in enumerate(settings)
                if all(setting.get(w, p) == p for w, p in word.items())
            ),
            None,
        )
        if index is None:
            settings.append({})
            index = len(settings) - 1
        settings[index].update(word)
        members.append((index, tuple(sorted(word))))
    return ShotPlan(tuple(settings), tuple(members))


def _rotate(psi: torch.Tensor, n: int, setting: dict) -> torch.Tensor:
    state = psi.reshape(psi.shape[0], *([2] * n))
    for w, pauli in setting.items():
        if pauli == "Z":
            continue
        u = torch.as_tensor(_ROTATIONS[pauli], dtype=psi.dtype, device=psi.device)
        state = torch.movedim(torch.tensordot(state, u, dims=([w + 1], [1])), -1, w + 1)
    return state.reshape(psi.shape[0], -1)


def sample_counts(probs: torch.Tensor, shots: int, generator: torch.Generator) -> torch.Tensor:
    """``(rows, 2**n)`` counts of ``shots`` draws from each row of ``probs``, exactly
    multinomially distributed: the shots are split bit by bit (most significant first) with one
    vectorised binomial draw per level, ``n`` draws instead of ``rows * shots`` samples."""
    rows, dim = probs.shape
    counts = torch.full((rows, 1), float(shots), dtype=probs.dtype, device=probs.device)
    for level in range(dim.bit_length() - 1):
        node = probs.reshape(rows, 2**level, 2, -1).sum(-1)
        total = node.sum(-1)
        frac = torch.where(total > 0, node[..., 0] / total.clamp(min=1e-300), 0.0).clamp(0, 1)
        left = torch.binomial(counts, frac, generator=generator)
        counts = torch.stack([left, counts - left], -1).reshape(rows, -1)
    return counts


def sample_expectations(
    psi: torch.Tensor, plan: ShotPlan, n: int, shots: int, generator: torch.Generator
) -> torch.Tensor:
    """``(rows, n_measurements)`` sample means from final states ``psi`` (``(rows, 2**n)``)."""
    dim = psi.shape[1]
    index = torch.arange(dim, device=psi.device)
    bits = ((index[:, None] >> (n - 1 - torch.arange(n, device=psi.device))) & 1).to(psi.real.dtype)
    signs = 1 - 2 * bits  # (dim, n): eigenvalue of Z on each wire for each basis state
    counts = [
        sample_counts(_rotate(psi, n, setting).abs() ** 2, shots, generator)
        for setting in plan.settings
    ]
    out = []
    for setting, wires in plan.members:
        eig = signs[:, list(wires)].prod(1)  # an empty word (Identity): all ones
        out.append(counts[setting] @ eig / shots)
    return torch.stack(out, 1)
