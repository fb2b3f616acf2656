"""``make demo``: train a hybrid classifier on simulators, validate it on (local) IonQ hardware.

A ``QuantumLinear`` layer (default ansatz: angle encoding, trainable entangling layers, ⟨X⟩⟨Y⟩⟨Z⟩
readout of every qubit) sits between a PCA of scikit-learn's bundled 8x8 digits and a small
``nn.Linear`` head. Training runs on ``qstore.router``'s simulators (the batched engine). After
every epoch ``qstore_layers.validate_on.evaluate_on`` runs the same model on a small validation
subset with its quantum layer on a second router, ``strategy="hardware"``, whose first target is
``ionq.qpu.aria-1`` on the package's local IonQ server (IonQ's API on 127.0.0.1: priced like the QPU, simulated with noise). Both routers draw on
one budget; once what is left cannot pay for a validation pass, the router moves validation to
``ionq.simulator`` and its routing record says why. At the end the script prints the routing and
cost reports and writes a PNG of the training curves and the cumulative cost.

Run: ``python examples/demo.py [--epochs 6] [--budget 700] [--val-rows 8] [--out build/demo.png]``.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pennylane as qml
import torch
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler
from torch import nn
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from pennylane_qstore import Budget
from pennylane_qstore.ionq.server import LocalIonQServer
from qstore_layers.torch import QuantumLinear
from qstore_layers.validate_on import evaluate_on

HARDWARE = "ionq.qpu.aria-1"
TARGETS = [HARDWARE, "ionq.simulator", "lightning.qubit"]


def load_data(
    digits: tuple[int, int], n_features: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Two classes of the bundled digits, PCA to ``n_features``, scaled to [0, π]."""
    x, y = load_digits(return_X_y=True)
    keep = np.isin(y, digits)
    x, y = x[keep], (y[keep] == digits[1]).astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.3, random_state=seed, stratify=y
    )
    pca = PCA(n_components=n_features, random_state=seed).fit(x_train)
    scaler = MinMaxScaler((0.0, np.pi)).fit(pca.transform(x_train))

    def prepare(a: np.ndarray) -> torch.Tensor:
        return torch.tensor(np.clip(scaler.transform(pca.transform(a)), 0.0, np.pi))

    return prepare(x_train), torch.tensor(y_train), prepare(x_test), torch.tensor(y_test)


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of rows of ``x`` classified as ``y`` (in eval mode: tagged ``evaluation``)."""
    model.eval()
    try:
        with torch.no_grad():
            return float((model(x).argmax(dim=1) == y).double().mean())
    finally:
        model.train()


def parse_args() -> argparse.Namespace:
    """The demo's command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--qubits", type=int, default=4)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--digits", type=int, nargs=2, default=(3, 5))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budget", type=float, default=700.0, help="USD for the whole run")
    parser.add_argument("--ledger", default=None, help="ledger file (default: in memory)")
    parser.add_argument("--val-rows", type=int, default=8, help="validation subset size")
    parser.add_argument("--val-shots", type=int, default=100, help="shots per QPU circuit")
    parser.add_argument("--out", default="build/demo.png", help="where to write the PNG")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    args = parser.parse_args()
    if args.epochs < 1 or args.val_rows < 1 or args.val_shots < 1:
        parser.error("--epochs, --val-rows and --val-shots must be at least 1")
    return args


def hardware_router(server: LocalIonQServer, budget: Budget, wires: int, shots: int) -> Any:
    """A router that sends sampled tapes to aria-1 while the budget lasts, then simulates."""
    # evaluate_on runs the layer with the device's shots; PennyLane deprecates shots on devices
    warnings.filterwarnings("ignore", "Setting shots on device is deprecated")
    return qml.device(
        "qstore.router",
        wires=wires,
        shots=shots,
        strategy="hardware",
        targets=TARGETS,
        budget=budget,
        target_options={
            # error_mitigation=False: debiasing would raise IonQ's minimum to $97.50 a circuit
            "ionq": {"api_url": server.url, "api_key": server.api_key, "error_mitigation": False}
        },
    )


def route_note(record: Any) -> tuple[str, str]:
    """Where a validation batch ran and, when it left the QPU, the record's reason why."""
    notes = [note for route in record.routes for note in route.skipped]
    notes += [f"{f.target} failed: {f.error.split(';')[0]}" for f in record.fallbacks]
    return record.routes[0].target, "; ".join(notes)


def validate(
    model: nn.Module, dev: Any, x: torch.Tensor, y: torch.Tensor
) -> tuple[float, str, str]:
    """Accuracy of ``model`` on ``x`` with its quantum layer on the hardware router (phase
    ``validation``), where it ran and why."""
    score = evaluate_on(model, dev, [(x, y)])
    return score, *route_note(dev.routing_record)


def train_epoch(
    model: nn.Module, optimizer: Any, x: torch.Tensor, y: torch.Tensor, args: Any, bar: Any
) -> float:
    """One epoch of minibatch Adam; returns the mean loss."""
    loss_fn = nn.CrossEntropyLoss()
    total = 0.0
    for batch in torch.randperm(len(x)).split(args.batch_size):
        optimizer.zero_grad()
        loss = loss_fn(model(x[batch]), y[batch])
        loss.backward()
        optimizer.step()
        total += loss.item() * len(batch)
        bar.update(len(batch))
        bar.set_postfix(loss=f"{loss.item():.3f}")
    return total / len(x)


