"""Two-qubit block resynthesis: a pass on the compiler's intermediate form.

A :class:`~pennylane_qstore.ionq.passes.CircuitBuilder` is written out as a *program*: a list of
``("1q", q, U)``, ``("zz", a, b, θ)`` and ``("phase", α)`` steps on physical qubits (θ in turns,
α in radians). :func:`resynthesise_blocks` finds each maximal run of interactions on one pair of
qubits with only single-qubit gates of that pair in between (an interaction also joins an earlier
run on its pair when it commutes back to it: on each qubit, only Z⊗Z interactions and diagonal
gates came since, or only that qubit's own gates, which move back with it), multiplies the run
into one 4×4 unitary, and replaces it by its KAK form (:mod:`.kak`: at most three XX/YY/ZZ interactions, each one
partial-angle MS or ZZ) when that needs fewer interactions than the run. The factors are checked
to reproduce the run to 1e-10; any numerical doubt keeps the run as it was. :func:`replay` feeds
the program into a fresh builder, which applies its own cancellations again.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from pennylane_qstore.ionq.kak import Kak, KakError, kak, nontrivial_count
from pennylane_qstore.ionq.passes import I2, CircuitBuilder, H

logger = logging.getLogger(__name__)

Step = tuple
"""``("1q", q, U)``, ``("zz", a, b, theta_turns)`` or ``("phase", radians)``."""
_S = np.diag([1, 1j])
REACH_DEPTH = 12
"""How many earlier blocks per qubit an interaction may commute back to."""
_PAULI_BASES = (H, _S @ H, I2)
"""``B`` with ``B·Z·B† = X, Y, Z``: an XX/YY/ZZ interaction is a ZZ one in that basis."""


def program(builder: CircuitBuilder) -> list[Step]:
    """Return the builder's circuit as a program on physical qubits (global phase first)."""
    steps: list[Step] = [("phase", builder.phase)]
    for core in builder.cores:
        if core.alive:
            steps.extend(("1q", w, core.pre[w]) for w in core.wires)
            steps.append(("zz", *core.wires, core.theta))
    steps.extend(("1q", q, m) for q, m in enumerate(builder.pending))
    return steps


def replay(steps: list[Step], builder: CircuitBuilder) -> None:
    """Apply a program to ``builder`` (whose logical qubits must still be unpermuted)."""
    for step in steps:
        if step[0] == "1q":
            builder.one_qubit(step[1], step[2])
        elif step[0] == "zz":
            builder.zz(step[1], step[2], step[3])
        else:
            builder.add_phase(step[1])


def count_interactions(steps: list[Step]) -> int:
    """Return the number of ``zz`` steps."""
    return sum(step[0] == "zz" for step in steps)


class _Block:
    """Interactions on one pair with the single-qubit gates of that pair between them."""

    __slots__ = ("pair", "steps")

    def __init__(self, step: Step) -> None:
        self.pair = (step[1], step[2])
        self.steps = [step]

    def unitary(self) -> np.ndarray:
        """Return the block's 4×4 unitary, ``pair[0]`` most significant."""
        total = np.eye(4, dtype=complex)
        for step in self.steps:
            if step[0] == "1q":
                local = [I2, I2]
                local[self.pair.index(step[1])] = step[2]
                total = np.kron(*local) @ total
            else:
                diag = np.exp(-1j * math.pi * step[3] * np.array([1, -1, -1, 1]))
                total = diag[:, None] * total
        return total

    def resolved(self, real_qubits: int) -> list[Step]:
        """Return the KAK form when it needs fewer interactions, else the original steps.

        Blocks with a frame ancilla (qubit ``>= real_qubits``) are kept: it must only see Z⊗Z.
        """
        interactions = count_interactions(self.steps)
        if interactions < 2 or max(self.pair) >= real_qubits:
            return self.steps
        try:
            form = kak(self.unitary())
        except KakError as exc:  # pragma: no cover - numerical safety net, never observed
            logger.warning("keeping a two-qubit block: %s", exc)
            return self.steps
        if nontrivial_count(form.coefficients) >= interactions:
            return self.steps
        return _kak_steps(form, self.pair)


