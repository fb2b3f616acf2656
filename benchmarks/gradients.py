"""Hardware-style gradient methods: one Adam step of the W1 circuit per stack, same run.

For each qubit count ``n``, batch ``B``, method (parameter-shift, spsa, finite-diff) and shots
(analytic, 1024), prints the median wall seconds of one training step (forward, backward, Adam)
of:

* ``ours torch``: ``qstore_layers.torch.QuantumLayer`` on ``qstore.router`` (analytic batches
  run on the engine's shifted rows; with shots the QNode runs through PennyLane);
* ``ours keras``: ``qstore_layers.keras.QuantumLayer`` on ``qstore.router``;
* ``TorchLayer lightning`` / ``TorchLayer default.qubit``: PennyLane's ``qml.qnn.TorchLayer``
  with the same ``diff_method`` (and shots);
* ``TFQ``: TensorFlow Quantum from the anchor environment (``benchmarks/setup_anchor_envs.sh``):
  ``ParameterShift`` analytic, ``SampledExpectation`` + ``ParameterShift`` with shots,
  ``ForwardDifference`` for finite-diff; TFQ has no SPSA.

``best PL / ours`` is the fastest PennyLane column divided by ``ours torch`` (> 1: ours faster).
A stack whose warm-up step exceeds ``--cap`` seconds is shown as ``> cap``.

Usage::

    python benchmarks/gradients.py --quick     # n in {4, 7}, B = 32 (a few minutes)
    python benchmarks/gradients.py             # n in {4, 7, 10}, B in {32, 256} (long)
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from w1 import time_steps, w1_qfunc  # noqa: E402

METHODS = ("parameter-shift", "spsa", "finite-diff")
COLUMNS = ("ours torch", "ours keras", "TorchLayer lightning", "TorchLayer default.qubit", "TFQ")


def _qnode(device: str, n: int, method: str, shots: int | None):
    import pennylane as qml

    return qml.QNode(w1_qfunc(n), qml.device(device, wires=n), diff_method=method, shots=shots)


def torch_step(stack: str, n: int, batch: int, method: str, shots: int | None, reps: int, cap):
    """Time one Adam step of a torch stack."""
    import pennylane as qml
    import torch

    from qstore_layers.torch import QuantumLayer

    torch.manual_seed(0)
    x, y = torch.rand(batch, n) * 3.14, torch.rand(batch, 3 * n) * 2 - 1
    if stack == "ours torch":
        model = QuantumLayer(
            _qnode("qstore.router", n, "best", shots),
            {"weights": (2, n, 3)},
            gradient_method=method,
            seed=0,
        )
    else:
        device = "lightning.qubit" if "lightning" in stack else "default.qubit"
        kwargs = {"h": 0.01, "num_directions": 1} if method == "spsa" else {}
        qnode = _qnode(device, n, method, shots)
        qnode = qnode.update(gradient_kwargs=kwargs) if kwargs else qnode
        model = qml.qnn.TorchLayer(qnode, {"weights": (2, n, 3)})
    opt = torch.optim.Adam(model.parameters(), lr=0.01)

    def step() -> None:
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()

    return time_steps(step, reps, cap, warmup=1)


def keras_step(n: int, batch: int, method: str, shots: int | None, reps: int, cap: float):
    """Time one Adam step of the Keras QuantumLayer (eager GradientTape)."""
    import keras
    import numpy as np
    import tensorflow as tf

    from qstore_layers.keras import QuantumLayer

    rng = np.random.default_rng(0)
    x = tf.constant(rng.uniform(0, 3.14, (batch, n)), tf.float32)
    y = tf.constant(rng.uniform(-1, 1, (batch, 3 * n)), tf.float32)
    layer = QuantumLayer(
        _qnode("qstore.router", n, "best", shots),
        {"weights": (2, n, 3)},
        3 * n,
        gradient_method=method,
        seed=0,
    )
    layer(x[:1])
    opt = keras.optimizers.Adam(0.01)

    def step() -> None:
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((layer(x) - y) ** 2)
        grads = tape.gradient(loss, layer.trainable_variables)
        opt.apply_gradients(zip(grads, layer.trainable_variables, strict=True))

    return time_steps(step, reps, cap, warmup=1)


def tfq_cells(rows: list[tuple], reps: int, cap: float, envs: Path) -> dict:
    """Run the TFQ anchor (a separate interpreter) for every row; {} when it is missing."""
    python = envs / "tfq" / "bin" / "python"
    if not python.exists():
        print(
            f"TFQ column skipped: no {python} (run benchmarks/setup_anchor_envs.sh)",
            file=sys.stderr,
        )
        return {}
    spec = ",".join(f"{n}x{b}x{m}x{s or 0}" for n, b, m, s in rows if m != "spsa")
    cmd = [str(python), str(HERE / "anchors" / "tfq_gradients.py"), "--rows", spec]
    cmd += ["--repeats", str(reps), "--cap", str(cap)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False, timeout=3600)
    out = {}
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            rec = json.loads(line)
            out[(rec["n"], rec["batch"], rec["method"], rec["shots"] or None)] = rec
    if not out:
        print(f"TFQ anchor failed: {proc.stderr.strip()[-400:]}", file=sys.stderr)
    return out


def fmt(rec: dict | None) -> str:
    if not rec:
        return "n/a"
    if "median" in rec:
        return f"{rec['median']:.3f}"
    return f"> {rec['over']:g}"


def main(argv: list[str] | None = None) -> int:
    """Run every stack on every row and print the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="n in {4, 7}, batch 32")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cap", type=float, default=30.0, help="skip a stack past this step time")
    parser.add_argument("--anchor-envs", type=Path, default=Path("/work/bench-envs"))
    parser.add_argument("--methods", default=",".join(METHODS))
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    qubits, batches = ((4, 7), (32,)) if args.quick else ((4, 7, 10), (32, 256))
    rows = [
        (n, b, m, s)
        for m in args.methods.split(",")
        for s in (None, 1024)
        for n in qubits
        for b in batches
    ]
    tfq = tfq_cells(rows, args.repeats, args.cap, args.anchor_envs)
    head = f"{'method':16} {'shots':>6} {'n':>3} {'B':>4} " + " ".join(f"{c:>24}" for c in COLUMNS)
    print(head + f" {'best PL / ours':>15} {'TFQ / ours':>11}   (seconds per Adam step)")
    for n, b, m, s in rows:
        cells = {}
        for col in COLUMNS[:1] + COLUMNS[2:4]:
            cells[col] = torch_step(col, n, b, m, s, args.repeats, args.cap)
        cells["ours keras"] = keras_step(n, b, m, s, args.repeats, args.cap)
        cells["TFQ"] = tfq.get((n, b, m, s))
        ours = cells["ours torch"].get("median")
        pl = [cells[c].get("median") for c in COLUMNS[2:4] if cells[c] and "median" in cells[c]]
        ratio = f"{min(pl) / ours:.1f}" if ours and pl else "n/a"
        if ours and pl and len(pl) < 2:
            ratio = f">= {min(pl) / ours:.1f}"
        t = cells["TFQ"]
        tfq_ratio = f"{t['median'] / ours:.1f}" if ours and t and "median" in t else "n/a"
        line = f"{m:16} {s or '-':>6} {n:>3} {b:>4} " + " ".join(
            f"{fmt(cells[c]):>24}" for c in COLUMNS
        )
        print(line + f" {ratio:>15} {tfq_ratio:>11}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
