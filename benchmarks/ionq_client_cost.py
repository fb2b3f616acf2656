"""Client-side milliseconds per circuit of a parameter-shift step on qstore.ionq (gateset native).

The workload of ``benchmarks/ionq_batching.py``: a 4-qubit circuit with 24 trainable parameters
(two strongly entangling layers) on a batch of 32 inputs, so one gradient step is the forward pass
plus 2 x 24 shifted circuits per input, 1568 circuits. It runs against a LocalIonQServer on
127.0.0.1 with no added latency. Client time is the step's wall time minus the time spent waiting
for the jobs (submitting, the server simulating, polling): PennyLane's gradient transform and
preprocessing, native compilation, serialisation and turning results into expectation values.
Compile time is the part spent in the compiler (or the device's StructureCache).

    python benchmarks/ionq_client_cost.py [--steps 3] [--shots 100]

Modes: ``fresh`` compiles every circuit afresh (the device before it kept a StructureCache);
``cache`` is the device as it is; its first step builds the template (cold), later steps with
new weights reuse it (warm).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import pennylane as qml
from pennylane import numpy as pnp

import pennylane_qstore.ionq.preprocess as preprocess
from pennylane_qstore.ionq.server import LocalIonQServer

QUBITS, LAYERS, BATCH = 4, 2, 32


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3, help="gradient steps per mode")
    parser.add_argument("--shots", type=int, default=100)
    parser.add_argument("--batch", type=int, default=BATCH, help="inputs per step")
    parser.add_argument(
        "--modes", nargs="+", default=["fresh", "cache"], choices=["fresh", "cache"]
    )
    args = parser.parse_args()

    rng = pnp.random.default_rng(0)
    inputs = pnp.array(rng.uniform(0, pnp.pi, (args.batch, QUBITS)), requires_grad=False)
    print(
        f"{'mode':<8}{'step':>5}{'circuits':>9}{'wall s':>8}{'wait s':>8}{'client ms/c':>12}"
        f"{'compile ms/c':>13}{'hits':>6}{'misses':>7}"
    )
    fresh_compile = preprocess.compile_circuit
    with LocalIonQServer(seed=1) as server:
        for mode in args.modes:
            dev = qml.device(
                "qstore.ionq",
                wires=QUBITS,
                seed=2,
                api_url=server.url,
                api_key=server.api_key,
                poll_interval=(0.01, 0.05),
            )
            compiles: list[float] = []
            if mode == "fresh":
                dev.structure_cache = None
                preprocess.compile_circuit = timed(fresh_compile, compiles)
            else:
                preprocess.compile_circuit = fresh_compile
                dev.structure_cache.compile = timed(dev.structure_cache.compile, compiles)
            waits: list[float] = []
            time_job_waits(dev, waits)
            qnode = qml.set_shots(
                qml.QNode(circuit, dev, diff_method="parameter-shift"), args.shots
            )
            for step in range(args.steps):
                weights = pnp.array(
                    rng.uniform(0, 2 * pnp.pi, (LAYERS, QUBITS, 3)), requires_grad=True
                )
                compiles.clear()
                waits.clear()
                start = time.perf_counter()
                with qml.Tracker(dev) as tracker:
                    qml.grad(lambda w, q=qnode: pnp.mean(q(inputs, w)))(weights)
                wall = time.perf_counter() - start
                n = tracker.totals["executions"]
                wait = sum(waits)
                cache = dev.structure_cache
                hits, misses = ("-", "-") if cache is None else (cache.hits, cache.misses)
                print(
                    f"{mode:<8}{step:>5}{n:>9}{wall:>8.2f}{wait:>8.2f}"
                    f"{(wall - wait) / n * 1e3:>12.2f}{sum(compiles) / n * 1e3:>13.2f}"
                    f"{hits:>6}{misses:>7}"
                )
    preprocess.compile_circuit = fresh_compile


if __name__ == "__main__":
    main()