def _kak_steps(form: Kak, pair: tuple[int, int]) -> list[Step]:
    """Return the program of a KAK form on ``pair``: frames, then XX, YY, ZZ, then frames."""
    a, b = pair
    steps: list[Step] = [
        ("phase", form.phase),
        ("1q", a, form.before[0]),
        ("1q", b, form.before[1]),
    ]
    for basis, coefficient in zip(_PAULI_BASES, form.coefficients, strict=True):
        # exp(i c P⊗P) = (B⊗B) exp(-iπθ Z⊗Z) (B⊗B)† with θ = -c/π turns
        steps += [("1q", a, basis.conj().T), ("1q", b, basis.conj().T)]
        steps += [("zz", a, b, -coefficient / math.pi), ("1q", a, basis), ("1q", b, basis)]
    return [*steps, ("1q", a, form.after[0]), ("1q", b, form.after[1])]


def _diagonal(step: Step) -> bool:
    """Return whether a ``1q`` step is diagonal (it then commutes with every interaction)."""
    m = step[2]
    return abs(m[0, 1]) < 1e-12 and abs(m[1, 0]) < 1e-12


def resynthesise_blocks(steps: list[Step], real_qubits: int | None = None) -> list[Step]:
    """Replace each two-qubit block by its KAK form where that has fewer interactions.

    A block collects the interactions on its pair that follow it directly (with only the pair's
    single-qubit gates in between) and also those that commute back to it: an interaction
    commutes with every other interaction and with diagonal single-qubit gates, so it joins an
    earlier block on its pair when, on both its qubits, only such steps came after that block.

    Args:
        steps: the program.
        real_qubits: qubits from this index on are frame ancillas, never resynthesised.
    """
    real = math.inf if real_qubits is None else real_qubits
    out: list[Step | _Block] = []
    pending: dict[int, list[Step]] = {}
    open_block: dict[int, _Block] = {}
    reach: dict[int, list[_Block]] = {}  # per qubit: blocks every later step on it commutes past

    def flush(qubit: int) -> None:
        moved = pending.pop(qubit, [])
        if not all(_diagonal(s) for s in moved):
            reach[qubit] = []
        out.extend(moved)

    def absorb(qubit: int, block: _Block) -> None:
        """Move ``qubit``'s waiting single-qubit gates into ``block``."""
        moved = pending.pop(qubit, [])
        if not all(_diagonal(s) for s in moved):
            reach[qubit] = [block]
        block.steps += moved

    for step in steps:
        if step[0] == "phase":
            out.append(step)
        elif step[0] == "1q":
            pending.setdefault(step[1], []).append(step)
        else:
            a, b = step[1], step[2]
            block = open_block.get(a)
            if block is not None and block is open_block.get(b):
                absorb(a, block)
                absorb(b, block)
                block.steps.append(step)
                continue
            target = _commuting_block(step, pending, open_block, reach)
            if target is not None:  # it commutes back past everything since: join that block
                for q in (a, b):
                    if open_block.get(q) is target:  # the run since then moves back with it
                        absorb(q, target)
                target.steps.append(step)
                continue
            for q in (a, b):
                flush(q)
                open_block.pop(q, None)
            block = _Block(step)
            out.append(block)
            open_block[a] = open_block[b] = block
            for q in (a, b):
                reach[q] = [*reach.get(q, [])[1 - REACH_DEPTH :], block]
    for qubit in sorted(pending):
        flush(qubit)
    result: list[Step] = []
    for item in out:
        result.extend(item.resolved(real) if isinstance(item, _Block) else [item])
    return result


def _commuting_block(
    step: Step,
    pending: dict[int, list[Step]],
    open_block: dict[int, _Block],
    reach: dict[int, list[_Block]],
) -> _Block | None:
    """Return the latest block on ``step``'s pair that ``step`` can join, or ``None``.

    On each of its qubits the block must either still be open there (only that qubit's
    single-qubit gates came after it; they join too) or be reachable: every step on that qubit
    since the block, the waiting single-qubit gates included, commutes with a Z⊗Z interaction.
    """
    a, b = step[1], step[2]
    seen = [open_block[q] for q in (a, b) if q in open_block]
    candidates = [*reach.get(a, []), *reach.get(b, []), *seen]
    pair = {a, b}
    for block in reversed(candidates):
        if set(block.pair) == pair and all(
            open_block.get(q) is block
            or (block in reach.get(q, []) and all(_diagonal(s) for s in pending.get(q, [])))
            for q in (a, b)
        ):
            return block
    return None
