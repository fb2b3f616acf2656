"""IonQ compiler v2: KAK decomposition, two-qubit block resynthesis and the pass switches."""

from __future__ import annotations

import math

import numpy as np
import pennylane as qml
import pytest
from scipy.stats import unitary_group

from pennylane_qstore.ionq.compiler import PASSES, compile_circuit, pass_report
from pennylane_qstore.ionq.kak import _MAGIC, interaction, kak, nontrivial_count
from pennylane_qstore.ionq.native import gates_from_json
from pennylane_qstore.ionq.passes import CircuitBuilder
from pennylane_qstore.ionq.resynthesis import (
    count_interactions,
    program,
    replay,
    resynthesise_blocks,
)

ENTANGLERS = ["ms", "zz"]
PASS_SETS = [(), ("cancel",), ("resynthesise",), PASSES]


def assert_exact(native, ops) -> None:
    """Compiled unitary equals the source's to 1e-9 and every gate is in IonQ's ranges."""
    source = qml.matrix(qml.tape.QuantumScript(ops), wire_order=list(native.wires))
    assert np.max(np.abs(native.matrix() - source)) < 1e-9
    gates_from_json(native.to_json()["circuit"], native.qubits)  # phases/angles in range
    assert all(g.angle > 0 for g in native.gates if g.angle is not None)


def steps_unitary(steps, n: int) -> np.ndarray:
    builder = CircuitBuilder(n, merge=False)
    replay(steps, builder)
    ops = []
    for step in program(builder):
        if step[0] == "1q":
            ops.append(qml.QubitUnitary(step[2], wires=step[1]))
        elif step[0] == "zz":
            ops.append(qml.IsingZZ(2 * math.pi * step[3], wires=[step[1], step[2]]))
    phase = program(builder)[0][1]
    return np.exp(1j * phase) * qml.matrix(qml.tape.QuantumScript(ops), wire_order=range(n))


# ---------------------------------------------------------------- KAK
def test_kak_reproduces_random_unitaries():
    for seed in range(50):
        u = unitary_group.rvs(4, random_state=seed)
        form = kak(u)
        assert np.max(np.abs(form.matrix() - u)) < 1e-10
        assert nontrivial_count(form.coefficients) == 3  # generic unitaries need three


@pytest.mark.parametrize(
    ("op", "count"),
    [
        (qml.Identity(0) @ qml.Identity(1), 0),
        (qml.CNOT([0, 1]), 1),
        (qml.CRY(0.7, [1, 0]), 1),
        (qml.IsingXX(0.3, [0, 1]), 1),
        (qml.ISWAP([0, 1]), 2),
        (qml.SWAP([0, 1]), 3),
    ],
)
def test_kak_interaction_count(op, count):
    u = qml.matrix(op, wire_order=[0, 1])
    form = kak(u)
    assert nontrivial_count(form.coefficients) == count
    assert np.max(np.abs(form.matrix() - u)) < 1e-10


def test_magic_basis_turns_local_gates_real():
    local = np.kron(unitary_group.rvs(2, random_state=1), unitary_group.rvs(2, random_state=2))
    local = local / np.linalg.det(local) ** 0.25
    in_magic = _MAGIC.conj().T @ local @ _MAGIC
    assert np.max(np.abs(in_magic.imag)) < 1e-12
    assert np.allclose(interaction(0.0, 0.0, 0.0), np.eye(4))


# ---------------------------------------------------------------- the resynthesis pass alone
def _builder(ops, n: int) -> CircuitBuilder:
    from pennylane_qstore.ionq.lowering import lower

    builder = CircuitBuilder(n)
    lower(ops, {i: i for i in range(n)}, builder)
    return builder


def test_resynthesis_pass_alone_is_exact_and_shrinks_a_block():
    ops = [qml.CNOT([0, 1]), qml.RY(0.3, 0), qml.CNOT([1, 0]), qml.RX(0.2, 1), qml.CNOT([0, 1])]
    ops += [qml.T(0), qml.CNOT([1, 0]), qml.Hadamard(2), qml.CNOT([1, 2])]
    steps = program(_builder(ops, 3))
    new = resynthesise_blocks(steps)
    assert count_interactions(steps) == 5
    assert count_interactions(new) == 4  # the (0, 1) block of four needs at most three
    assert np.max(np.abs(steps_unitary(new, 3) - steps_unitary(steps, 3))) < 1e-9
    source = qml.matrix(qml.tape.QuantumScript(ops), wire_order=range(3))
    assert np.max(np.abs(steps_unitary(new, 3) - source)) < 1e-9


def test_resynthesis_keeps_blocks_it_cannot_improve():
    ops = [qml.IsingXX(0.1, [0, 1]), qml.IsingYY(0.2, [0, 1]), qml.IsingZZ(0.3, [0, 1])]
    steps = program(_builder(ops, 2))
    assert resynthesise_blocks(steps) == steps


