"""Training-step time of ``QuantumLinear`` vs PennyLane's ``TorchLayer``, and async speedup.

Prints two tables:

1. One training step (forward, backward, Adam step) on the same default ansatz, for
   ``default.qubit`` with backprop and ``lightning.qubit`` with adjoint, n_qubits 4/7/10 and
   batch 32/256; ``ratio`` = TorchLayer time / QuantumLinear time (> 1: QuantumLinear faster).
   Times are CPU seconds of this process (all its threads), robust on a shared machine.
2. Forward+backward with ``async_execution`` on/off per device, wall-clock seconds (overlap is
   what async buys); ``speedup`` = sync / async.

Usage::

    python benchmarks/layers.py           # full table (minutes)
    python benchmarks/layers.py --quick   # n_qubits 4 and 7, batch 32, fewer repeats
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before lightning loads its OpenMP runtime

import argparse
import statistics
import time
from collections.abc import Callable

import pennylane as qml
import torch

from qstore_layers import ansatz
from qstore_layers.torch import QuantumLinear

CONFIGS = (("default.qubit", "backprop"), ("lightning.qubit", "adjoint"))


def _time(step: Callable[[], None], repeats: int, clock: Callable[[], float]) -> float:
    """Median seconds of ``step`` on ``clock`` after one warm-up call."""
    step()
    times = []
    for _ in range(repeats):
        start = clock()
        step()
        times.append(clock() - start)
    return statistics.median(times)


def _train_step(model: torch.nn.Module, x: torch.Tensor) -> Callable[[], None]:
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)

    def step() -> None:
        optimizer.zero_grad()
        model(x).pow(2).mean().backward()
        optimizer.step()

    return step


def _torch_layer(device: str, method: str, n_qubits: int) -> torch.nn.Module:
    """PennyLane's TorchLayer on the same circuit as ``QuantumLinear(n_qubits, 2)``."""
    dev = qml.device(device, wires=n_qubits)
    circuit = ansatz.make_qnode(n_qubits, "angle", ("x", "y", "z"), dev, None).func
    qnode = qml.QNode(circuit, dev, interface="torch", diff_method=method)
    shape = ansatz.weight_shape(n_qubits, n_qubits, 2, "angle")
    return qml.qnn.TorchLayer(qnode, {"weights": shape})


def training_table(qubits: tuple[int, ...], batches: tuple[int, ...], repeats: int) -> None:
    """Print the QuantumLinear vs TorchLayer table."""
    print(
        f"{'device':16} {'method':9} {'qubits':>6} {'batch':>6} {'TorchLayer s':>13} "
        f"{'QuantumLinear s':>16} {'ratio':>6}   (CPU seconds per step)"
    )
    for device, method in CONFIGS:
        for n in qubits:
            for batch in batches:
                torch.manual_seed(0)
                x = torch.rand(batch, n, requires_grad=True)
                ours = QuantumLinear(n, 2, device=device, gradient_method=method)
                ours(x[:1])
                theirs = _torch_layer(device, method, n)
                with torch.no_grad():
                    theirs.weights.copy_(ours.weights)
                t_theirs = _time(_train_step(theirs, x), repeats, time.process_time)
                t_ours = _time(_train_step(ours, x), repeats, time.process_time)
                print(
                    f"{device:16} {method:9} {n:>6} {batch:>6} {t_theirs:>13.4f} "
                    f"{t_ours:>16.4f} {t_theirs / t_ours:>6.2f}"
                )


def async_table(n_qubits: int, batch: int, repeats: int) -> None:
    """Print forward+backward time with async_execution off/on."""
    print(
        f"\n{'device':16} {'qubits':>6} {'batch':>6} {'sync s':>8} {'async s':>8} {'speedup':>8}"
        f"   (workers={os.cpu_count()})"
    )
    for device, _ in CONFIGS:
        x = torch.rand(batch, n_qubits, requires_grad=True)
        times = []
        for flag in (False, True):
            layer = QuantumLinear(n_qubits, 2, device=device, async_execution=flag)
            layer(x[:1])

            def step(layer: QuantumLinear = layer, x: torch.Tensor = x) -> None:
                layer(x).sum().backward()

            times.append(_time(step, repeats, time.perf_counter))
        print(
            f"{device:16} {n_qubits:>6} {batch:>6} {times[0]:>8.4f} {times[1]:>8.4f} "
            f"{times[0] / times[1]:>8.2f}"
        )


def main() -> None:
    """Parse the options and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, fewer repeats")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.quick:
        training_table((4, 7), (32,), repeats=2)
        async_table(7, 32, repeats=2)
    else:
        training_table((4, 7, 10), (32, 256), repeats=3)
        async_table(10, 64, repeats=3)


if __name__ == "__main__":
    main()
