"""Budget, Ledger, Reservation and CostReport (pennylane_qstore.budget), without a server."""

from __future__ import annotations

import contextlib
import copy
import logging
import pickle
import threading

import pytest

import pennylane_qstore
from pennylane_qstore.budget import (
    Budget,
    BudgetExhausted,
    CostReport,
    Ledger,
    as_budget,
    current_phase,
    phase,
)


def reserve(budget: Budget, usd: float, **kwargs: object):
    kwargs.setdefault("target", "ionq.qpu.aria-1")
    kwargs.setdefault("phase", current_phase())
    kwargs.setdefault("circuits", 2)
    kwargs.setdefault("shots", 100)
    return budget.reserve(usd, **kwargs)


def test_reserve_settle_release_move_the_totals() -> None:
    budget = Budget(50.0)
    first = reserve(budget, 20.0)
    second = reserve(budget, 15.0)
    assert (budget.spent, budget.reserved, budget.remaining) == (0.0, 35.0, 15.0)
    first.settle(12.5, jobs=1, queue_s=1.0, exec_s=2.0)
    assert (budget.spent, budget.reserved, budget.remaining) == (12.5, 15.0, 22.5)
    second.release("no job was created")
    assert (budget.spent, budget.reserved, budget.remaining) == (12.5, 0.0, 37.5)
    assert first.state == "settled" and second.state == "released"
    assert budget.open_reservations() == []


def test_closing_twice_counts_once(caplog: pytest.LogCaptureFixture) -> None:
    """A reservation settled by reconcile and then by its owner (or the reverse) is billed once."""
    budget = Budget(50.0)
    held = reserve(budget, 20.0)
    twin = budget.open_reservations()[0]
    twin.settle(12.0, jobs=1)
    with caplog.at_level(logging.INFO, logger="pennylane_qstore.budget"):
        held.settle(12.0, jobs=1)
        held.release("late")
    assert budget.spent == 12.0
    assert budget.report().totals["jobs"] == 1
    assert "already closed" in caplog.text


def test_exhausted_message_names_spend_budget_and_fix() -> None:
    budget = Budget(30.0)
    reserve(budget, 10.0).settle(9.0, jobs=1)
    reserve(budget, 12.0)
    with pytest.raises(BudgetExhausted) as info:
        reserve(budget, 10.0)
    error = info.value
    assert (error.requested, error.spent, error.reserved, error.usd) == (10.0, 9.0, 12.0, 30.0)
    message = str(error)
    for part in ("$10.00", "$9.00 is spent", "$12.00 reserved", "$30.00 budget", "$9.00 left"):
        assert part in message
    assert "Raise the budget" in message and "--reconcile" in message
    assert budget.reserved == 12.0  # the refused reservation left nothing behind
    assert isinstance(error, RuntimeError)


def test_amounts_are_exact_to_the_micro_dollar() -> None:
    """0.1 + 0.1 + 0.1 > 0.3 in floats; the ledger's integer micro-dollars fit it exactly."""
    budget = Budget(0.3)
    for _ in range(3):
        reserve(budget, 0.1)
    assert budget.remaining == 0.0 and budget.reserved == 0.3
    assert not budget.can_afford(0.000001)
    with pytest.raises(BudgetExhausted):
        reserve(budget, 0.000001)
    assert Budget(0.0).can_afford(0.0)


def test_billed_above_the_reservation_warns(caplog: pytest.LogCaptureFixture) -> None:
    budget = Budget(50.0)
    with caplog.at_level(logging.WARNING, logger="pennylane_qstore.budget"):
        reserve(budget, 10.0).settle(10.0, jobs=1)
        assert caplog.records == []
        reserve(budget, 10.0).settle(10.5, jobs=1)
    assert "billed $10.50, more than the $10.00 reserved" in caplog.text


def test_attach_persists_ids_at_once(tmp_path) -> None:
    path = tmp_path / "ledger.db"
    held = reserve(Budget(100.0, ledger=path), 5.0)
    held.attach(client_ids=["c1", "c2"])
    held.attach(job_ids=["j1"], client_ids=["c2"])
    [seen] = Budget(100.0, ledger=path).open_reservations()  # a second opener: another process
    assert seen.client_ids == ("c1", "c2") and seen.job_ids == ("j1",)
    assert seen.target == "ionq.qpu.aria-1" and seen.usd == 5.0


def test_open_reservation_of_this_process_is_stale_only_once_left_open() -> None:
    budget = Budget(10.0)
    held = reserve(budget, 1.0)
    assert not budget.open_reservations()[0].stale  # in flight
    held.leave_open("outcome unknown")
    assert budget.open_reservations()[0].stale
    assert budget.reserved == 1.0


