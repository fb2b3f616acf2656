"""QuantumLinear under torch DistributedDataParallel (gloo, CPU), launched by torchrun or locally.

    torchrun --standalone --nproc-per-node=2 examples/ddp_torch.py --steps 20
    torchrun --nnodes=1:4 --nproc-per-node=1 --rdzv-backend=c10d \\
        --rdzv-endpoint=HOST:29400 --rdzv-id=qstore examples/ddp_torch.py   # on every node
    python examples/ddp_torch.py --nproc 2 --steps 20    # no torchrun: spawns 2 local processes
    python examples/ddp_torch.py --nproc 1               # the single-process reference

Every step draws one global batch (the same on every rank, from ``--seed``) and rank ``r`` of
``W`` trains on rows ``r::W`` of it. DDP averages the gradients, so the parameters stay identical
on every rank and equal those of a single process trained on the whole global batch. Rank 0
checks the first, prints the test accuracy and, with ``--save FILE``, writes the parameters.
"""

from __future__ import annotations

import argparse
import os
import socket

import numpy as np
import torch
import torch.distributed as dist
from layers_data import load
from torch.nn.parallel import DistributedDataParallel

from qstore_layers.torch import QuantumLinear


def train(rank: int, world: int, args: argparse.Namespace) -> None:
    """Train one replica (or the whole model when ``world == 1``)."""
    torch.set_num_threads(args.threads)
    x_train, y_train, x_test, y_test = load(None, True, 4, 2, limit=0)
    x, y = torch.from_numpy(x_train), torch.from_numpy(y_train)
    torch.manual_seed(args.seed + rank)  # different initial weights: DDP broadcasts rank 0's
    model = torch.nn.Sequential(
        QuantumLinear(4, 1, readout="z", device=args.device), torch.nn.Linear(4, 2)
    )
    model(x[:1])  # materialise the lazy quantum weights before wrapping
    net = DistributedDataParallel(model) if world > 1 else model
    optimizer = torch.optim.Adam(net.parameters(), lr=0.1)
    generator = torch.Generator().manual_seed(args.seed)  # same global batches on every rank
    for _ in range(args.steps):
        idx = torch.randint(len(x), (args.batch,), generator=generator)[rank::world]
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(net(x[idx]), y[idx]).backward()
        optimizer.step()
    flat = torch.cat([p.detach().flatten() for p in model.parameters()])
    in_sync = True
    if world > 1:
        gathered = [torch.empty_like(flat) for _ in range(world)]
        dist.all_gather(gathered, flat)
        in_sync = all(torch.equal(gathered[0], g) for g in gathered)
    if rank == 0:
        with torch.no_grad():
            accuracy = (model(torch.from_numpy(x_test)).argmax(1).numpy() == y_test).mean()
        print(f"parameters in sync across {world} processes: {in_sync}")
        print(f"test accuracy {accuracy:.3f}")
        if args.save:
            np.save(args.save, flat.numpy())


def spawned(rank: int, world: int, port: int, args: argparse.Namespace) -> None:
    """Entry point of a process started by :func:`torch.multiprocessing.spawn`."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        train(rank, world, args)
    finally:
        dist.destroy_process_group()


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    """Join torchrun's process group, or start ``--nproc`` local processes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=16, help="global batch, split over ranks")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--nproc", type=int, default=2, help="processes without torchrun")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process")
    parser.add_argument("--device", default="qstore.router")
    parser.add_argument("--save", default=None, help="rank 0 writes the parameters (.npy)")
    args = parser.parse_args()
    if "TORCHELASTIC_RUN_ID" in os.environ:  # started by torchrun: env:// rendezvous
        dist.init_process_group("gloo")
        world = dist.get_world_size()
        if args.batch % world:
            raise SystemExit(f"--batch {args.batch} must be a multiple of the {world} ranks")
        try:
            train(dist.get_rank(), world, args)
        finally:
            dist.destroy_process_group()
    elif args.batch % args.nproc:
        raise SystemExit(f"--batch {args.batch} must be a multiple of --nproc {args.nproc}")
    elif args.nproc == 1:
        train(0, 1, args)
    else:
        torch.multiprocessing.spawn(
            spawned, args=(args.nproc, free_port(), args), nprocs=args.nproc
        )


if __name__ == "__main__":
    main()
