"""``qstore estimate`` and :func:`estimate_training`: published rates and IonQ's GET /jobs/estimate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pennylane_qstore.cli import main
from pennylane_qstore.ionq.client import IonQClient
from pennylane_qstore.ionq.compiler import compile_circuit
from pennylane_qstore.ionq.estimate import estimate_training, parse_api_estimate, qasm_gate_counts
from pennylane_qstore.ionq.qasm import load_qasm
from pennylane_qstore.ionq.server import LocalIonQServer
from pennylane_qstore.ionq.status import BackendMonitor

CHAIN = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[3];
h q[0];
cx q[0],q[1];
cx q[1],q[2];
rz(0.3) q[2];
"""


@pytest.fixture
def client(server: LocalIonQServer) -> IonQClient:
    return IonQClient(api_key=server.api_key, api_url=server.url, backoff_factor=0.01)


@pytest.fixture
def qasm(tmp_path: Path) -> Path:
    path = tmp_path / "chain.qasm"
    path.write_text(CHAIN)
    return path


def test_published_rates_by_hand() -> None:
    estimate = estimate_training(
        backend_name="qpu.forte-1",
        shots=1000,
        gates=(40, 12),
        circuits_per_step=1568,
        steps=100,
        error_mitigation=False,
    )
    per_circuit = 12.4166 + 1000 * (0.000220 * 40 + 0.000975 * 12)  # Azure's published formula
    assert estimate.circuits == 156_800
    assert estimate.published_usd == pytest.approx(per_circuit * 156_800, rel=1e-12)
    assert estimate.api_usd is None and estimate.queue_s is None
    assert "not asked" in estimate.api_note
    typical = 1000 * (40 * 135e-6 + 12 * 600e-6 + 300e-6 + 20e-6)  # TYPICAL_QPU_TIMING
    assert estimate.execution_s == pytest.approx(typical * 156_800)
    mitigated = estimate_training(
        backend_name="qpu.aria-1", shots=500, gates=(1, 1), error_mitigation=True
    )
    assert mitigated.published_usd == pytest.approx(97.50 + 500 * (0.000220 + 0.000975))
    free = estimate_training(backend_name="simulator", shots=1000, gates=(40, 12), steps=10)
    assert free.published_usd == 0.0 and free.execution_s == 0.0 and not free.error_mitigation


def test_error_mitigation_defaults_to_ionqs_default() -> None:
    at_500 = estimate_training(backend_name="qpu.aria-1", shots=500, gates=(1, 1))
    assert at_500.error_mitigation  # IonQ debiases QPU jobs of >= 500 shots unless told not to
    assert at_500.published_usd == pytest.approx(97.50 + 500 * (0.000220 + 0.000975))
    below = estimate_training(backend_name="qpu.aria-1", shots=499, gates=(1, 1))
    assert not below.error_mitigation
    assert below.published_usd == pytest.approx(12.4166 + 499 * (0.000220 + 0.000975))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"backend_name": "aria"}, "unknown IonQ backend 'aria'; choose one of"),
        ({"shots": 0}, "shots must be an integer >= 1"),
        ({"shots": 2_000_000}, "at most 1,000,000"),
        ({"shots": 100, "error_mitigation": True}, "at least 500 shots"),
        ({"gates": (-1, 0)}, r"gates\[0\] must be an integer >= 0"),
        ({"steps": 0}, "steps must be an integer >= 1"),
        ({"qubits": 26}, "qpu.aria-1 has 25 qubits"),
    ],
)
def test_bad_numbers_are_named(kwargs: dict, match: str) -> None:
    args = {"backend_name": "qpu.aria-1", "shots": 1000, "gates": (2, 1), **kwargs}
    with pytest.raises(ValueError, match=match):
        estimate_training(**args)


