"""Optimising passes of the IonQ compiler.

The intermediate form is a :class:`CircuitBuilder`: per-qubit single-qubit unitaries (exact 2×2
matrices, global phase kept) between two-qubit ``exp(-iπθ Z⊗Z)`` interactions ("cores", θ in
turns), a logical→physical qubit map (swaps only relabel) and a global phase. While gates are added
it pushes the diagonal (Z) part of each run past the next core, merges a new core into an earlier
one on the same pair when everything in between commutes with it (other cores; diagonal gates;
X-like gates, which flip θ) and drops cores that reduce to Paulis.

:func:`emit` then writes native gates: every run of single-qubit gates becomes at most two GPI2s
(or one GPI/GPI2, or nothing) in a virtual-Z frame that is tracked, never emitted; cores become one
partial MS (basis changed by Hadamards merged into the neighbouring runs, phases shifted by the
frame, X rotations moved past it so the run before needs at most one pulse) or one ZZ (negative
angles conjugated by X on the cheaper wire), with angles normalised to IonQ's (0, 1/4] turns.
"""

from __future__ import annotations

import math

import numpy as np

from pennylane_qstore.ionq.native import NativeGate
from pennylane_qstore.ionq.ops import rad_to_turns, turns_to_rad, wrap_turns

I2 = np.eye(2, dtype=complex)
X = np.array([[0, 1], [1, 0]], dtype=complex)
Z = np.diag([1, -1]).astype(complex)
H = np.array([[1, 1], [1, -1]], dtype=complex) / math.sqrt(2)
ANGLE_ATOL = 1e-11
"""Angles (turns or radians) closer than this to a special value are treated as that value."""


def rz_turns(frame: float) -> np.ndarray:
    """Return ``RZ(2π·frame) = diag(e^{-iπf}, e^{iπf})``."""
    half = turns_to_rad(frame) / 2
    return np.diag([np.exp(-1j * half), np.exp(1j * half)])


def _monomial_sign(mat: np.ndarray) -> int:
    """Return +1 if ``mat`` is diagonal, -1 if anti-diagonal, 0 otherwise (within tolerance)."""
    if abs(mat[0, 1]) < 1e-12 and abs(mat[1, 0]) < 1e-12:
        return 1
    if abs(mat[0, 0]) < 1e-12 and abs(mat[1, 1]) < 1e-12:
        return -1
    return 0


