"""examples/ddp_torch.py under torchrun: 2 gloo processes on 127.0.0.1, static and elastic.

Each test runs the command of a manifest that ``qstore k8s torch`` generates, with the
environment its operator injects (``PET_*``, which torchrun reads as its flags): the Trainer v2
``TrainJob`` (static rendezvous, 2 processes on one node) and the Training Operator's elastic
``PyTorchJob`` (2 nodes of 1 process at a c10d rendezvous). Each run is compared with the
single-process reference trained on the same global batches: DDP averages the shard gradients,
so every rank must end with the reference parameters. The TrainJob run also validates on the
local IonQ server's aria-1 from both ranks under one shared budget (one ledger file), and checks
the ledger against the server's job list.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from pennylane_qstore.ionq.client import CLIENT_ID_KEY, IonQClient
from pennylane_qstore.k8s import JobConfig, pytorchjob, trainjob

torch = pytest.importorskip("torch")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPT = str(EXAMPLES / "ddp_torch.py")
STEPS = "4"
BUDGET = 100.0  # USD shared by the ranks' validation on IonQ
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


def _launch(
    manifest_command: list[str], pet_env: dict[str, str], save: Path, extra: tuple[str, ...] = ()
) -> subprocess.Popen:
    """Run a manifest's ``torchrun SCRIPT ARGS`` with the operator's ``PET_*`` variables."""
    assert manifest_command[0] == "torchrun"
    command = [sys.executable, "-m", "torch.distributed.run", *manifest_command[1:]]
    env = {**ENV, **pet_env, "PET_LOCAL_ADDR": "127.0.0.1"}  # pods have their own hostnames
    return subprocess.Popen(
        [*command, "--save", str(save), *extra],
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
            steps=int(STEPS),
            batch=16,
            seed=3,
            threads=1,
            device="lightning.qubit",
            save=path,
            budget=None,
        )
        module.train(0, 1, args)
    finally:
        sys.path.remove(str(EXAMPLES))
        torch.set_num_threads(threads)
    return np.load(path)


@pytest.mark.timeout(TIMEOUT + 60)
def test_trainjob_two_processes_match_single_process_and_share_one_budget(
    reference: np.ndarray, tmp_path: Path
) -> None:
    """``torchrun --nproc-per-node=2`` as the TrainJob's torch-distributed runtime starts it.

    The same launch validates on IonQ (issue 15.4): each rank's 2 validation rows are 2 circuits,
    $26.58 on aria-1; 2 ranks x 4 validations (every step) ask for $212.64 of one shared $100
    budget, so the ledger must refuse some and the router simulate those.
    """
    from pennylane_qstore.ionq.server import LocalIonQServer

    command = trainjob(_config(workers=1, nproc_per_node=2))["spec"]["trainer"]["command"]
    pet_env = {  # what the Trainer's torch plugin injects for numNodes=1, numProcPerNode=2
        "PET_NNODES": "1",
        "PET_NPROC_PER_NODE": "2",
        "PET_NODE_RANK": "0",
        "PET_MASTER_ADDR": "127.0.0.1",
        "PET_MASTER_PORT": str(_free_port()),
    }
    ledger = tmp_path / "shared" / "run.sqlite"
    with LocalIonQServer(seed=5) as server:
        extra = ("--val-every", "1", "--val-rows", "4", "--budget", str(BUDGET))
        extra += ("--ledger", str(ledger), "--ionq-url", server.url, "--ionq-key", server.api_key)
        out = _finish(_launch(command, pet_env, tmp_path / "ddp.npy", extra))
        client = IonQClient(api_key=server.api_key, api_url=server.url)
        jobs = client.list_jobs(limit=1000)["jobs"]
        costs = {job["id"]: client.get_cost(job["id"])["cost"]["value"] for job in jobs}
    assert "parameters in sync across 2 processes: True" in out, out
    np.testing.assert_allclose(np.load(tmp_path / "ddp.npy"), reference, rtol=0, atol=1e-5)
    _check_shared_budget(out, ledger, jobs, costs)


def _check_shared_budget(out: str, ledger: Path, jobs: list[dict], costs: dict) -> None:
    """One ledger for both ranks: within budget, every server job in it once, both ranks' work."""
    from pennylane_qstore import Budget

    steps = [str(s) for s in range(1, int(STEPS) + 1)]
    validations = re.findall(r"rank (\d) step (\d): validated 2 rows on (\S+)", out)
    assert sorted((r, s) for r, s, _ in validations) == [(r, s) for r in "01" for s in steps], out
    first = {rank: target for rank, step, target in validations if step == "1"}
    assert first == {"0": "ionq.qpu.aria-1", "1": "ionq.qpu.aria-1"}, out  # $53.16 fits $100
    assert "ionq.simulator" in {target for _, _, target in validations}, out

    budget = Budget(BUDGET, ledger=ledger)
    assert 0 < budget.spent <= BUDGET and budget.reserved == 0
    qpu_jobs = [job["id"] for job in jobs if job["backend"] == "qpu.aria-1"]
    reservations = budget.ledger.reservation_rows(state=None)
    ledger_jobs = [job for row in reservations for job in row["job_ids"]]
    assert sorted(ledger_jobs) == sorted(qpu_jobs)  # no QPU job lost or submitted twice
    client_ids = Counter((job.get("metadata") or {}).get(CLIENT_ID_KEY) for job in jobs)
    assert max(client_ids.values()) == 1
    assert len({row["pid"] for row in reservations if row["state"] == "settled"}) == 2
    assert budget.spent == pytest.approx(sum(costs[job] for job in qpu_jobs))

    report = {row["target"]: row for row in budget.report().rows if row["phase"] == "validation"}
    assert report["ionq.qpu.aria-1"]["jobs"] == len(qpu_jobs)
    assert report["ionq.simulator"]["jobs"] == len(jobs) - len(qpu_jobs)
    assert sum(row["circuits"] for row in report.values()) == 2 * len(steps) * 2  # ranks, rows
    assert f"cost report of {ledger.resolve()} (2 ranks, ${budget.spent:.2f} of $100.00" in out
    assert str(budget.report()) in out  # rank 0 printed the whole ledger, both ranks' work


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
