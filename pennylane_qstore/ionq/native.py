"""Compiled IonQ native circuits and their exact ``ionq.circuit.v1`` JSON form.

API (stable, used by the IonQ device, client and local server):

- :class:`NativeGate`: one native gate on physical qubit indices, phases and angles in turns.
  ``gate.to_json()`` is IonQ's gate entry, e.g. ``{"gate": "gpi2", "target": 0, "phase": 0.25}``.
- :class:`NativeCircuit`: the compiler's result: ``gates``, ``wires`` (physical qubit ``i`` starts
  with logical wire ``wires[i]``), ``output_qubits`` (logical wire ``wires[i]`` ends on physical
  qubit ``output_qubits[i]``: swaps are absorbed by relabelling), ``frames`` (the residual virtual-Z
  rotation per physical qubit, turns, never emitted: invisible to computational-basis measurement)
  and ``global_phase`` (turns). Exactly::

      source_unitary == exp(2πi·global_phase) · P_out · Rz(frames) · gates_unitary

  which :meth:`NativeCircuit.matrix` returns (in the order of ``wires``).
  ``circuit.to_json()`` is the ``input`` object of an IonQ job:
  ``{"gateset": "native", "qubits": n, "circuit": [...]}``.
- :func:`gates_from_json` parses and validates a native gate list (e.g. on a server);
  :func:`circuit_json` builds the ``input`` object from PennyLane native operations (e.g. the tapes
  :func:`~pennylane_qstore.ionq.compiler.to_native` returns).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pennylane as qml
from pennylane.operation import Operator

from pennylane_qstore.ionq.circuits import validate_circuit
from pennylane_qstore.ionq.ops import GPI, GPI2, MS, ZZ, turns_to_rad

_OP_CLASSES = {"gpi": GPI, "gpi2": GPI2, "ms": MS, "zz": ZZ}
TWO_QUBIT_GATES = frozenset({"ms", "zz"})


@dataclass(frozen=True)
class NativeGate:
    """One IonQ native gate.

    Attributes:
        name: ``"gpi"``, ``"gpi2"``, ``"ms"`` or ``"zz"``.
        qubits: physical qubit indices (one, or two for ``ms``/``zz``).
        phases: axis phases in turns (one per qubit for gpi/gpi2/ms, none for zz).
        angle: interaction angle in turns for ``ms``/``zz``, else ``None``.
    """

    name: str
    qubits: tuple[int, ...]
    phases: tuple[float, ...] = ()
    angle: float | None = None

    def to_json(self) -> dict:
        """Return IonQ's ``ionq.circuit.v1`` native gate entry."""
        if self.name in ("gpi", "gpi2"):
            return {"gate": self.name, "target": self.qubits[0], "phase": self.phases[0]}
        if self.name == "ms":
            return {
                "gate": "ms",
                "targets": list(self.qubits),
                "phases": list(self.phases),
                "angle": self.angle,
            }
        return {"gate": "zz", "targets": list(self.qubits), "angle": self.angle}

    def to_operation(self, labels: Sequence) -> Operator:
        """Return the PennyLane operation, with physical qubit ``i`` on wire ``labels[i]``."""
        wires = [labels[q] for q in self.qubits]
        if self.name == "zz":
            return ZZ(self.angle, wires=wires)
        if self.name == "ms":
            return MS(*self.phases, self.angle, wires=wires)
        return _OP_CLASSES[self.name](self.phases[0], wires=wires)


