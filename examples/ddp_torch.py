"""QuantumLinear under torch DistributedDataParallel: 2 CPU processes, gloo backend.

    python examples/ddp_torch.py --steps 20

Each process trains on its shard of scikit-learn's digits (0 vs 1); DDP averages the gradients,
so every process ends with the same parameters, which the script checks.
"""

from __future__ import annotations

import argparse
import os
import socket

import torch
import torch.distributed as dist
from layers_data import load
from torch.nn.parallel import DistributedDataParallel

from qstore_layers.torch import QuantumLinear


def worker(rank: int, world: int, port: int, steps: int, device: str) -> None:
    """Train one DDP replica."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    x_train, y_train, x_test, y_test = load(None, True, 4, 2, limit=0)
    x, y = torch.from_numpy(x_train[rank::world]), torch.from_numpy(y_train[rank::world])
    torch.manual_seed(rank)  # different initial weights: DDP broadcasts rank 0's
    model = torch.nn.Sequential(
        QuantumLinear(4, 1, readout="z", device=device), torch.nn.Linear(4, 2)
    )
    model(x[:1])  # materialise the lazy quantum weights before wrapping
    ddp = DistributedDataParallel(model)
    optimizer = torch.optim.Adam(ddp.parameters(), lr=0.1)
    generator = torch.Generator().manual_seed(rank)
    for _ in range(steps):
        idx = torch.randint(len(x), (16,), generator=generator)
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(ddp(x[idx]), y[idx]).backward()
        optimizer.step()
    flat = torch.cat([p.detach().flatten() for p in model.parameters()])
    gathered = [torch.empty_like(flat) for _ in range(world)]
    dist.all_gather(gathered, flat)
    if rank == 0:
        in_sync = all(torch.equal(gathered[0], g) for g in gathered)
        with torch.no_grad():
            accuracy = (model(torch.from_numpy(x_test)).argmax(1).numpy() == y_test).mean()
        print(f"parameters in sync across {world} processes: {in_sync}")
        print(f"test accuracy {accuracy:.3f}")
    dist.destroy_process_group()


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    """Spawn the processes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--world", type=int, default=2)
    parser.add_argument("--device", default="qstore.router")
    args = parser.parse_args()
    torch.multiprocessing.spawn(
        worker, args=(args.world, free_port(), args.steps, args.device), nprocs=args.world
    )


if __name__ == "__main__":
    main()
