"""Price a circuit or a whole training run on IonQ before running it (``qstore estimate``).

:func:`estimate_training` prices ``circuits_per_step x steps`` circuits of given native gate
counts from the published rates of :mod:`.pricing` and, when a client is given, also asks IonQ's
``GET /jobs/estimate`` (either of the two answer spellings IonQ's clients read) and the backend's
queue and characterization. :func:`qasm_gate_counts` compiles an OpenQASM file with the project's
native compiler to count its gates.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from pennylane_qstore.ionq.backends import (
    MAX_SHOTS,
    MIN_SHOTS_ERROR_MITIGATION,
    Backend,
    backend,
    debiasing_on,
)
from pennylane_qstore.ionq.errors import IonQError
from pennylane_qstore.ionq.pricing import DEFAULT_RATES, RateCard, circuit_cost
from pennylane_qstore.ionq.status import Characterization, monitor_for, predict_execution_s

if TYPE_CHECKING:
    from pennylane_qstore.ionq.client import IonQClient

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Estimate:
    """What a run would cost and take; totals over every circuit.

    Attributes:
        backend: IonQ backend.
        circuits_per_step: Circuits submitted per training step.
        steps: Training steps.
        shots: Shots per circuit.
        qubits: Register size of each circuit.
        gates_1q: Single-qubit native gates per circuit.
        gates_2q: Two-qubit native gates per circuit.
        error_mitigation: Whether debiasing is on.
        rates: Name of the rate card of :attr:`published_usd`.
        published_usd: Total from the published rates (each circuit billed as its own job).
        api_usd: Total from IonQ's ``GET /jobs/estimate`` (its one-circuit answer times the
            number of circuits), ``None`` when not asked or not reachable.
        api_url: The API asked, or ``None``.
        api_note: Why :attr:`api_usd` is missing, or which answer spelling was read.
        execution_s: Predicted execution time of all circuits (s).
        timing_source: Where the timings come from (a characterization id or typical values).
        queue_s: The backend's current average queue time (s) from ``GET /backends``.
    """

    backend: str
    circuits_per_step: int
    steps: int
    shots: int
    qubits: int
    gates_1q: int
    gates_2q: int
    error_mitigation: bool
    rates: str
    published_usd: float
    api_usd: float | None
    api_url: str | None
    api_note: str
    execution_s: float
    timing_source: str
    queue_s: float | None

    @property
    def circuits(self) -> int:
        """Circuits in the whole run."""
        return self.circuits_per_step * self.steps

    def to_dict(self) -> dict[str, Any]:
        """Return the fields and :attr:`circuits` as a JSON-ready dict."""
        return {**asdict(self), "circuits": self.circuits}

    def __str__(self) -> str:
        n = self.circuits
        lines = [
            f"{self.backend}: {self.circuits_per_step} circuit(s)/step x {self.steps} step(s) = "
            f"{n} circuit(s) of {self.shots} shots, {self.qubits} qubits, {self.gates_1q} 1q + "
            f"{self.gates_2q} 2q native gates, error mitigation "
            f"{'on' if self.error_mitigation else 'off'}",
            f"{'source':<44}{'total USD':>16}{'per circuit':>14}",
            f"{'published rates (' + self.rates + ')':<44}"
            f"{self.published_usd:>16,.2f}{self.published_usd / n:>14,.4f}",
        ]
        if self.api_usd is None:
            lines.append(f"{'IonQ GET /jobs/estimate':<44}{'-':>16}{'-':>14}  ({self.api_note})")
        else:
            lines.append(
                f"{'IonQ GET /jobs/estimate':<44}{self.api_usd:>16,.2f}"
                f"{self.api_usd / n:>14,.4f}  ({self.api_note})"
            )
        queue = "unknown (no API asked)" if self.queue_s is None else _duration(self.queue_s)
        lines.append(
            f"predicted execution {_duration(self.execution_s)} ({self.timing_source}); "
            f"current average queue {queue}"
        )
        return "\n".join(lines)


def _duration(seconds: float) -> str:
    """Return seconds as ``12.3 s``, ``4.5 min`` or ``6.7 h``."""
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:,.1f} min" if seconds < 7200 else f"{seconds / 3600:,.1f} h"


def _count(value: Any, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return value


def parse_api_estimate(answer: Any) -> tuple[float, str]:
    """Return ``(USD for one circuit, which spelling)`` from a ``GET /jobs/estimate`` answer.

    Reads ionq-core's ``estimated_total_cost`` or qiskit-ionq's ``estimated_cost`` (a number or
    ``{value, unit}``).

    Raises:
        ValueError: When neither field holds a number.
    """
    if isinstance(answer, Mapping):
        for key, spelling in (("estimated_total_cost", "ionq-core"), ("estimated_cost", "qiskit")):
            value = answer.get(key)
            if isinstance(value, Mapping):
                value = value.get("value")
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return float(value), f"{spelling} field {key}"
    raise ValueError(f"GET /jobs/estimate answer has no estimated cost: {answer!r:.120}")


def _ask_api(
    client: IonQClient, name: str, shots: int, qubits: int, counts: tuple[int, int], em: bool
) -> tuple[float | None, str, Any, float | None]:
    """Return (API USD per circuit, note, characterization, queue seconds), tolerating failures."""
    try:
        usd, note = parse_api_estimate(client.estimate(name, qubits, shots, *counts, em))
    except (IonQError, ValueError) as err:
        usd, note = None, f"not available: {err}"
    monitor = monitor_for(client)
    try:
        return usd, note, monitor.characterization(name), monitor.status(name).average_queue_s
    except IonQError as err:
        logger.info("no status/characterization of %s from %s: %s", name, client.api_url, err)
        return usd, note, None, None


def _check_shots(shots: int, error_mitigation: bool | None) -> None:
    _count(shots, "shots", 1)
    if shots > MAX_SHOTS:
        raise ValueError(f"shots must be at most {MAX_SHOTS:,} (IonQ's limit), got {shots:,}")
    if error_mitigation and shots < MIN_SHOTS_ERROR_MITIGATION:
        raise ValueError(
            f"error mitigation needs at least {MIN_SHOTS_ERROR_MITIGATION} shots, got {shots}; "
            "raise shots or leave error mitigation off"
        )


def _timing_source(spec: Backend, char: Characterization | None) -> str:
    """Say where the execution time estimate comes from."""
    if char is not None:
        return f"characterization {char.id} of {spec.name}"
    if spec.qpu:
        return "typical QPU timings, no characterization read"
    return "the simulator is not timed"


def estimate_training(
    *,
    backend_name: str,
    shots: int,
    gates: tuple[int, int],
    qubits: int | None = None,
    circuits_per_step: int = 1,
    steps: int = 1,
    error_mitigation: bool | None = None,
    rates: RateCard = DEFAULT_RATES,
    client: IonQClient | None = None,
) -> Estimate:
    """Price ``circuits_per_step x steps`` circuits with ``gates`` = (1q, 2q) native gates each.

    Args:
        backend_name: IonQ backend (``"qpu.aria-1"``...; the simulator is free).
        shots: Shots per circuit.
        gates: ``(single-qubit, two-qubit)`` native gates per circuit.
        qubits: Register size (default: the fewest the gates need; it does not change prices).
        circuits_per_step: Circuits per training step (forward plus gradient circuits).
        steps: Training steps.
        error_mitigation: Debiasing on (needs at least 500 shots, raises the per-job minimum);
            ``None``: IonQ's default, on for QPU jobs of at least 500 shots.
        rates: Published rate card.
        client: When given, also ask its API for its estimate, queue and characterization.

    Raises:
        ValueError: For an unknown backend or an out-of-range number (the message names it).
    """
    spec = backend(backend_name)
    n1, n2 = (_count(g, f"gates[{i}]", 0) for i, g in enumerate(gates))
    _check_shots(shots, error_mitigation)
    error_mitigation = debiasing_on(spec.name, shots, error_mitigation)
    qubits = (2 if n2 else 1) if qubits is None else _count(qubits, "qubits", 1)
    if qubits > spec.qubits:
        raise ValueError(f"{spec.name} has {spec.qubits} qubits; the circuit needs {qubits}")
    circuits = _count(circuits_per_step, "circuits_per_step", 1) * _count(steps, "steps", 1)
    one = circuit_cost(spec.name, shots, n1, n2, error_mitigation, rates)
    api_usd, note, char, queue_s = None, "not asked: give --api-url or $IONQ_API_URL", None, None
    if client is not None:
        api_usd, note, char, queue_s = _ask_api(
            client, spec.name, shots, qubits, (n1, n2), error_mitigation
        )
    per_circuit_s = predict_execution_s(spec.name, char, shots, [(n1, n2)])
    return Estimate(
        backend=spec.name,
        circuits_per_step=circuits_per_step,
        steps=steps,
        shots=shots,
        qubits=qubits,
        gates_1q=n1,
        gates_2q=n2,
        error_mitigation=error_mitigation,
        rates=rates.name,
        published_usd=one * circuits,
        api_usd=None if api_usd is None else api_usd * circuits,
        api_url=None if client is None else client.api_url,
        api_note=note,
        execution_s=per_circuit_s * circuits,
        timing_source=_timing_source(spec, char),
        queue_s=queue_s,
    )


def qasm_gate_counts(
    path: str | os.PathLike, backend_name: str, params: dict[str, float] | None = None
) -> tuple[int, int, int]:
    """Compile an OpenQASM 2/3 file for ``backend_name``; return ``(qubits, 1q, 2q)`` natives.

    Raises:
        ValueError: (``QasmError`` or the compiler's error) for a file that cannot be compiled.
        OSError: For a file that cannot be read.
    """
    from pathlib import Path

    from pennylane_qstore.ionq.compiler import compile_circuit
    from pennylane_qstore.ionq.qasm import QasmError, load_qasm

    try:
        text = Path(path).read_text()
    except UnicodeDecodeError as exc:
        raise QasmError(
            f"{path}: not a text file ({exc.reason}); give an OpenQASM program"
        ) from None
    tape, wires = load_qasm(text, source=str(path), params=params)
    native = compile_circuit(tape, backend(backend_name).default_entangler, wires=wires)
    counts = native.gate_counts()
    return native.qubits, counts["1q"], counts["2q"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``qstore estimate`` to the ``qstore`` parser."""
    parser = subparsers.add_parser(
        "estimate",
        help="price a QASM circuit or a training run on IonQ before running it",
        description=(
            "Price FILE.qasm (compiled to IonQ natives here) or --gates N1,N2 per circuit, times "
            "--circuits-per-step x --steps, from the published rates and, when --api-url or "
            "$IONQ_API_URL is set and reachable, IonQ's GET /jobs/estimate (both are shown)."
        ),
    )
    parser.add_argument("file", nargs="?", help="OpenQASM 2 or 3 file (or give --gates)")
    parser.add_argument("--backend", default="qpu.aria-1", help="IonQ backend (qpu.aria-1)")
    parser.add_argument("--shots", type=int, default=1000, help="shots per circuit (1000)")
    parser.add_argument("--gates", metavar="N1,N2", help="1q,2q native gates per circuit")
    parser.add_argument("--qubits", type=int, help="register size with --gates (default: fewest)")
    parser.add_argument("--circuits-per-step", type=int, default=1, help="circuits per step (1)")
    parser.add_argument("--steps", type=int, default=1, help="training steps (1)")
    parser.add_argument(
        "--error-mitigation",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="debiasing on/off (default: IonQ's, on for QPU jobs of >= 500 shots)",
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="value of an OpenQASM 3 'input float NAME;' (repeatable)",
    )
    parser.add_argument("--api-url", help="IonQ API to ask as well (default: $IONQ_API_URL)")
    parser.add_argument("--api-key", help="API key (default: $IONQ_API_KEY)")
    parser.add_argument("--json", action="store_true", help="print the estimate as JSON")
    parser.set_defaults(func=_estimate_command)


def _gates(args: argparse.Namespace) -> tuple[int, int, int | None]:
    """Return ``(1q, 2q, qubits)`` from FILE or ``--gates``."""
    if (args.file is None) == (args.gates is None):
        raise ValueError("give either FILE.qasm or --gates N1,N2 (1q,2q native gates per circuit)")
    if args.file is not None:
        from pennylane_qstore.ionq.cli import _params

        qubits, n1, n2 = qasm_gate_counts(args.file, args.backend, _params(args.param))
        return n1, n2, qubits if args.qubits is None else args.qubits
    try:
        n1, n2 = (int(part) for part in args.gates.split(","))
    except ValueError:
        raise ValueError(
            f"--gates {args.gates!r}: expected N1,N2 integers, e.g. --gates 40,12"
        ) from None
    return n1, n2, args.qubits


def _client(args: argparse.Namespace) -> tuple[IonQClient | None, str | None]:
    """Return the client to ask (or ``None``) and, when there is none, why."""
    url = args.api_url or os.environ.get("IONQ_API_URL")
    key = args.api_key or os.environ.get("IONQ_API_KEY")
    if not url:
        return None, None
    if not key:
        return None, f"not asked: {url} needs an API key (--api-key or $IONQ_API_KEY)"
    from pennylane_qstore.ionq.client import IonQClient

    return IonQClient(api_key=key, api_url=url, timeout=(2.0, 10.0), retries=1), None


def _estimate_command(args: argparse.Namespace) -> int:
    try:
        backend(args.backend)
        n1, n2, qubits = _gates(args)
        client, why_not = _client(args)
        estimate = estimate_training(
            backend_name=args.backend,
            shots=args.shots,
            gates=(n1, n2),
            qubits=qubits,
            circuits_per_step=args.circuits_per_step,
            steps=args.steps,
            error_mitigation=args.error_mitigation,
            client=client,
        )
    except (OSError, ValueError, IonQError) as exc:
        print(f"qstore estimate: error: {exc}", file=sys.stderr)
        return 2
    if why_not is not None:
        estimate = replace(estimate, api_note=why_not)
    print(json.dumps(estimate.to_dict(), indent=2) if args.json else estimate)
    return 0
