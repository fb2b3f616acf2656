"""Budgets on qstore.ionq against the local IonQ server over real HTTP: several processes on
one ledger, a process killed between submit and result, injected faults."""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import os
import signal
import time
from collections import Counter

import pennylane as qml
import pytest
from pennylane.tape import QuantumScript

from pennylane_qstore import Budget, BudgetExhausted
from pennylane_qstore.ionq.client import CLIENT_ID_KEY, IonQClient
from pennylane_qstore.ionq.errors import DryRunComplete, IonQJobFailed
from pennylane_qstore.ionq.server import LocalIonQServer

QPU = "qpu.aria-1"


def make(url: str, key: str, budget: object = None, **kwargs: object):
    kwargs.setdefault("backend", QPU)
    kwargs.setdefault("shots", 100)
    kwargs.setdefault("error_mitigation", False if kwargs["backend"] != "simulator" else None)
    return qml.device(
        "qstore.ionq",
        wires=1,
        api_url=url,
        api_key=key,
        budget=budget,
        poll_interval=(0.01, 0.02),
        **kwargs,
    )


def tape(shots: int = 100) -> QuantumScript:
    return QuantumScript([qml.RX(0.3, 0)], [qml.expval(qml.Z(0))], shots=shots)


def _spend(url: str, key: str, ledger: str, usd: float, batches: int, barrier, out) -> None:
    """A process that keeps submitting one-circuit QPU batches until its budget refuses."""
    try:
        dev = make(url, key, Budget(usd, ledger=ledger))
        barrier.wait(timeout=60)
        ran = refused = 0
        for _ in range(batches):
            try:
                qml.execute([tape()], dev)
                ran += 1
            except BudgetExhausted:
                refused += 1
        out.put((ran, refused))
    except BaseException as error:  # the test must say why, not wait for a result
        out.put(("error", repr(error)))
        raise


def _run_one(url: str, key: str, ledger: str, usd: float) -> None:
    qml.execute([tape()], make(url, key, Budget(usd, ledger=ledger)))


