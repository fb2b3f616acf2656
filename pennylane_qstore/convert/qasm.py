"""OpenQASM 2 and 3: written with ``qml.to_openqasm``, read with the project's OpenQASM reader.

Writing: PennyLane's serializer gives OpenQASM 2; each mid-circuit measurement then gets its own
one-bit register so that the ``if`` statements are standard (``if(m0==1) x q[1];``), and the
OpenQASM 3 text is the same program in OpenQASM 3 syntax (``qubit[n] q;``, ``c[0] = measure q[0];``,
``include "stdgates.inc"``, which holds every gate name the serializer emits).

Reading: :func:`pennylane_qstore.ionq.qasm.load_qasm` (PennyLane's ``qml.from_qasm3`` behind line
numbered errors) reads the gates, and terminal ``measure`` statements become ``qml.probs``.
Programs it refuses for mid-circuit measurements, ``if`` statements, ``gate`` definitions or gates
it lacks (``sxdg``, ...) are read by Qiskit's OpenQASM readers through ``pennylane-qiskit`` (the
``qiskit`` extra).
"""

from __future__ import annotations

import re

import pennylane as qml
from pennylane.tape import QuantumScript
from pennylane.wires import Wires

from pennylane_qstore.convert._hub import ConversionError, for_writing, num_qubits
from pennylane_qstore.ionq.qasm import QasmError, load_qasm

_VERSION = re.compile(r"^\s*OPENQASM\s+(\d)", re.MULTILINE)
_IF = re.compile(r"^\s*if\s*\(", re.MULTILINE)
_MEASURED = re.compile(
    r"^\s*(?:measure\s+([\w\[\]\s]+?)\s*->|[\w\[\]\s]+=\s*measure\s+([\w\[\]\s]+?)\s*;)",
    re.MULTILINE,
)
_MCM_CREG = re.compile(r"^creg mcms\[(\d+)\];$", re.MULTILINE)
_MCM_BIT = re.compile(r"mcms\[(\d+)\]")
_GPHASE = re.compile(r"^(if\(\w+==1\) )?gphase\b")
_MCM_IF = re.compile(r"if\(m(\d+)\[0\]==1\)")


def version(text: str) -> int | None:
    """Return the OpenQASM major version a program declares (2 or 3), or ``None``."""
    found = _VERSION.search(text)
    return int(found.group(1)) if found else None


def write_qasm2(tape: QuantumScript) -> str:
    """Return the OpenQASM 2 program of a common-form tape (see :mod:`._hub`)."""
    operations, measured = for_writing(tape, "OpenQASM")
    n = num_qubits(tape)
    try:
        text = qml.to_openqasm(
            QuantumScript(operations), wires=Wires(range(n)), rotations=False, measure_all=False
        )
    except (ValueError, NotImplementedError) as exc:
        raise ConversionError(f"cannot write OpenQASM: {exc}") from exc
    text = _MCM_CREG.sub(lambda m: "\n".join(f"creg m{i}[1];" for i in range(int(m[1]))), text)
    text = _MCM_IF.sub(r"if(m\1==1)", _MCM_BIT.sub(r"m\1[0]", text))
    # qelib1 has no gphase; a global phase (of the whole circuit or of one branch) is unobservable
    lines = [line for line in text.rstrip("\n").split("\n") if not _GPHASE.match(line)]
    if measured:
        at = next(i for i, line in enumerate(lines) if line.startswith("qreg")) + 1
        lines.insert(at, f"creg c[{len(measured)}];")
        lines += [f"measure q[{w}] -> c[{i}];" for i, w in enumerate(measured)]
    return "\n".join(lines) + "\n"


_TO_QASM3 = (
    (re.compile(r"^OPENQASM 2\.0;$"), "OPENQASM 3.0;"),
    (re.compile(r'^include "qelib1\.inc";$'), 'include "stdgates.inc";'),
    (re.compile(r"^qreg (\w+)\[(\d+)\];$"), r"qubit[\2] \1;"),
    (re.compile(r"^creg (\w+)\[(\d+)\];$"), r"bit[\2] \1;"),
    (re.compile(r"^measure (\S+) -> (\S+);$"), r"\2 = measure \1;"),
    (re.compile(r"^if\((\w+)==1\) (.*)$"), r"if (\1 == 1) { \2 }"),
)


def write_qasm3(tape: QuantumScript) -> str:
    """Return the OpenQASM 3 program of a common-form tape."""
    lines = []
    for line in write_qasm2(tape).splitlines():
        for pattern, replacement in _TO_QASM3:
            line = pattern.sub(replacement, line)
        lines.append(line)
    return "\n".join(lines) + "\n"


def _measured_wires(text: str, labels: list[str]) -> list[int]:
    """Return the indices (into ``labels``) of the measured qubits, in measurement order."""
    order: list[int] = []
    for found in _MEASURED.finditer(text):
        target = re.sub(r"\s+", "", found.group(1) or found.group(2))
        hits = [i for i, label in enumerate(labels) if label == target]
        hits = hits or [i for i, label in enumerate(labels) if label.startswith(f"{target}[")]
        order += [i for i in hits if i not in order]
    return order


_QISKIT_READS = (  # what the project's reader refuses and Qiskit's readers take
    ("after it was measured", "a mid-circuit measurement"),
    ("custom gate definitions", "a gate definition"),
    ("Unsupported gate", "a gate PennyLane's reader lacks"),
)


def read_qasm(text: str, source: str = "<qasm>") -> QuantumScript:
    """Return the common-form tape of an OpenQASM 2 or 3 program.

    Raises:
        ConversionError: for a program that cannot be read, naming the line at fault.
    """
    if _IF.search(text):
        return _read_with_qiskit(text, "an if statement")
    try:
        tape, labels = load_qasm(text, source)
    except QasmError as exc:
        for marker, construct in _QISKIT_READS:
            if marker in str(exc):
                return _read_with_qiskit(text, f"{construct} ({exc})")
        raise ConversionError(str(exc)) from exc
    mapping = {label: i for i, label in enumerate(labels)}
    [tape], _ = qml.map_wires(QuantumScript(tape.operations), mapping)
    measured = _measured_wires(text, labels)
    return QuantumScript(tape.operations, [qml.probs(wires=measured)] if measured else [])


def _read_with_qiskit(text: str, construct: str) -> QuantumScript:
    """Read a program with Qiskit's OpenQASM readers (mid-circuit measurements, ``if``, gate
    definitions and qelib1 gates PennyLane's reader lacks)."""
    try:
        from qiskit import qasm2, qasm3
    except ImportError as exc:
        raise ImportError(
            f"reading OpenQASM with {construct} needs Qiskit's reader: "
            'pip install "pennylane-qstore[qiskit]"'
        ) from exc
    from pennylane_qstore.convert.qiskit import read_qiskit

    try:
        if version(text) == 3:
            circuit = qasm3.loads(text)
        else:
            circuit = qasm2.loads(text, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
    except Exception as exc:  # both readers raise their own exception types
        raise ConversionError(f"cannot read OpenQASM with {construct}: {exc}") from exc
    return read_qiskit(circuit)
