"""Reading OpenQASM 2 and 3 circuits with PennyLane's own converter (``qml.from_qasm3``).

OpenQASM 2 declarations (``qreg``/``creg``, ``cu1``, ``u``) are rewritten line for line to their
OpenQASM 3 forms first, so line numbers in errors are those of the file. ``include``, ``barrier``
and ``measure`` statements are dropped: IonQ measures every qubit at the end. Use
:func:`load_qasm`; any failure is a :class:`QasmError` naming the line at fault.
"""

from __future__ import annotations

import re

import pennylane as qml
from pennylane.tape import QuantumScript

_VERSION_2 = re.compile(r"^\s*OPENQASM\s+2(\.\d+)?\s*;")
_DROP = re.compile(r"^\s*(include\b|barrier\b|measure\b|\w+(\[\d+\])?\s*=\s*measure\b)")
_QREG = re.compile(r"^(\s*)qreg\s+(\w+)\s*\[\s*(\d+)\s*\]\s*;")
_CREG = re.compile(r"^(\s*)creg\s+(\w+)\s*\[\s*(\d+)\s*\]\s*;")
_QUBIT = re.compile(r"^\s*qubit\s*(?:\[\s*(\d+)\s*\])?\s+(\w+)\s*;")
_RENAMES = (
    (re.compile(r"^(\s*)cu1(\s*\()"), r"\1cp\2"),
    (re.compile(r"^(\s*)[uU](\s*\()"), r"\1u3\2"),
)
_QUBIT_ARG = r"([A-Za-z_]\w*(?:\s*\[\s*\d+\s*\])?)"
_TWO_QUBIT = re.compile(
    rf"^(\s*)(rzz|rxx|cu3)\s*\((.*)\)\s*{_QUBIT_ARG}\s*,\s*{_QUBIT_ARG}\s*;(.*)$"
)
_GATE_DEFINITION = re.compile(r"^\s*gate\s+(\w+)")
_RESET = re.compile(r"(?:^|;)\s*reset\b")
_FOR_LOOP = re.compile(r"(?:^|[;{}])\s*for\b")
_MISSING_INPUT = re.compile(r"Missing input (\w+)")


_STATEMENT = re.compile(r"^(\s*)([A-Za-z_]\w*)\s*(\(.*\))?\s+([^;()]+);(.*)$")
_KEYWORDS = frozenset(
    {"qubit", "bit", "OPENQASM", "include", "measure", "barrier", "reset", "gate"}
)


def _broadcast(line: str, registers: dict[str, int]) -> str:
    """Apply a gate on whole registers (``h q;``, ``cx a, b;``) to each index, on one line."""
    found = _STATEMENT.match(line)
    if not found or found.group(2) in _KEYWORDS:
        return line
    indent, gate, params, args, rest = found.groups()
    names = [arg.strip() for arg in args.split(",")]
    sizes = {registers[name] for name in names if name in registers}
    if len(sizes) != 1:
        return line
    (size,) = sizes
    head = f"{gate}{params or ''}"
    statements = [
        f"{head} " + ", ".join(f"{n}[{i}]" if n in registers else n for n in names) + ";"
        for i in range(size)
    ]
    return indent + " ".join(_expand_qelib1(statement) for statement in statements) + rest


def _expand_qelib1(line: str) -> str:
    """Write qelib1's ``rzz``, ``rxx`` and ``cu3`` (unknown to PennyLane's reader) on one line."""
    found = _TWO_QUBIT.match(line)
    if not found:
        return line
    indent, gate, params, a, b, rest = found.groups()
    if gate == "rzz":
        body = f"cx {a}, {b}; rz({params}) {b}; cx {a}, {b};"
    elif gate == "rxx":
        body = f"h {a}; h {b}; cx {a}, {b}; rz({params}) {b}; cx {a}, {b}; h {a}; h {b};"
    else:
        body = f"cu({params}, 0) {a}, {b};"
    return f"{indent}{body}{rest}"


_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)
_LINE_IN_MESSAGE = re.compile(r"\bline (\d+)")
_UNSUPPORTED_GATE = re.compile(r"Unsupported gate encountered in QASM: (\w+)")


class QasmError(ValueError):
    """An OpenQASM file that cannot be read; the message names the line at fault."""


def _to_qasm3(lines: list[str]) -> tuple[list[str], list[str]]:
    """Return the OpenQASM 3 lines and the declared qubit labels in declaration order."""
    version_2 = bool(lines) and any(_VERSION_2.match(line) for line in lines[:5])
    out, wires = [], []
    registers: dict[str, int] = {}
    for line in lines:
        if version_2 and _VERSION_2.match(line):
            line = "OPENQASM 3.0;"
        elif _DROP.match(line):
            line = ""
        else:
            line = _QREG.sub(r"\1qubit[\3] \2;", line)
            line = _CREG.sub(r"\1bit[\3] \2;", line)
            for pattern, replacement in _RENAMES:
                line = pattern.sub(replacement, line)
            line = _expand_qelib1(_broadcast(line, registers))
        declared = _QUBIT.match(line)
        if declared:
            size, name = declared.groups()
            wires += [name] if size is None else [f"{name}[{i}]" for i in range(int(size))]
            if size is not None:
                registers[name] = int(size)
        out.append(line)
    return out, wires


_MEASURE = re.compile(r"^\s*(?:measure\s+([^;]+?)\s*->|[\w\[\]\s]+=\s*measure\s+([^;]+?)\s*;)")
_NOT_A_GATE = re.compile(r"^\s*(OPENQASM|include|barrier|measure|qreg|creg|qubit|bit)\b|^\s*$")
_INDEXED = re.compile(r"^(\w+)\s*\[\s*(\d+)\s*\]$")