def test_api_estimate_both_spellings_and_queue(server: LocalIonQServer, client: IonQClient) -> None:
    answer = client.estimate("qpu.aria-1", 3, 1000, gates_1q=7, gates_2q=2)
    published = 12.4166 + 1000 * (0.000220 * 7 + 0.000975 * 2)
    assert answer["estimated_total_cost"] == pytest.approx(published)  # ionq-core
    assert answer["estimated_cost"] == pytest.approx(published)  # qiskit-ionq
    assert answer["estimated_unit"] == answer["cost_unit"] == "usd"
    assert answer["rate_information"]["cost_1q_gate"] == 0.000220
    assert {r["name"] for r in answer["rate_card"]["rates"]} >= {"1q_gate_shot", "2q_gate_shot"}
    assert answer["input_values"] == {
        "backend": "qpu.aria-1",
        "qubits": 3,
        "shots": 1000,
        "1q_gates": 7,
        "2q_gates": 2,
        "error_mitigation": False,
    }
    execution_s = BackendMonitor(client).execution_seconds("qpu.aria-1", 1000, [(7, 2)])
    assert answer["estimated_execution_time"] == pytest.approx(execution_s * 1e3)
    assert answer["current_predicted_queue_time"] == 600_000
    assert parse_api_estimate(answer) == (
        pytest.approx(published),
        "ionq-core field estimated_total_cost",
    )
    qiskit = {"estimated_cost": {"value": 3.5, "unit": "usd"}, "rate_information": {}}
    assert parse_api_estimate(qiskit) == (3.5, "qiskit field estimated_cost")
    with pytest.raises(ValueError, match="has no estimated cost"):
        parse_api_estimate({"rate_card": {}})

    estimate = estimate_training(
        backend_name="qpu.aria-1",
        shots=1000,
        gates=(7, 2),
        steps=4,
        error_mitigation=False,
        client=client,
    )
    assert estimate.api_usd == pytest.approx(4 * published) == estimate.published_usd
    assert estimate.queue_s == 600.0 and estimate.execution_s == pytest.approx(4 * execution_s)
    assert estimate.timing_source.startswith("characterization ")


def test_qasm_counts_come_from_the_native_compiler(qasm: Path) -> None:
    tape, wires = load_qasm(CHAIN)
    native = compile_circuit(tape, "zz", wires=wires).gate_counts()
    qubits, n1, n2 = qasm_gate_counts(qasm, "qpu.forte-1")
    assert (qubits, n1, n2) == (3, native["1q"], native["2q"])
    assert n2 == 2  # two CNOTs on different pairs need two entanglers


def test_cli_table_and_json(
    server: LocalIonQServer, qasm: Path, capsys: pytest.CaptureFixture
) -> None:
    argv = ["estimate", str(qasm), "--backend", "qpu.aria-1", "--no-error-mitigation"]
    assert main(argv) == 0
    table = capsys.readouterr().out
    assert "published rates (azure-quantum)" in table and "not asked" in table
    assert "error mitigation off" in table
    _, n1, n2 = qasm_gate_counts(qasm, "qpu.aria-1")
    usd = 12.4166 + 1000 * (0.000220 * n1 + 0.000975 * n2)
    assert f"{usd:,.2f}" in table
    argv = ["estimate", str(qasm), "--circuits-per-step", "10", "--steps", "3", "--json"]
    argv += ["--api-url", server.url, "--api-key", server.api_key]  # 1000 shots: debiased
    assert main(argv) == 0
    record = json.loads(capsys.readouterr().out)
    mitigated = 30 * (97.50 + 1000 * (0.000220 * n1 + 0.000975 * n2))
    assert record["circuits"] == 30 and record["published_usd"] == pytest.approx(mitigated)
    assert record["api_usd"] == pytest.approx(mitigated) and record["api_url"] == server.url
    assert record["queue_s"] == 600.0 and record["error_mitigation"] is True
    assert ("GET", "/v0.4/jobs/estimate") in server.requests


def test_cli_without_reachable_api_still_prices(
    qasm: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IONQ_API_URL", "http://127.0.0.1:9/v0.4")
    monkeypatch.delenv("IONQ_API_KEY", raising=False)
    assert main(["estimate", "--gates", "40,12", "--json"]) == 0
    assert "needs an API key" in json.loads(capsys.readouterr().out)["api_note"]
    monkeypatch.setenv("IONQ_API_KEY", "k")
    assert main(["estimate", "--gates", "40,12", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["api_usd"] is None and "not available" in record["api_note"]
    assert record["published_usd"] == pytest.approx(97.50 + 1000 * (0.0088 + 0.0117))


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["missing.qasm"], "No such file"),
        (["BAD"], "bad.qasm:3: foo q[0]"),
        (["--gates", "4"], "expected N1,N2 integers"),
        ([], "give either FILE.qasm or --gates"),
        (["GOOD", "--gates", "1,1"], "give either FILE.qasm or --gates"),
        (["--gates", "1,1", "--backend", "qpu.nope"], "unknown IonQ backend 'qpu.nope'"),
        (["--gates", "1,1", "--shots", "10", "--error-mitigation"], "at least 500 shots"),
    ],
)
def test_cli_errors_name_the_problem(
    argv: list[str],
    match: str,
    qasm: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("IONQ_API_URL", raising=False)
    bad = tmp_path / "bad.qasm"
    bad.write_text('OPENQASM 2.0;\ninclude "qelib1.inc";\nfoo q[0];\n')
    argv = [str(bad) if a == "BAD" else str(qasm) if a == "GOOD" else a for a in argv]
    monkeypatch.chdir(tmp_path)
    assert main(["estimate", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("qstore estimate: error:") and match in err
