"""Time every available router target on representative batches and print a table.

Each scenario executes one batch of layered RY/RZ + CNOT-ring circuits measuring <Z0>; the
router with ``target=<name>`` runs it (preprocessing excluded, best of ``--repeat``), and the
last column shows what the default policy picks. These timings set the thresholds of
``pennylane_qstore.router.policy.RoutingPolicy`` (see docs/router.md).

Run: ``python benchmarks/routing.py [--repeat 3] [--quick]``
"""

from __future__ import annotations

import os

# lightning.qubit's OpenMP threads busy-wait by default, which distorts timings on a loaded machine
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import time
from collections.abc import Callable

import numpy as np
import pennylane as qml

from pennylane_qstore.router import RouterDevice, registered_targets

LAYERS = 3


def circuit_tape(num_wires: int, params: np.ndarray, shots: int | None) -> qml.tape.QuantumScript:
    """Layered RY/RZ rotations and a CNOT ring; ``params`` has shape (LAYERS, 2, wires[, batch])."""
    ops = []
    for layer in range(LAYERS):
        for w in range(num_wires):
            ops.append(qml.RY(params[layer, 0, w], wires=w))
            ops.append(qml.RZ(params[layer, 1, w], wires=w))
        ops.extend(qml.CNOT([w, (w + 1) % num_wires]) for w in range(num_wires))
    return qml.tape.QuantumScript(ops, [qml.expval(qml.PauliZ(0))], shots=shots)


def make_batch(num_wires: int, batch: int, shots: int | None, broadcast: bool, seed: int = 0):
    """Return the tapes of one scenario."""
    rng = np.random.default_rng(seed)
    if broadcast:
        params = rng.uniform(0, np.pi, (LAYERS, 2, num_wires, batch))
        return [circuit_tape(num_wires, params, shots)]
    return [
        circuit_tape(num_wires, rng.uniform(0, np.pi, (LAYERS, 2, num_wires)), shots)
        for _ in range(batch)
    ]


def best_time(fn: Callable[[], object], repeat: int) -> float:
    """Return the best wall time of ``repeat`` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def scenarios(quick: bool) -> list[tuple[str, int, int, int | None, bool]]:
    """Return ``(label, wires, batch, shots, broadcast)`` rows."""
    rows = [
        ("4 wires x 1", 4, 1, None, False),
        ("4 wires x 64 tapes", 4, 64, None, False),
        ("4 wires broadcast x 64", 4, 64, None, True),
        ("8 wires x 64 tapes", 8, 64, None, False),
        ("8 wires broadcast x 64", 8, 64, None, True),
        ("8 wires x 64, 1000 shots", 8, 64, 1000, False),
        ("10 wires x 32 tapes", 10, 32, None, False),
        ("10 wires broadcast x 32", 10, 32, None, True),
        ("12 wires x 16 tapes", 12, 16, None, False),
        ("12 wires broadcast x 16", 12, 16, None, True),
        ("16 wires x 8 tapes", 16, 8, None, False),
        ("18 wires x 4 tapes", 18, 4, None, False),
        ("20 wires x 2 tapes", 20, 2, None, False),
    ]
    if not quick:
        rows.append(("22 wires x 1", 22, 1, None, False))
    return rows


def gradient_table(wire_counts: list[int], repeat: int) -> None:
    """Time one jacobian with backprop (default.qubit) and adjoint (lightning.qubit)."""
    from pennylane import numpy as pnp

    print(f"\n{'jacobian of <Z0>':<26}{'backprop':>17}{'adjoint':>17}  {'fastest':<16} best ->")
    for wires in wire_counts:
        params = pnp.array(np.random.default_rng(1).uniform(0, np.pi, (LAYERS, 2, wires)))
        cells, times = [], {}
        for method in ("backprop", "adjoint"):
            dev = RouterDevice(wires=wires, seed=1)

            def circuit(p, w=wires):
                with qml.QueuingManager.stop_recording():
                    ops = circuit_tape(w, p, None).operations
                for op in ops:
                    qml.apply(op)
                return qml.expval(qml.PauliZ(0))

            qnode = qml.QNode(circuit, dev, diff_method=method)
            jac = qml.jacobian(qnode)
            times[method] = best_time(lambda j=jac, p=params: j(p), repeat)
            cells.append(f"{times[method] * 1e3:>14.2f} ms")
        auto = RouterDevice(wires=wires, seed=1)
        config = auto.setup_execution_config(qml.devices.ExecutionConfig(gradient_method="best"))
        fastest = min(times, key=times.get)
        print(
            f"{f'{wires} wires':<26}" + "".join(cells) + f"  {fastest:<16} {config.gradient_method}"
        )


def main() -> None:
    """Print the timing tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed repetitions per cell")
    parser.add_argument("--quick", action="store_true", help="skip the widest scenario")
    parser.add_argument(
        "--targets", nargs="*", default=None, help="targets to time (default: all available)"
    )
    parser.add_argument("--only", default=None, help="only scenarios whose label contains this")
    args = parser.parse_args()

    names = args.targets or [s.name for s in registered_targets() if s.available and s.auto]
    header = f"{'scenario':<26}" + "".join(f"{n:>17}" for n in names) + f"  {'fastest':<16} policy"
    print(header)
    print("-" * len(header))
    for label, wires, batch, shots, broadcast in scenarios(args.quick):
        if args.only and args.only not in label:
            continue
        tapes = make_batch(wires, batch, shots, broadcast)
        cells, times = [], {}
        for name in names:
            dev = RouterDevice(wires=wires, target=name, seed=1)
            program = dev.preprocess_transforms()
            batch_tapes, _ = program(tapes)
            if name == "braket.local" and wires * max(batch, 1) > 64:  # ~0.1 s per tape
                cells.append(f"{'skipped':>17}")
                continue
            seconds = best_time(lambda d=dev, t=batch_tapes: d.execute(t), args.repeat)
            times[name] = seconds
            cells.append(f"{seconds * 1e3:>14.2f} ms")
        auto = RouterDevice(wires=wires, seed=1)
        auto.execute(auto.preprocess_transforms()(tapes)[0])
        picked = ",".join(auto.routing_record.tapes_per_target())
        fastest = min(times, key=times.get)
        print(f"{label:<26}" + "".join(cells) + f"  {fastest:<16} {picked}")
    if not args.only or "jacobian" in args.only:
        gradient_table([4, 8, 12, 16], args.repeat)


if __name__ == "__main__":
    main()
