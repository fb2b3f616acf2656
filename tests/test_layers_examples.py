"""Smoke test of the offline layer example (the DDP example is tested, more strictly, in
tests/test_distributed_torch.py)."""

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


def test_offline_torch_example_trains() -> None:
    out = _run(
        "fashion_mnist_torch.py", "--offline-digits", "--steps", "30", "--device", "lightning.qubit"
    )
    accuracy = float(out.strip().splitlines()[-1].split()[-1])
    assert accuracy >= 0.9, out
