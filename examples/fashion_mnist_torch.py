"""Hybrid classifier in PyTorch: PCA features -> QuantumLinear -> nn.Linear.

python examples/fashion_mnist_torch.py --data ~/fashion-mnist   # IDX files
python examples/fashion_mnist_torch.py --offline-digits         # no download
"""

from __future__ import annotations

import argparse

import torch
from layers_data import load

from qstore_layers.torch import QuantumLinear


def main() -> None:
    """Train and report test accuracy."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="directory with the Fashion-MNIST IDX files")
    parser.add_argument("--offline-digits", action="store_true", help="use sklearn's digits")
    parser.add_argument("--classes", type=int, default=2)
    parser.add_argument("--qubits", type=int, default=4)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--device", default="qstore.router")
    args = parser.parse_args()

    x_train, y_train, x_test, y_test = load(
        args.data, args.offline_digits, args.qubits, args.classes, limit=2000
    )
    x_train, y_train = torch.from_numpy(x_train), torch.from_numpy(y_train)
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        QuantumLinear(args.qubits, 2, device=args.device),
        torch.nn.Linear(3 * args.qubits, args.classes),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for step in range(args.steps):
        idx = torch.randint(len(x_train), (32,))
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x_train[idx]), y_train[idx])
        loss.backward()
        optimizer.step()
        if step % 20 == 0:
            print(f"step {step:4d}  loss {loss.item():.3f}")
    with torch.no_grad():
        predictions = model(torch.from_numpy(x_test)).argmax(1).numpy()
    print(f"test accuracy {(predictions == y_test).mean():.3f}")


if __name__ == "__main__":
    main()
