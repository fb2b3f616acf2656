"""Compile PennyLane circuits to IonQ native gates.

API (stable):

- :func:`compile_circuit` ``(circuit, entangler="ms", wires=None, max_qubits=None,
  passes=PASSES) -> NativeCircuit``: the gates of a tape / operation list, with global phase,
  residual Z frames and output relabelling reported (see
  :class:`~pennylane_qstore.ionq.native.NativeCircuit`). Measurements are ignored. ``passes``
  picks the optimising passes (:data:`PASSES`, always run in that order): ``"cancel"`` merges
  interactions across gates that commute with them, ``"resynthesise"`` replaces two-qubit blocks
  by their KAK form (:mod:`.resynthesis`) where that has fewer two-qubit gates.
- :func:`pass_report` ``(circuit, entangler="ms", wires=None) -> list[(passes, counts)]``: the
  native gate counts with no pass, then with each pass added in order.
- :func:`to_native` ``(tape | qnode, entangler="ms", max_qubits=None)``: a PennyLane transform.
  Each output tape holds only GPI/GPI2/MS/ZZ on the source's wire labels (physical qubit ``i`` is
  the ``i``-th wire of the source tape) and measures only ``qml.probs`` on wires, which is all an
  IonQ job returns. Observables are first split into qubit-wise commuting groups
  (``split_non_commuting``), their basis rotations are compiled into the circuit, and each
  ``expval``/``var``/``probs`` is rebuilt from those probabilities by the post-processing function
  (which also undoes the wire relabelling left by absorbed SWAPs).
- :func:`native_circuits` ``(tape, ...)``: the same, returned as ``NativeCircuit`` objects plus
  ``measured_wires`` per tape, for the IonQ device.

``entangler="ms"`` targets Aria (partial-angle MS), ``"zz"`` Forte (ZZ). Parameters must be finite
numbers (gate angles real); the compiled circuit is numeric: ``to_native`` refuses parameters that
are being differentiated.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pennylane as qml
from pennylane.operation import Operator
from pennylane.tape import QuantumScript
from pennylane.typing import PostprocessingFn

from pennylane_qstore.ionq.compile_checks import (
    ENTANGLERS,
    PASSES,
    SUPPORTED_MEASUREMENTS,
    check_entangler,
    check_finite,
    check_measurements,
    check_not_trainable,
    check_operations,
    check_passes,
)
from pennylane_qstore.ionq.lowering import UnsupportedOperationError, lower
from pennylane_qstore.ionq.native import NativeCircuit
from pennylane_qstore.ionq.ops import rad_to_turns, wrap_turns
from pennylane_qstore.ionq.passes import CircuitBuilder, emit
from pennylane_qstore.ionq.results import from_probabilities
from pennylane_qstore.ionq.resynthesis import program, replay, resynthesise_blocks
from pennylane_qstore.ionq.toffoli import choose_forms

__all__ = [
    "ENTANGLERS",
    "PASSES",
    "SUPPORTED_MEASUREMENTS",
    "UnsupportedOperationError",
    "compile_circuit",
    "native_circuits",
    "pass_report",
    "to_native",
]


def compile_circuit(
    circuit: QuantumScript | Sequence[Operator],
    entangler: str = "ms",
    wires: Sequence | None = None,
    max_qubits: int | None = None,
    passes: Sequence[str] = PASSES,
) -> NativeCircuit:
    """Compile the operations of ``circuit`` to IonQ native gates.

    Args:
        circuit: a tape (its measurements are ignored) or a list of operations only.
        entangler: ``"ms"`` for Aria or ``"zz"`` for Forte.
        wires: wire labels in physical qubit order; defaults to the circuit's wires.
        max_qubits: the target's qubit count; wider circuits are rejected.
        passes: names from :data:`PASSES` to run (always in that order).

    Returns:
        The native circuit.

    Raises:
        ValueError: bad entangler or pass name, non-finite or complex gate angle, too many
            qubits, unknown wire.
        TypeError: the operation list holds a measurement or another non-operation.
        UnsupportedOperationError: an operation with no native form or decomposition.
    """
    check_entangler(entangler)
    passes = check_passes(passes)
    operations = list(circuit.operations if isinstance(circuit, QuantumScript) else circuit)
    check_operations(operations)
    check_finite(operations)
    used = qml.wires.Wires.all_wires([op.wires for op in operations])
    labels = tuple(used.tolist() if wires is None else wires)
    missing = [w for w in used if w not in labels]
    if missing:
        raise ValueError(
            f"operations act on wires {missing} outside the given wires {list(labels)}"
        )
    if max_qubits is not None and len(labels) > max_qubits:
        raise ValueError(
            f"the circuit uses {len(labels)} qubits but the target has only {max_qubits}; "
            "reduce the circuit width or choose a larger backend"
        )
    return compile_operations(operations, entangler, labels, passes)


def compile_operations(
    operations: Sequence[Operator],
    entangler: str,
    labels: tuple,
    passes: tuple[str, ...],
    frame_wires: tuple = (),
) -> NativeCircuit:
    """Compile checked operations on ``labels``; :func:`compile_circuit` without the checks.

    ``frame_wires`` are extra wire labels of frame ancillas (see
    :class:`~pennylane_qstore.ionq.passes.CircuitBuilder`): interactions with them become virtual
    Z frames, and they do not appear in the result.
    """
    if "cancel" in passes and any(len(op.wires) > 2 for op in operations):
        [tape], _ = qml.transforms.cancel_inverses(QuantumScript(operations))
        operations = tape.operations  # adjacent inverse pairs of wider gates (Toffoli·Toffoli)

    def compile_fn(ops: list[Operator]) -> NativeCircuit:
        return _compile_once(ops, entangler, labels, passes, frame_wires)

    if "toffoli" in passes and any(isinstance(op, qml.Toffoli) for op in operations):
        return choose_forms(operations, compile_fn)
    return compile_fn(list(operations))


def _compile_once(operations, entangler, labels, passes, frame_wires) -> NativeCircuit:
    """Lower, optimise and emit ``operations``."""
    index = {w: i for i, w in enumerate((*labels, *frame_wires))}
    builder = CircuitBuilder(len(index), merge="cancel" in passes, frame_qubits=len(frame_wires))
    lower(operations, index, builder)
    if "resynthesise" in passes:
        builder = _resynthesised(builder)
    gates, frames, phase = emit(builder, entangler)
    return NativeCircuit(
        gates=tuple(gates),
        wires=labels,
        output_qubits=tuple(builder.position[: len(labels)]),
        frames=tuple(frames),
        global_phase=wrap_turns(rad_to_turns(phase)),
        entangler=entangler,
    )


def _resynthesised(builder: CircuitBuilder) -> CircuitBuilder:
    """Run block resynthesis; keep it only if it leaves fewer two-qubit interactions."""
    frame_qubits = builder.num_qubits - builder.real_qubits
    fresh = CircuitBuilder(builder.num_qubits, merge=builder.merge, frame_qubits=frame_qubits)
    replay(resynthesise_blocks(program(builder), builder.real_qubits), fresh)
    fresh.position = list(builder.position)

    def interactions(b: CircuitBuilder) -> int:
        return sum(core.alive and max(core.wires) < b.real_qubits for core in b.cores)

    return fresh if interactions(fresh) < interactions(builder) else builder


def pass_report(
    circuit: QuantumScript | Sequence[Operator],
    entangler: str = "ms",
    wires: Sequence | None = None,
) -> list[tuple[tuple[str, ...], dict[str, int]]]:
    """Return the native gate counts with no pass, then with each of :data:`PASSES` added.

    What a pass removed is the difference between its row and the row before.
    """
    return [
        (PASSES[:k], compile_circuit(circuit, entangler, wires, passes=PASSES[:k]).gate_counts())
        for k in range(len(PASSES) + 1)
    ]


def _diagonalised(tape: QuantumScript) -> QuantumScript:
    """Return ``tape`` with basis rotations appended so that every observable is diagonal."""
    [tape], _ = qml.transforms.diagonalize_measurements(tape)
    extra: list[Operator] = []
    seen: list[Operator] = []
    for mp in tape.measurements:
        if mp.obs is not None and not any(qml.equal(mp.obs, o) for o in seen):
            seen.append(mp.obs)
            extra.extend(mp.obs.diagonalizing_gates())
    return tape.copy(operations=[*tape.operations, *extra])


def native_circuits(
    tape: QuantumScript,
    entangler: str = "ms",
    max_qubits: int | None = None,
    cache=None,
) -> tuple[list[tuple[NativeCircuit, list[list]]], PostprocessingFn]:
    """Compile a tape with measurements into native circuits plus result post-processing.

    Args:
        tape: the source circuit with ``expval``/``var``/``probs`` measurements.
        entangler: ``"ms"`` or ``"zz"``.
        max_qubits: the target's qubit count.
        cache: a :class:`~pennylane_qstore.ionq.structure.StructureCache` to compile through
            (tapes of one structure then compile once), or ``None`` to compile each afresh.

    Returns:
        ``(jobs, postprocess)``: ``jobs`` is a list of ``(native, measured)`` where ``measured``
        lists, per measurement of that job, the *compiled-tape* wire labels whose joint
        probabilities it needs (first label most significant); ``postprocess`` takes, per job, the
        list of those probability vectors and returns the source tape's results.
    """
    check_entangler(entangler)
    if tape.batch_size is not None:
        raise ValueError(
            f"the tape is broadcast over {tape.batch_size} parameter values; expand it first with "
            "qml.transforms.broadcast_expand (to_native does this for you)"
        )
    if tape.shots.has_partitioned_shots:
        raise ValueError(
            f"the tape has a shot vector {tape.shots}; compile one tape per entry "
            "(to_native does this for you)"
        )
    check_finite(tape.operations)
    check_measurements(tape)
    wires = tape.wires.tolist()
    split, split_fn = qml.transforms.split_non_commuting(tape)
    jobs, sources = [], []
    compile_fn = compile_circuit if cache is None else cache.compile
    for part in split:
        diag = _diagonalised(part)
        native = compile_fn(diag, entangler, wires=wires, max_qubits=max_qubits)
        measured = [native.output_wire_labels(mp.wires or wires) for mp in diag.measurements]
        jobs.append((native, measured))
        sources.append(diag.measurements)

    def postprocess(results: Sequence[Sequence[np.ndarray]]):
        values = []
        for mps, probs_list in zip(sources, results, strict=True):
            out = tuple(
                from_probabilities(mp, np.asarray(p, dtype=float))
                for mp, p in zip(mps, probs_list, strict=True)
            )
            values.append(out[0] if len(out) == 1 else out)
        return split_fn(values)

    return jobs, postprocess


@qml.transform
def to_native(
    tape: QuantumScript, entangler: str = "ms", max_qubits: int | None = None
) -> tuple[list[QuantumScript], PostprocessingFn]:
    """Compile a circuit to IonQ native gates (GPI, GPI2 and MS or ZZ) only.

    Works on tapes and QNodes (``qml.transform``). The compiled tapes measure ``qml.probs`` only;
    the returned post-processing rebuilds the source measurements. Global phase and the trailing
    virtual-Z frames are dropped from the tapes (they do not change any measurement); use
    :func:`compile_circuit` to inspect them.

    Args:
        tape: the source circuit.
        entangler: ``"ms"`` (Aria, partial-angle MS) or ``"zz"`` (Forte).
        max_qubits: the target's qubit count; wider circuits are rejected with both numbers.

    Returns:
        The compiled tapes and the post-processing function.

    **Example**

    >>> dev = qml.device("default.qubit")
    >>> @to_native(entangler="zz")
    ... @qml.qnode(dev)
    ... def circuit(x):
    ...     qml.Hadamard(0)
    ...     qml.CNOT([0, 1])
    ...     qml.RX(x, 1)
    ...     return qml.expval(qml.Y(1))

    Raises:
        ValueError: a parameter is being differentiated (``qml.grad``, torch ``requires_grad``):
            the compiled circuit is numeric, so differentiate the original QNode instead.
    """
    check_not_trainable(tape)
    if tape.batch_size is not None:  # parameter broadcasting: one compiled circuit per value
        expanded, stack = qml.transforms.broadcast_expand(tape)
        return _concatenate([_compile_tape(t, entangler, max_qubits) for t in expanded], stack)
    if tape.shots.has_partitioned_shots:  # shot vector: one compiled circuit per entry
        settings = [entry.shots for entry in tape.shots.shot_vector for _ in range(entry.copies)]
        parts = [_compile_tape(tape.copy(shots=shots), entangler, max_qubits) for shots in settings]
        return _concatenate(parts, tuple)
    return _compile_tape(tape, entangler, max_qubits)


def _concatenate(parts: list, combine) -> tuple[list[QuantumScript], PostprocessingFn]:
    """Join the outputs of several ``_compile_tape`` calls; ``combine`` gathers their results."""
    ends = np.cumsum([len(tapes) for tapes, _ in parts])

    def processing_fn(results):
        starts = [0, *ends[:-1]]
        return combine(
            [fn(results[lo:hi]) for (_, fn), lo, hi in zip(parts, starts, ends, strict=True)]
        )

    return [t for tapes, _ in parts for t in tapes], processing_fn


def _compile_tape(
    tape: QuantumScript, entangler: str, max_qubits: int | None
) -> tuple[list[QuantumScript], PostprocessingFn]:
    """Compile one unbroadcast tape for :func:`to_native`."""
    jobs, postprocess = native_circuits(tape, entangler, max_qubits)
    tapes = [
        QuantumScript(
            native.operations(), [qml.probs(wires=labels) for labels in measured], shots=tape.shots
        )
        for native, measured in jobs
    ]
    counts = [len(measured) for _, measured in jobs]

    def processing_fn(results):
        return postprocess(
            [tuple(r) if n > 1 else (r,) for r, n in zip(results, counts, strict=True)]
        )

    return tapes, processing_fn