def _interactions_left(steps, n: int) -> int:
    """Interactions after replaying into a builder (which drops those of angle 0)."""
    builder = CircuitBuilder(n, merge=False)
    replay(steps, builder)
    return sum(core.alive for core in builder.cores)


def _block_then_apart(between_on_0) -> list:
    """A generic three-interaction block on (0, 1), an interaction of 0 with 2, then (0, 1)."""
    u = [unitary_group.rvs(2, random_state=seed) for seed in range(7)]
    steps = [("phase", 0.0), ("zz", 0, 1, 0.11), ("1q", 0, u[0]), ("1q", 1, u[1])]
    steps += [("zz", 0, 1, 0.07), ("1q", 0, u[2]), ("1q", 1, u[3]), ("zz", 0, 1, 0.19)]
    steps += [("1q", 2, u[4]), ("zz", 0, 2, 0.13), *between_on_0, ("1q", 1, u[5])]
    return [*steps, ("zz", 0, 1, 0.09), ("1q", 1, u[6])]


def test_resynthesis_joins_a_block_an_interaction_commutes_back_to():
    steps = _block_then_apart([("1q", 0, np.diag([1, np.exp(0.4j)]))])  # diagonal: commutes
    new = resynthesise_blocks(steps)
    # qubit 1 saw only its own gates since the block, qubit 0 only Z⊗Z and a phase gate: the
    # last interaction joins the block, whose four interactions KAK writes as three
    assert _interactions_left(steps, 3) == 5 and _interactions_left(new, 3) == 4
    assert np.max(np.abs(steps_unitary(new, 3) - steps_unitary(steps, 3))) < 1e-9


def test_resynthesis_join_stops_at_a_gate_that_does_not_commute():
    steps = _block_then_apart([("1q", 0, unitary_group.rvs(2, random_state=9))])
    new = resynthesise_blocks(steps)
    assert _interactions_left(new, 3) == 5  # the generic block of three stays as it is
    assert np.max(np.abs(steps_unitary(new, 3) - steps_unitary(steps, 3))) < 1e-9


@pytest.mark.parametrize("entangler", ENTANGLERS)
def test_joined_block_saves_a_gate_in_a_compiled_circuit(entangler):
    ops = [qml.CNOT([0, 1]), qml.RY(0.3, 0), qml.RX(0.2, 1), qml.CNOT([1, 0]), qml.RY(0.5, 0)]
    ops += [qml.RX(0.4, 1), qml.CNOT([0, 1]), qml.RY(0.8, 2), qml.CZ([0, 2]), qml.T(0)]
    ops += [qml.RX(0.6, 1), qml.CRZ(0.7, [0, 1]), qml.RY(0.9, 1)]  # CRZ commutes back past CZ
    plain = compile_circuit(ops, entangler, passes=("cancel", "toffoli"))
    best = compile_circuit(ops, entangler)
    assert (plain.gate_counts()["2q"], best.gate_counts()["2q"]) == (5, 4)
    assert_exact(best, ops)


# ---------------------------------------------------------------- switches
@pytest.mark.parametrize("entangler", ENTANGLERS)
def test_cancel_switch(entangler):
    ops = [qml.CNOT([0, 1]), qml.RZ(0.4, 0), qml.CNOT([0, 1])]
    merged = compile_circuit(ops, entangler, passes=("cancel",))
    kept = compile_circuit(ops, entangler, passes=())
    assert (merged.gate_counts()["2q"], kept.gate_counts()["2q"]) == (0, 2)
    assert_exact(merged, ops)
    assert_exact(kept, ops)


def test_bad_passes_named():
    with pytest.raises(ValueError, match="passes must be a sequence of names from"):
        compile_circuit([qml.CNOT([0, 1])], passes=("kak",))
    with pytest.raises(ValueError, match="passes must be"):
        compile_circuit([qml.CNOT([0, 1])], passes="cancel")


def _grover3() -> list:
    ops = [qml.Hadamard(w) for w in range(3)]
    for _ in range(2):
        ops += [qml.FlipSign([1, 0, 1], wires=range(3)), qml.GroverOperator(wires=range(3))]
    return ops


def _swaps_as_cnots() -> list:
    ops = []
    for a, b in [(0, 1), (1, 2), (0, 1)]:
        ops += [qml.CNOT([a, b]), qml.RY(0.3, a), qml.CNOT([b, a]), qml.RY(0.5, b)]
        ops += [qml.CNOT([a, b]), qml.RY(0.7, a), qml.CNOT([b, a])]
    return ops