def processes() -> multiprocessing.context.BaseContext:
    """Fresh processes (no fork of this threaded one), forked from a server that imported
    PennyLane and the device once: each worker starts in milliseconds, not seconds."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["pennylane_qstore.ionq.device", "pennylane_qstore.budget"])
    return context


def server_jobs(server: LocalIonQServer) -> list[dict]:
    """Every top-level job on the server (id, metadata, status) through the API."""
    client = IonQClient(api_key=server.api_key, api_url=server.url)
    return client.list_jobs(limit=1000)["jobs"]


def ledger_job_ids(budget: Budget) -> list[str]:
    rows = budget.ledger.reservation_rows(state=None)
    return [job for row in rows for job in row["job_ids"]]


def check_books(server: LocalIonQServer, budget: Budget) -> list[dict]:
    """No duplicate job per client id, every server job in the ledger, no budget overrun."""
    jobs = server_jobs(server)
    client_ids = Counter(job["metadata"][CLIENT_ID_KEY] for job in jobs)
    assert max(client_ids.values(), default=1) == 1, "a client id was submitted twice"
    reserved_ids = {c for row in budget.ledger.reservation_rows(None) for c in row["client_ids"]}
    assert set(client_ids) <= reserved_ids
    assert sorted(ledger_job_ids(budget)) == sorted(job["id"] for job in jobs)
    assert budget.spent <= budget.usd
    return jobs


@pytest.mark.slow
def test_two_processes_never_overspend_one_budget(tmp_path) -> None:
    ledger = str(tmp_path / "ledger.db")
    usd = 40.0
    context = processes()
    barrier, out = context.Barrier(2), context.Queue()
    with LocalIonQServer(latency=0.005) as server:
        workers = [
            context.Process(
                target=_spend, args=(server.url, server.api_key, ledger, usd, 3, barrier, out)
            )
            for _ in range(2)
        ]
        for worker in workers:
            worker.start()
        outcomes = [out.get(timeout=120) for _ in workers]
        assert all(o[0] != "error" for o in outcomes), outcomes
        for worker in workers:
            worker.join(timeout=30)
        budget = Budget(usd, ledger=ledger)
        jobs = check_books(server, budget)
        client = IonQClient(api_key=server.api_key, api_url=server.url)
        billed = sum(client.get_cost(job["id"])["cost"]["value"] for job in jobs)
    assert budget.spent == pytest.approx(billed)
    ran = sum(r for r, _ in outcomes)
    assert sum(r + f for r, f in outcomes) == 6 and ran == len(jobs)
    [row] = budget.report().rows
    per_batch = row["billed_usd"] / row["jobs"]
    assert ran * per_batch <= usd < (ran + 1) * per_batch  # every affordable batch ran
    assert budget.reserved == 0 and budget.open_reservations() == []


@pytest.mark.slow
def test_killed_process_leaves_a_reservation_that_reconcile_settles(tmp_path) -> None:
    ledger = str(tmp_path / "ledger.db")
    context = processes()
    with LocalIonQServer(queue_time=120.0) as server:
        worker = context.Process(target=_run_one, args=(server.url, server.api_key, ledger, 50.0))
        worker.start()
        deadline = time.monotonic() + 120
        while server.job_count == 0 and worker.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.job_count == 1, f"no job; the worker's exit code: {worker.exitcode}"
        os.kill(worker.pid, signal.SIGKILL)
        worker.join(timeout=10)
        budget = Budget(50.0, ledger=ledger)
        [held] = budget.open_reservations()
        assert held.stale and held.pid == worker.pid
        assert len(held.client_ids) == 1 and budget.reserved == held.usd > 0
        client = IonQClient(api_key=server.api_key, api_url=server.url)
        [still] = budget.reconcile(client)
        assert still.state == "open"  # its job still runs: nothing is guessed
        server.queue_time = 0.0  # the job completes now
        [settled] = budget.reconcile(client)
        assert settled.state == "settled"
        jobs = check_books(server, budget)
        billed = client.get_cost(jobs[0]["id"])["cost"]["value"]
    assert budget.spent == pytest.approx(billed) and budget.reserved == 0
    assert budget.reconcile(client) == []


def test_reconcile_releases_a_reservation_whose_job_never_existed(server) -> None:
    budget = Budget(30.0)
    held = budget.reserve(
        13.0,
        target="ionq.qpu.aria-1",
        phase="p",
        circuits=1,
        shots=100,
        backend=QPU,
        api_url=server.url,
    )
    held.attach(client_ids=["never-posted"])
    client = IonQClient(api_key=server.api_key, api_url=server.url)
    assert budget.reconcile(client) == []  # still in flight in this process: left to it
    held.leave_open("crashed before the POST")
    [released] = budget.reconcile(client)
    assert released.state == "released" and budget.reserved == 0 and budget.spent == 0
    other = IonQClient(api_key=server.api_key, api_url=server.url + "/elsewhere")
    budget.reserve(1.0, target="t", phase="p", circuits=1, shots=1, api_url="x").leave_open("x")
    assert budget.reconcile(other) == []  # reservations of another API are not touched


def test_faults_in_a_budgeted_multi_batch_run(server) -> None:
    """5xx, 429, dropped answers and failed jobs: each batch completes or raises a clear error,
    every job is in the ledger once, nothing stays reserved, the budget holds."""
    budget = Budget(130.0)
    dev = make(server.url, server.api_key, budget)
    dev.client.backoff_factor = 0.01
    faults = [
        ("5xx", {"methods": ("GET",)}),
        ("5xx", {"methods": ("POST",)}),
        ("429", {"retry_after": 0}),
        ("drop", {}),
        ("fail_job", {}),
        (None, {}),
    ]
    outcomes = []
    for kind, options in faults:
        if kind is not None:
            server.inject(kind, **options)
        try:
            qml.execute([tape(), tape().copy(operations=[qml.RY(0.2, 0)])], dev)
            outcomes.append("ran")
        except IonQJobFailed as error:
            assert "failed with code SimulationError" in str(error)
            outcomes.append("failed")
        except BudgetExhausted as error:
            assert "budget exhausted" in str(error)
            outcomes.append("refused")
    assert outcomes[:5] == ["ran", "ran", "ran", "ran", "failed"]
    assert outcomes[5] in ("ran", "refused")
    jobs = check_books(server, budget)
    assert budget.reserved == 0 and budget.open_reservations() == []
    completed = [j for j in jobs if j["status"] == "completed"]
    billed = sum(dev.client.get_cost(j["id"])["cost"]["value"] for j in completed)
    assert budget.spent == pytest.approx(billed)
    states = Counter(r["state"] for r in budget.ledger.reservation_rows(None))
    assert states["released"] == 1 and states["settled"] == len(completed)


def test_exhausted_budget_submits_nothing(server) -> None:
    dev = make(server.url, server.api_key, 12.0)
    with pytest.raises(BudgetExhausted, match=r"estimated at \$12\.\d\d.*of the \$12\.00 budget"):
        qml.execute([tape()], dev)
    assert server.job_count == 0 and dev.budget.reserved == 0


def test_reservation_prices_default_error_mitigation(server) -> None:
    """At 500 shots IonQ debiases QPU jobs by default (a $97.50 minimum): reserve that much."""
    dev = make(server.url, server.api_key, 100.0, shots=500, error_mitigation=None)
    with pytest.raises(BudgetExhausted):
        qml.execute([tape(500), tape(500)], dev)  # 2 x 97.5 > 100
    qml.execute([tape(500)], dev)
    [row] = dev.cost_report().rows
    assert row["estimated_usd"] > 97.5 and dev.budget.spent == row["billed_usd"]


def test_simulator_dry_run_phases_and_reports(server) -> None:
    budget = Budget(100.0)
    sim = make(server.url, server.api_key, budget, backend="simulator")
    qpu = make(server.url, server.api_key, budget)
    qml.execute([tape()], sim)
    with qpu.phase("validation"):
        qml.execute([tape()], qpu)
    with pytest.raises(DryRunComplete):
        qml.execute([tape()], make(server.url, server.api_key, budget, dry_run=True))
    [free] = sim.cost_report().rows
    assert free["target"] == "ionq.simulator" and free["billed_usd"] == 0 and free["jobs"] == 1
    [paid] = qpu.cost_report().rows
    assert (paid["phase"], paid["target"], paid["shots"]) == ("validation", "ionq.qpu.aria-1", 100)
    assert [r["target"] for r in qpu.cost_report(all=True).rows] == [
        "ionq.simulator",
        "ionq.qpu.aria-1",
    ]
    assert budget.spent == paid["billed_usd"] > 12
    without = make(server.url, server.api_key)
    qml.execute([tape()], without)
    assert without.budget is None and without.cost_report().totals["billed_usd"] > 12
    without.budget = budget
    assert without.ledger is budget.ledger
    with pytest.raises(TypeError, match="budget= takes a number"):
        without.budget = "10"


def test_cost_report_cli_reconciles_and_prints(server, tmp_path, capsys) -> None:
    from pennylane_qstore.cli import main
    from pennylane_qstore.ionq.client import job_payload

    path = tmp_path / "ledger.db"
    budget = Budget(100.0, ledger=path)
    qml.execute([tape()], make(server.url, server.api_key, budget))
    held = budget.reserve(
        20.0,
        target="ionq.qpu.aria-1",
        phase="validation",
        circuits=1,
        shots=100,
        backend=QPU,
        api_url=server.url,
    )
    held.attach(client_ids=["crashed-run"])
    circuit = [{"gate": "gpi2", "target": 0, "phase": 0.0}]
    client = IonQClient(api_key=server.api_key, api_url=server.url)
    job_id = client.submit_job(
        job_payload([circuit], 1, gateset="native", backend=QPU, shots=100), client_id="crashed-run"
    )
    held.leave_open("the test's stand-in for a crash")
    assert main(["cost-report", str(path)]) == 0
    text = capsys.readouterr().out
    assert f"open {held.id} $20.00 ionq.qpu.aria-1 phase=validation" in text and "STALE" in text
    args = ["cost-report", str(path), "--reconcile", "--api-url", server.url]
    assert main([*args, "--api-key", server.api_key, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["open"] == [] and data["reconciled"][0]["state"] == "settled"
    assert data["reconciled"][0]["job_ids"] == [job_id]
    billed = client.get_cost(job_id)["cost"]["value"]
    assert data["totals"]["billed_usd"] == pytest.approx(budget.spent)
    assert [r["phase"] for r in data["rows"]] == ["default", "validation"]
    assert data["rows"][1]["billed_usd"] == pytest.approx(billed)
    assert main(["cost-report", str(path), "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["target"] for r in rows] == ["ionq.qpu.aria-1"] * 2 and rows[0]["jobs"] == "1"
    assert main(["cost-report", str(tmp_path / "missing.db")]) == 2
    assert "no ledger at" in capsys.readouterr().err
