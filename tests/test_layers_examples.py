"""Smoke tests of the layer examples: torch DDP with 2 gloo processes and the offline classifier."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _run(*args: str) -> str:
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, *args], cwd=EXAMPLES, env=env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_ddp_example_keeps_replicas_in_sync() -> None:
    out = _run("ddp_torch.py", "--steps", "3", "--device", "lightning.qubit")
    assert "parameters in sync across 2 processes: True" in out


def test_offline_torch_example_trains() -> None:
    out = _run(
        "fashion_mnist_torch.py", "--offline-digits", "--steps", "30", "--device", "lightning.qubit"
    )
    accuracy = float(out.strip().splitlines()[-1].split()[-1])
    assert accuracy >= 0.9, out
