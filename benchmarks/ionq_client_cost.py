"""Client-side milliseconds per circuit of a parameter-shift step on qstore.ionq (gateset native).

The workload of ``benchmarks/ionq_batching.py``: a 4-qubit circuit with 24 trainable parameters
(two strongly entangling layers) on a batch of 32 inputs, so one gradient step is the forward pass
plus 2 x 24 shifted circuits per input, 1568 circuits. It runs against a LocalIonQServer on
127.0.0.1 with no added latency. Client time is the step's wall time minus the time spent waiting
for the jobs (submitting, the server simulating, polling): PennyLane's gradient transform and
preprocessing, native compilation, serialisation and turning results into expectation values.
Compile time is the part spent in the compiler (or the device's StructureCache).

    python benchmarks/ionq_client_cost.py [--steps 3] [--shots 100] [--breakdown]

Modes: ``fresh`` compiles every circuit afresh (the device before it kept a StructureCache);
``cache`` is the device as it is; its first step builds the template (cold), later steps with
new weights reuse it (warm). ``default.qubit`` runs the same QNode (same shots and
``diff_method="parameter-shift"``) on PennyLane's simulator, the baseline a user compares with;
its wall time is all client time (it simulates in process, broadcasting the batch of inputs).

``--breakdown`` splits each step's client ms per circuit into: ``pl`` (PennyLane outside the
device: the QNode, the gradient transform and its post-processing), ``prep`` (the device's
preprocessing transforms other than ``compile_to_native``), ``native`` (``compile_to_native``
outside the compiler: building the compiled tapes' operations), ``compile`` (the compiler or
StructureCache), ``to_json`` (the compiled tapes' operations to IonQ gate JSON), ``submit``
(gate counts, pricing, payloads, billing) and ``post`` (results to measurements); ``--transforms`` also prints ms per circuit of every transform.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from collections.abc import Callable

import pennylane as qml
from pennylane import numpy as pnp

import pennylane_qstore.ionq.preprocess as preprocess
from pennylane_qstore.ionq.server import LocalIonQServer

QUBITS, LAYERS, BATCH = 4, 2, 32
PARTS = ("pl", "prep", "native", "compile", "to_json", "submit", "post")


def circuit(inputs: pnp.ndarray, weights: pnp.ndarray) -> object:
    """Angle-encode a batch of inputs, then two strongly entangling layers (24 parameters)."""
    qml.AngleEmbedding(inputs, wires=range(QUBITS))
    qml.StronglyEntanglingLayers(weights, wires=range(QUBITS))
    return qml.expval(qml.Z(0) @ qml.Z(QUBITS - 1))


def timed(fn: Callable, spent: list[float]) -> Callable:
    """Return ``fn`` adding the seconds of each call to ``spent``."""

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - start)

    return wrapper


def time_job_waits(dev, waits: list[float]) -> None:
    """Make every job runner of ``dev`` add the seconds it waits for its jobs to ``waits``."""
    make_runner = dev._runner

    def runner():
        job_runner = make_runner()
        run = job_runner.run

        async def run_timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return await run(*args, **kwargs)
            finally:
                waits.append(time.perf_counter() - start)

        job_runner.run = run_timed
        return job_runner

    dev._runner = runner


def time_device(dev, spent: dict[str, list[float]]) -> None:
    """Time ``dev``'s preprocessing transforms (each by name), ``execute``, ``_serialise`` and
    ``_results``."""
    make_program = dev.preprocess_transforms

    def program(*args, **kwargs):
        timed_program = qml.CompilePipeline()
        for bound in make_program(*args, **kwargs):
            name = bound.tape_transform.__name__
            tape_fn = timed(bound.tape_transform, spent[f"transform:{name}"])
            timed_program.add_transform(qml.transform(tape_fn), *bound.args, **bound.kwargs)
        return timed_program

    dev.preprocess_transforms = program
    dev.execute = timed(dev.execute, spent["execute"])
    dev._serialise = timed(dev._serialise, spent["to_json"])
    dev._results = timed(dev._results, spent["post"])


def breakdown(spent: dict[str, list[float]], client: float, compile_s: float) -> dict:
    """Seconds per part of one step's client time (see the module docstring)."""
    transforms = {k: sum(v) for k, v in spent.items() if k.startswith("transform:")}
    native = transforms.get("transform:compile_to_native", 0.0)
    prep = sum(transforms.values()) - native
    execute = sum(spent["execute"]) - sum(spent["wait"])
    post = sum(spent["post"])
    to_json = sum(spent["to_json"])
    parts = {
        "prep": prep,
        "native": native - compile_s,
        "compile": compile_s,
        "to_json": to_json,
        "submit": execute - to_json - post,
        "post": post,
    }
    parts["pl"] = client - sum(parts.values())
    return parts


