"""Benchmark the IonQ native compiler: gate counts, compile time and exactness per circuit.

Prints one table row per circuit: our two-qubit and total native counts and compile time for MS
(Aria) and ZZ (Forte), whether the compiled unitary equals the source (to 1e-9), and, when
``qiskit`` and ``qiskit-ionq`` are importable by the Python running this script, the same counts
for qiskit-ionq's best pipeline (``transpile(..., optimization_level=3)`` to its native backend,
then its ``TrappedIonOptimizerPlugin`` pass manager run by hand) and qiskit's level-3 CNOT count
to ``["cx", "u"]``. qiskit-ionq is never a dependency: see docs/ionq-compiler.md for the separate
virtual environment used for the comparison.

Usage::

    python benchmarks/ionq_compile.py                  # ours only
    /work/bench-envs/qiskit/bin/python benchmarks/ionq_compile.py   # with the comparison
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pennylane as qml

from pennylane_qstore.ionq.compiler import compile_circuit

RNG = np.random.default_rng(2026)
QISKIT_NAMES = {
    "Hadamard": "h",
    "PauliX": "x",
    "PauliY": "y",
    "PauliZ": "z",
    "S": "s",
    "T": "t",
    "Adjoint(S)": "sdg",
    "Adjoint(T)": "tdg",
    "SX": "sx",
    "RX": "rx",
    "RY": "ry",
    "RZ": "rz",
    "PhaseShift": "p",
    "CNOT": "cx",
    "CZ": "cz",
    "CY": "cy",
    "CH": "ch",
    "CRX": "crx",
    "CRY": "cry",
    "CRZ": "crz",
    "ControlledPhaseShift": "cp",
    "SWAP": "swap",
    "Toffoli": "ccx",
    "IsingXX": "rxx",
    "IsingYY": "ryy",
    "IsingZZ": "rzz",
}


# ---------------------------------------------------------------- circuits
def qft(n: int) -> list:
    return [qml.QFT(wires=range(n))]


def ghz(n: int) -> list:
    return [qml.Hadamard(0)] + [qml.CNOT([i, i + 1]) for i in range(n - 1)]


def bernstein_vazirani(secret: str) -> list:
    n = len(secret)
    ops = [qml.PauliX(n), qml.Hadamard(n)] + [qml.Hadamard(i) for i in range(n)]
    ops += [qml.CNOT([i, n]) for i, bit in enumerate(secret) if bit == "1"]
    return ops + [qml.Hadamard(i) for i in range(n)]


def grover(n: int, marked: int) -> list:
    wires = list(range(n))
    ops = [qml.Hadamard(w) for w in wires]
    bits = [int(b) for b in np.binary_repr(marked, n)]
    for _ in range(2):
        ops += [qml.FlipSign(bits, wires=wires), qml.GroverOperator(wires=wires)]
    return ops


def qaoa(n: int, layers: int) -> list:
    ops = [qml.Hadamard(w) for w in range(n)]
    for gamma, beta in RNG.uniform(0, np.pi, (layers, 2)):
        ops += [qml.IsingZZ(2 * gamma, wires=[i, (i + 1) % n]) for i in range(n)]
        ops += [qml.RX(2 * beta, wires=w) for w in range(n)]
    return ops


def hardware_efficient(n: int, layers: int) -> list:
    weights = RNG.uniform(-np.pi, np.pi, (layers, n, 3))
    return qml.StronglyEntanglingLayers(weights, wires=range(n)).decomposition()


def toffoli_adder(bits: int) -> list:
    """Ripple-carry adder on a (bits), b (bits) and carries (bits) with Toffolis and CNOTs."""
    a, b, c = range(bits), range(bits, 2 * bits), range(2 * bits, 3 * bits)
    ops = [qml.PauliX(w) for w in (*a, b[0])]
    for i in range(bits):
        ops += [qml.Toffoli([a[i], b[i], c[i]]), qml.CNOT([a[i], b[i]])]
        if i:
            ops += [qml.Toffoli([c[i - 1], b[i], c[i]]), qml.CNOT([c[i - 1], b[i]])]
    return ops


def layered_ansatz(n: int, layers: int) -> list:
    ops = [qml.RY(x, wires=i) for i, x in enumerate(RNG.uniform(-1, 1, n))]
    for layer in RNG.uniform(-np.pi, np.pi, (layers, n, 3)):
        for i, (x, y, z) in enumerate(layer):
            ops += [qml.RX(x, wires=i), qml.RY(y, wires=i), qml.RZ(z, wires=i)]
        ops += [qml.CNOT([i, (i + 1) % n]) for i in range(n)]
    return ops


def heisenberg_trotter(n: int, steps: int) -> list:
    ops = [qml.PauliX(w) for w in range(0, n, 2)]
    for _ in range(steps):
        for i in range(n - 1):
            ops += [qml.IsingXX(0.1, [i, i + 1]), qml.IsingYY(0.1, [i, i + 1])]
            ops += [qml.IsingZZ(0.1, [i, i + 1])]
    return ops


SUITE = {
    **{f"qft{n}": (lambda n=n: qft(n)) for n in range(4, 9)},
    "ghz8": lambda: ghz(8),
    "bv8": lambda: bernstein_vazirani("1011011"),
    "grover4": lambda: grover(4, 11),
    "qaoa6": lambda: qaoa(6, 2),
    "hea6": lambda: hardware_efficient(6, 2),
    "adder2": lambda: toffoli_adder(2),
    "layers6": lambda: layered_ansatz(6, 2),
    "heisenberg6": lambda: heisenberg_trotter(6, 2),
}


def flatten(ops: list) -> list:
    """Decompose until every operation has a qiskit name, so both compilers read the same gates."""
    out = []
    for op in ops:
        if op.name in QISKIT_NAMES:
            out.append(op)
        else:
            out += flatten(op.decomposition())
    return out


# ---------------------------------------------------------------- ours
def ours(ops: list, entangler: str) -> dict:
    tape = qml.tape.QuantumScript(ops)
    start = time.perf_counter()
    native = compile_circuit(tape, entangler)
    seconds = time.perf_counter() - start
    counts = native.gate_counts()
    exact = np.max(np.abs(native.matrix() - qml.matrix(tape, wire_order=list(native.wires))))
    return {"2q": counts["2q"], "total": counts["total"], "s": seconds, "ok": exact < 1e-9}


# ---------------------------------------------------------------- qiskit / qiskit-ionq
def qiskit_tools():
    """Return the qiskit pieces, or ``None`` when qiskit-ionq is not importable here."""
    try:
        import qiskit_ionq.ionq_backend as ionq_backend
        from qiskit import QuantumCircuit, transpile
        from qiskit.transpiler.passmanager_config import PassManagerConfig
        from qiskit_ionq import IonQProvider
        from qiskit_ionq.ionq_optimizer_plugin import TrappedIonOptimizerPlugin
    except ImportError:
        return None
    # offline: qiskit-ionq asks api.ionq.co for the qubit count; use the published sizes instead
    ionq_backend.get_n_qubits = lambda name, fallback=4: 36 if "forte" in name else 25
    provider = IonQProvider(token="offline-benchmark")
    backends = {
        "ms": provider.get_backend("qpu.aria-1", gateset="native"),
        "zz": provider.get_backend("qpu.forte-1", gateset="native"),
    }
    return QuantumCircuit, transpile, PassManagerConfig, TrappedIonOptimizerPlugin, backends


def to_qiskit(ops: list, quantum_circuit):
    wires = qml.wires.Wires.all_wires([op.wires for op in ops]).tolist()
    circuit = quantum_circuit(len(wires))
    for op in ops:
        qubits = [wires.index(w) for w in op.wires]
        params = [float(p) for p in op.data]
        getattr(circuit, QISKIT_NAMES[op.name])(*params, *qubits)
    return circuit


def qiskit_ionq(circuit, tools, entangler: str) -> dict:
    _, transpile, pm_config, plugin, backends = tools
    backend = backends[entangler]
    start = time.perf_counter()
    native = transpile(circuit, backend=backend, optimization_level=3, seed_transpiler=1)
    pass_manager = plugin().pass_manager(pm_config.from_backend(backend), optimization_level=3)
    optimised = pass_manager.run(native)
    seconds = time.perf_counter() - start
    counts = optimised.count_ops()
    two = counts.get("ms", 0) + counts.get("zz", 0)
    return {"2q": two, "total": sum(counts.values()), "s": seconds}


def qiskit_cx(circuit, tools) -> int:
    transpile = tools[1]
    return (
        transpile(circuit, basis_gates=["cx", "u"], optimization_level=3, seed_transpiler=1)
        .count_ops()
        .get("cx", 0)
    )


# ---------------------------------------------------------------- table
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="circuit names to run (default: all)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")  # qiskit-ionq warns about level 3 and offline qubit counts
    tools = qiskit_tools()
    header = f"{'circuit':<12}{'n':>3} | {'ours MS 2q/tot':>15}{'ms':>7} | {'ours ZZ 2q/tot':>15}{'ms':>7} | ok"
    if tools:
        header += f" | {'cx L3':>5} | {'ionq MS 2q/tot':>15}{'ms':>7} | {'ionq ZZ 2q/tot':>15}{'ms':>7} | {'tot ratio MS/ZZ':>15}"
    print(header)
    print("-" * len(header))
    for name, build in SUITE.items():
        if args.only and name not in args.only:
            continue
        ops = flatten(build())
        n = len(qml.wires.Wires.all_wires([op.wires for op in ops]))
        ms, zz = ours(ops, "ms"), ours(ops, "zz")
        row = (
            f"{name:<12}{n:>3} | {ms['2q']:>7}/{ms['total']:<7}{ms['s'] * 1e3:>7.1f} | "
            f"{zz['2q']:>7}/{zz['total']:<7}{zz['s'] * 1e3:>7.1f} | {'yes' if ms['ok'] and zz['ok'] else 'NO'}"
        )
        if tools:
            circuit = to_qiskit(ops, tools[0])
            ims, izz = qiskit_ionq(circuit, tools, "ms"), qiskit_ionq(circuit, tools, "zz")
            row += (
                f" | {qiskit_cx(circuit, tools):>5} | {ims['2q']:>7}/{ims['total']:<7}{ims['s'] * 1e3:>7.0f} | "
                f"{izz['2q']:>7}/{izz['total']:<7}{izz['s'] * 1e3:>7.0f} | "
                f"{ms['total'] / ims['total']:>7.0%}/{zz['total'] / izz['total']:<7.0%}"
            )
        print(row, flush=True)
    if not tools:
        print("\nqiskit-ionq not importable here: see docs/ionq-compiler.md to add the comparison.")


if __name__ == "__main__":
    main()
