"""TKET anchor for benchmarks/ionq_compile.py: run in the pytket venv, not the project's.

Reads ``[{"name", "qubits", "ops": [[qiskit_name, [qubits], [radians]], ...]}, ...]`` as JSON on
stdin, compiles each circuit with ``FullPeepholeOptimise(target_2qb_gate=TK2)`` then
``AutoRebase({ZZPhase, PhasedX, Rz})`` and ``SquashRzPhasedX``, and prints one JSON object per
circuit: the ZZPhase count (two-qubit gates, one MS or ZZ each on IonQ), the IonQ pulses of the
PhasedX gates (1 for a half or full turn rotation, else 2; Rz is virtual), their sum, and the
compile time. Needs only pytket (``bash benchmarks/setup_anchor_envs.sh``).
"""

from __future__ import annotations

import json
import math
import sys
import time

from pytket import Circuit, OpType
from pytket.passes import AutoRebase, FullPeepholeOptimise, SquashRzPhasedX

GATES = {
    "h": OpType.H,
    "x": OpType.X,
    "y": OpType.Y,
    "z": OpType.Z,
    "s": OpType.S,
    "t": OpType.T,
    "sdg": OpType.Sdg,
    "tdg": OpType.Tdg,
    "sx": OpType.SX,
    "rx": OpType.Rx,
    "ry": OpType.Ry,
    "rz": OpType.Rz,
    "p": OpType.U1,
    "cx": OpType.CX,
    "cz": OpType.CZ,
    "cy": OpType.CY,
    "ch": OpType.CH,
    "crx": OpType.CRx,
    "cry": OpType.CRy,
    "crz": OpType.CRz,
    "cp": OpType.CU1,
    "swap": OpType.SWAP,
    "ccx": OpType.CCX,
    "rxx": OpType.XXPhase,
    "ryy": OpType.YYPhase,
    "rzz": OpType.ZZPhase,
}


def pulses(half_turns: float) -> int:
    """IonQ pulses of a PhasedX rotation by ``half_turns``·π (GPI/GPI2 when exact, else 2)."""
    r = half_turns % 2.0
    if min(r, 2.0 - r) < 1e-9:
        return 0
    return 1 if min(abs(r - 0.5), abs(r - 1.0), abs(r - 1.5)) < 1e-9 else 2


def compile_one(spec: dict) -> dict:
    circuit = Circuit(spec["qubits"])
    for name, qubits, params in spec["ops"]:
        circuit.add_gate(GATES[name], [p / math.pi for p in params], qubits)
    start = time.perf_counter()
    FullPeepholeOptimise(target_2qb_gate=OpType.TK2).apply(circuit)
    AutoRebase({OpType.ZZPhase, OpType.PhasedX, OpType.Rz}).apply(circuit)
    SquashRzPhasedX().apply(circuit)
    seconds = time.perf_counter() - start
    two = one = 0
    for command in circuit.get_commands():
        if command.op.type == OpType.ZZPhase:
            two += 1
        elif command.op.type == OpType.PhasedX:
            one += pulses(float(command.op.params[0]))
    return {"name": spec["name"], "2q": two, "1q": one, "total": one + two, "s": seconds}


def main() -> None:
    for spec in json.load(sys.stdin):
        print(json.dumps(compile_one(spec)), flush=True)


if __name__ == "__main__":
    main()
