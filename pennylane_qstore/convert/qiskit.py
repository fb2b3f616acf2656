"""Qiskit ``QuantumCircuit``: read with ``pennylane-qiskit``'s ``from_qiskit``, written through
Qiskit's own OpenQASM 2 reader from PennyLane's OpenQASM serializer (the ``qiskit`` extra).

Unbound ``Parameter`` objects stay symbolic when the target is Qiskit itself (the circuit is
returned as it is) or Cirq (:mod:`.symbolic`); any other target needs their values
(``params={"theta": 0.1}``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import pennylane as qml
from pennylane.tape import QuantumScript

from pennylane_qstore.convert._hub import ConversionError, from_operations

# Gates pennylane-qiskit maps to a named PennyLane gate. Anything else it turns into a
# QubitUnitary of Qiskit's little-endian matrix on big-endian wires (wrong for several qubits) or
# drops with a warning, so such circuits are first transpiled to these gates (exactly).
_NAMED_GATES = frozenset(
    {"x", "y", "z", "h", "s", "t", "sx", "sdg", "tdg", "sxdg", "id", "rx", "ry", "rz", "p"}
    | {"u1", "u2", "u3", "cx", "cy", "cz", "ch", "cp", "crx", "cry", "crz", "swap", "iswap"}
    | {"rxx", "ryy", "rzz", "ecr", "ccx", "ccz", "cswap"}
)
_KEPT = frozenset(
    {"measure", "reset", "barrier", "if_else", "switch_case", "while_loop", "for_loop"}
)


def _qiskit():
    try:
        import qiskit
        from qiskit import qasm2
    except ImportError as exc:
        raise ImportError(
            "converting Qiskit circuits needs qiskit and pennylane-qiskit: "
            'pip install "pennylane-qstore[qiskit]"'
        ) from exc
    return qiskit, qasm2


def is_qiskit(obj: Any) -> bool:
    """Return whether ``obj`` is a Qiskit ``QuantumCircuit`` (without importing Qiskit)."""
    return any(
        cls.__name__ == "QuantumCircuit" and cls.__module__.startswith("qiskit")
        for cls in type(obj).__mro__
    )


def read_qiskit(circuit: Any, params: Mapping[str, float] | None = None) -> QuantumScript:
    """Return the common-form tape of a ``QuantumCircuit``.

    Args:
        circuit: the circuit; its measurements become ``qml.probs`` (terminal) or
            ``qml.measure`` (mid-circuit).
        params: values of unbound parameters, by name.

    Raises:
        ConversionError: for unbound parameters without values or an instruction
            ``pennylane-qiskit`` cannot convert.
    """
    if circuit.parameters:
        names = [p.name for p in circuit.parameters]
        missing = [name for name in names if name not in (params or {})]
        if missing:
            raise ConversionError(
                f"Qiskit circuit has unbound parameters {missing}; give their values with "
                "params={name: value} (parameters stay symbolic only to qiskit or cirq)"
            )
        circuit = circuit.assign_parameters({p: params[p.name] for p in circuit.parameters})
    qiskit, _ = _qiskit()
    try:
        if set(circuit.count_ops()) - _NAMED_GATES - _KEPT:
            circuit = qiskit.transpile(
                circuit, basis_gates=sorted(_NAMED_GATES), optimization_level=0
            )
        with warnings.catch_warnings():  # pennylane-qiskit drops what it cannot convert, warning
            warnings.filterwarnings("error", message=".*not supported by PennyLane")
            tape = qml.tape.make_qscript(qml.from_qiskit(circuit, measurements=None))()
    except Exception as exc:  # pennylane-qiskit raises several exception types
        raise ConversionError(f"cannot convert the Qiskit circuit to PennyLane: {exc}") from exc
    if any(isinstance(op, qml.GlobalPhase) for op in tape.operations):
        tape = QuantumScript([op for op in tape.operations if not isinstance(op, qml.GlobalPhase)])
    return from_operations(tape.operations)


def write_qiskit(tape: QuantumScript) -> Any:
    """Return the ``QuantumCircuit`` of a common-form tape (terminal measurements into ``c``)."""
    from pennylane_qstore.convert.qasm import write_qasm2

    _, qasm2 = _qiskit()
    text = write_qasm2(tape)
    try:
        return qasm2.loads(text, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
    except Exception as exc:  # qasm2 raises QASM2ParseError and others
        raise ConversionError(f"Qiskit cannot read the circuit's OpenQASM 2: {exc}") from exc