def _split_diagonal(mat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(D, R)`` with ``mat = D @ R``, D diagonal and R = RY(γ)·RZ(δ) (or identity)."""
    if _monomial_sign(mat) == 1:
        return mat, I2
    left = (
        np.diag([mat[0, 0] / abs(mat[0, 0]), mat[1, 0] / abs(mat[1, 0])])
        if abs(mat[0, 0]) > 1e-12 and abs(mat[1, 0]) > 1e-12
        else None
    )
    if left is None:
        return I2, mat
    return left, left.conj() @ mat


def _clean(phase: float) -> float:
    """Return ``phase`` as a float, with rounding noise below 1e-12 turns snapped to 0."""
    return 0.0 if abs(phase) < 1e-12 else float(phase)


class _Core:
    """An ``exp(-iπθ Z⊗Z)`` interaction with the single-qubit gates just before it on each wire."""

    __slots__ = ("alive", "next", "pre", "prev", "theta", "wires")

    def __init__(self, wires: tuple[int, int], theta: float) -> None:
        self.wires = wires
        self.theta = theta
        self.pre: dict[int, np.ndarray] = {}
        self.prev: dict[int, _Core | None] = {}
        self.next: dict[int, _Core | None] = dict.fromkeys(wires)
        self.alive = True


MERGE_SEARCH_DEPTH = 12
"""How many earlier interactions per wire the merge search looks through."""


class CircuitBuilder:
    """Accumulates a circuit in the compiler's intermediate form, optimising as it goes.

    Args:
        num_qubits: number of physical qubits; logical qubit ``i`` starts on physical qubit ``i``.
        merge: merge a new interaction into an earlier one on the same pair when everything in
            between commutes with it (the ``"cancel"`` pass); ``False`` keeps every interaction
            that is not a Pauli product.
        frame_qubits: how many of the last qubits are *frame ancillas*: qubits in ``|0⟩`` that
            only ever take part in ``Z⊗Z`` interactions, so that an interaction of qubit ``q``
            with one is ``RZ`` on ``q`` kept apart from the runs around it (:mod:`.structure`
            uses them for parameters). :func:`emit` turns them into frame shifts.
    """

    def __init__(self, num_qubits: int, merge: bool = True, frame_qubits: int = 0) -> None:
        self.num_qubits = num_qubits
        self.real_qubits = num_qubits - frame_qubits
        self.merge = merge
        self.position = list(range(num_qubits))
        self.pending = [I2] * num_qubits
        self.last: list[_Core | None] = [None] * num_qubits
        self.cores: list[_Core] = []
        self.phase = 0.0  # radians

    def add_phase(self, angle: float) -> None:
        """Multiply the circuit by ``e^{i·angle}`` (radians)."""
        self.phase += angle

    def swap(self, a: int, b: int) -> None:
        """Swap logical qubits ``a`` and ``b`` by relabelling (no gates)."""
        self.position[a], self.position[b] = self.position[b], self.position[a]

    def one_qubit(self, qubit: int, matrix: np.ndarray) -> None:
        """Apply a 2×2 unitary to logical ``qubit``."""
        q = self.position[qubit]
        self.pending[q] = matrix @ self.pending[q]

    def zz(self, qubit_a: int, qubit_b: int, theta: float) -> None:
        """Apply ``exp(-iπθ Z⊗Z)`` (θ in turns) to logical qubits ``a`` and ``b``."""
        a, b = self.position[qubit_a], self.position[qubit_b]
        target, sign = self._merge_target(a, b) if self.merge else (None, 0)
        if target is not None:  # every gate in between commutes: merge into the earlier core
            target.theta += sign * theta
            self._drop_if_trivial(target)
            return
        core = _Core((a, b), theta)
        for w in (a, b):  # the diagonal part applied last commutes through: keep it pending
            later, core.pre[w] = _split_diagonal(self.pending[w])
            self.pending[w] = later
            core.prev[w] = self.last[w]
            if self.last[w] is not None:
                self.last[w].next[w] = core
            self.last[w] = core
        self.cores.append(core)
        self._drop_if_trivial(core)

    def _after(self, core: _Core, wire: int) -> np.ndarray:
        """Return the single-qubit run right after ``core`` on ``wire``."""
        nxt = core.next[wire]
        return self.pending[wire] if nxt is None else nxt.pre[wire]

    def _reachable(self, wire: int) -> dict[int, int]:
        """Map id of each earlier core a new ZZ on ``wire`` commutes back to, to the sign flip.

        A ZZ interaction commutes with every other ZZ interaction and with diagonal gates, and
        an anti-diagonal (X-like) gate flips its sign.
        """
        reached, sign, core = {}, 1, self.last[wire]
        for _ in range(MERGE_SEARCH_DEPTH):
            if core is None:
                break
            sign *= _monomial_sign(self._after(core, wire))
            if not sign:
                break
            reached[id(core)] = sign
            core = core.prev[wire]
        return reached

    def _merge_target(self, a: int, b: int) -> tuple[_Core | None, int]:
        """Return the latest earlier core on ``(a, b)`` a new ZZ can merge into, and the sign."""
        on_b = self._reachable(b)
        if not on_b:
            return None, 0
        sign, core = 1, self.last[a]
        for _ in range(MERGE_SEARCH_DEPTH):
            if core is None:
                break
            sign *= _monomial_sign(self._after(core, a))
            if not sign:
                break
            if set(core.wires) == {a, b}:
                return (core, sign * on_b[id(core)]) if id(core) in on_b else (None, 0)
            core = core.prev[a]
        return None, 0

    def _drop_if_trivial(self, core: _Core) -> None:
        """Remove ``core`` if its angle is a multiple of 1/2 turn (then it is a Pauli Z⊗Z)."""
        k = round(2 * core.theta)
        if abs(core.theta - k / 2) > ANGLE_ATOL:
            return
        core.alive = False
        self.phase -= k * math.pi / 2  # exp(-iπk/2 Z⊗Z) = (-i Z⊗Z)^k
        zk = Z if k % 2 else I2
        for w in core.wires:
            prev, nxt = core.prev[w], core.next[w]
            merged = self._after(core, w) @ zk @ core.pre[w]
            if nxt is None:
                self.pending[w] = merged
                self.last[w] = prev
            else:
                nxt.pre[w] = merged
                nxt.prev[w] = prev
            if prev is not None:
                prev.next[w] = nxt


def synthesise_one_qubit(matrix: np.ndarray) -> tuple[list[tuple[str, float]], float, float]:
    """Write ``matrix = e^{iα} · RZ(2π·f) · E`` with E the fewest GPI/GPI2 gates.

    Returns:
        ``(gates, f, alpha)``: gates in time order as ``(name, phase_turns)``, the new frame ``f``
        in turns and ``alpha`` in radians. At most two GPI2; one GPI or GPI2 when possible; none for
        a diagonal matrix.
    """
    alpha0 = np.angle(np.linalg.det(matrix)) / 2
    su = matrix * np.exp(-1j * alpha0)
    cos_half, sin_half = abs(su[0, 0]), abs(su[1, 0])
    gamma = 2 * math.atan2(sin_half, cos_half)
    plus = 2 * np.angle(su[1, 1]) if cos_half > 1e-12 else 0.0  # β + δ
    minus = 2 * np.angle(su[1, 0]) if sin_half > 1e-12 else 0.0  # β - δ
    beta, delta = (plus + minus) / 2, (plus - minus) / 2
    if gamma < ANGLE_ATOL:
        gates, frame = [], plus
    elif abs(gamma - math.pi) < ANGLE_ATOL:
        gates, frame = [("gpi", 0.25)], minus
    elif abs(gamma - math.pi / 2) < ANGLE_ATOL:
        gates, frame = [("gpi2", 0.25 - rad_to_turns(delta))], plus
    else:
        gates = [("gpi2", -rad_to_turns(delta)), ("gpi2", 0.5 - rad_to_turns(gamma + delta))]
        frame = beta + gamma + delta
    frame_turns = rad_to_turns(frame)
    gates = [(name, _clean(wrap_turns(phase))) for name, phase in gates]
    realised = rz_turns(frame_turns)
    for name, phase in gates:
        gate_matrix = _pulse_matrix(name, phase)
        realised = realised @ gate_matrix
    ratio = np.trace(realised.conj().T @ matrix) / 2
    return gates, frame_turns, float(np.angle(ratio))


def _pulse_matrix(name: str, phase: float) -> np.ndarray:
    """Return the matrix of ``GPI(phase)`` or ``GPI2(phase)`` (turns), as in :mod:`.ops`."""
    e = np.exp(2j * math.pi * phase)
    if name == "gpi":
        return np.array([[0, e.conjugate()], [e, 0]])
    return np.array([[1, -1j * e.conjugate()], [-1j * e, 1]]) / math.sqrt(2)


def _pulse_count(matrix: np.ndarray) -> int:
    """Return how many GPI/GPI2 pulses :func:`synthesise_one_qubit` needs for ``matrix``."""
    gamma = 2 * math.atan2(abs(matrix[1, 0]), abs(matrix[0, 0]))
    if gamma < ANGLE_ATOL:
        return 0
    return 1 if min(abs(gamma - math.pi), abs(gamma - math.pi / 2)) < ANGLE_ATOL else 2


def _rx(angle: float) -> np.ndarray:
    c, s = math.cos(angle / 2), math.sin(angle / 2)
    return np.array([[c, -1j * s], [-1j * s, c]])


def _shorten_before_xx(run: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split ``run`` (just before an XX interaction) as ``RX(-β) · (RX(β)·run)``, fewest pulses.

    ``RX(β)·run`` is emitted before the interaction and ``RX(-β)`` is moved after it (X rotations
    commute with X⊗X). β rotates the Bloch image of Z into the pole (no pulse) when the image is
    orthogonal to X, else onto the equator (one GPI2); runs already that short are left alone.
    """
    bloch = run @ Z @ run.conj().T
    vx, vy, vz = bloch[1, 0].real, bloch[1, 0].imag, bloch[0, 0].real
    phi = math.atan2(vy, vz)
    if abs(vx) < 1e-9:
        beta = phi  # image on the y-z circle: rotate it to +Z
    elif _pulse_count(run) < 2:
        return run, I2
    else:
        beta = phi + math.pi / 2  # rotate the image onto the equator: one GPI2
    return _rx(beta) @ run, _rx(-beta)


def _flip_cost(before: np.ndarray, after: np.ndarray) -> int:
    """Return the extra pulses of conjugating an interaction by X on a wire with these runs."""
    return (
        _pulse_count(X @ before)
        - _pulse_count(before)
        + _pulse_count(after @ X)
        - _pulse_count(after)
    )


def emit(builder: CircuitBuilder, entangler: str) -> tuple[list[NativeGate], list[float], float]:
    """Write the builder's circuit as native gates.

    Args:
        builder: the optimised intermediate circuit.
        entangler: ``"ms"`` (Aria) or ``"zz"`` (Forte).

    Returns:
        ``(gates, frames, phase)``: native gates, residual virtual-Z frames per physical qubit
        (turns, wrapped into (-1, 1]) and the accumulated global phase in radians.
    """
    n = builder.num_qubits
    frames = [0.0] * n
    carry = [I2] * n
    gates: list[NativeGate] = []
    phase = builder.phase

    def run(qubit: int, matrix: np.ndarray) -> None:
        nonlocal phase
        pulses, frame, alpha = synthesise_one_qubit(matrix @ rz_turns(frames[qubit]))
        gates.extend(NativeGate(name, (qubit,), (float(p),)) for name, p in pulses)
        frames[qubit] = frame
        phase += alpha

    real = builder.real_qubits
    alive = [core for core in builder.cores if core.alive]
    phase = _plus_ancilla_phases(phase, builder, alive)
    following = _following_runs(builder, alive)
    for core in alive:
        a, b = core.wires
        if b >= real:  # exp(-iπθ Z⊗Z) with the ancilla in |0⟩ is RZ(2πθ) on a: a frame shift
            run(a, core.pre[a] @ carry[a])
            carry[a] = I2
            frames[a] += core.theta
            continue
        k = round(2 * core.theta)
        theta = core.theta - k / 2  # in [-1/4, 1/4]
        phase -= k * math.pi / 2
        zk = Z if k % 2 else I2
        before = {w: zk @ core.pre[w] @ carry[w] for w in core.wires}
        after = dict.fromkeys(core.wires, I2)
        if entangler == "ms":  # exp(-iπθ ZZ) = (H⊗H) exp(-iπθ XX) (H⊗H)
            for w in core.wires:  # X rotations commute with XX: move them past the MS
                before[w], moved = _shorten_before_xx(H @ before[w])
                after[w] = H @ moved
        elif theta < 0:  # ZZ(-θ) = (X⊗I) ZZ(θ) (X⊗I): flip on the wire where X costs least
            flipped = min(core.wires, key=lambda w: _flip_cost(before[w], following[id(core), w]))
            before[flipped] = X @ before[flipped]
            after[flipped] = X
        for w in core.wires:
            run(w, before[w])
            carry[w] = after[w]
        if entangler == "ms":  # in the frame, XX(θ) is MS(-f_a, -f_b); Z⊗I flips the sign of θ
            flip = 0.5 if theta < 0 else 0.0
            phases = (_clean(wrap_turns(-frames[a] + flip)), _clean(wrap_turns(-frames[b])))
            gates.append(NativeGate("ms", (a, b), phases, float(abs(theta))))
        else:
            gates.append(NativeGate("zz", (a, b), (), float(abs(theta))))
    for q in range(real):
        run(q, builder.pending[q] @ carry[q])
    return gates, [float(1.0 - (1.0 - f) % 2.0) for f in frames[:real]], float(phase)


def _plus_ancilla_phases(phase: float, builder: CircuitBuilder, alive: list) -> float:
    """Add to ``phase`` what the frame ancillas' runs (each on ``|0⟩``) contribute, in order."""
    real = builder.real_qubits
    for core in alive:
        for w in core.wires[1:]:
            if w >= real:
                phase += _ancilla_phase(core.pre[w])
    for w in range(real, builder.num_qubits):
        phase += _ancilla_phase(builder.pending[w])
    return phase


def _following_runs(builder: CircuitBuilder, alive: list) -> dict[tuple[int, int], np.ndarray]:
    """Return ``(id(core), wire) -> the single-qubit run after that core on that wire``."""
    following = {}
    upcoming = list(builder.pending)
    for core in reversed(alive):
        for w in core.wires:
            following[id(core), w] = upcoming[w]
            upcoming[w] = core.pre[w]
    return following


def _ancilla_phase(run: np.ndarray) -> float:
    """Return the phase (radians) a frame ancilla's run gives ``|0⟩``; the run must be diagonal."""
    if _monomial_sign(run) != 1:
        raise ValueError("a frame ancilla received a non-diagonal gate")
    return float(np.angle(run[0, 0]))
