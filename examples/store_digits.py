"""Classify digits by the nearest stored quantum states of a trained ``QuantumLinear``.

A ``QuantumLinear`` (4 qubits) plus a linear head is trained briefly on three classes of
scikit-learn's bundled 8x8 digits. Then the state its circuit prepares for every training image is
stored in a ``QuantumStateStore`` (label, epoch and split as metadata) and each test image is
classified by a majority vote of its ``k`` most similar stored states (exact fidelity).

Run: ``python examples/store_digits.py [--store DIR] [--epochs 3] [--k 5]``.
"""

from __future__ import annotations

import argparse
import tempfile
from collections import Counter

import numpy as np
import pennylane as qml
import torch
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler
from torch import nn

from pennylane_qstore.store import QuantumStateStore
from qstore_layers.torch import QuantumLinear


def load_data(classes: list[int], n_train: int, seed: int) -> tuple[np.ndarray, ...]:
    """``n_train`` training and as many test images of ``classes``, PCA to 8 angles in [0, pi]."""
    x, y = load_digits(return_X_y=True)
    keep = np.isin(y, classes)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x[keep], y[keep], train_size=n_train, test_size=n_train, random_state=seed, stratify=y[keep]
    )
    pca = PCA(n_components=8, random_state=seed).fit(x_tr)
    scale = MinMaxScaler((0.0, np.pi)).fit(pca.transform(x_tr))

    def prep(a: np.ndarray) -> np.ndarray:
        return np.clip(scale.transform(pca.transform(a)), 0.0, np.pi)

    return prep(x_tr), y_tr, prep(x_te), y_te


def train(
    x: np.ndarray, y: np.ndarray, classes: list[int], epochs: int, seed: int
) -> QuantumLinear:
    """Train ``QuantumLinear(4) -> nn.Linear`` with cross-entropy; return the quantum layer."""
    torch.manual_seed(seed)
    layer = QuantumLinear(n_qubits=4, n_layers=2)
    model = nn.Sequential(layer, nn.Linear(layer.out_features, len(classes)))
    xt = torch.tensor(x, dtype=torch.float32)
    target = torch.tensor([classes.index(int(c)) for c in y])
    model(xt[:1])  # materialise the lazy weights before building the optimizer
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for epoch in range(epochs):
        for batch in torch.randperm(len(xt)).split(32):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(xt[batch]), target[batch])
            loss.backward()
            opt.step()
        print(f"epoch {epoch + 1}: loss {loss.item():.3f}")
    return layer


def state_tapes(layer: QuantumLinear, x: np.ndarray) -> list[qml.tape.QuantumScript]:
    """The layer's circuit on each row of ``x``, measuring ``qml.state()``."""
    weights = layer.weights.detach().numpy()
    tapes = []
    for row in x:
        tape = qml.workflow.construct_tape(layer.qnode)(row, weights)
        tapes.append(tape.copy(measurements=[qml.state()]))
    return tapes


def classify(store: QuantumStateStore, layer: QuantumLinear, x: np.ndarray, k: int) -> list[int]:
    """Majority label of the ``k`` stored states closest to each input's state."""
    dev = qml.device("qstore.router", wires=layer.n_qubits)
    states = qml.execute(state_tapes(layer, x), dev, diff_method=None)  # one batch
    labels = []
    for state in states:
        found = store.query(np.asarray(state), top_k=k, filter={"split": "train"})
        labels.append(Counter(m.metadata["label"] for m in found).most_common(1)[0][0])
    return labels


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", help="store directory (default: a temporary one)")
    parser.add_argument("--classes", type=int, nargs="+", default=[0, 3, 7])
    parser.add_argument("--train-size", type=int, default=90)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    x_tr, y_tr, x_te, y_te = load_data(args.classes, args.train_size, args.seed)
    layer = train(x_tr, y_tr, args.classes, args.epochs, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        store = QuantumStateStore(args.store or tmp)
        meta = [
            {
                "label": int(c),
                "epoch": args.epochs,
                "split": "train",
                "model": "QuantumLinear(4, 2)",
            }
            for c in y_tr
        ]
        store.add(state_tapes(layer, x_tr), metadata=meta, namespace="default")
        print(f"stored {store.count()} states of {store.num_qubits} qubits")
        predicted = classify(store, layer, x_te, args.k)
        store.close()
    acc = float(np.mean(np.array(predicted) == y_te))
    print(f"nearest-stored-state accuracy on {len(y_te)} test images (k={args.k}): {acc:.3f}")
    return acc


if __name__ == "__main__":
    main()
