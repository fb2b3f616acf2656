"""``qstore`` sub-commands for IonQ."""

from __future__ import annotations

import argparse
import contextlib
import itertools
import sys

VERIFY_MAX_QUBITS = 10
"""Circuits up to this width are verified against their full unitary by ``qstore compile``."""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the IonQ sub-commands to the ``qstore`` parser."""
    compile_parser = subparsers.add_parser(
        "compile",
        help="compile an OpenQASM 2/3 file to IonQ native gates and verify the result",
        description=(
            "Compile FILE.qasm to IonQ native gates (GPI, GPI2 and MS for Aria or ZZ for Forte), "
            "print the gates, their counts and whether the compiled unitary equals the source's."
        ),
    )
    compile_parser.add_argument("file", help="OpenQASM 2 or 3 file")
    compile_parser.add_argument(
        "--entangler", choices=("ms", "zz"), default="ms", help="ms: Aria (default), zz: Forte"
    )
    compile_parser.add_argument(
        "--json",
        action="store_true",
        help="print the IonQ job input (ionq.circuit.v1, native) on stdout, the report on stderr",
    )
    compile_parser.add_argument(
        "--report",
        action="store_true",
        help="also print the native counts after each optimising pass and what each removed",
    )
    compile_parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="value of an OpenQASM 3 'input float NAME;' (repeatable)",
    )
    compile_parser.set_defaults(func=_compile)
    server = subparsers.add_parser(
        "ionq-server",
        help="run a local IonQ v0.4 API server that simulates the jobs it receives",
        description="Serve IonQ's v0.4 job API on 127.0.0.1, simulating every submitted circuit.",
    )
    server.add_argument("--port", type=int, default=8000, help="port to listen on (0: any free)")
    server.add_argument("--host", default="127.0.0.1", help="interface to bind")
    server.add_argument("--api-key", default="qstore-local-key", help="key clients must send")
    server.add_argument("--latency", type=float, default=0.0, help="seconds added per request")
    server.add_argument(
        "--queue-time", type=float, default=0.0, help="seconds a job waits before completing"
    )
    server.add_argument("--seed", type=int, default=None, help="seed of sampled results")
    server.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    from pennylane_qstore.ionq.server import LocalIonQServer

    try:
        server = LocalIonQServer(
            api_key=args.api_key,
            host=args.host,
            port=args.port,
            latency=args.latency,
            queue_time=args.queue_time,
            seed=args.seed,
        )
    except (OSError, OverflowError, ValueError) as exc:  # port in use or out of range, bad host
        print(
            f"qstore ionq-server: error: cannot listen on {args.host}:{args.port}: {str(exc).rstrip('.')}; "
            "choose another --port (0 picks a free one) or --host",
            file=sys.stderr,
        )
        return 2
    print(f"IonQ local server on {server.url} (API key {server.api_key}); Ctrl-C stops it")
    print(f"  export IONQ_API_URL={server.url} IONQ_API_KEY={server.api_key}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


def _compile(args: argparse.Namespace) -> int:
    import json
    import time
    from pathlib import Path

    import numpy as np
    import pennylane as qml

    from pennylane_qstore.ionq.compiler import UnsupportedOperationError, compile_circuit
    from pennylane_qstore.ionq.qasm import QasmError, load_qasm

    try:
        try:
            text = Path(args.file).read_text()
        except UnicodeDecodeError as exc:
            raise QasmError(
                f"{args.file}: not a text file ({exc.reason} at byte {exc.start}); "
                "give an OpenQASM 2 or 3 program"
            ) from None
        tape, wires = load_qasm(text, source=args.file, params=_params(args.param))
        start = time.perf_counter()
        native = compile_circuit(tape, args.entangler, wires=wires)
        seconds = time.perf_counter() - start
    except (OSError, QasmError, UnsupportedOperationError, ValueError) as exc:
        print(f"qstore compile: error: {exc}", file=sys.stderr)
        return 2
    if native.qubits <= VERIFY_MAX_QUBITS:
        source = qml.matrix(tape, wire_order=wires)
        error = float(np.max(np.abs(native.matrix() - source))) if len(source) else 0.0
        verified = error < 1e-9
        verdict = f"{'OK' if verified else 'FAILED'}: max |U_native - U_source| = {error:.1e}"
    else:
        verified, verdict = True, f"not checked (more than {VERIFY_MAX_QUBITS} qubits)"
    counts = native.gate_counts()
    report = [
        f"gates: {counts['total']} total, {counts['2q']} two-qubit ({args.entangler}), "
        f"{counts['1q']} single-qubit ({counts['gpi']} gpi, {counts['gpi2']} gpi2); "
        f"compiled in {seconds * 1e3:.1f} ms",
        f"global phase: {native.global_phase:+.6f} turns; residual virtual Z (turns): "
        + ", ".join(f"{w}={f:+.4f}" for w, f in zip(native.wires, native.frames, strict=True)),
        "outputs: "
        + ", ".join(
            f"{w} -> qubit {q}" for w, q in zip(native.wires, native.output_qubits, strict=True)
        ),
        f"verification: {verdict}",
    ]
    if args.report:
        report += _pass_report(tape, args.entangler, wires)
    if args.json:
        print(json.dumps(native.to_json(), indent=2))
        print("\n".join(report), file=sys.stderr)
    else:
        print(
            f"{native.qubits} qubits: " + ", ".join(f"{i}={w}" for i, w in enumerate(native.wires))
        )
        for gate in native.gates:
            print(json.dumps(gate.to_json()))
        print("\n".join(report))
    return 0 if verified else 1


def _params(items: list[str]) -> dict[str, float]:
    """Parse ``--param NAME=VALUE`` options."""
    from pennylane_qstore.ionq.qasm import QasmError

    params = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            if not sep or not name.strip().isidentifier():
                raise ValueError
            params[name.strip()] = float(value)
        except ValueError:
            raise QasmError(
                f"--param {item!r}: expected NAME=VALUE with a number, e.g. --param theta=0.3"
            ) from None
    return params


def _pass_report(tape, entangler: str, wires: list) -> list[str]:
    """Return one line per optimising pass: counts after it and what it removed."""
    from pennylane_qstore.ionq.compiler import pass_report

    rows = pass_report(tape, entangler, wires=wires)
    lines = [f"passes: none: {rows[0][1]['2q']} two-qubit, {rows[0][1]['total']} total"]
    for (_, before), (passes, after) in itertools.pairwise(rows):
        lines.append(
            f"  + {passes[-1]}: {after['2q']} two-qubit, {after['total']} total "
            f"(removed {before['2q'] - after['2q']} two-qubit, "
            f"{before['total'] - after['total']} total)"
        )
    return lines
