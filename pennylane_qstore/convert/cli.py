"""``qstore convert``: convert a circuit file between OpenQASM 2/3, Qiskit QPY, Cirq JSON and
IonQ JSON; the input format is read from the file's contents."""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path
from typing import Any

FILE_FORMATS = ("qasm2", "qasm3", "qiskit-qpy", "cirq-json", "ionq-json")
"""Formats of ``qstore convert --to``."""

_QPY_MAGIC = b"QISKIT"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``qstore convert`` to the ``qstore`` parser."""
    parser = subparsers.add_parser(
        "convert",
        help="convert a circuit file between OpenQASM 2/3, Qiskit QPY, Cirq JSON and IonQ JSON",
        description=(
            "Convert IN (OpenQASM 2 or 3, Qiskit QPY, Cirq JSON or IonQ ionq.circuit.v1 JSON, "
            "recognised from its contents) to another format; see docs/convert.md."
        ),
    )
    parser.add_argument("file", metavar="IN", help="circuit file")
    parser.add_argument("--to", required=True, choices=FILE_FORMATS, help="output format")
    parser.add_argument("--out", metavar="FILE", help="output file (default: stdout)")
    parser.add_argument(
        "--gateset", choices=("qis", "native"), default="qis", help="IonQ JSON gateset"
    )
    parser.add_argument(
        "--entangler", choices=("ms", "zz"), default="ms", help="IonQ native: ms (Aria), zz (Forte)"
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="value of a Qiskit parameter or Cirq symbol (repeatable)",
    )
    parser.set_defaults(func=_convert)


def read_file(path: str) -> Any:
    """Return the circuit(s) in a file: an OpenQASM string, Qiskit circuits, a Cirq circuit or
    an IonQ dict.

    Raises:
        ValueError: for a file in none of the formats, naming the file.
    """
    data = Path(path).read_bytes()
    if data.startswith(_QPY_MAGIC):
        from qiskit import qpy

        circuits = qpy.load(io.BytesIO(data))
        return circuits[0] if len(circuits) == 1 else circuits
    try:
        text = data.decode()
    except UnicodeDecodeError:
        raise ValueError(
            f"{path}: binary file that is not Qiskit QPY; give OpenQASM, QPY, Cirq or IonQ JSON"
        ) from None
    if text.lstrip().startswith(("{", "[")):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: invalid JSON: {exc}") from None
        if "cirq_type" in text:
            import cirq

            return cirq.read_json(json_text=text)
        return parsed
    from pennylane_qstore.convert.qasm import version

    if version(text) is None:
        raise ValueError(
            f"{path}: not OpenQASM (no 'OPENQASM 2.0;' or 'OPENQASM 3.0;' line), Qiskit QPY, "
            "Cirq JSON or IonQ JSON"
        )
    return text


def _params(pairs: list[str]) -> dict[str, float]:
    values = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        try:
            values[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise ValueError(f"--param {pair!r}: write NAME=VALUE with a number, e.g. theta=0.5")
    return values


def _write(result: Any, fmt: str, out: str | None) -> None:
    many = isinstance(result, list)
    if fmt == "qiskit-qpy":
        from qiskit import qpy

        if out is None:
            raise ValueError("QPY is binary: give --out FILE")
        with open(out, "wb") as handle:
            qpy.dump(result, handle)
        return
    if fmt == "cirq-json":
        import cirq

        text = cirq.to_json(result)
    elif fmt == "ionq-json":
        text = json.dumps(result, indent=2)
    elif many:
        raise ValueError(
            f"OpenQASM holds one circuit per file and the input has {len(result)}; convert to "
            "qiskit-qpy, cirq-json or ionq-json, or convert each circuit on its own"
        )
    else:
        text = result
    if out is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        Path(out).write_text(text if text.endswith("\n") else text + "\n")


def _convert(args: argparse.Namespace) -> int:
    from pennylane_qstore.convert import ConversionError, convert

    target = {"qiskit-qpy": "qiskit", "cirq-json": "cirq", "ionq-json": "ionq"}.get(
        args.to, args.to
    )
    try:
        circuit = read_file(args.file)
        result = convert(
            circuit,
            to=target,
            params=_params(args.param),
            gateset=args.gateset,
            entangler=args.entangler,
        )
        _write(result, args.to, args.out)
    except (OSError, ValueError, ImportError) as exc:  # ConversionError is a ValueError
        kind = "error" if not isinstance(exc, ConversionError) else "cannot convert"
        print(f"qstore convert: {kind}: {exc}", file=sys.stderr)
        return 2
    return 0
