"""examples/multiworker_keras.py: 2 MultiWorkerMirroredStrategy workers on 127.0.0.1 via TF_CONFIG."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TIMEOUT = 240  # seconds per launch; a loaded 2-core machine needs ~100


@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT + 60)
def test_two_workers_end_with_the_same_weights(tmp_path: Path) -> None:
    """Each worker starts from its own random weights; the strategy must sync and keep them so."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    env.pop("TF_CONFIG", None)
    command = [sys.executable, "multiworker_keras.py", "--epochs", "1", "--batch", "32"]
    command += ["--device", "lightning.qubit", "--save-dir", str(tmp_path)]
    command += ["--timeout", str(TIMEOUT - 20)]
    done = subprocess.run(
        command, cwd=EXAMPLES, env=env, capture_output=True, text=True, timeout=TIMEOUT
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "worker 0 epoch 0" in done.stdout and "worker 1 epoch 0" in done.stdout, done.stdout
    first, second = (np.load(tmp_path / f"worker{i}.npz") for i in range(2))
    assert sorted(first) == sorted(second) == ["w0", "w1", "w2"]  # quantum weights, kernel, bias
    for key in first:
        np.testing.assert_allclose(first[key], second[key], rtol=0, atol=1e-6)
    assert first["w0"].shape == (1, 1, 4, 3)
