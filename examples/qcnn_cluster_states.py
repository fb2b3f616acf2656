"""Classify excitations of a cluster state with a quantum convolutional neural network (QCNN).

Quantum data as in TensorFlow Quantum's QCNN tutorial: every example is a circuit, an ``RX(θ)``
excitation of one random qubit, written as an OpenQASM 2 program; its label is +1 when
``|θ| <= π/2`` and -1 otherwise. The model prepares a cluster state on a ring, places the example's
circuit (``prepend``), then runs convolution and pooling layers (TFQ's two-qubit unitaries and
pooling) down to one qubit, whose ``<Z>`` is trained with a hinge loss. The circuits are the
layer's input: ``QuantumLayer(qnode, ...)(circuits)``; on ``qstore.router`` each group of
same-structure examples (the excitation on the same qubit) runs as one batch on the engine.

Run: ``python examples/qcnn_cluster_states.py [--qubits 8] [--epochs 12] [--seed 0]``.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Sequence

import numpy as np
import pennylane as qml
import torch

from pennylane_qstore.convert import convert
from qstore_layers.circuit_inputs import group_rows, prepend
from qstore_layers.torch import QuantumLayer


def excitations(
    n_qubits: int, n_examples: int, rng: np.random.Generator
) -> tuple[list[str], torch.Tensor]:
    """``n_examples`` OpenQASM 2 programs exciting one random qubit, and their ±1 labels."""
    programs, labels = [], []
    for _ in range(n_examples):
        theta, qubit = rng.uniform(-math.pi, math.pi), int(rng.integers(n_qubits))
        programs.append(
            f'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[{n_qubits}];\n'
            f"rx({theta!r}) q[{qubit}];\n"
        )
        labels.append(1.0 if abs(theta) <= math.pi / 2 else -1.0)
    return programs, torch.tensor(labels, dtype=torch.float64)


def one_qubit(params: torch.Tensor, wire: int) -> None:
    """TFQ's one-qubit unitary ``X^a Y^b Z^c`` as rotations."""
    qml.RX(params[0], wire)
    qml.RY(params[1], wire)
    qml.RZ(params[2], wire)


def two_qubit(params: torch.Tensor, wires: Sequence[int]) -> None:
    """TFQ's general two-qubit unitary: 15 parameters."""
    one_qubit(params[0:3], wires[0])
    one_qubit(params[3:6], wires[1])
    qml.IsingZZ(params[6], wires)
    qml.IsingYY(params[7], wires)
    qml.IsingXX(params[8], wires)
    one_qubit(params[9:12], wires[0])
    one_qubit(params[12:15], wires[1])


def pool(params: torch.Tensor, source: int, sink: int) -> None:
    """TFQ's pooling: unitaries on both qubits, a CNOT, the sink's unitary undone (6 params)."""
    one_qubit(params[0:3], sink)
    one_qubit(params[3:6], source)
    qml.CNOT([source, sink])
    qml.RZ(-params[2], sink)
    qml.RY(-params[1], sink)
    qml.RX(-params[0], sink)


def qcnn(conv: torch.Tensor, pooling: torch.Tensor, wires: list[int]) -> int:
    """Convolution and pooling layers, halving the qubits until one is left; returns it."""
    for level in range(conv.shape[0]):
        for a in (0, 1):  # pairs (0,1), (2,3), ... then (1,2), (3,4), ... as TFQ
            for i in range(a, len(wires) - 1 + a, 2):
                two_qubit(conv[level], [wires[i], wires[(i + 1) % len(wires)]])
        half = len(wires) // 2
        for source, sink in zip(wires[:half], wires[half:], strict=True):
            pool(pooling[level], source, sink)
        wires = wires[half:]
    return wires[0]


def make_layer(n_qubits: int, device: str, seed: int) -> QuantumLayer:
    """The QCNN as a torch layer taking a batch of circuits."""
    if n_qubits < 2 or n_qubits & (n_qubits - 1):
        raise ValueError(f"--qubits must be a power of two >= 2 (pooling halves), got {n_qubits}.")
    levels = int(math.log2(n_qubits))
    dev = qml.device(device, wires=n_qubits)

    @qml.qnode(dev)
    def model(circuits, conv, pooling):
        for w in range(n_qubits):  # the cluster state on a ring
            qml.Hadamard(w)
        for w in range(n_qubits):
            qml.CZ([w, (w + 1) % n_qubits])
        prepend(circuits)  # this row's excitation
        return qml.expval(qml.Z(qcnn(conv, pooling, list(range(n_qubits)))))

    torch.manual_seed(seed)
    return QuantumLayer(model, {"conv": (levels, 15), "pooling": (levels, 6)}).double()


def batches(
    circuits: list, batch_size: int, bucket: bool, generator: torch.Generator
) -> list[list[int]]:
    """Shuffled mini-batches of row numbers. ``bucket``: each batch holds circuits of one
    structure (here: the same excited qubit), so a step is one engine pass instead of one per
    structure, as sequence models bucket by length."""
    buckets = [g.rows for g in group_rows(circuits)] if bucket else [list(range(len(circuits)))]
    out = []
    for rows in buckets:
        perm = torch.randperm(len(rows), generator=generator).tolist()
        out += [
            [rows[i] for i in perm[k : k + batch_size]] for k in range(0, len(rows), batch_size)
        ]
    return [out[i] for i in torch.randperm(len(out), generator=generator).tolist()]


def accuracy(layer: QuantumLayer, circuits: list, labels: torch.Tensor) -> float:
    """Fraction of examples whose output has the sign of their label."""
    with torch.no_grad():
        return float((torch.sign(layer(circuits)) == labels).double().mean())


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    """Train and evaluate; returns the final train and test accuracy and the training time."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qubits", type=int, default=8)
    parser.add_argument("--train", type=int, default=96, help="training examples")
    parser.add_argument("--test", type=int, default=64, help="test examples")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--device", default="qstore.router")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--mixed-batches",
        action="store_true",
        help="draw batches across structures (one engine pass per excited qubit per step)",
    )
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    train_qasm, y_train = excitations(args.qubits, args.train, rng)
    test_qasm, y_test = excitations(args.qubits, args.test, rng)
    # the programs are data: read once into tapes (the layer also accepts the strings)
    train, test = convert(train_qasm, to="tape"), convert(test_qasm, to="tape")
    layer = make_layer(args.qubits, args.device, args.seed)
    optimizer = torch.optim.Adam(layer.parameters(), lr=args.lr)
    order = torch.Generator().manual_seed(args.seed)
    start = time.perf_counter()
    for epoch in range(args.epochs):
        total = 0.0
        for rows in batches(train, args.batch_size, not args.mixed_batches, order):
            out = layer([train[i] for i in rows])
            loss = torch.clamp(1 - y_train[rows] * out, min=0).mean()  # hinge, as TFQ
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(rows)
        print(f"epoch {epoch + 1:2d}  hinge loss {total / args.train:.3f}")
    seconds = time.perf_counter() - start
    result = {
        "train_accuracy": accuracy(layer, train, y_train),
        "test_accuracy": accuracy(layer, test, y_test),
        "seconds": seconds,
    }
    print(
        f"{args.qubits} qubits, {args.train} training circuits, {args.epochs} epochs in "
        f"{seconds:.1f} s: train accuracy {result['train_accuracy']:.3f}, test accuracy "
        f"{result['test_accuracy']:.3f}"
    )
    return result


if __name__ == "__main__":
    main()
