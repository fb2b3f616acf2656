"""``make demo`` keeps working: it trains, reaches a useful accuracy and reports where it ran."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parent.parent


def test_demo_trains_and_prints_the_routing_record(tmp_path: Path) -> None:
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    run = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py"), "--epochs", "3"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=240,
        check=True,
    )
    rows = re.findall(r"^\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+[\d.]+$", run.stdout, re.M)
    assert [int(r[0]) for r in rows] == [1, 2, 3]
    losses = [float(r[1]) for r in rows]
    assert losses[-1] < losses[0]
    assert float(rows[-1][3]) >= 0.9  # test accuracy
    assert re.search(r"^\s+engine\s+110 tape\(s\)\s+4 wires\s+analytic", run.stdout, re.M)


def test_layer_batches_on_the_engine_are_in_the_router_record() -> None:
    from qstore_layers.torch import QuantumLinear

    layer = QuantumLinear(n_qubits=2, n_layers=1)
    router = layer.qnode.device
    out = layer(torch.rand(5, 3, requires_grad=True))
    out.sum().backward()
    record = router.routing_record
    assert record.tapes_per_target() == {"engine": 5}
    assert record.routes[0].num_wires == 2 and record.routes[0].shots is None
