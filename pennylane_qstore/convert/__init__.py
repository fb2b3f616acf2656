"""Circuits as data: convert between PennyLane tapes, OpenQASM 2/3, Qiskit, Cirq and IonQ JSON.

:func:`convert` detects the source format, reads the circuit into a PennyLane tape on wires
``0..n-1`` and writes it in the target format. See ``docs/convert.md`` for the conversion matrix
and what each format can hold.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from pennylane.tape import QuantumScript

from pennylane_qstore.convert._hub import FORMATS, ConversionError, as_tapes
from pennylane_qstore.convert.cirq import is_cirq, read_cirq, write_cirq
from pennylane_qstore.convert.ionq import is_ionq, read_ionq, write_ionq
from pennylane_qstore.convert.qasm import read_qasm, version, write_qasm2, write_qasm3
from pennylane_qstore.convert.qiskit import is_qiskit, read_qiskit, write_qiskit
from pennylane_qstore.convert.symbolic import cirq_to_qiskit, qiskit_to_cirq

__all__ = ["FORMATS", "ConversionError", "convert", "detect_format", "to_tapes"]

logger = logging.getLogger(__name__)

_WRITERS = {
    "tape": lambda tape: tape,
    "qasm2": write_qasm2,
    "qasm3": write_qasm3,
    "qiskit": write_qiskit,
    "cirq": write_cirq,
}


def detect_format(obj: Any) -> str:
    """Return the format name of one circuit (see :data:`FORMATS`).

    Raises:
        ConversionError: for an object of no known format, or OpenQASM without a version line.
    """
    if isinstance(obj, QuantumScript):
        return "tape"
    if isinstance(obj, str):
        found = version(obj)
        if found in (2, 3):
            return f"qasm{found}"
        raise ConversionError(
            "a string must be an OpenQASM 2 or 3 program starting with 'OPENQASM 2.0;' or "
            "'OPENQASM 3.0;'"
        )
    if is_qiskit(obj):
        return "qiskit"
    if is_cirq(obj):
        return "cirq"
    if is_ionq(obj):
        return "ionq"
    raise ConversionError(
        f"cannot convert a {type(obj).__name__}: give a PennyLane tape, an OpenQASM string, a "
        "Qiskit QuantumCircuit, a Cirq Circuit or an IonQ ionq.circuit.v1 dict (or a list of them)"
    )


def _symbolic(obj: Any, fmt: str) -> bool:
    if fmt == "qiskit":
        return bool(obj.parameters)
    import cirq

    return cirq.is_parameterized(obj)


def _read(obj: Any, params: Mapping[str, float] | None) -> tuple[list[QuantumScript], bool]:
    fmt = detect_format(obj)
    if fmt == "tape":
        return as_tapes(obj)
    if fmt == "ionq":
        return read_ionq(obj)
    if fmt in ("qasm2", "qasm3"):
        return [read_qasm(obj)], False
    reader = read_qiskit if fmt == "qiskit" else read_cirq
    return [reader(obj, params)], False


def to_tapes(
    obj: Any, params: Mapping[str, float] | None = None
) -> tuple[list[QuantumScript], bool]:
    """Return ``(tapes, is_batch)`` of one circuit or a list of circuits of any format.

    Args:
        obj: a circuit, a list of circuits, or an IonQ multi-circuit dict.
        params: values of Qiskit parameters / Cirq symbols, by name.
    """
    if isinstance(obj, Sequence) and not isinstance(obj, str | QuantumScript):
        if is_cirq(obj):
            return _read(obj, params)
        tapes = []
        for item in obj:
            tapes += _read(item, params)[0]
        return tapes, True
    return _read(obj, params)


def convert(
    obj: Any,
    to: str,
    *,
    params: Mapping[str, float] | None = None,
    gateset: str = "qis",
    entangler: str = "ms",
) -> Any:
    """Convert a circuit (or a list of circuits) to another format; the source is detected.

    Args:
        obj: a PennyLane tape, an OpenQASM 2/3 string, a Qiskit ``QuantumCircuit``, a Cirq
            ``Circuit``, an IonQ ``ionq.circuit.v1`` dict (job, ``input`` or multi-circuit), or a
            list of these.
        to: one of ``"tape"``, ``"qasm2"``, ``"qasm3"``, ``"qiskit"``, ``"cirq"``, ``"ionq"``.
        params: values for unbound Qiskit parameters / Cirq symbols, by name. Without them, an
            object already in the target format is returned as it is and a symbolic circuit
            converts between Qiskit and Cirq with its parameters still symbolic.
        gateset: IonQ target only: ``"qis"`` or ``"native"`` (compiled here).
        entangler: IonQ native only: ``"ms"`` (Aria) or ``"zz"`` (Forte).

    Returns:
        One circuit in the target format, or a list for a list input; IonQ gets one dict
        (``"circuits"`` for several).

    Raises:
        ConversionError: naming the construct the target format cannot hold.
    """
    if to not in FORMATS:
        raise ConversionError(f"unknown target format {to!r}; use one of {', '.join(FORMATS)}")
    single = not (
        isinstance(obj, Sequence) and not isinstance(obj, str | QuantumScript)
    ) or is_cirq(obj)
    source = detect_format(obj) if single else None
    if source == to != "ionq" and params is None:
        return obj
    if params is None and {source, to} == {"qiskit", "cirq"} and _symbolic(obj, source):
        return qiskit_to_cirq(obj) if source == "qiskit" else cirq_to_qiskit(obj)
    tapes, batch = to_tapes(obj, params)
    logger.debug("converting %d circuit(s) to %s", len(tapes), to)
    if to == "ionq":
        return write_ionq(tapes, batch, gateset=gateset, entangler=entangler)
    written = [_WRITERS[to](tape) for tape in tapes]
    return written if batch else written[0]
