"""W1 training steps on TensorFlow Quantum with hardware-style differentiators (run by
benchmarks/gradients.py in the ``tfq`` anchor environment; prints one JSON line per row).

Analytic rows use ``tfq.layers.Expectation`` with ``ParameterShift`` or ``ForwardDifference``;
rows with shots use ``tfq.layers.SampledExpectation`` with the same differentiator.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time


def run(n: int, batch: int, method: str, shots: int, repeats: int, cap: float) -> dict:
    import cirq
    import numpy as np
    import sympy
    import tensorflow as tf
    import tensorflow_quantum as tfq

    qubits = cirq.LineQubit.range(n)
    xs, ws = sympy.symbols(f"x0:{n}"), sympy.symbols(f"w0:{6 * n}")
    circuit = cirq.Circuit(cirq.ry(xs[i])(q) for i, q in enumerate(qubits))
    k = 0
    for _layer in range(2):
        for q in qubits:
            circuit += [cirq.rx(ws[k])(q), cirq.ry(ws[k + 1])(q), cirq.rz(ws[k + 2])(q)]
            k += 3
        circuit += [cirq.CNOT(qubits[i], qubits[(i + 1) % n]) for i in range(n)]
    ops = [p(q) for q in qubits for p in (cirq.X, cirq.Y, cirq.Z)]
    names = [str(s) for s in (*xs, *ws)]
    diff = (
        tfq.differentiators.ParameterShift()
        if method == "parameter-shift"
        else tfq.differentiators.ForwardDifference()
    )
    layer = (
        tfq.layers.SampledExpectation(differentiator=diff)
        if shots
        else tfq.layers.Expectation(differentiator=diff)
    )
    circuits = tfq.convert_to_tensor([circuit] * batch)
    rng = np.random.default_rng(0)
    x = tf.constant(rng.uniform(0, 3.14, (batch, n)), tf.float32)
    y = tf.constant(rng.uniform(-1, 1, (batch, 3 * n)), tf.float32)
    w = tf.Variable(rng.uniform(0, 6.28, (1, 6 * n)), dtype=tf.float32)
    opt = tf.keras.optimizers.Adam(0.01)
    extra = {"repetitions": shots} if shots else {}

    def step() -> None:
        with tf.GradientTape() as tape:
            values = tf.concat([x, tf.tile(w, [batch, 1])], axis=1)
            out = layer(circuits, symbol_names=names, symbol_values=values, operators=ops, **extra)
            loss = tf.reduce_mean((out - y) ** 2)
        grads = tape.gradient(loss, [w])
        opt.apply_gradients(zip(grads, [w], strict=True))

    start = time.perf_counter()
    step()
    if time.perf_counter() - start > cap:
        return {"over": cap}
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return {"median": statistics.median(times)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", required=True, help="n x batch x method x shots, comma separated")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cap", type=float, default=30.0)
    args = parser.parse_args()
    for row in args.rows.split(","):
        n, batch, method, shots = row.split("x")
        rec = run(int(n), int(batch), method, int(shots), args.repeats, args.cap)
        print(
            json.dumps(
                {"n": int(n), "batch": int(batch), "method": method, "shots": int(shots), **rec}
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