def _random_circuit(seed: int) -> list:
    rng = np.random.default_rng(seed)
    ops = []
    for _ in range(14):
        a, b = rng.choice(3, 2, replace=False)
        kind = rng.integers(5)
        if kind == 0:
            ops.append(qml.CNOT([a, b]))
        elif kind == 1:
            ops.append(qml.CRY(rng.uniform(-3, 3), [a, b]))
        elif kind == 2:
            ops.append(qml.Rot(*rng.uniform(-3, 3, 3), wires=a))
        elif kind == 3:
            ops.append(qml.IsingXY(rng.uniform(-3, 3), [a, b]))
        else:
            ops.append(qml.Toffoli([a, b, 3 - a - b]))
    return ops


CIRCUITS = {
    "grover3": _grover3,
    "swaps": _swaps_as_cnots,
    **{f"random{s}": (lambda s=s: _random_circuit(s)) for s in range(4)},
}


@pytest.mark.parametrize("entangler", ENTANGLERS)
@pytest.mark.parametrize("name", sorted(CIRCUITS))
def test_every_pass_set_is_exact_and_resynthesis_never_adds(name, entangler):
    ops = CIRCUITS[name]()
    counts = {}
    for passes in PASS_SETS:
        native = compile_circuit(ops, entangler, wires=range(3), passes=passes)
        assert_exact(native, ops)
        counts[passes] = native.gate_counts()
    with_kak, without = counts[PASSES], counts[("cancel",)]
    assert (with_kak["2q"], with_kak["total"]) <= (without["2q"], without["total"])


def test_resynthesis_removes_two_qubit_gates():
    for name, fewest in [("grover3", 20), ("swaps", 9)]:
        ops = CIRCUITS[name]()
        before = compile_circuit(ops, "ms", wires=range(3), passes=("cancel",)).gate_counts()
        after = compile_circuit(ops, "ms", wires=range(3)).gate_counts()
        assert after["2q"] < before["2q"]
        assert after["2q"] <= fewest


def test_pass_report_rows():
    rows = pass_report(_swaps_as_cnots(), "zz")
    assert [passes for passes, _ in rows] == [(), ("cancel",), ("cancel", "toffoli"), PASSES]
    assert rows[-1][1] == compile_circuit(_swaps_as_cnots(), "zz").gate_counts()
    assert rows[-1][1]["2q"] < rows[0][1]["2q"]


def test_cli_report_prints_what_each_pass_removed(tmp_path, capsys):
    from pennylane_qstore.cli import main

    path = tmp_path / "block.qasm"
    path.write_text(
        'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\n'
        "cx q[0], q[1]; ry(0.3) q[0]; cx q[1], q[0]; ry(0.5) q[1]; cx q[0], q[1];\n"
        "ry(0.7) q[0]; cx q[1], q[0];\n"
    )
    assert main(["compile", str(path), "--report"]) == 0
    out = capsys.readouterr().out
    assert "passes: none: 4 two-qubit" in out
    assert "+ cancel: 4 two-qubit" in out
    assert "+ resynthesise: 2 two-qubit" in out and "(removed 2 two-qubit" in out
    assert "verification: OK" in out


@pytest.mark.parametrize("order", ["ab", "ba", "ab†", "ba†"])
def test_toffoli_form_is_exact(order):
    from pennylane_qstore.ionq.toffoli import toffoli_form

    op = qml.Toffoli(wires=[2, 0, 1])
    form = qml.tape.QuantumScript(toffoli_form(op, order))
    assert np.allclose(qml.matrix(form, wire_order=[0, 1, 2]), qml.matrix(op, wire_order=[0, 1, 2]))


@pytest.mark.parametrize("entangler", ENTANGLERS)
def test_toffoli_pass_alone(entangler):
    ops = [qml.Hadamard(0), qml.Toffoli([0, 1, 2]), qml.CNOT([0, 1]), qml.Toffoli([1, 2, 0])]
    plain = compile_circuit(ops, entangler, wires=range(3), passes=())
    alone = compile_circuit(ops, entangler, wires=range(3), passes=("toffoli",))
    assert_exact(plain, ops)
    assert_exact(alone, ops)
    assert plain.gate_counts()["2q"] == 13  # PennyLane's six CNOTs per Toffoli
    assert alone.gate_counts()["2q"] <= 11  # five interactions per Toffoli
    single = compile_circuit([qml.Toffoli([0, 1, 2])], entangler)
    assert single.gate_counts()["2q"] == 5


def test_cancel_drops_adjacent_inverse_pairs_of_wider_gates():
    ops = [qml.CNOT([0, 1]), qml.Toffoli([0, 1, 2]), qml.Toffoli([0, 1, 2]), qml.CNOT([1, 2])]
    kept = compile_circuit(ops, "ms", passes=())
    cancelled = compile_circuit(ops, "ms", passes=("cancel",))
    assert_exact(kept, ops)
    assert_exact(cancelled, ops)
    assert (kept.gate_counts()["2q"], cancelled.gate_counts()["2q"]) == (14, 2)
