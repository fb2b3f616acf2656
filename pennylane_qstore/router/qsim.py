"""The ``qsim`` target: Google's qsim simulator driven through ``qsimcirq`` directly.

Tapes of one batch that share a structure (same gates on the same wires, differing only in
rotation angles, as produced by parameter-shift or a training batch) become ONE symbolic cirq
circuit simulated as one parameter sweep, instead of one cirq conversion per tape. Measurements
are taken from the final state with PennyLane's own measurement code, so expectation values,
probabilities, samples and shot vectors follow ``default.qubit`` exactly (qsim computes in single
precision: amplitudes agree to about 1e-7).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pennylane as qml
from pennylane.devices import Device, ExecutionConfig
from pennylane.devices.modifiers import simulator_tracking, single_tape_support
from pennylane.devices.preprocess import (
    decompose,
    validate_device_wires,
    validate_measurements,
)
from pennylane.devices.qubit.simulate import measure_final_state
from pennylane.operation import StatePrepBase
from pennylane.tape import QuantumScript, QuantumScriptBatch
from pennylane.transforms import broadcast_expand
from pennylane.transforms.core import CompilePipeline
from pennylane.typing import Result, ResultBatch

_INSTALL_HINT = 'pip install "pennylane-qstore[qsim]"'

# gates without parameters: PennyLane name -> builder(num_wires) of the cirq gate
_FIXED: dict[str, Callable[[Any, int], Any]] = {
    "Identity": lambda cirq, n: cirq.IdentityGate(n),
    "PauliX": lambda cirq, n: cirq.X,
    "PauliY": lambda cirq, n: cirq.Y,
    "PauliZ": lambda cirq, n: cirq.Z,
    "Hadamard": lambda cirq, n: cirq.H,
    "S": lambda cirq, n: cirq.S,
    "T": lambda cirq, n: cirq.T,
    "SX": lambda cirq, n: cirq.XPowGate(exponent=0.5),
    "CNOT": lambda cirq, n: cirq.CNOT,
    "CZ": lambda cirq, n: cirq.CZ,
    "CY": lambda cirq, n: cirq.ControlledGate(cirq.Y),
    "SWAP": lambda cirq, n: cirq.SWAP,
    "ISWAP": lambda cirq, n: cirq.ISWAP,
    "Toffoli": lambda cirq, n: cirq.CCX,
    "CSWAP": lambda cirq, n: cirq.CSWAP,
}

# one-angle gates: PennyLane name -> builder(angle) of the cirq gate (angle may be a sympy symbol)
_ROTATIONS: dict[str, Callable[[Any, Any], Any]] = {
    "RX": lambda cirq, a: cirq.rx(a),
    "RY": lambda cirq, a: cirq.ry(a),
    "RZ": lambda cirq, a: cirq.rz(a),
    "PhaseShift": lambda cirq, a: cirq.ZPowGate(exponent=a / np.pi),
    "ControlledPhaseShift": lambda cirq, a: cirq.CZPowGate(exponent=a / np.pi),
    "CRX": lambda cirq, a: cirq.ControlledGate(cirq.rx(a)),
    "CRY": lambda cirq, a: cirq.ControlledGate(cirq.ry(a)),
    "CRZ": lambda cirq, a: cirq.ControlledGate(cirq.rz(a)),
    "IsingXX": lambda cirq, a: cirq.XXPowGate(exponent=a / np.pi, global_shift=-0.5),
    "IsingYY": lambda cirq, a: cirq.YYPowGate(exponent=a / np.pi, global_shift=-0.5),
    "IsingZZ": lambda cirq, a: cirq.ZZPowGate(exponent=a / np.pi, global_shift=-0.5),
}

_STATE_PREPS = frozenset({"StatePrep", "BasisState"})


def _is_initial_state(op: qml.operation.Operator, position: int) -> bool:
    """Whether ``op`` prepares the initial state (a state preparation in first position)."""
    return position == 0 and isinstance(op, StatePrepBase)


QSIM_GATES = frozenset(_FIXED) | frozenset(_ROTATIONS) | {"QubitUnitary", "GlobalPhase"}
"""Gates the qsim target runs natively; PennyLane decomposes everything else into these, except
operations with a matrix but no decomposition (up to 4 wires), which run as matrix gates."""


_MAX_MATRIX_WIRES = 4


def _as_matrix(op: qml.operation.Operator) -> bool:
    """Whether ``op`` runs as a dense matrix gate (a unitary, or a gate with no decomposition)."""
    if len(op.wires) > _MAX_MATRIX_WIRES or not op.has_matrix:
        return False
    return op.name == "QubitUnitary" or not op.has_decomposition


def _supported(op: qml.operation.Operator) -> bool:
    """Stopping condition for ``decompose``: whether qsim runs ``op`` as it is."""
    return (op.name in QSIM_GATES and op.name != "QubitUnitary") or _as_matrix(op)


def _numeric(value: Any) -> np.ndarray:
    """Return ``value`` as a NumPy array (parameters reach qsim without autodiff tracking)."""
    return np.asarray(qml.math.unwrap(value))


def _structure_key(tape: QuantumScript) -> tuple:
    """Return a key equal for tapes that differ only in rotation angles and global phases."""
    parts: list[tuple] = [(len(tape.wires),)]
    for i, op in enumerate(tape.operations):
        if op.name == "GlobalPhase":
            continue
        if op.name in _ROTATIONS or op.name in _FIXED:
            parts.append((op.name, tuple(op.wires)))
        elif _is_initial_state(op, i):
            state = _numeric(op.state_vector(wire_order=range(len(tape.wires))))
            parts.append((op.name, tuple(op.wires), state.tobytes()))
        else:  # a matrix gate: the matrix is part of the structure
            parts.append((op.name, tuple(op.wires), _numeric(op.matrix()).tobytes()))
    return tuple(parts)


@simulator_tracking
@single_tape_support
class QsimDevice(Device):
    """State-vector simulation with qsim (``qsimcirq``), one parameter sweep per tape structure.

    Args:
        wires: Number of wires or wire labels; ``None`` lets each tape bring its own.
        shots: Default shots (PennyLane takes shots from each tape).
        seed: Seed for the NumPy generator used to draw samples.
        cpu_threads: Threads qsim uses; defaults to the number of CPU cores.
        max_fused_gate_size: qsim's gate-fusion width (2 is best below ~22 qubits).

    Raises:
        ImportError: If ``qsimcirq`` is not installed, with the install command.
    """

    name = "qsim"

    def __init__(
        self,
        wires=None,
        shots=None,
        seed: int | None = None,
        cpu_threads: int | None = None,
        max_fused_gate_size: int = 2,
    ) -> None:
        super().__init__(wires=wires, shots=shots)
        try:
            import cirq
            import qsimcirq
            import sympy
        except ImportError as exc:
            raise ImportError(
                f"The qsim target needs qsimcirq and cirq-core: {_INSTALL_HINT}"
            ) from exc
        self._cirq = cirq
        self._sympy = sympy
        self._rng = np.random.default_rng(seed)
        threads = cpu_threads or os.cpu_count() or 1
        self._simulator = qsimcirq.QSimSimulator(
            qsimcirq.QSimOptions(cpu_threads=threads, max_fused_gate_size=max_fused_gate_size)
        )

    def __repr__(self) -> str:
        return f"<QsimDevice wires={list(self.wires) if self.wires else None}>"

    def preprocess_transforms(
        self, execution_config: ExecutionConfig | None = None
    ) -> CompilePipeline:
        """Decompose to :data:`QSIM_GATES`, split broadcasts and validate measurements."""
        program = CompilePipeline()
        program.add_transform(validate_device_wires, wires=self.wires, name=self.name)
        program.add_transform(
            decompose,
            stopping_condition=_supported,
            target_gates=QSIM_GATES | _STATE_PREPS,
            name=self.name,
        )
        program.add_transform(broadcast_expand)
        program.add_transform(validate_measurements, name=self.name)
        return program

    def execute(
        self,
        circuits: QuantumScriptBatch,
        execution_config: ExecutionConfig | None = None,
    ) -> ResultBatch:
        """Simulate ``circuits``: one qsim parameter sweep per group of same-structure tapes."""
        circuits = [c.map_to_standard_wires() for c in circuits]
        results: list[Result | None] = [None] * len(circuits)
        groups: dict[tuple, list[int]] = {}
        for index, tape in enumerate(circuits):
            groups.setdefault(_structure_key(tape), []).append(index)
        for indices in groups.values():
            tapes = [circuits[i] for i in indices]
            states = self._simulate_group(tapes)
            for i, tape, state in zip(indices, tapes, states, strict=True):
                results[i] = measure_final_state(tape, state, False, rng=self._rng)
        return tuple(results)

    def _simulate_group(self, tapes: Sequence[QuantumScript]) -> list[np.ndarray]:
        """Return the final states (shape ``[2] * n``) of tapes sharing one structure."""
        cirq = self._cirq
        first = tapes[0]
        num_wires = len(first.wires)
        qubits = cirq.LineQubit.range(num_wires)
        moments: list[Any] = [cirq.IdentityGate(num_wires).on(*qubits)] if num_wires else []
        initial_state: np.ndarray | None = None
        symbol_positions: list[int] = []
        for i, op in enumerate(first.operations):
            targets = [qubits[w] for w in op.wires]
            if op.name == "GlobalPhase":
                continue
            if op.name in _ROTATIONS:
                symbol = self._sympy.Symbol(f"p{i}")
                moments.append(_ROTATIONS[op.name](cirq, symbol).on(*targets))
                symbol_positions.append(i)
            elif op.name in _FIXED:
                moments.append(_FIXED[op.name](cirq, len(targets)).on(*targets))
            elif _is_initial_state(op, i):
                initial_state = np.asarray(
                    op.state_vector(wire_order=range(num_wires)), dtype=np.complex64
                ).reshape(-1)
            else:
                moments.append(cirq.MatrixGate(_numeric(op.matrix())).on(*targets))
        circuit = cirq.Circuit(moments)
        resolvers = [
            {f"p{i}": float(_numeric(tape.operations[i].data[0])) for i in symbol_positions}
            for tape in tapes
        ]
        trials = self._simulator.simulate_sweep_iter(
            circuit, resolvers, qubit_order=qubits, initial_state=initial_state
        )
        states = []
        for tape, trial in zip(tapes, trials, strict=True):
            state = trial.final_state_vector.astype(np.complex128)
            for op in tape.operations:
                if op.name == "GlobalPhase":
                    state = state * np.exp(-1j * float(_numeric(op.data[0])))
            states.append(state.reshape([2] * num_wires))
        return states
