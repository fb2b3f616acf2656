"""W1 on TorchQuantum 0.1.8 (run by benchmarks/w1.py in the ``tq`` anchor environment).

TorchQuantum imports torchvision at package import (``torchquantum.dataset``), but no torchvision
wheel imports with the CPU torch 2.13. The W1 model uses only the simulator, so this script
registers inert ``torchvision`` modules before importing torchquantum; torchvision itself is
never installed (installing it would replace torch with a CUDA build).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from unittest import mock

for _name in (
    "torchvision",
    "torchvision.transforms",
    "torchvision.datasets",
    "torchvision.datasets.utils",
):
    sys.modules.setdefault(_name, mock.MagicMock(name=_name))

import torch  # noqa: E402
import torchquantum as tq  # noqa: E402
import torchquantum.functional as tqf  # noqa: E402


class W1(tq.QuantumModule):
    """RY encoding, 2 x (RX RY RZ per qubit + CNOT ring), <X>, <Y>, <Z> per qubit."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n
        self.weights = torch.nn.Parameter(torch.rand(2, n, 3) * 6.28)
        self.observables = {
            "x": [tq.PauliX()] * n,
            "y": [tq.PauliY()] * n,
            "z": [tq.PauliZ()] * n,
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = self.n
        qdev = tq.QuantumDevice(n_wires=n, bsz=x.shape[0], device=x.device)
        for i in range(n):
            tqf.ry(qdev, wires=i, params=x[:, i])
        for layer in range(2):
            for i in range(n):
                tqf.rx(qdev, wires=i, params=self.weights[layer, i, 0])
                tqf.ry(qdev, wires=i, params=self.weights[layer, i, 1])
                tqf.rz(qdev, wires=i, params=self.weights[layer, i, 2])
            for i in range(n):
                tqf.cnot(qdev, wires=[i, (i + 1) % n])
        outs = [
            tq.measurement.expval(qdev, list(range(n)), self.observables[p])
            for p in ("x", "y", "z")
        ]
        return torch.stack(outs, -1).reshape(x.shape[0], 3 * n)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", required=True)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cap", type=float, default=20.0)
    args = parser.parse_args()
    if os.environ.get("QSTORE_BENCH_THREADS") == "1":
        torch.set_num_threads(1)
    for size in args.sizes.split(","):
        n, batch = map(int, size.split("x"))
        result = time_steps(make_step(n, batch), args.repeats, args.cap)
        print(json.dumps({"n": n, "batch": batch, **result}), flush=True)


def make_step(n: int, batch: int):
    """Return one Adam step of W1 on random data."""
    torch.manual_seed(0)
    x = torch.rand(batch, n) * 3.14
    y = torch.rand(batch, 3 * n) * 2 - 1
    model = W1(n)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)

    def step() -> None:
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()

    return step


def time_steps(step, repeats: int, cap: float, warmup: int = 2) -> dict:
    """Same protocol as benchmarks/w1.py: warm up, then the median of timed steps."""
    for _ in range(warmup):
        start = time.perf_counter()
        step()
        if time.perf_counter() - start > cap:
            return {"over": cap}
    times = []
    budget = time.perf_counter() + max(cap * 3, 1.0)
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
        if time.perf_counter() > budget and len(times) >= 3:
            break
    return {"median": statistics.median(times), "steps": len(times)}


if __name__ == "__main__":
    main()
