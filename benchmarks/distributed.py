"""Data-parallel scaling of a ``QuantumLinear`` training epoch: 1 vs 2 processes, one thread each.

Each process (torch DDP, gloo on 127.0.0.1) trains on its share of every global batch: forward,
backward, gradient all-reduce, Adam step. Prints, per process count, the shortest epoch time
of ``--repeats`` epochs (the least disturbed by other load), samples/s (wall clock), CPU seconds per sample (summed over processes)
and the efficiency ``samples/s(W) / (W * samples/s(1))``. ``cpu eff`` is the same ratio from
CPU time, which leaves out waiting for a core: on a shared machine it shows what DDP itself
costs, while the wall-clock figure is what you get on this machine now (its load average is
printed).

Usage::

    python benchmarks/distributed.py                  # 8 qubits, 2048 samples, batch 256
    python benchmarks/distributed.py --procs 1 2 4 --qubits 8
"""

from __future__ import annotations

import os

os.environ["OMP_NUM_THREADS"] = "1"  # one thread per process, before torch/lightning load
os.environ["MKL_NUM_THREADS"] = "1"
os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import json
import socket
import tempfile
import time
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from qstore_layers.torch import QuantumLinear


def _epoch(net: torch.nn.Module, opt: torch.optim.Optimizer, x, y, batch: int) -> None:
    for start in range(0, len(x), batch):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(
            net(x[start : start + batch]), y[start : start + batch]
        )
        loss.backward()
        opt.step()


def _worker(rank: int, world: int, port: int, args: argparse.Namespace, out: str) -> None:
    """Train ``args.repeats + 1`` epochs on this rank's rows; rank 0 writes the timings."""
    torch.set_num_threads(1)
    if world > 1:
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        dist.init_process_group("gloo", rank=rank, world_size=world)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(args.samples, args.qubits, generator=generator)
    y = torch.randint(2, (args.samples,), generator=generator)
    x, y = x[rank::world], y[rank::world]  # every global batch of B rows: B / W per rank
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        QuantumLinear(args.qubits, args.layers, readout="z", device=args.device),
        torch.nn.Linear(args.qubits, 2),
    )
    model(x[:1])
    net = DistributedDataParallel(model) if world > 1 else model
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    local_batch = args.batch // world
    _epoch(net, opt, x[: 2 * local_batch], y[: 2 * local_batch], local_batch)  # warm-up
    walls, cpus = [], []
    for _ in range(args.repeats):
        if world > 1:
            dist.barrier()
        wall, cpu = time.perf_counter(), time.process_time()
        _epoch(net, opt, x, y, local_batch)
        cpu = time.process_time() - cpu
        if world > 1:
            dist.barrier()
            total = torch.tensor([cpu], dtype=torch.float64)
            dist.all_reduce(total)
            cpu = float(total)
        walls.append(time.perf_counter() - wall)
        cpus.append(cpu)
    if rank == 0:
        Path(out).write_text(json.dumps({"wall": walls, "cpu": cpus}))
    if world > 1:
        dist.destroy_process_group()


def measure(world: int, args: argparse.Namespace) -> dict[str, float]:
    """Shortest epoch wall time and CPU seconds (all processes) with ``world`` processes."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "times.json")
        torch.multiprocessing.spawn(_worker, args=(world, port, args, out), nprocs=world)
        times = json.loads(Path(out).read_text())
    return {"wall": min(times["wall"]), "cpu": min(times["cpu"])}


def main() -> None:
    """Measure every process count and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--qubits", type=int, default=8)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--samples", type=int, default=2048)
    parser.add_argument("--batch", type=int, default=256, help="global batch")
    parser.add_argument("--repeats", type=int, default=5, help="timed epochs per count")
    parser.add_argument("--device", default="qstore.router")
    args = parser.parse_args()
    for world in args.procs:
        if args.batch % world or args.samples % args.batch:
            raise SystemExit(f"--batch must divide --samples and be a multiple of {world}")
    print(f"QuantumLinear({args.qubits}, {args.layers}) on {args.device}: {args.samples} samples,")
    print(f"global batch {args.batch}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    print(
        f"{'procs':>5} {'epoch s':>8} {'samples/s':>10} {'cpu s/sample':>13} {'eff':>5} {'cpu eff':>7}"
    )
    base = None
    for world in args.procs:
        result = measure(world, args)
        rate, cpu_rate = args.samples / result["wall"], args.samples / result["cpu"]
        base = base or (rate / world, cpu_rate)
        print(
            f"{world:>5} {result['wall']:>8.2f} {rate:>10.1f} {1 / cpu_rate:>13.5f} "
            f"{rate / (world * base[0]):>5.2f} {cpu_rate / base[1]:>7.2f}"
        )
    print(f"load at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
