"""Workload W1 of issue 6: one training step of a quantum layer, side by side across stacks.

B inputs angle-encoded with one RY per qubit on n qubits, 2 layers of trainable RX, RY, RZ on
every qubit followed by a ring of CNOTs (i -> i+1 mod n), readout <X>, <Y>, <Z> of every qubit,
MSE loss, one Adam step. Reported: median seconds per step.

Columns (each stack runs in its own subprocess so thread pools and memory do not interfere):

* ``QuantumLinear``: ``qstore_layers.QuantumLinear(n, n_layers=2)`` through ``qstore.router`` with
  default settings. Its default ansatz (RY encoding + ``StronglyEntanglingLayers``: Rot + CNOT
  rings of range 1 and 2) has the same gate counts as W1;
* ``QuantumLayer(W1)``: the exact W1 circuit as a QNode on ``qstore.router`` in ``QuantumLayer``;
* ``QuantumDense``: the Keras 3 layer (same ansatz as ``QuantumLinear``);
* anchors: PennyLane ``TorchLayer`` on ``default.qubit`` (backprop) and ``lightning.qubit``
  (adjoint), TorchQuantum 0.1.8 and TensorFlow Quantum 0.7.6 (adjoint; best of default and
  intra-op 2 / inter-op 1 thread pools), the last two from the environments made by
  ``benchmarks/setup_anchor_envs.sh`` (a missing environment drops its column).

The ratio column is QuantumLinear's time over the best anchor of the row (< 1: faster).

    python benchmarks/w1.py            # full table (n in 4, 7, 10, 14 x B in 32, 256)
    python benchmarks/w1.py --quick    # about a minute: small rows, fewer repeats
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FULL_SIZES = [(4, 32), (7, 32), (10, 32), (14, 32), (4, 256), (7, 256), (10, 256), (14, 256)]
QUICK_SIZES = [(4, 32), (7, 32), (10, 32), (4, 256), (7, 256)]
OURS = ("QuantumLinear", "QuantumLayer(W1)", "QuantumDense")
REFERENCE = "fused torch"
ANCHORS = ("TorchLayer default.qubit", "TorchLayer lightning", "TorchQuantum", "TFQ")
LOCAL_WORKERS = {
    "QuantumLinear": "quantum_linear",
    "QuantumLayer(W1)": "quantum_layer_w1",
    "QuantumDense": "quantum_dense",
    "TorchLayer default.qubit": "torchlayer_dq",
    "TorchLayer lightning": "torchlayer_lightning",
    "fused torch": "fused_torch",
}
EXTERNAL = {"TorchQuantum": ("tq", "anchors/tq_w1.py"), "TFQ": ("tfq", "anchors/tfq_w1.py")}


# ----------------------------------------------------------------------------- timing


def time_steps(step, repeats: int, cap: float, warmup: int = 2) -> dict:
    """Run ``step`` ``warmup`` times, then up to ``repeats`` timed times; stop early past ``cap``.

    Returns ``{"median": s}`` or ``{"over": s}`` when one step took longer than ``cap``.
    """
    for _ in range(warmup):
        start = time.perf_counter()
        step()
        first = time.perf_counter() - start
        if first > cap:
            return {"over": cap}
    times = []
    budget = time.perf_counter() + max(cap * 3, 1.0)
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
        if time.perf_counter() > budget and len(times) >= 3:
            break
    return {"median": statistics.median(times), "steps": len(times)}


# ----------------------------------------------------------------------------- torch stacks


def w1_qfunc(n: int):
    """The W1 circuit of issue 6 as a QNode function ``circuit(inputs, weights)``."""
    import pennylane as qml

    def circuit(inputs, weights):
        for i in range(n):
            qml.RY(inputs[..., i], wires=i)
        for layer in range(2):
            for i in range(n):
                qml.RX(weights[layer, i, 0], wires=i)
                qml.RY(weights[layer, i, 1], wires=i)
                qml.RZ(weights[layer, i, 2], wires=i)
            for i in range(n):
                qml.CNOT(wires=[i, (i + 1) % n])
        return [qml.expval(p(i)) for i in range(n) for p in (qml.X, qml.Y, qml.Z)]

    return circuit


def fused_w1(n: int):
    """W1 written by hand in torch: one dense ``(B, 2**n)`` complex64 state, the per-wire gates
    as batched 2x2 contractions, the CNOT ring as one index permutation, autograd backward.
    The reference that the engine path should stay close to (issue 9, item 5)."""
    import math

    import torch

    class FusedW1(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weights = torch.nn.Parameter(torch.rand(2, n, 3) * 2 * math.pi)
            index = torch.arange(2**n)
            ring = index.clone()
            for i in range(n):  # CNOT(i, i+1 mod n) in order; wire 0 is the most significant bit
                control, target = n - 1 - i, n - 1 - (i + 1) % n
                ring = ring[index ^ (((index >> control) & 1) << target)]
            self.register_buffer("ring", ring)

        @staticmethod
        def _rot(axis: str, theta: torch.Tensor) -> torch.Tensor:
            c, s = (
                torch.cos(theta / 2).to(torch.complex64),
                torch.sin(theta / 2).to(torch.complex64),
            )
            if axis == "x":
                rows = [[c, -1j * s], [-1j * s, c]]
            elif axis == "y":
                rows = [[c, -s], [s, c]]
            else:
                e = torch.exp(-0.5j * theta.to(torch.complex64))
                rows = [[e, torch.zeros_like(e)], [torch.zeros_like(e), e.conj()]]
            return torch.stack([torch.stack(r, -1) for r in rows], -2)

        def _apply(self, state: torch.Tensor, wire: int, u: torch.Tensor) -> torch.Tensor:
            state = torch.movedim(state, wire + 1, -1)
            state = state @ (
                u.mT if u.dim() == 2 else u.mT.reshape(u.shape[0], *[1] * (n - 1), 2, 2)
            )
            return torch.movedim(state, -1, wire + 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            batch = x.shape[0]
            ry = self._rot("y", x.T.reshape(-1))[..., 0].reshape(n, batch, 2)
            state = ry[0]
            for wire in range(1, n):  # product state of the encoding
                state = (state[:, :, None] * ry[wire][:, None, :]).reshape(batch, -1)
            state = state.reshape(batch, *[2] * n)
            for layer in range(2):
                for wire in range(n):
                    w = self.weights[layer, wire]
                    u = self._rot("z", w[2]) @ self._rot("y", w[1]) @ self._rot("x", w[0])
                    state = self._apply(state, wire, u)
                state = state.reshape(batch, -1)[:, self.ring].reshape(batch, *[2] * n)
            outs = []
            for wire in range(n):
                psi = torch.movedim(state, wire + 1, 1).reshape(batch, 2, -1)
                rho = psi @ psi.conj().mT
                r01 = rho[:, 0, 1]
                outs += [2 * r01.real, -2 * r01.imag, (rho[:, 0, 0] - rho[:, 1, 1]).real]
            return torch.stack(outs, -1)

    return FusedW1()


def _torch_model(stack: str, n: int):
    import pennylane as qml

    if stack == "fused_torch":
        return fused_w1(n)

    if stack == "quantum_linear":
        from qstore_layers.torch import QuantumLinear

        return QuantumLinear(n, n_layers=2)
    if stack == "quantum_layer_w1":
        from qstore_layers.torch import QuantumLayer

        qnode = qml.QNode(w1_qfunc(n), qml.device("qstore.router", wires=n))
        return QuantumLayer(qnode, {"weights": (2, n, 3)})
    device, method = {
        "torchlayer_dq": ("default.qubit", "backprop"),
        "torchlayer_lightning": ("lightning.qubit", "adjoint"),
    }[stack]
    qnode = qml.QNode(w1_qfunc(n), qml.device(device, wires=n), diff_method=method)
    return qml.qnn.TorchLayer(qnode, {"weights": (2, n, 3)})


def run_torch(stack: str, n: int, batch: int, repeats: int, cap: float) -> dict:
    """Time one Adam step of a torch stack."""
    import torch

    torch.manual_seed(0)
    x = torch.rand(batch, n) * 3.14
    y = torch.rand(batch, 3 * n) * 2 - 1
    model = _torch_model(stack, n)
    model(x[:1])  # lazy parameters
    opt = torch.optim.Adam(model.parameters(), lr=0.01)

    def step() -> None:
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()

    return time_steps(step, repeats, cap)


def run_keras(n: int, batch: int, repeats: int, cap: float) -> dict:
    """Time one Adam step of the Keras ``QuantumDense`` (eager ``GradientTape``)."""
    import keras
    import numpy as np
    import tensorflow as tf

    from qstore_layers.keras import QuantumDense

    rng = np.random.default_rng(0)
    x = tf.constant(rng.uniform(0, 3.14, (batch, n)), tf.float32)
    y = tf.constant(rng.uniform(-1, 1, (batch, 3 * n)), tf.float32)
    layer = QuantumDense(n, n_layers=2)
    layer(x[:1])
    opt = keras.optimizers.Adam(0.01)

    def step() -> None:
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((layer(x) - y) ** 2)
        grads = tape.gradient(loss, layer.trainable_variables)
        opt.apply_gradients(zip(grads, layer.trainable_variables, strict=True))

    return time_steps(step, repeats, cap)


def worker(stack: str, sizes: list[tuple[int, int]], repeats: int, cap: float) -> None:
    """Time ``stack`` on every size and print one JSON line per size."""
    if os.environ.get("QSTORE_BENCH_THREADS") == "1":
        import torch

        torch.set_num_threads(1)
    for n, batch in sizes:
        try:
            if stack == "quantum_dense":
                result = run_keras(n, batch, repeats, cap)
            else:
                result = run_torch(stack, n, batch, repeats, cap)
        except Exception as exc:  # report, keep the other sizes
            result = {"error": f"{type(exc).__name__}: {exc}"[:200]}
        print(json.dumps({"n": n, "batch": batch, **result}), flush=True)


# ----------------------------------------------------------------------------- driver


def collect(cmd: list[str], env: dict, timeout: float) -> dict[tuple[int, int], dict]:
    """Run a worker command and parse its JSON lines."""
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env=env, timeout=timeout, check=False
        )
        lines = proc.stdout.splitlines()
        if proc.returncode and not lines:
            print(f"  ! {' '.join(cmd[-6:])}: {proc.stderr.strip()[-300:]}", file=sys.stderr)
    except subprocess.TimeoutExpired as exc:
        lines = (exc.stdout or b"").decode().splitlines() if exc.stdout else []
    out = {}
    for line in lines:
        if line.startswith("{"):
            rec = json.loads(line)
            out[(rec["n"], rec["batch"])] = rec
    return out


def run_modes(column: str, cmd: list[str], env: dict, modes: list[str]) -> dict:
    """Run a worker once per thread mode and keep each size's fastest result."""
    best: dict[tuple[int, int], dict] = {}
    for mode in modes:
        print(f"running {column} (threads: {mode}) ...", file=sys.stderr, flush=True)
        mode_env = {**env, "QSTORE_BENCH_THREADS": mode} if mode == "1" else env
        for key, rec in collect(cmd, mode_env, 900.0).items():
            rec["threads"] = mode
            if key not in best or rec.get("median", 1e9) < best[key].get("median", 1e9):
                best[key] = rec
    return best


