"""QuantumDense under tf.distribute.MultiWorkerMirroredStrategy: workers configured by TF_CONFIG.

    python examples/multiworker_keras.py --epochs 2      # starts 2 local workers on 127.0.0.1
    TF_CONFIG='{"cluster": {"worker": ["host0:2222", "host1:2222"]},
                "task": {"type": "worker", "index": 0}}' python examples/multiworker_keras.py

With ``TF_CONFIG`` set (by you, or by Kubeflow's TFJob operator) the script is one worker of
that cluster. Without it, it starts ``--workers`` copies of itself, each with its own
``TF_CONFIG`` (one cluster on 127.0.0.1), waits at most ``--timeout`` seconds and checks that
they exit cleanly. ``--save-dir DIR`` makes worker ``i`` write its final weights to
``DIR/worker{i}.npz``.

Keras 3's ``model.fit`` does not run under MultiWorkerMirroredStrategy (keras-team/keras#20585:
with Keras 3.15 and TensorFlow 2.21 even a plain ``Dense`` model fails in ``fit`` with
``ValueError: Attempt to convert a value (PerReplica:...)``), so training is a custom loop with
``strategy.run``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def train(epochs: int, device: str, batch: int, save_dir: str | None) -> None:
    """Run one worker of the cluster described by ``TF_CONFIG``."""
    import keras
    import numpy as np
    import tensorflow as tf
    from layers_data import load

    from qstore_layers.keras import QuantumDense

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    index = strategy.cluster_resolver.task_id
    keras.utils.set_random_seed(index)  # different initial weights: the strategy syncs them
    x_train, y_train, x_test, y_test = load(None, True, 4, 2, limit=0)
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
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    data = tf.data.Dataset.from_tensor_slices((x_train, y_train)).batch(batch)
    batches = strategy.experimental_distribute_dataset(data.with_options(options))

    @tf.function
    def train_step(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        def step(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
            with tf.GradientTape() as tape:
                per_sample = loss_fn(y, model(x, training=True))
                loss = tf.nn.compute_average_loss(per_sample, global_batch_size=batch)
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
            return loss

        return strategy.reduce("SUM", strategy.run(step, args=(x, y)), axis=None)

    for epoch in range(epochs):
        losses = [float(train_step(x, y)) for x, y in batches]
        print(f"worker {index} epoch {epoch}: loss {sum(losses) / len(losses):.3f}")
    accuracy = float((model.predict(x_test, verbose=0).argmax(1) == y_test).mean())
    print(f"worker {index}: test accuracy {accuracy:.3f}")
    if save_dir:
        weights = {f"w{i}": np.asarray(w) for i, w in enumerate(model.get_weights())}
        np.savez(Path(save_dir) / f"worker{index}.npz", **weights)


def free_ports(count: int) -> list[int]:
    """``count`` distinct free TCP ports on 127.0.0.1."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def launch(args: argparse.Namespace) -> None:
    """Start ``args.workers`` local workers, wait for them, fail if any fails or hangs."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(args.workers)]}
    command = [sys.executable, __file__, "--epochs", str(args.epochs), "--batch", str(args.batch)]
    command += ["--device", args.device] + (["--save-dir", args.save_dir] if args.save_dir else [])
    workers = []
    for i in range(args.workers):
        task = {"cluster": cluster, "task": {"type": "worker", "index": i}}
        workers.append(subprocess.Popen(command, env={**os.environ, "TF_CONFIG": json.dumps(task)}))
    try:
        codes = [w.wait(timeout=args.timeout) for w in workers]
    except subprocess.TimeoutExpired as exc:
        raise SystemExit(f"workers still running after --timeout {args.timeout} s") from exc
    finally:
        for w in workers:
            w.kill()
    if any(codes):
        raise SystemExit(f"workers exited with {codes}")


def main() -> None:
    """Be a worker when ``TF_CONFIG`` is set, else start local workers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32, help="global batch, split over workers")
    parser.add_argument("--device", default="qstore.router")
    parser.add_argument("--workers", type=int, default=2, help="local workers without TF_CONFIG")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds for local workers")
    parser.add_argument("--save-dir", default=None, help="worker i writes DIR/worker{i}.npz")
    args = parser.parse_args()
    if "TF_CONFIG" in os.environ:
        train(args.epochs, args.device, args.batch, args.save_dir)
    else:
        launch(args)


if __name__ == "__main__":
    main()