def make_device(mode: str, server: LocalIonQServer, compiles: list[float], spent: dict):
    """The device of ``mode`` with its compile time (and breakdown parts) recorded."""
    if mode == "default.qubit":
        dev = qml.device("default.qubit", wires=QUBITS, seed=2)
        return dev
    dev = qml.device(
        "qstore.ionq",
        wires=QUBITS,
        seed=2,
        api_url=server.url,
        api_key=server.api_key,
        poll_interval=(0.01, 0.05),
    )
    if mode == "fresh":
        dev.structure_cache = None
        preprocess.compile_circuit = timed(preprocess.compile_circuit, compiles)
    else:
        dev.structure_cache.compile = timed(dev.structure_cache.compile, compiles)
    time_job_waits(dev, spent["wait"])
    time_device(dev, spent)
    return dev


def report(
    mode: str, step: int, n: int, wall: float, spent: dict, compiles: list, cache: object, args
) -> None:
    """Print one step's line (and its breakdown); ``cache`` is the device's StructureCache."""
    wait = sum(spent["wait"])
    client = wall - wait
    hits, misses = ("-", "-") if cache is None else (cache.hits, cache.misses)
    line = (
        f"{mode:<14}{step:>5}{n:>9}{wall:>8.2f}{wait:>8.2f}{client / n * 1e3:>12.2f}"
        f"{sum(compiles) / n * 1e3:>13.2f}{hits:>6}{misses:>7}"
    )
    if args.breakdown:
        if mode == "default.qubit":
            line += f"{client / n * 1e3:>8.2f}" + " " * 8 * (len(PARTS) - 1)
        else:
            parts = breakdown(spent, client, sum(compiles))
            line += "".join(f"{parts[p] / n * 1e3:>8.2f}" for p in PARTS)
    print(line)
    if args.transforms:
        for key, values in sorted(spent.items()):
            if key.startswith("transform:"):
                print(f"{'':<19}{key[10:]:<30}{sum(values) / n * 1e3:>8.3f} ms/c")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3, help="gradient steps per mode")
    parser.add_argument("--shots", type=int, default=100)
    parser.add_argument("--batch", type=int, default=BATCH, help="inputs per step")
    parser.add_argument(
        "--modes",
        nargs="+",
        default=["fresh", "cache"],
        choices=["fresh", "cache", "default.qubit"],
    )
    parser.add_argument("--breakdown", action="store_true", help="client ms/c per part")
    parser.add_argument("--transforms", action="store_true", help="ms/c per device transform")
    args = parser.parse_args()

    rng = pnp.random.default_rng(0)
    inputs = pnp.array(rng.uniform(0, pnp.pi, (args.batch, QUBITS)), requires_grad=False)
    header = (
        f"{'mode':<14}{'step':>5}{'circuits':>9}{'wall s':>8}{'wait s':>8}{'client ms/c':>12}"
        f"{'compile ms/c':>13}{'hits':>6}{'misses':>7}"
    )
    print(header + ("".join(f"{p:>8}" for p in PARTS) if args.breakdown else ""))
    fresh_compile = preprocess.compile_circuit
    with LocalIonQServer(seed=1) as server:
        for mode in args.modes:
            compiles: list[float] = []
            spent: dict[str, list[float]] = defaultdict(list)
            dev = make_device(mode, server, compiles, spent)
            qnode = qml.set_shots(
                qml.QNode(circuit, dev, diff_method="parameter-shift"), args.shots
            )
            for step in range(args.steps):
                weights = pnp.array(
                    rng.uniform(0, 2 * pnp.pi, (LAYERS, QUBITS, 3)), requires_grad=True
                )
                compiles.clear()
                for values in spent.values():
                    values.clear()
                start = time.perf_counter()
                with qml.Tracker(dev) as tracker:
                    qml.grad(lambda w, q=qnode: pnp.mean(q(inputs, w)))(weights)
                wall = time.perf_counter() - start
                n = (
                    tracker.totals["executions"]
                    if mode != "default.qubit"
                    else args.batch * (1 + 2 * LAYERS * QUBITS * 3)
                )
                cache = getattr(dev, "structure_cache", None)
                report(mode, step, n, wall, spent, compiles, cache, args)
            preprocess.compile_circuit = fresh_compile


if __name__ == "__main__":
    main()