def plot(history: list[dict[str, Any]], budget: Budget, path: Path) -> None:
    """Training curves and cumulative cost per epoch, as a PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(13, 3.8))
    ax1.plot(epochs, [h["loss"] for h in history], "o-")
    ax1.set(title="training loss", xlabel="epoch")
    ax2.plot(epochs, [h["train_acc"] for h in history], "o-", label="train (simulator)")
    ax2.plot(epochs, [h["test_acc"] for h in history], "s-", label="test (simulator)")
    for on_qpu, marker in ((True, "D"), (False, "x")):
        points = [(h["epoch"], h["val_acc"]) for h in history if h["on_qpu"] == on_qpu]
        if points:
            label = f"validation ({HARDWARE if on_qpu else 'after budget: simulator'})"
            ax2.plot(*zip(*points, strict=True), marker, ms=8, ls="none", label=label)
    ax2.set(title="accuracy", xlabel="epoch", ylim=(0, 1.05))
    ax2.legend(fontsize=7, loc="lower right")
    ax3.plot([0, *epochs], [0.0, *(h["spent"] for h in history)], "o-", label="spent")
    ax3.axhline(budget.usd, color="red", ls="--", label=f"budget ${budget.usd:.0f}")
    ax3.set(title="cumulative cost (USD)", xlabel="after epoch", ylim=(0, budget.usd * 1.15))
    ax3.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run(args: argparse.Namespace, server: LocalIonQServer, budget: Budget) -> list[dict]:
    """Train, validate every epoch on the hardware router; return one dict per epoch."""
    torch.manual_seed(args.seed)
    x_train, y_train, x_test, y_test = load_data(tuple(args.digits), args.qubits, args.seed)
    pick = torch.randperm(len(x_test), generator=torch.Generator().manual_seed(args.seed))
    x_val, y_val = x_test[pick[: args.val_rows]], y_test[pick[: args.val_rows]]
    train_dev = qml.device("qstore.router", wires=args.qubits, budget=budget)
    quantum = QuantumLinear(args.qubits, args.layers, device=train_dev, seed=args.seed)
    head = nn.Linear(quantum.out_features, 2)
    model = nn.Sequential(quantum, head)
    model(x_train[:1])  # materialise the lazy quantum weights before building the optimiser
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    hw_dev = hardware_router(server, budget, args.qubits, args.val_shots)

    print(
        f"digits {args.digits[0]} vs {args.digits[1]}: {len(x_train)} train / {len(x_test)} test "
        f"rows -> QuantumLinear({args.qubits} qubits, {args.layers} layers, "
        f"{quantum.out_features} outputs) -> Linear(2); training on qstore.router simulators, "
        f"validation on {args.val_rows} test rows x {args.val_shots} shots via {TARGETS}, "
        f"budget ${budget.usd:.2f}"
    )
    print(f"{'epoch':>5} {'loss':>8} {'train acc':>10} {'test acc':>9} {'val acc':>8} "
          f"{'spent $':>8} {'seconds':>8}  validation ran on")  # fmt: skip
    history = []
    epochs = tqdm(range(1, args.epochs + 1), desc="epochs", disable=args.no_progress)
    for epoch in epochs:
        start = time.perf_counter()
        with tqdm(
            total=len(x_train), desc=f"epoch {epoch}", leave=False, disable=args.no_progress
        ) as bar:
            loss = train_epoch(model, optimizer, x_train, y_train, args, bar)
        val_acc, where, why = validate(model, hw_dev, x_val, y_val)
        row = {
            "epoch": epoch,
            "loss": loss,
            "train_acc": accuracy(model, x_train, y_train),
            "test_acc": accuracy(model, x_test, y_test),
            "val_acc": val_acc,
            "on_qpu": where == HARDWARE,
            "spent": budget.spent,
        }
        history.append(row)
        tqdm.write(
            f"{epoch:>5} {loss:>8.4f} {row['train_acc']:>10.3f} {row['test_acc']:>9.3f} "
            f"{val_acc:>8.3f} {row['spent']:>8.2f} {time.perf_counter() - start:>8.2f}  {where}"
            + (f"\n{'':>6}because {why}" if why else "")
        )
    print(f"\nRouting: where the last training batch ran ({len(train_dev.routing_history)} "
          f"batches recorded)\n{train_dev.routing_record}")  # fmt: skip
    print(f"Routing: the last validation batch\n{hw_dev.routing_record}")
    return history


def main() -> None:
    """Start the local IonQ server, train and validate, print the reports, write the PNG."""
    args = parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    torch.set_default_dtype(torch.float64)
    budget = Budget(args.budget, ledger=args.ledger)
    with LocalIonQServer(seed=args.seed) as server, logging_redirect_tqdm():
        server.set_backend("qpu.aria-1", average_queue_time_ms=120_000)
        history = run(args, server, budget)
    print(f"\nCost report (every phase and target, ${budget.spent:.2f} of ${budget.usd:.2f}):")
    print(budget.report())
    out = Path(args.out)
    plot(history, budget, out)
    print(f"\nwrote {out.resolve()}")


if __name__ == "__main__":
    main()
