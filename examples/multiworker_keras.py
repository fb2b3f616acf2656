"""QuantumDense under tf.distribute.MultiWorkerMirroredStrategy: 2 local workers via TF_CONFIG.

    python examples/multiworker_keras.py --epochs 2

Without ``--worker`` the script starts two copies of itself, each with its own ``TF_CONFIG``
(one cluster of two workers on 127.0.0.1), and waits for both.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def train(epochs: int, device: str) -> None:
    """Run one worker; TF_CONFIG tells it the cluster and its index.

    Keras 3's ``model.fit`` does not run under MultiWorkerMirroredStrategy
    (keras-team/keras#20585), so this uses a custom loop with ``strategy.run``.
    """
    import keras
    import tensorflow as tf
    from layers_data import load

    from qstore_layers.keras import QuantumDense

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    x_train, y_train, x_test, y_test = load(None, True, 4, 2, limit=0)
    global_batch = 32
    with strategy.scope():
        model = keras.Sequential(
            [
                keras.Input((4,)),
                QuantumDense(4, 1, readout="z", device=device),
                keras.layers.Dense(2),
            ]
        )
        optimizer = keras.optimizers.Adam(0.1)
        loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)
    data = tf.data.Dataset.from_tensor_slices((x_train, y_train)).batch(global_batch)
    batches = strategy.experimental_distribute_dataset(data)

    @tf.function
    def train_step(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        def step(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
            with tf.GradientTape() as tape:
                per_sample = loss_fn(y, model(x, training=True))
                loss = tf.nn.compute_average_loss(per_sample, global_batch_size=global_batch)
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
            return loss

        return strategy.reduce("SUM", strategy.run(step, args=(x, y)), axis=None)

    index = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    for epoch in range(epochs):
        losses = [float(train_step(x, y)) for x, y in batches]
        print(f"worker {index} epoch {epoch}: loss {sum(losses) / len(losses):.3f}")
    accuracy = float((model.predict(x_test, verbose=0).argmax(1) == y_test).mean())
    print(f"worker {index}: test accuracy {accuracy:.3f}")


def main() -> None:
    """Start the workers, or be one."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--device", default="qstore.router")
    parser.add_argument("--worker", action="store_true", help="internal: run as a worker")
    args = parser.parse_args()
    if args.worker:
        train(args.epochs, args.device)
        return
    ports = []
    for _ in range(2):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    command = [sys.executable, __file__, "--worker", "--epochs", str(args.epochs)]
    command += ["--device", args.device]
    workers = [
        subprocess.Popen(
            command,
            env={
                **os.environ,
                "TF_CONFIG": json.dumps(
                    {"cluster": cluster, "task": {"type": "worker", "index": i}}
                ),
            },
        )
        for i in range(2)
    ]
    codes = [w.wait() for w in workers]
    if any(codes):
        raise SystemExit(f"workers exited with {codes}")


if __name__ == "__main__":
    main()
