"""Peak memory of one engine training step (forward + adjoint backward) at n=14, B=256.

Prints the peak resident set size above the process baseline (measured after imports, model
set-up and a small warm-up) in units of the batch state size ``B * 2**n * 8`` bytes (complex64).
Issue 6 asks for at most 4x: backprop through every gate would keep ~100 states alive.

    python benchmarks/engine_memory.py [--n 14] [--batch 256] [--dtype complex64]
"""

from __future__ import annotations

import argparse
import resource

import torch
from w1 import w1_qfunc  # benchmarks/ is on sys.path when run as a script

from pennylane_qstore.engine.traced import TracedCircuit


def rss_bytes() -> int:
    """Current resident set size of this process."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=14)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--dtype", default="complex64", choices=["complex64", "complex128"])
    args = parser.parse_args()
    dtype = getattr(torch, args.dtype)
    n, batch = args.n, args.batch
    traced = TracedCircuit(w1_qfunc(n), {"weights": (2, n, 3)}, n, range(n), dtype)
    x = torch.rand(batch, n)
    w = torch.rand(2, n, 3, requires_grad=True)
    traced(x[:2], [w]).sum().backward()  # warm-up: compile, allocator, thread pools
    baseline = rss_bytes()
    out = traced(x, [w])
    ((out - 0.5) ** 2).mean().backward()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    state = batch * 2**n * dtype.itemsize
    print(f"n={n} B={batch} {args.dtype}: batch state {state / 2**20:.1f} MiB")
    print(f"baseline RSS {baseline / 2**20:.1f} MiB, peak RSS {peak / 2**20:.1f} MiB")
    print(
        f"peak above baseline: {(peak - baseline) / 2**20:.1f} MiB = {(peak - baseline) / state:.2f} x state"
    )


if __name__ == "__main__":
    main()
