"""``make demo`` keeps working: it trains, validates on aria-1 within the budget, then simulates."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("matplotlib")
pytest.importorskip("tqdm")

ROOT = Path(__file__).resolve().parent.parent
ROW = re.compile(
    r"^\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+[\d.]+\s+(\S+)$", re.M
)


def test_demo_validates_on_aria_until_the_budget_is_spent(tmp_path: Path) -> None:
    """One epoch's validation fits $400 (about $335 on aria-1); the second goes to the simulator."""
    from pennylane_qstore import Budget

    ledger, png = tmp_path / "run.sqlite", tmp_path / "curves.png"
    command = [sys.executable, str(ROOT / "examples" / "demo.py"), "--epochs", "2"]
    command += ["--budget", "400", "--ledger", str(ledger), "--out", str(png)]
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    run = subprocess.run(
        command, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=240, check=True
    )
    rows = ROW.findall(run.stdout)
    assert [int(r[0]) for r in rows] == [1, 2], run.stdout
    losses = [float(r[1]) for r in rows]
    assert losses[-1] < losses[0]
    assert float(rows[-1][3]) >= 0.9  # test accuracy on the simulator
    assert [r[6] for r in rows] == ["ionq.qpu.aria-1", "ionq.simulator"]
    reason = re.search(
        r"because ionq.qpu.aria-1: over budget \(this batch ~\$([\d.]+), \$([\d.]+) left\)",
        run.stdout,
    )
    assert reason is not None
    assert re.search(r"^\s+engine\s+110 tape\(s\)\s+4 wires\s+analytic", run.stdout, re.M)

    budget = Budget(400.0, ledger=ledger)
    assert 0 < budget.spent <= 400.0 and budget.reserved == 0
    estimate, left = map(float, reason.groups())  # epoch 2 would cost more than epoch 1 left
    assert left == pytest.approx(400.0 - budget.spent, abs=0.01) and estimate > left
    assert float(rows[0][5]) == pytest.approx(budget.spent, abs=0.01)  # printed spend
    report = {(r["phase"], r["target"]): r for r in budget.report().rows}
    assert report["validation", "ionq.qpu.aria-1"]["jobs"] == 1
    assert report["validation", "ionq.qpu.aria-1"]["billed_usd"] == pytest.approx(budget.spent)
    assert report["validation", "ionq.simulator"]["billed_usd"] == 0
    assert report["training", "engine"]["circuits"] > 0
    assert "validation  ionq.qpu.aria-1" in run.stdout  # the printed cost report

    assert f"wrote {png.resolve()}" in run.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 10_000
    assert "epochs:" in run.stderr  # the progress bars


def test_layer_batches_on_the_engine_are_in_the_router_record() -> None:
    from qstore_layers.torch import QuantumLinear

    layer = QuantumLinear(n_qubits=2, n_layers=1)
    router = layer.qnode.device
    out = layer(torch.rand(5, 3, requires_grad=True))
    out.sum().backward()
    record = router.routing_record
    assert record.tapes_per_target() == {"engine": 5}
    assert record.routes[0].num_wires == 2 and record.routes[0].shots is None
