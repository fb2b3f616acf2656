"""``qstore compile``: OpenQASM 2/3 in, native gates, IonQ JSON, counts and verification out."""

from __future__ import annotations

import json
import math

import pytest

from pennylane_qstore.cli import main

QASM2 = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[3];
creg c[3];
h q[0];
cx q[0],q[1];
swap q[1],q[2];
crz(0.4) q[2],q[0];
u3(0.1,0.2,0.3) q[1];
barrier q;
measure q -> c;
"""

QASM3 = """OPENQASM 3.0;
include "stdgates.inc";
qubit[2] a;
qubit[1] b;
h a[0];
cp(pi/8) a[0], b[0];
crz(0.3) a[1], b[0];
"""


def _write(tmp_path, text: str, name: str = "circuit.qasm") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("entangler", ["ms", "zz"])
def test_compile_prints_gates_counts_and_verification(tmp_path, capsys, entangler):
    assert main(["compile", _write(tmp_path, QASM2), "--entangler", entangler]) == 0
    out = capsys.readouterr().out
    gates = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert {g["gate"] for g in gates} <= {"gpi", "gpi2", entangler}
    # the swap costs nothing; cx and crz then act on one pair: one interaction after resynthesis
    assert sum(g["gate"] == entangler for g in gates) == 1
    assert f"1 two-qubit ({entangler})" in out
    assert "verification: OK" in out
    assert "q[1] -> qubit 2" in out  # the swap was absorbed by relabelling


def test_compile_json_is_the_ionq_job_input(tmp_path, capsys):
    assert main(["compile", _write(tmp_path, QASM3), "--entangler", "zz", "--json"]) == 0
    captured = capsys.readouterr()
    payload = json.loads(captured.out)
    assert payload["gateset"] == "native" and payload["qubits"] == 3
    zz = [g for g in payload["circuit"] if g["gate"] == "zz"]
    # cp(π/8) and crz(0.3) are partial angles: one ZZ each, angles π/8/(4π) = 1/32 and 0.3/(4π)
    assert sorted(g["angle"] for g in zz) == pytest.approx(sorted([1 / 32, 0.3 / (4 * math.pi)]))
    assert "verification: OK" in captured.err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "OPENQASM 3.0;\nqubit[2] q;\nh q[0];\nfoo q[0], q[1];\n",
            ":4: foo q[0], q[1];: Unsupported gate",
        ),
        ("OPENQASM 2.0;\nqreg q[2];\nh q[0];\ncx q[0] q[1];\n", ":4: cx q[0] q[1];: syntax error"),
        ("OPENQASM 3.0;\nqubit[2] q;\nh q[5];\n", ":3: h q[5];: Index 5"),
    ],
)
def test_unreadable_file_names_the_line_at_fault(tmp_path, capsys, text, expected):
    assert main(["compile", _write(tmp_path, text)]) == 2
    assert expected in capsys.readouterr().err


def test_missing_file_is_a_clear_error(tmp_path, capsys):
    assert main(["compile", str(tmp_path / "nope.qasm")]) == 2
    assert "nope.qasm" in capsys.readouterr().err


@pytest.mark.parametrize("text", ["", "  \n\n", "// only a comment\n", "/* a\n block */\n"])
def test_empty_file_says_it_has_no_statements(tmp_path, capsys, text):
    """PennyLane's reader reported these as a missing antlr4 package."""
    assert main(["compile", _write(tmp_path, text)]) == 2
    err = capsys.readouterr().err
    assert "circuit.qasm: no OpenQASM statements" in err
    assert "antlr4" not in err


def test_binary_file_is_named_in_the_error(tmp_path, capsys):
    path = tmp_path / "blob.qasm"
    path.write_bytes(b"\xff\xfe\x00OPENQASM")
    assert main(["compile", str(path)]) == 2
    assert "blob.qasm: not a text file" in capsys.readouterr().err


