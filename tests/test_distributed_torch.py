"""examples/ddp_torch.py under torchrun: 2 gloo processes on 127.0.0.1, standalone and elastic.

Each run is compared with the single-process reference trained on the same global batches: DDP
averages the shard gradients, so every rank must end with the reference parameters.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPT = str(EXAMPLES / "ddp_torch.py")
STEPS = "4"
TIMEOUT = 180
TRAIN_ARGS = ["--steps", STEPS, "--batch", "16", "--seed", "3", "--device", "lightning.qubit"]
ENV = {
    **os.environ,
    "OMP_NUM_THREADS": "1",
    "OMP_WAIT_POLICY": "PASSIVE",
    "GLOO_SOCKET_IFNAME": "lo",  # gloo on the loopback interface only
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _torchrun(port: int, nnodes: str, nproc: int, save: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "torch.distributed.run", f"--nnodes={nnodes}"]
    command += [f"--nproc-per-node={nproc}", "--rdzv-backend=c10d", "--rdzv-id=qstore-test"]
    command += [f"--rdzv-endpoint=127.0.0.1:{port}", "--local-addr=127.0.0.1"]
    command += [SCRIPT, *TRAIN_ARGS, "--save", str(save)]
    return subprocess.Popen(
        command, cwd=EXAMPLES, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _finish(process: subprocess.Popen) -> str:
    try:
        out, err = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"torchrun still running after {TIMEOUT} s:\n{err[-3000:]}")
    assert process.returncode == 0, err[-3000:]
    return out


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    """Parameters of the single-process run on the whole global batches (in this process)."""
    path = tmp_path_factory.mktemp("ddp") / "single.npy"
    spec = importlib.util.spec_from_file_location("ddp_torch_example", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    threads = torch.get_num_threads()
    sys.path.insert(0, str(EXAMPLES))
    try:
        spec.loader.exec_module(module)
        args = argparse.Namespace(
            steps=int(STEPS), batch=16, seed=3, threads=1, device="lightning.qubit", save=path
        )
        module.train(0, 1, args)
    finally:
        sys.path.remove(str(EXAMPLES))
        torch.set_num_threads(threads)
    return np.load(path)


@pytest.mark.timeout(TIMEOUT + 60)
def test_torchrun_two_processes_match_single_process(reference: np.ndarray, tmp_path: Path) -> None:
    out = _finish(_torchrun(_free_port(), "1", 2, tmp_path / "ddp.npy"))
    assert "parameters in sync across 2 processes: True" in out, out
    np.testing.assert_allclose(np.load(tmp_path / "ddp.npy"), reference, rtol=0, atol=1e-5)


@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT + 60)
def test_torchrun_elastic_rendezvous_two_nodes(reference: np.ndarray, tmp_path: Path) -> None:
    """Two torchrun agents ("nodes") of one process each meet at a c10d rendezvous."""
    port = _free_port()
    agents = [_torchrun(port, "1:2", 1, tmp_path / f"node{i}.npy") for i in range(2)]
    outs = [_finish(agent) for agent in agents]
    assert any("parameters in sync across 2 processes: True" in out for out in outs), outs
    (saved,) = list(tmp_path.glob("node*.npy"))  # only the agent that hosts rank 0 writes
    np.testing.assert_allclose(np.load(saved), reference, rtol=0, atol=1e-5)
