"""QuantumLinear under torch DistributedDataParallel (gloo, CPU), launched by torchrun or locally.

    torchrun --standalone --nproc-per-node=2 examples/ddp_torch.py --steps 20
    torchrun --nnodes=1:4 --nproc-per-node=1 --rdzv-backend=c10d \\
        --rdzv-endpoint=HOST:29400 --rdzv-id=qstore examples/ddp_torch.py   # on every node
    python examples/ddp_torch.py --nproc 2 --steps 20    # no torchrun: spawns 2 local processes
    python examples/ddp_torch.py --nproc 1               # the single-process reference
    torchrun --standalone --nproc-per-node=2 examples/ddp_torch.py --budget 100 \
        --ledger /shared/run.sqlite --ionq-url URL --val-every 5   # validation on IonQ

Every step draws one global batch (the same on every rank, from ``--seed``) and rank ``r`` of
``W`` trains on rows ``r::W`` of it. DDP averages the gradients, so the parameters stay identical
on every rank and equal those of a single process trained on the whole global batch. Rank 0
checks the first, prints the test accuracy and, with ``--save FILE``, writes the parameters.

With ``--budget USD`` every rank validates its share (rows ``r::W``) of ``--val-rows`` test rows
on a ``strategy="hardware"`` router (``--qpu``, then ``ionq.simulator``) every ``--val-every``
steps and at the end. All ranks draw on ONE ``Budget(USD, ledger=PATH)``: rank 0 resolves
``--ledger`` (a file on a filesystem every rank sees), creates it and broadcasts its path and the
budget, so the ranks' reservations are checked against one total. After a barrier rank 0 prints
the cost report of the whole ledger, every rank's work included.
"""

from __future__ import annotations

import argparse
import os
import socket
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pennylane as qml
import torch
import torch.distributed as dist
from layers_data import load
from torch.nn.parallel import DistributedDataParallel

from pennylane_qstore import Budget
from qstore_layers.torch import QuantumLinear
from qstore_layers.validate_on import evaluate_on


def shared_budget(rank: int, world: int, args: argparse.Namespace) -> Budget:
    """One budget for every rank: rank 0 creates the ledger and broadcasts path and USD."""
    shared: list[Any] = [str(Path(args.ledger).resolve()), args.budget]
    if rank == 0:
        Budget(args.budget, ledger=shared[0])  # create the schema once, before the others open it
    if world > 1:
        dist.broadcast_object_list(shared, src=0)
    return Budget(shared[1], ledger=shared[0])


class HardwareValidation:
    """Each rank's share of a validation subset, with the model's quantum layer on IonQ through
    a hardware router (:func:`qstore_layers.validate_on.evaluate_on`)."""

    def __init__(
        self,
        model: torch.nn.Module,
        x: np.ndarray,
        y: np.ndarray,
        rank: int,
        world: int,
        budget: Budget,
        args: argparse.Namespace,
    ) -> None:
        self.rank, self.world, self.budget = rank, world, budget
        self.last_step, self.score = 0, float("nan")
        self.x = torch.from_numpy(x[: args.val_rows][rank::world])
        self.y = torch.from_numpy(y[: args.val_rows][rank::world])
        options = {"api_url": args.ionq_url, "error_mitigation": False}
        if args.ionq_key:
            options["api_key"] = args.ionq_key
        # evaluate_on runs the layer with the device's shots; PennyLane deprecates device shots
        warnings.filterwarnings("ignore", "Setting shots on device is deprecated")
        self.dev = qml.device(
            "qstore.router",
            wires=4,
            shots=args.val_shots,
            strategy="hardware",
            targets=[args.qpu, "ionq.simulator"],
            budget=budget,
            target_options={"ionq": options},
        )
        self.model = model

    def __call__(self, step: int) -> float:
        """Validate the current weights; every rank must call it (it all-reduces the score)."""
        score = evaluate_on(self.model, self.dev, [(self.x, self.y)])  # phase "validation"
        route = self.dev.routing_record.routes[0]
        billed = "billed ?" if route.cost_usd is None else f"${route.cost_usd:.2f}"
        print(
            f"rank {self.rank} step {step}: validated {len(self.x)} rows on {route.target} "
            f"({billed}; ledger ${self.budget.spent:.2f} spent)",
            flush=True,
        )
        counts = torch.tensor([score * len(self.x), float(len(self.x))], dtype=torch.float64)
        if self.world > 1:
            dist.all_reduce(counts)
        self.last_step, self.score = step, float(counts[0] / counts[1])
        return self.score


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
    validate = None
    if args.budget is not None:
        budget = shared_budget(rank, world, args)
        validate = HardwareValidation(model, x_test, y_test, rank, world, budget, args)
    generator = torch.Generator().manual_seed(args.seed)  # same global batches on every rank
    for step in range(1, args.steps + 1):
        idx = torch.randint(len(x), (args.batch,), generator=generator)[rank::world]
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(net(x[idx]), y[idx]).backward()
        optimizer.step()
        if validate is not None and args.val_every and step % args.val_every == 0:
            validate(step)
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
    if validate is not None:
        report_budget(validate, rank, world, args.steps)


def report_budget(validate: HardwareValidation, rank: int, world: int, steps: int) -> None:
    """Final validation on every rank, then (after a barrier) rank 0 prints the cost report."""
    score = validate.score if validate.last_step == steps else validate(steps)
    if world > 1:
        dist.barrier()  # every rank's jobs are settled in the ledger before rank 0 reads it
    if rank == 0:
        budget = validate.budget
        print(f"validation accuracy (all ranks) {score:.3f}")
        print(
            f"cost report of {budget.ledger.path} ({world} ranks, ${budget.spent:.2f} of "
            f"${budget.usd:.2f} spent):\n{budget.report()}",
            flush=True,
        )


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
    hardware = parser.add_argument_group("validation on IonQ under one shared budget")
    hardware.add_argument("--budget", type=float, default=None, help="USD for all ranks")
    hardware.add_argument("--ledger", default=None, help="ledger file every rank can open")
    hardware.add_argument("--ionq-url", default=os.environ.get("IONQ_API_URL"))
    hardware.add_argument("--ionq-key", default=None, help="default: $IONQ_API_KEY")
    hardware.add_argument("--qpu", default="ionq.qpu.aria-1", help="the hardware target")
    hardware.add_argument("--val-rows", type=int, default=8, help="validation subset size")
    hardware.add_argument("--val-shots", type=int, default=100)
    hardware.add_argument("--val-every", type=int, default=0, help="steps (0: at the end)")
    args = parser.parse_args()
    if args.budget is not None and not (args.ledger and args.ionq_url):
        parser.error("--budget needs --ledger PATH (shared by the ranks) and --ionq-url URL")
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