def test_report_groups_phase_and_target_with_totals() -> None:
    budget = Budget(100.0)
    ledger = budget.ledger
    ledger.record(
        target="lightning.qubit", phase="training", jobs=0, circuits=40, shots=None, exec_s=0.5
    )
    ledger.record(
        target="lightning.qubit", phase="training", jobs=0, circuits=10, shots=None, exec_s=0.25
    )
    with phase("validation"):
        reserve(budget, 25.0, circuits=4, shots=400, device="dev-a").settle(
            20.0, jobs=1, queue_s=3.0, exec_s=1.0
        )
    ledger.record(target="ionq.simulator", phase="validation", jobs=1, circuits=4, shots=400)
    report = budget.report()
    assert isinstance(report, CostReport)
    assert [(r["phase"], r["target"]) for r in report.rows] == [
        ("training", "lightning.qubit"),
        ("validation", "ionq.qpu.aria-1"),
        ("validation", "ionq.simulator"),
    ]
    training, qpu, _ = report.rows
    assert training["circuits"] == 50 and training["shots"] is None
    assert training["exec_s"] == pytest.approx(0.75)
    assert qpu == {
        "phase": "validation",
        "target": "ionq.qpu.aria-1",
        "jobs": 1,
        "circuits": 4,
        "shots": 400,
        "estimated_usd": 25.0,
        "billed_usd": 20.0,
        "queue_s": 3.0,
        "exec_s": 1.0,
    }
    assert report.totals["billed_usd"] == 20.0 and report.totals["shots"] == 800
    assert report.to_dict()["rows"] == report.rows
    assert [r["target"] for r in budget.report(device="dev-a").rows] == ["ionq.qpu.aria-1"]
    text = str(report).splitlines()
    assert text[0].split()[:4] == ["phase", "target", "jobs", "circuits"]
    assert text[-1].split()[0] == "total" and "20.00" in text[-1]
    assert len({len(line) for line in text[2:-2]}) == 1  # aligned columns


def test_report_dataframe() -> None:
    report = Ledger().report()
    pd = pytest.importorskip("pandas")
    assert isinstance(report.to_dataframe(), pd.DataFrame)
    ledger = Ledger()
    ledger.record(target="t", phase="p", jobs=1, circuits=2, shots=3, billed_usd=1.5)
    frame = ledger.report().to_dataframe()
    assert list(frame.columns)[:3] == ["phase", "target", "jobs"]
    assert frame["billed_usd"].tolist() == [1.5]


def test_open_reservations_show_in_the_report() -> None:
    budget = Budget(10.0)
    reserve(budget, 2.5)
    report = budget.report()
    assert (report.open_reservations, report.reserved_usd) == (1, 2.5)
    assert "open reservations: 1 ($2.50 reserved)" in str(report)


def test_threads_never_overspend_an_in_memory_budget() -> None:
    budget = Budget(10.0)
    granted: list[object] = []

    def worker() -> None:
        for _ in range(20):
            with contextlib.suppress(BudgetExhausted):
                granted.append(reserve(budget, 0.75))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(granted) == 13 and budget.reserved == 9.75


def test_as_budget_checks_its_input(tmp_path) -> None:
    assert as_budget(None) is None
    shared = Budget(5, ledger=tmp_path / "l.db")
    assert as_budget(shared) is shared
    private = as_budget(20)
    assert isinstance(private, Budget) and private.usd == 20.0 and private.ledger.path is None
    with pytest.raises(TypeError, match=r"budget= takes a number of US dollars.*'20'"):
        as_budget("20")
    with pytest.raises(TypeError, match="budget="):
        as_budget(True)
    with pytest.raises(ValueError, match="at least 0"):
        as_budget(-1)
    with pytest.raises(ValueError, match="finite"):
        as_budget(float("nan"))
    with pytest.raises(TypeError, match="ledger="):
        Budget(5, ledger=3)


def test_a_file_that_is_not_a_ledger_is_refused(tmp_path) -> None:
    bad = tmp_path / "notes.db"
    bad.write_text("not sqlite at all, just some text " * 10)
    with pytest.raises(ValueError, match="is not a qstore cost ledger"):
        Ledger(bad)


def test_budgets_copy_and_pickle(tmp_path) -> None:
    private = Budget(10.0)
    reserve(private, 4.0).settle(3.0, jobs=1)
    for clone in (copy.deepcopy(private), pickle.loads(pickle.dumps(private))):
        assert (clone.usd, clone.spent) == (10.0, 3.0)
    shared = Budget(10.0, ledger=tmp_path / "l.db")
    reserve(shared, 4.0).settle(3.0, jobs=1)
    clone = pickle.loads(pickle.dumps(shared))
    reserve(clone, 1.0).settle(1.0, jobs=1)
    assert shared.spent == 4.0  # one file, one account


def test_top_level_exports() -> None:
    assert pennylane_qstore.Budget is Budget
    assert pennylane_qstore.BudgetExhausted is BudgetExhausted


def test_a_different_budget_on_one_ledger_is_refused(tmp_path) -> None:
    path = tmp_path / "run.sqlite"
    reserve(Budget(20.0, ledger=path), 1.0)
    reserve(Budget(20.0, ledger=path), 1.0)  # the same budget, another device or process
    with pytest.raises(ValueError, match=r"holds a \$20.00 budget, not \$40.00.*Budget\(20.0"):
        Budget(40.0, ledger=path)
    shared = Budget(5.0).ledger
    with pytest.raises(ValueError, match="in memory"):
        Budget(6.0, ledger=shared)