def test_ionq_server_port_errors_are_explained(capsys):
    """A bad or busy port used to end in a traceback."""
    import socket

    assert main(["ionq-server", "--port", "70000"]) == 2
    assert "port must be 0-65535; choose another --port" in capsys.readouterr().err
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["ionq-server", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err and "0 picks a free one" in err


QAOA2 = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[3];
creg c[3];
h q;
rzz(2*(0.15)) q[0], q[1];  // cost layer
rxx(0.2) q[1],q[2];
cu3(0.1, 0.2, 0.3) q[0], q[2];
measure q -> c;
"""


def test_qelib1_rzz_rxx_cu3_and_register_broadcast(tmp_path, capsys):
    """Qiskit-style OpenQASM 2 (``h q;``, ``rzz``, ``rxx``, ``cu3``) used to be rejected:
    PennyLane's reader knows none of these gates and applies ``h q;`` to a wire named 'q'."""
    import numpy as np
    import pennylane as qml

    from pennylane_qstore.ionq.qasm import load_qasm

    tape, wires = load_qasm(QAOA2)
    expected = [qml.Hadamard(f"q[{i}]") for i in range(3)] + [
        qml.IsingZZ(0.3, ["q[0]", "q[1]"]),
        qml.IsingXX(0.2, ["q[1]", "q[2]"]),
        qml.ctrl(qml.U3(0.1, 0.2, 0.3, "q[2]"), "q[0]"),
    ]
    assert np.allclose(
        qml.matrix(tape, wire_order=wires),
        qml.matrix(qml.tape.QuantumScript(expected), wire_order=wires),
    )
    assert main(["compile", _write(tmp_path, QAOA2)]) == 0
    assert "verification: OK" in capsys.readouterr().out


def test_custom_gate_definitions_are_refused_with_the_reason(tmp_path, capsys):
    text = "OPENQASM 2.0;\nqreg q[2];\ngate g a, b { cx a, b; }\ng q[0], q[1];\n"
    assert main(["compile", _write(tmp_path, text)]) == 2
    err = capsys.readouterr().err
    assert "circuit.qasm:3:" in err and "custom gate definitions (g) are not supported" in err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "OPENQASM 2.0;\nqreg q[2];\ncreg c[2];\nh q[0];\nmeasure q[0] -> c[0];\nx q[1];\n"
            "cx q[0], q[1];\n",
            "circuit.qasm:7: cx q[0], q[1];: acts on q[0] after it was measured",
        ),
        (
            "OPENQASM 3.0;\nqubit[2] q;\nbit[2] c;\nc[1] = measure q[1];\nh q;\n",
            "circuit.qasm:5: h q;: acts on q[1] after it was measured",
        ),
    ],
)
def test_gate_after_measure_is_refused(tmp_path, capsys, text, expected):
    """Measurements are dropped (IonQ measures at the end); a gate after one used to compile
    silently into a different circuit."""
    assert main(["compile", _write(tmp_path, text)]) == 2
    assert expected in capsys.readouterr().err


def test_final_measurements_of_some_registers_still_compile(tmp_path, capsys):
    text = (
        "OPENQASM 2.0;\nqreg q[2];\nqreg q2[1];\ncreg c[2];\nh q[0];\nmeasure q[0] -> c[0];\n"
        "h q2[0];\nh q[1];\nmeasure q[1] -> c[1];\n"
    )
    assert main(["compile", _write(tmp_path, text)]) == 0
    assert "verification: OK" in capsys.readouterr().out


def test_reset_is_refused_by_name(tmp_path, capsys):
    text = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\nh q[0];\nreset q[0];\n'
    assert main(["compile", _write(tmp_path, text)]) == 2
    err = capsys.readouterr().err
    assert "circuit.qasm:5: reset q[0];: reset is not supported" in err
    assert "cannot reset a qubit mid-circuit" in err


def test_for_loops_are_refused(tmp_path, capsys):
    text = "OPENQASM 3.0;\nqubit[3] q;\nfor int i in [0:1] { cx q[i], q[i+1]; }\n"
    assert main(["compile", _write(tmp_path, text)]) == 2
    assert "circuit.qasm:3:" in (err := capsys.readouterr().err) and "for loops are not" in err


INPUTS = """OPENQASM 3.0;
qubit[2] q;
input float theta;
input float phi;
rx(theta) q[0];
ry(phi) q[1];
"""


def test_inputs_are_bound_with_param(tmp_path, capsys):
    from pennylane_qstore.ionq.qasm import load_qasm

    path = _write(tmp_path, INPUTS)
    assert main(["compile", path, "--param", "theta=0.3", "--param", "phi=0.2"]) == 0
    assert "verification: OK" in capsys.readouterr().out
    tape, _ = load_qasm(INPUTS, params={"theta": 0.3, "phi": 0.2})
    assert [float(p) for p in tape.get_parameters()] == [0.3, 0.2]
    assert main(["compile", path, "--param", "theta=0.3"]) == 2
    assert "input phi has no value" in (err := capsys.readouterr().err)
    assert "--param phi=VALUE" in err
    assert main(["compile", path, "--param", "theta=x"]) == 2
    assert "expected NAME=VALUE" in capsys.readouterr().err