def _check_no_gate_after_measure(lines: list[str], source: str) -> None:
    """Refuse gates on a qubit after its ``measure``: dropping that measurement (IonQ measures
    every qubit once, at the end) would silently compile a different circuit."""
    measured: list[tuple[str, re.Pattern[str]]] = []
    for number, raw in enumerate(lines, 1):
        line = raw.split("//", 1)[0]
        found = _MEASURE.match(line)
        if found:
            target = (found.group(1) or found.group(2)).strip()
            indexed = _INDEXED.match(target)
            if indexed:
                name, index = indexed.groups()
                pattern = rf"\b{name}\s*\[\s*{index}\s*\]|\b{name}\b(?!\s*\[)"
            else:
                pattern = rf"\b{re.escape(target)}\b"
            measured.append((target, re.compile(pattern)))
            continue
        if _NOT_A_GATE.match(line) or _DROP.match(line):
            continue
        for target, pattern in measured:
            if pattern.search(line):
                raise QasmError(
                    f"{source}:{number}: {raw.strip()}: acts on {target} after it was measured; "
                    "IonQ measures every qubit once, at the end, so move the measurement to the "
                    "end (or use qml.measure with the qstore.ionq device)"
                )


def _line_at_fault(message: str, lines: list[str]) -> int | None:
    found = _LINE_IN_MESSAGE.search(message)
    if found:
        return int(found.group(1))
    gate = _UNSUPPORTED_GATE.search(message)
    if gate:
        pattern = re.compile(rf"^\s*{re.escape(gate.group(1))}\b")
        return next((i for i, line in enumerate(lines, 1) if pattern.match(line)), None)
    return None


def _syntax_errors(program: str) -> list[tuple[int, str]]:
    """Return ``(line, message)`` for each syntax error (PennyLane's reader recovers silently)."""
    try:
        from antlr4 import CommonTokenStream, InputStream
        from antlr4.error.ErrorListener import ErrorListener
        from openqasm3.parser import qasm3Lexer, qasm3Parser
    except ImportError as exc:
        raise ImportError(
            'reading OpenQASM needs openqasm3 with its parser: pip install "pennylane-qstore[qasm]"'
        ) from exc

    class _Collect(ErrorListener):
        def __init__(self) -> None:
            self.errors: list[tuple[int, str]] = []

        def syntaxError(self, recognizer, offendingSymbol, line, column, msg, e):
            self.errors.append((line, msg))

    listener = _Collect()
    lexer = qasm3Lexer(InputStream(program))
    parser = qasm3Parser(CommonTokenStream(lexer))
    for part in (lexer, parser):
        part.removeErrorListeners()
        part.addErrorListener(listener)
    parser.program()
    return listener.errors


def _check_supported(text: str, lines: list[str], source: str) -> None:
    """Refuse what PennyLane's OpenQASM reader would misread: empty programs, custom gates,
    resets and for loops."""
    if not _COMMENT.sub("", text).strip():  # PennyLane's reader reports these as a missing antlr4
        raise QasmError(
            f"{source}: no OpenQASM statements (the file is empty or only comments); "
            "give an OpenQASM 2 or 3 program"
        )
    for number, line in enumerate(lines, 1):
        custom = _GATE_DEFINITION.match(line)
        if custom:  # PennyLane's reader applies such gates to their formal wire names
            raise QasmError(
                f"{source}:{number}: {line.strip()}: custom gate definitions ({custom.group(1)}) "
                "are not supported by PennyLane's OpenQASM reader; write the gates out instead"
            )
        code = _COMMENT.sub("", line)
        if _RESET.search(code):
            raise QasmError(
                f"{source}:{number}: {line.strip()}: reset is not supported; IonQ circuits "
                "cannot reset a qubit mid-circuit (every qubit starts in |0> and is measured "
                "once, at the end)"
            )
        if _FOR_LOOP.search(code):  # PennyLane's reader treats inclusive ranges as exclusive
            raise QasmError(
                f"{source}:{number}: {line.strip()}: for loops are not supported (PennyLane's "
                "OpenQASM reader runs them with the wrong range); write the loop out instead"
            )


def load_qasm(
    text: str, source: str = "<qasm>", params: dict[str, float] | None = None
) -> tuple[QuantumScript, list[str]]:
    """Read an OpenQASM 2 or 3 circuit.

    Args:
        text: the program.
        source: name used in error messages (e.g. the file name).
        params: values of the program's OpenQASM 3 ``input`` variables, by name.

    Returns:
        ``(tape, wires)``: the circuit's operations and every declared qubit in declaration order
        (labels such as ``"q[0]"``).

    Raises:
        QasmError: ``"<source>:<line>: <text of the line>: <reason>"``.
    """
    lines = text.splitlines()
    _check_supported(text, lines, source)
    _check_no_gate_after_measure(lines, source)
    converted, wires = _to_qasm3(lines)
    program = "\n".join(converted)
    syntax = _syntax_errors(program)
    if syntax:
        line, message = syntax[0]
        raise QasmError(f"{source}:{line}: {lines[line - 1].strip()}: syntax error: {message}")
    try:
        tape = qml.tape.make_qscript(qml.from_qasm3(program))(**(params or {}))
    except Exception as exc:  # the converter raises many exception types; all mean "cannot read"
        message = str(exc).strip() or type(exc).__name__
        missing = _MISSING_INPUT.search(message)
        if missing:
            name = missing.group(1)
            message = (
                f"input {name} has no value; bind it with params={{{name!r}: value}} "
                f"(qstore compile: --param {name}=VALUE)"
            )
        line = _line_at_fault(message, lines)
        where = f"{source}:{line}: {lines[line - 1].strip()}" if line else source
        raise QasmError(f"{where}: {message}") from exc
    return tape, wires or tape.wires.tolist()
