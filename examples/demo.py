"""``make demo``: train a hybrid quantum-classical classifier offline, then show where it ran.

A ``QuantumLinear`` layer (default ansatz: angle encoding, trainable entangling layers, ⟨X⟩⟨Y⟩⟨Z⟩
readout of every qubit) sits between a PCA of scikit-learn's bundled 8x8 digits and a small
``nn.Linear`` head. Everything runs on the ``qstore.router`` device with its embedded defaults.

Run: ``python examples/demo.py [--epochs 6] [--qubits 4] [--digits 3 5]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler
from torch import nn

from qstore_layers.torch import QuantumLinear


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
    """Fraction of rows of ``x`` classified as ``y``."""
    with torch.no_grad():
        return float((model(x).argmax(dim=1) == y).double().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--qubits", type=int, default=4)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--digits", type=int, nargs=2, default=(3, 5))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    torch.set_default_dtype(torch.float64)
    x_train, y_train, x_test, y_test = load_data(tuple(args.digits), args.qubits, args.seed)
    quantum = QuantumLinear(n_qubits=args.qubits, n_layers=args.layers, seed=args.seed)
    model = nn.Sequential(quantum, nn.Linear(quantum.out_features, 2))
    model(x_train[:1])  # materialise the lazy quantum weights before building the optimiser
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    loss_fn = nn.CrossEntropyLoss()

    print(
        f"digits {args.digits[0]} vs {args.digits[1]}: {len(x_train)} train / {len(x_test)} test "
        f"rows, {args.qubits} features -> QuantumLinear({args.qubits} qubits, {args.layers} "
        f"layers, {quantum.out_features} outputs) -> Linear(2) on qstore.router"
    )
    print(f"{'epoch':>5} {'loss':>8} {'train acc':>10} {'test acc':>9} {'seconds':>8}")
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        order = torch.randperm(len(x_train))
        total = 0.0
        for batch in order.split(args.batch_size):
            optimizer.zero_grad()
            loss = loss_fn(model(x_train[batch]), y_train[batch])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        seconds = time.perf_counter() - start
        print(
            f"{epoch:>5} {total / len(x_train):>8.4f} {accuracy(model, x_train, y_train):>10.3f} "
            f"{accuracy(model, x_test, y_test):>9.3f} {seconds:>8.2f}"
        )

    router = quantum.qnode.device
    print(f"\nWhere the last batch ran ({len(router.routing_history)} batches recorded):")
    print(router.routing_record)


if __name__ == "__main__":
    main()