@dataclass(frozen=True)
class NativeCircuit:
    """A circuit compiled to IonQ native gates (see the module docstring for the exact contract)."""

    gates: tuple[NativeGate, ...]
    wires: tuple
    output_qubits: tuple[int, ...]
    frames: tuple[float, ...]
    global_phase: float
    entangler: str

    @property
    def qubits(self) -> int:
        """Number of physical qubits (IonQ's ``qubits`` field)."""
        return len(self.wires)

    def to_json(self) -> dict:
        """Return the ``input`` object of an IonQ ``ionq.circuit.v1`` job with native gates."""
        return {
            "gateset": "native",
            "qubits": self.qubits,
            "circuit": [gate.to_json() for gate in self.gates],
        }

    def gate_counts(self) -> dict[str, int]:
        """Return counts per gate name plus ``"1q"``, ``"2q"`` and ``"total"``."""
        counts = Counter(gate.name for gate in self.gates)
        two = sum(counts[name] for name in TWO_QUBIT_GATES)
        result = {name: counts[name] for name in ("gpi", "gpi2", "ms", "zz")}
        result.update({"1q": len(self.gates) - two, "2q": two, "total": len(self.gates)})
        return result

    def operations(self) -> list[Operator]:
        """Return the gates as PennyLane operations; physical qubit ``i`` is wire ``wires[i]``."""
        return [gate.to_operation(self.wires) for gate in self.gates]

    def qubit_of(self, wire) -> int:
        """Return the physical qubit that holds logical ``wire`` at the end of the circuit."""
        return self.output_qubits[self.wires.index(wire)]

    def output_wire_labels(self, wires: Iterable) -> list:
        """Return the wire labels to measure (in the compiled tape) for logical ``wires``."""
        return [self.wires[self.qubit_of(w)] for w in wires]

    def gates_matrix(self) -> np.ndarray:
        """Return the unitary of the emitted gates alone (physical qubit 0 most significant)."""
        n = self.qubits
        state = np.eye(2**n, dtype=complex).reshape([2] * n + [2**n])
        for gate in self.gates:
            op = gate.to_operation(range(n))
            k = len(gate.qubits)
            mat = np.asarray(op.matrix()).reshape([2] * (2 * k))
            state = np.tensordot(mat, state, axes=(list(range(k, 2 * k)), list(gate.qubits)))
            state = np.moveaxis(state, list(range(k)), list(gate.qubits))
        return state.reshape(2**n, 2**n)

    def matrix(self) -> np.ndarray:
        """Return the full compiled unitary (frames, relabelling, global phase) in ``wires`` order.

        It equals the source circuit's unitary; tests check this to 1e-9.
        """
        n = self.qubits
        frame_diag = np.ones(1, dtype=complex)
        for f in self.frames:
            half = turns_to_rad(f) / 2
            frame_diag = np.kron(frame_diag, [np.exp(-1j * half), np.exp(1j * half)])
        mat = frame_diag[:, None] * self.gates_matrix()
        mat = mat * np.exp(1j * turns_to_rad(self.global_phase))
        tensor = mat.reshape([2] * n + [2**n])
        return tensor.transpose([*self.output_qubits, n]).reshape(2**n, 2**n)


def gates_from_json(circuit: Sequence[dict], qubits: int) -> list[NativeGate]:
    """Parse an IonQ native gate list, checked by :func:`.circuits.validate_circuit`.

    Args:
        circuit: the ``circuit`` list of an ``ionq.circuit.v1`` native job.
        qubits: the job's qubit count; every target must be below it.

    Returns:
        The gates, in order.

    Raises:
        CircuitError: (a ``ValueError``) naming the offending entry, as the local server does.
    """
    validate_circuit(circuit, "native", qubits)
    gates = []
    for entry in circuit:
        name = entry["gate"]
        if name in TWO_QUBIT_GATES:
            targets = tuple(entry["targets"])
            phases = () if name == "zz" else tuple(map(float, entry.get("phases", (0.0, 0.0))))
            gates.append(NativeGate(name, targets, phases, float(entry.get("angle", 0.25))))
        else:
            gates.append(NativeGate(name, (entry["target"],), (float(entry["phase"]),)))
    return gates


def circuit_json(operations: Iterable[Operator], wire_order: Sequence) -> dict:
    """Return the ``input`` object of a native IonQ job for PennyLane native operations.

    Args:
        operations: GPI/GPI2/MS/ZZ operations (e.g. a tape from ``to_native``).
        wire_order: wire labels; label ``wire_order[i]`` is physical qubit ``i``.

    Raises:
        ValueError: if an operation is not a native gate.
    """
    index = {w: i for i, w in enumerate(wire_order)}
    circuit = []
    for op in operations:
        qubits = tuple(index[w] for w in op.wires.labels)
        data = op.data  # plain floats as compiled; tensors (a tape built by hand) are unwrapped
        if not all(type(d) is float for d in data):
            data = [float(qml.math.unwrap(d)) for d in data]
        if isinstance(op, GPI | GPI2):
            gate = NativeGate(op.name.lower(), qubits, (data[0],))
        elif isinstance(op, MS):
            gate = NativeGate("ms", qubits, (data[0], data[1]), data[2])
        elif isinstance(op, ZZ):
            gate = NativeGate("zz", qubits, (), data[0])
        else:
            raise ValueError(
                f"{op.name} is not an IonQ native gate (GPI, GPI2, MS, ZZ); compile it with "
                "pennylane_qstore.ionq.compiler.to_native first"
            )
        circuit.append(gate.to_json())
    return {"gateset": "native", "qubits": len(wire_order), "circuit": circuit}
