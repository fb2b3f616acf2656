"""Compile a PennyLane tape into the engine's program: fused gate blocks, layers, permutations.

Compilation depends only on the circuit's *structure* (gate names, wires, observables), never on
parameter values, so one :class:`Program` serves every call of a layer and every batch size.

Fusion rules:

* consecutive one-qubit gates on a wire are multiplied into one ``2x2`` block per batch row;
* blocks that are the first thing on their wire are applied to ``|0>`` analytically, so the
  initial state is a product state built in one pass;
* all pending blocks are applied together as a *layer*. A layer touching more than half of the
  wires is *cyclic*: the register is cut into balanced chunks of at most ``chunk_wires`` wires,
  and each chunk's Kronecker product is applied to the leading axis as one batched matmul whose
  output puts that chunk last, so after all chunks the wire order is restored and every chunk
  costs one streaming pass over the state. Sparser layers apply each block in place;
* consecutive constant monomial gates (``CNOT``, ``CZ``, ``SWAP``, ``Toffoli``, ...) become one
  permutation of the amplitudes with phases;
* any other gate with a matrix on at most :data:`MAX_GENERIC_WIRES` wires is applied as is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pennylane as qml
from pennylane.measurements import ExpectationMP
from pennylane.operation import Operator
from pennylane.tape import QuantumScript

from pennylane_qstore.engine.gates import FAST_BUILDERS
from pennylane_qstore.engine.permutations import (
    Permutation,
    compose,
    full_permutation,
    monomial,
    pauli_word_permutation,
)

MAX_GENERIC_WIRES = 3
"""Largest gate (in wires) applied without decomposition."""

SUPPORTED_DESCRIPTION = (
    "RX, RY, RZ, PhaseShift, Rot (vectorised); any other gate with a matrix on at most "
    f"{MAX_GENERIC_WIRES} wires (Hadamard, S, T, SX, U3, CNOT, CZ, SWAP, CRX, IsingXX, "
    "Toffoli, QubitUnitary, ...); templates that decompose into those; StatePrep / BasisState "
    "as the first operation on all wires; measurements: expval of Pauli words and sums of them "
    "(qml.X/Y/Z, products, Hamiltonians with constant coefficients)"
)


class EngineUnsupportedError(ValueError):
    """The circuit uses something the engine cannot run; callers fall back to another simulator."""


@dataclass(frozen=True)
class OneQubitGate:
    """A one-qubit gate of the program.

    Attributes:
        op_index: Index of the operation in the expanded operation list.
        kind: A name from :data:`FAST_BUILDERS`, ``"const"`` or ``"matrix"``.
        const: Matrix of a parameter-free gate (``kind == "const"``).
    """

    op_index: int
    kind: str
    const: np.ndarray | None = None


@dataclass(frozen=True)
class Chunk:
    """Adjacent wires ``start .. start+len(blocks)-1`` of a layer; ``blocks[i]`` is a block id or
    ``None`` (identity)."""

    start: int
    blocks: tuple[int | None, ...]


@dataclass(frozen=True)
class Layer:
    """Fused one-qubit blocks on disjoint wires, applied chunk by chunk.

    ``cyclic`` layers cover all wires with chunks in order (see the module docstring); others
    hold one-wire chunks applied in place.
    """

    chunks: tuple[Chunk, ...]
    cyclic: bool


@dataclass(frozen=True)
class Generic:
    """A gate applied with its full matrix on ``wires`` (engine wire indices)."""

    wires: tuple[int, ...]
    op_index: int
    const: np.ndarray | None = None


Step = Layer | Permutation | Generic


@dataclass(frozen=True)
class Readout:
    """Expectation values as a linear map of basis expectations.

    ``basis = [X, Y, Z of every wire in chunks..., Pauli words...]`` and
    ``outputs = basis @ coeffs + offset``.
    """

    chunks: tuple[tuple[int, int], ...]
    words: tuple[Permutation, ...]
    coeffs: np.ndarray
    offset: np.ndarray


@dataclass
class Program:
    """A compiled circuit; see the module docstring."""

    n_wires: int
    wires: qml.wires.Wires
    chunk_wires: int
    gates: list[OneQubitGate] = field(default_factory=list)
    blocks: list[tuple[int, ...]] = field(default_factory=list)
    initial: list[int | None] = field(default_factory=list)
    state_prep: int | None = None
    steps: list[Step] = field(default_factory=list)
    readout: Readout | None = None

    @property
    def readout_chunks(self) -> list[tuple[int, int]]:
        """Chunks covering all wires for per-wire contractions (see :func:`readout_chunks`)."""
        return readout_chunks(self.n_wires, self.chunk_wires)

    @property
    def n_outputs(self) -> int:
        """Number of expectation values returned per batch row."""
        return self.readout.coeffs.shape[1]


def expand_operations(ops: Sequence[Operator]) -> list[Operator]:
    """Decompose templates until every operation is one the engine applies directly.

    Raises:
        EngineUnsupportedError: If an operation has no matrix, is too wide and cannot be
            decomposed.
    """
    out: list[Operator] = []
    stack = list(reversed(ops))
    while stack:
        op = stack.pop()
        if isinstance(op, qml.GlobalPhase):
            continue  # a global phase does not change expectation values
        if is_state_prep(op) or _applies_directly(op):
            out.append(op)
            continue
        if op.has_decomposition:
            stack.extend(reversed(op.decomposition()))
            continue
        raise EngineUnsupportedError(
            f"The engine cannot apply {op.name} on {len(op.wires)} wires. Supported: "
            f"{SUPPORTED_DESCRIPTION}."
        )
    return out


def is_state_prep(op: Operator) -> bool:
    """Whether ``op`` prepares a full state (``StatePrep``, ``AmplitudeEmbedding``, ...)."""
    return isinstance(op, qml.StatePrep | qml.BasisState)


def _applies_directly(op: Operator) -> bool:
    if op.name in FAST_BUILDERS:
        return True
    return op.has_matrix and 0 < len(op.wires) <= MAX_GENERIC_WIRES


def structure_key(ops: Sequence[Operator], tape: QuantumScript) -> tuple:
    """Return a hashable key that is equal for circuits with the same compiled program."""
    return (
        tuple((op.name, tuple(op.wires), op.hash if op.num_params == 0 else None) for op in ops),
        tuple(m.hash for m in tape.measurements),
        tuple(tape.wires),
    )


def compile_program(
    ops: Sequence[Operator],
    measurements: Sequence,
    wires: qml.wires.Wires,
    chunk_wires: int = 4,
) -> Program:
    """Compile expanded operations and measurements into a :class:`Program`.

    Args:
        ops: Operations from :func:`expand_operations`.
        measurements: The tape's measurements; each must be ``expval`` of an observable with a
            Pauli representation and constant coefficients.
        wires: Wire labels of the register, in order.
        chunk_wires: Largest number of adjacent wires fused into one layer matmul.

    Raises:
        EngineUnsupportedError: On unsupported measurements or state preparations.
    """
    n = len(wires)
    if n == 0:
        raise EngineUnsupportedError("The engine needs at least one wire.")
    prog = Program(n_wires=n, wires=wires, chunk_wires=chunk_wires, initial=[None] * n)
    index_of = {label: i for i, label in enumerate(wires)}
    pending: dict[int, list[int]] = {}
    fresh = [True] * n

    def flush() -> None:
        if not pending:
            return
        layer_blocks: dict[int, int] = {}
        for w in sorted(pending):
            prog.blocks.append(tuple(pending[w]))
            block_id = len(prog.blocks) - 1
            if fresh[w] and prog.state_prep is None:
                prog.initial[w] = block_id
            else:
                layer_blocks[w] = block_id
            fresh[w] = False
        pending.clear()
        if layer_blocks:
            prog.steps.append(_layer(layer_blocks, n, chunk_wires))

    for i, op in enumerate(ops):
        op_wires = tuple(index_of[w] for w in op.wires)
        if is_state_prep(op):
            if i != 0 or op_wires != tuple(range(n)):
                raise EngineUnsupportedError(
                    f"{op.name} is supported only as the first operation, on all wires in order."
                )
            prog.state_prep = i
            continue
        if len(op_wires) == 1:
            pending.setdefault(op_wires[0], []).append(len(prog.gates))
            prog.gates.append(_one_qubit_gate(i, op))
            continue
        flush()
        for w in op_wires:
            fresh[w] = False
        _append_multi_qubit(prog, i, op, op_wires)
    flush()
    prog.readout = _compile_readout(measurements, index_of, n, chunk_wires)
    return prog


def _append_multi_qubit(prog: Program, i: int, op: Operator, op_wires: tuple[int, ...]) -> None:
    """Append gate ``i`` on several wires: merged into a permutation when constant monomial."""
    if op.num_params:
        prog.steps.append(Generic(op_wires, i))
        return
    matrix = np.asarray(qml.matrix(op, wire_order=op.wires))
    mono = monomial(matrix)
    if mono is None:
        prog.steps.append(Generic(op_wires, i, matrix.astype(np.complex128)))
        return
    perm = full_permutation(prog.n_wires, op_wires, *mono)
    if prog.steps and isinstance(prog.steps[-1], Permutation):
        prog.steps[-1] = compose(prog.steps[-1], perm)
    else:
        prog.steps.append(perm)


def _one_qubit_gate(i: int, op: Operator) -> OneQubitGate:
    if op.name in FAST_BUILDERS:
        return OneQubitGate(i, op.name)
    if op.num_params == 0:
        return OneQubitGate(i, "const", np.asarray(qml.matrix(op), dtype=np.complex128))
    return OneQubitGate(i, "matrix")


def balanced_chunks(n: int, chunk_wires: int) -> list[tuple[int, int]]:
    """Cut wires ``0..n-1`` into ``ceil(n / chunk_wires)`` runs of nearly equal size."""
    count = -(-n // chunk_wires)
    sizes = [n // count + (1 if i < n % count else 0) for i in range(count)]
    starts = np.cumsum([0, *sizes[:-1]])
    return [(int(s), k) for s, k in zip(starts, sizes, strict=True)]


def readout_chunks(n: int, chunk_wires: int) -> list[tuple[int, int]]:
    """Cut wires into chunks that are leading, trailing, or leave at least 16 trailing
    amplitudes, so every chunk's reduced density matrix is an efficient batched matmul."""
    if n <= chunk_wires:
        return [(0, n)]
    if n <= 2 * chunk_wires:
        return [(0, n // 2), (n // 2, n - n // 2)]
    chunks = [(0, chunk_wires)]
    start = chunk_wires
    while start < n - chunk_wires:
        k = min(chunk_wires, n - chunk_wires - start)
        chunks.append((start, k))
        start += k
    chunks.append((n - chunk_wires, chunk_wires))
    return chunks


def _layer(blocks: dict[int, int], n: int, chunk_wires: int) -> Layer:
    if 2 * len(blocks) <= n:
        return Layer(tuple(Chunk(w, (b,)) for w, b in sorted(blocks.items())), cyclic=False)
    chunks = tuple(
        Chunk(start, tuple(blocks.get(w) for w in range(start, start + k)))
        for start, k in balanced_chunks(n, chunk_wires)
    )
    return Layer(chunks, cyclic=True)


def _compile_readout(measurements: Sequence, index_of: dict, n: int, chunk_wires: int) -> Readout:
    single: dict[tuple[int, str], dict[int, float]] = {}
    words: dict[tuple, dict[int, float]] = {}
    offset = np.zeros(len(measurements))
    for j, mp in enumerate(measurements):
        if not isinstance(mp, ExpectationMP) or mp.obs is None:
            raise EngineUnsupportedError(
                f"The engine returns expectation values only, got {mp}. Supported: "
                f"{SUPPORTED_DESCRIPTION}."
            )
        rep = mp.obs.pauli_rep
        if rep is None:
            raise EngineUnsupportedError(
                f"Observable {mp.obs} has no Pauli representation. Supported: "
                f"{SUPPORTED_DESCRIPTION}."
            )
        for word, coeff in rep.items():
            if not isinstance(coeff, int | float | complex | np.number):
                raise EngineUnsupportedError(
                    f"Observable {mp.obs} has trainable coefficients; the engine needs constants."
                )
            coeff = float(np.real(coeff))
            items = tuple(sorted((index_of[w], p) for w, p in word.items()))
            if not items:
                offset[j] += coeff
            elif len(items) == 1:
                single.setdefault(items[0], {})[j] = coeff
            else:
                words.setdefault(items, {})[j] = coeff
    chunks = readout_chunks(n, chunk_wires) if single else []
    slot = {}
    for start, k in chunks:
        for w in range(start, start + k):
            slot[w] = len(slot)
    coeffs = np.zeros((3 * len(slot) + len(words), len(measurements)))
    for (w, letter), targets in single.items():
        for j, c in targets.items():
            coeffs[3 * slot[w] + "XYZ".index(letter), j] += c
    word_perms = []
    for k, (items, targets) in enumerate(words.items()):
        word_perms.append(pauli_word_permutation(n, dict(items)))
        for j, c in targets.items():
            coeffs[3 * len(slot) + k, j] += c
    return Readout(tuple(chunks), tuple(word_perms), coeffs, offset)
