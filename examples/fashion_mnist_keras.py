"""Hybrid classifier in Keras 3: PCA features -> QuantumDense -> Dense, trained with model.fit.

python examples/fashion_mnist_keras.py --data ~/fashion-mnist   # IDX files
python examples/fashion_mnist_keras.py --offline-digits         # no download
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
from layers_data import load

from qstore_layers.keras import QuantumDense


def main() -> None:
    """Train and report test accuracy."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="directory with the Fashion-MNIST IDX files")
    parser.add_argument("--offline-digits", action="store_true", help="use sklearn's digits")
    parser.add_argument("--classes", type=int, default=2)
    parser.add_argument("--qubits", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--device", default="qstore.router")
    args = parser.parse_args()

    x_train, y_train, x_test, y_test = load(
        args.data, args.offline_digits, args.qubits, args.classes, limit=2000
    )
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((args.qubits,)),
            QuantumDense(args.qubits, 2, device=args.device),
            keras.layers.Dense(args.classes),
        ]
    )
    model.compile(
        keras.optimizers.Adam(0.05),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(x_train, y_train, batch_size=32, epochs=args.epochs, verbose=2)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"test accuracy {accuracy:.3f}")


if __name__ == "__main__":
    main()
