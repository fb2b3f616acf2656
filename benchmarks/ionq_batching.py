"""Job round trips of one parameter-shift gradient step on qstore.ionq, batched vs one by one.

Runs against a local IonQ server that adds 200 ms to every request. The workload is a 4-qubit
circuit with 24 trainable parameters evaluated on a batch of 32 inputs: the forward pass plus
2 x 24 shifted circuits per input, 1568 circuits in all.

    python benchmarks/ionq_batching.py [--latency 0.2] [--shots 1000] [--sample 8] [--native]

The batched step runs with ``gateset="qis"`` (IonQ compiles) and, with ``--native``, also with
``gateset="native"`` (compiled here by pennylane_qstore.ionq.compiler, which adds its own CPU time).
The one-by-one baseline submits a single circuit per job and waits for it before the next; it is
timed on ``--sample`` circuits and scaled to the whole workload (running all 1568 sequentially
would take over 15 minutes at 200 ms per request).

The second table is a training step (forward, backward, optimizer step) of the torch
``QuantumLayer`` on the same circuit: round trips per step (device ``execute`` calls reaching
the server, from ``qml.Tracker``'s ``batches``, and the jobs POSTed) with
``prefetch_gradients=False`` (the forward job set, then the gradient job set in the backward
pass) and with the default, which submits both in the forward pass (issue 11).
"""

from __future__ import annotations

import argparse
import time

import pennylane as qml
from pennylane import numpy as pnp

from pennylane_qstore.ionq.server import LocalIonQServer

QUBITS, LAYERS, BATCH = 4, 2, 32


def circuit(inputs: pnp.ndarray, weights: pnp.ndarray) -> object:
    """Angle-encode a batch of inputs, then two strongly entangling layers (24 parameters)."""
    qml.AngleEmbedding(inputs, wires=range(QUBITS))
    qml.StronglyEntanglingLayers(weights, wires=range(QUBITS))
    return qml.expval(qml.Z(0) @ qml.Z(QUBITS - 1))


def layer_steps(
    server: LocalIonQServer, options: dict, shots: int, inputs: pnp.ndarray, weights: pnp.ndarray
) -> list:
    """Round trips, jobs and wall seconds of one QuantumLayer training step, before and after
    the gradient prefetch."""
    import torch

    from qstore_layers.torch import QuantumLayer

    rows = []
    for name, prefetch in (("prefetch_gradients=False", False), ("default (prefetch)", None)):
        dev = qml.device("qstore.ionq", wires=QUBITS, shots=shots, gateset="qis", **options)
        qnode = qml.QNode(circuit, dev, diff_method="parameter-shift")
        layer = QuantumLayer(
            qnode,
            {"weights": (LAYERS, QUBITS, 3)},
            init_method={"weights": torch.tensor(weights.numpy())},
            prefetch_gradients=prefetch,
        )
        opt = torch.optim.SGD(layer.parameters(), lr=0.01)
        x = torch.tensor(inputs.numpy(), dtype=torch.float32)
        jobs_before = server.job_count
        start = time.perf_counter()
        with qml.Tracker(dev) as tracker:
            opt.zero_grad()
            layer(x).mean().backward()
            opt.step()
        elapsed = time.perf_counter() - start
        jobs = server.job_count - jobs_before
        rows.append((name, jobs, tracker.totals["batches"], tracker.totals["executions"], elapsed))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.2, help="seconds added per request")
    parser.add_argument("--shots", type=int, default=1000)
    parser.add_argument("--sample", type=int, default=8, help="circuits timed one by one")
    parser.add_argument("--native", action="store_true", help="also time gateset='native'")
    args = parser.parse_args()

    rng = pnp.random.default_rng(0)
    inputs = pnp.array(rng.uniform(0, pnp.pi, (BATCH, QUBITS)), requires_grad=False)
    weights = pnp.array(rng.uniform(0, 2 * pnp.pi, (LAYERS, QUBITS, 3)), requires_grad=True)

    rows = []
    with LocalIonQServer(latency=args.latency, seed=1) as server:
        options = {"api_url": server.url, "api_key": server.api_key, "seed": 2}
        for gateset in ("qis", "native") if args.native else ("qis",):
            dev = qml.device(
                "qstore.ionq", wires=QUBITS, shots=args.shots, gateset=gateset, **options
            )
            qnode = qml.QNode(circuit, dev, diff_method="parameter-shift")
            jobs_before = server.job_count
            start = time.perf_counter()
            with qml.Tracker(dev) as tracker:
                qml.grad(lambda w, q=qnode: pnp.mean(q(inputs, w)))(weights)
            elapsed = time.perf_counter() - start
            jobs = server.job_count - jobs_before
            rows.append((f"batched, gateset={gateset}", jobs, tracker.totals["batches"], elapsed))
        circuits = tracker.totals["executions"]
        steps = layer_steps(server, options, args.shots, inputs, weights)

        single = qml.device("qstore.ionq", wires=QUBITS, shots=args.shots, gateset="qis", **options)
        one = qml.QNode(circuit, single)
        start = time.perf_counter()
        for row in inputs[: args.sample]:
            one(row, weights)
        per_circuit = (time.perf_counter() - start) / args.sample

    serial_time = per_circuit * circuits
    print(f"latency {args.latency * 1000:.0f} ms/request, {circuits} circuits, {args.shots} shots")
    print(f"{'mode':<30}{'jobs':>8}{'round trips':>14}{'wall s':>10}")
    for name, jobs, round_trips, elapsed in rows:
        print(f"{name:<30}{jobs:>8}{round_trips:>14}{elapsed:>10.1f}")
    print(
        f"{'one circuit per job, qis':<30}{circuits:>8}{circuits:>14}{serial_time:>10.1f}  (scaled)"
    )
    _, jobs, round_trips, elapsed = rows[0]
    print(
        f"qis: {round_trips} round trips vs {circuits}; job ratio {circuits / jobs:.0f}x, "
        f"wall-time ratio {serial_time / elapsed:.0f}x"
    )
    print("\nQuantumLayer training step (torch, parameter-shift, gateset=qis)")
    print(
        f"{'mode':<30}{'jobs':>8}{'round trips per training step':>32}{'circuits':>10}{'wall s':>10}"
    )
    for name, jobs, round_trips, executions, elapsed in steps:
        print(f"{name:<30}{jobs:>8}{round_trips:>32}{executions:>10}{elapsed:>10.1f}")


if __name__ == "__main__":
    main()