def fmt(rec: dict | None) -> str:
    """Format one cell."""
    if not rec:
        return "n/a"
    if "median" in rec:
        return f"{rec['median']:.4f}"
    if "over" in rec:
        return f"> {rec['over']:g}"
    return "error"


def main(argv: list[str] | None = None) -> int:
    """Run every stack and print the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small rows, few repeats (~1 min)")
    parser.add_argument(
        "--anchor-envs", default=os.environ.get("QSTORE_BENCH_ENVS", "/work/bench-envs")
    )
    parser.add_argument("--repeats", type=int, default=None, help="timed steps per cell")
    parser.add_argument(
        "--cap", type=float, default=None, help="seconds: slower steps give '> cap'"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--sizes", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    repeats = args.repeats or (5 if args.quick else 7)
    cap = args.cap or (2.0 if args.quick else 20.0)
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    if args.worker:
        sizes = [tuple(map(int, s.split("x"))) for s in args.sizes.split(",")]
        worker(args.worker, sizes, repeats, cap)
        return 0

    size_arg = ",".join(f"{n}x{b}" for n, b in sizes)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONWARNINGS": "ignore"}
    # Our layers run with default settings (the engine applies its own thread policy). Every
    # anchor gets the best of its default threads and one thread (two threads on a busy 2-core
    # machine can be 10x slower); --quick times anchors with one thread only.
    anchor_modes = ["1"] if args.quick else ["default", "1"]
    results: dict[str, dict] = {}
    for column, stack in LOCAL_WORKERS.items():
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--worker",
            stack,
            "--sizes",
            size_arg,
        ]
        cmd += ["--repeats", str(repeats), "--cap", str(cap)]
        modes = anchor_modes if column in ANCHORS else ["default"]
        results[column] = run_modes(column, cmd, env, modes)
    for column, (env_name, script) in EXTERNAL.items():
        python = Path(args.anchor_envs) / env_name / "bin" / "python"
        if not python.exists():
            print(
                f"skipping {column}: no {python} (run benchmarks/setup_anchor_envs.sh)",
                file=sys.stderr,
            )
            continue
        cmd = [str(python), str(HERE / script), "--sizes", size_arg]
        cmd += ["--repeats", str(repeats), "--cap", str(cap)]
        results[column] = run_modes(column, cmd, env, anchor_modes)

    columns = [c for c in (*OURS, *ANCHORS, REFERENCE) if c in results]
    header = ["n, B", *columns, "QuantumLinear / best anchor", "QuantumLayer(W1) / fused torch"]
    rows = []
    for n, b in sizes:
        cells = [fmt(results[c].get((n, b))) for c in columns]
        anchor_times = [
            results[c][(n, b)]["median"]
            for c in ANCHORS
            if c in results and "median" in results[c].get((n, b), {})
        ]
        ours = results["QuantumLinear"].get((n, b), {})
        ratio = "n/a"
        if "median" in ours and anchor_times:
            ratio = f"{ours['median'] / min(anchor_times):.2f}"
        w1, fused = results["QuantumLayer(W1)"].get((n, b), {}), results[REFERENCE].get((n, b), {})
        to_fused = "n/a"
        if "median" in w1 and "median" in fused:
            to_fused = f"{w1['median'] / fused['median']:.2f}"
        rows.append([f"{n}, {b}", *cells, ratio, to_fused])
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(
        "\nmedian seconds per training step (forward + backward + Adam); machine:",
        os.cpu_count(),
        "CPUs",
    )
    if args.json:
        serial = {c: {f"{n}x{b}": r for (n, b), r in res.items()} for c, res in results.items()}
        args.json.write_text(json.dumps(serial, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
