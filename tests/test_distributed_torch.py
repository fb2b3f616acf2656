"""examples/ddp_torch.py under torchrun: 2 gloo processes on 127.0.0.1, static and elastic.

Each test runs the command of a manifest that ``qstore k8s torch`` generates, with the
environment its operator injects (``PET_*``, which torchrun reads as its flags): the Trainer v2
``TrainJob`` (static rendezvous, 2 processes on one node) and the Training Operator's elastic
``PyTorchJob`` (2 nodes of 1 process at a c10d rendezvous). Each run is compared with the
single-process reference trained on the same global batches: DDP averages the shard gradients,
so every rank must end with the reference parameters.
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

from pennylane_qstore.k8s import JobConfig, pytorchjob, trainjob

torch = pytest.importorskip("torch")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPT = str(EXAMPLES / "ddp_torch.py")
STEPS = "4"
TIMEOUT = 240  # seconds per launch; a loaded 2-core machine needs ~100
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


def _launch(manifest_command: list[str], pet_env: dict[str, str], save: Path) -> subprocess.Popen:
    """Run a manifest's ``torchrun SCRIPT ARGS`` with the operator's ``PET_*`` variables."""
    assert manifest_command[0] == "torchrun"
    command = [sys.executable, "-m", "torch.distributed.run", *manifest_command[1:]]
    env = {**ENV, **pet_env, "PET_LOCAL_ADDR": "127.0.0.1"}  # pods have their own hostnames
    return subprocess.Popen(
        [*command, "--save", str(save)],
        cwd=EXAMPLES,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _config(**kwargs: int) -> JobConfig:
    return JobConfig("torch", "img:1", script=SCRIPT, args=TRAIN_ARGS, **kwargs)


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
def test_trainjob_two_processes_match_single_process(reference: np.ndarray, tmp_path: Path) -> None:
    """``torchrun --nproc-per-node=2`` as the TrainJob's torch-distributed runtime starts it."""
    command = trainjob(_config(workers=1, nproc_per_node=2))["spec"]["trainer"]["command"]
    pet_env = {  # what the Trainer's torch plugin injects for numNodes=1, numProcPerNode=2
        "PET_NNODES": "1",
        "PET_NPROC_PER_NODE": "2",
        "PET_NODE_RANK": "0",
        "PET_MASTER_ADDR": "127.0.0.1",
        "PET_MASTER_PORT": str(_free_port()),
    }
    out = _finish(_launch(command, pet_env, tmp_path / "ddp.npy"))
    assert "parameters in sync across 2 processes: True" in out, out
    np.testing.assert_allclose(np.load(tmp_path / "ddp.npy"), reference, rtol=0, atol=1e-5)


@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT + 60)
def test_elastic_pytorchjob_two_nodes_match_single_process(
    reference: np.ndarray, tmp_path: Path
) -> None:
    """Two torchrun agents ("pods") of one process each meet at a c10d rendezvous."""
    job = pytorchjob(_config(workers=2, min_workers=1))
    container = job["spec"]["pytorchReplicaSpecs"]["Worker"]["template"]["spec"]["containers"][0]
    policy = job["spec"]["elasticPolicy"]
    pet_env = {  # what the operator injects for this elasticPolicy (rendezvous on worker 0)
        "PET_NNODES": f"{policy['minReplicas']}:{policy['maxReplicas']}",
        "PET_NPROC_PER_NODE": job["spec"]["nprocPerNode"],
        "PET_RDZV_BACKEND": policy["rdzvBackend"],
        "PET_RDZV_ID": policy["rdzvId"],
        "PET_RDZV_ENDPOINT": f"127.0.0.1:{_free_port()}",
    }
    agents = [_launch(container["command"], pet_env, tmp_path / f"node{i}.npy") for i in range(2)]
    outs = [_finish(agent) for agent in agents]
    assert any("parameters in sync across 2 processes: True" in out for out in outs), outs
    (saved,) = list(tmp_path.glob("node*.npy"))  # only the agent that hosts rank 0 writes
    np.testing.assert_allclose(np.load(saved), reference, rtol=0, atol=1e-5)
