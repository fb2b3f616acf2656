"""``qstore convert``: every input file format to every output format, read back and compared."""

import functools
import itertools
import json

import numpy as np
import pennylane as qml
import pytest
from pennylane.tape import QuantumScript

from pennylane_qstore.cli import main
from pennylane_qstore.convert import convert
from pennylane_qstore.convert.cli import FILE_FORMATS, read_file

qiskit = pytest.importorskip("qiskit")
cirq = pytest.importorskip("cirq")

TAPE = QuantumScript(
    [qml.Hadamard(0), qml.CRY(0.6, [0, 1]), qml.Toffoli([0, 1, 2]), qml.RZ(-0.2, 2)],
    [qml.probs(wires=[0, 1, 2])],
)


@functools.cache
def _in_format(fmt):
    return convert(TAPE, to=fmt)


def _write_input(path, fmt):
    if fmt == "qiskit-qpy":
        with open(path, "wb") as handle:
            qiskit.qpy.dump(_in_format("qiskit"), handle)
    elif fmt == "cirq-json":
        path.write_text(cirq.to_json(_in_format("cirq")))
    elif fmt == "ionq-json":
        path.write_text(json.dumps(_in_format("ionq")))
    else:
        path.write_text(_in_format(fmt))


def _unitary(obj):
    return np.asarray(
        qml.matrix(QuantumScript(convert(obj, to="tape").operations), wire_order=range(3))
    )


PAIRS = list(itertools.product(FILE_FORMATS, FILE_FORMATS))


@pytest.mark.parametrize(("source", "target"), PAIRS, ids=[f"{s}-{t}" for s, t in PAIRS])
def test_every_file_format_to_every_other(tmp_path, source, target):
    infile, outfile = tmp_path / "in", tmp_path / "out"
    _write_input(infile, source)
    assert main(["convert", str(infile), "--to", target, "--out", str(outfile)]) == 0
    u, v = _unitary(read_file(str(outfile))), _unitary(TAPE)
    phase = u[0, 0] / v[0, 0]
    np.testing.assert_allclose(u, phase * v, atol=1e-9)


def test_text_output_goes_to_stdout_and_ionq_native_options(tmp_path, capsys):
    infile = tmp_path / "ghz.qasm"
    infile.write_text('OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\nh q[0];\ncx q[0],q[1];\n')
    assert (
        main(
            [
                "convert",
                str(infile),
                "--to",
                "ionq-json",
                "--gateset",
                "native",
                "--entangler",
                "zz",
            ]
        )
        == 0
    )
    job = json.loads(capsys.readouterr().out)
    assert job["gateset"] == "native" and {g["gate"] for g in job["circuit"]} <= {
        "gpi",
        "gpi2",
        "zz",
    }


def test_parameters_from_the_command_line(tmp_path, capsys):
    theta = qiskit.circuit.Parameter("theta")
    circuit = qiskit.QuantumCircuit(1)
    circuit.rx(theta, 0)
    infile = tmp_path / "param.qpy"
    with open(infile, "wb") as handle:
        qiskit.qpy.dump(circuit, handle)
    assert main(["convert", str(infile), "--to", "qasm3"]) == 2
    assert "unbound parameters ['theta']" in capsys.readouterr().err
    assert main(["convert", str(infile), "--to", "qasm3", "--param", "theta=0.25"]) == 0
    assert "rx(0.25) q[0];" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (b"\xff\xfe\x00binary", ["--to", "qasm2"], "binary file that is not Qiskit QPY"),
        (b"h q[0];\n", ["--to", "qasm2"], "not OpenQASM (no 'OPENQASM 2.0;'"),
        (b"{not json", ["--to", "qasm2"], "invalid JSON"),
        (
            b"OPENQASM 2.0;\nqreg q[1];\nh q[0];\n",
            ["--to", "qiskit-qpy"],
            "QPY is binary: give --out",
        ),
        (b"OPENQASM 2.0;\nqreg q[1];\nh q[0];\n", ["--to", "qasm3", "--param", "x"], "NAME=VALUE"),
    ],
)
def test_errors_exit_2_with_the_reason(tmp_path, capsys, content, args, message):
    infile = tmp_path / "in"
    infile.write_bytes(content)
    assert main(["convert", str(infile), *args]) == 2
    assert message in capsys.readouterr().err


def test_several_circuits_cannot_become_one_qasm_file(tmp_path, capsys):
    infile = tmp_path / "jobs.json"
    infile.write_text(json.dumps(convert([TAPE, TAPE], to="ionq")))
    assert main(["convert", str(infile), "--to", "qasm2"]) == 2
    assert "one circuit per file" in capsys.readouterr().err
    assert (
        main(["convert", str(infile), "--to", "cirq-json", "--out", str(tmp_path / "c.json")]) == 0
    )
    assert len(read_file(str(tmp_path / "c.json"))) == 2
