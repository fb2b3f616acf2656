"""qstore.router with IonQ targets: strategies, backend status, budgets and the cost report.

Everything runs over real HTTP against the local IonQ server (``server`` fixture), whose knobs set
a backend's status and queue time. Prices are the server's and the device's published rates, so
the QPU work here is priced but simulated.
"""

from __future__ import annotations

import logging

import numpy as np
import pennylane as qml
import pytest

from pennylane_qstore.budget import Budget
from pennylane_qstore.ionq.client import IonQClient
from pennylane_qstore.ionq.pricing import BRAKET_RATES
from pennylane_qstore.ionq.status import monitor_for
from pennylane_qstore.router import RouterDevice, RoutingError

QPUS = ["ionq.qpu.aria-1", "ionq.qpu.forte-1"]
SIMS = ["ionq.simulator", "default.qubit"]


def _router(server, shots=200, **options):
    target_options = {"ionq": {"api_url": server.url, "api_key": server.api_key}}
    target_options["ionq"].update(options.pop("ionq", {}))
    options.setdefault("targets", QPUS + SIMS)
    return RouterDevice(wires=2, shots=shots, seed=7, target_options=target_options, **options)


def _fresh_status(server) -> None:
    """Forget the cached GET /backends answer (the monitor's TTL is 30 s)."""
    monitor_for(IonQClient(api_key=server.api_key, api_url=server.url)).invalidate()


def _circuit(dev):
    @qml.qnode(dev)
    def f(x):
        qml.RX(x, wires=0)
        qml.CNOT(wires=[0, 1])
        return qml.expval(qml.Z(1))

    return f


def _qpu_jobs(server) -> list[str]:
    return [p["backend"] for p in server.job_payloads() if p["backend"].startswith("qpu")]


@pytest.fixture(autouse=True)
def _status_cache(server):
    _fresh_status(server)
    yield
    _fresh_status(server)


def test_hardware_picks_the_shortest_expected_completion(server):
    server.set_backend("qpu.aria-1", average_queue_time_ms=120_000)
    server.set_backend("qpu.forte-1", average_queue_time_ms=2_000)
    dev = _router(server, strategy="hardware", budget=100.0, ionq={"error_mitigation": False})
    value = _circuit(dev)(0.4)
    route = dev.routing_record.routes[0]
    assert route.target == "ionq.qpu.forte-1"
    assert route.reason.startswith("hardware: ionq.qpu.forte-1 ~")
    assert _qpu_jobs(server) == ["qpu.forte-1"]
    assert abs(value - np.cos(0.4)) < 5 * np.sqrt(1 / 200)

    server.set_backend("qpu.aria-1", average_queue_time_ms=1_000)
    server.set_backend("qpu.forte-1", average_queue_time_ms=600_000)
    _fresh_status(server)
    _circuit(dev)(0.4)
    assert dev.routing_record.routes[0].target == "ionq.qpu.aria-1"


@pytest.mark.parametrize("knob", [{"status": "unavailable"}, {"degraded": True}])
def test_unusable_qpu_is_skipped_logged_and_recorded(server, caplog, knob):
    server.set_backend("qpu.forte-1", **knob)
    dev = _router(server, strategy="hardware", budget=100.0, ionq={"error_mitigation": False})
    with caplog.at_level(logging.WARNING, logger="pennylane_qstore.router"):
        _circuit(dev)(0.1)
    route = dev.routing_record.routes[0]
    assert route.target == "ionq.qpu.aria-1"
    word = "unavailable" if "status" in knob else "degraded"
    assert any("ionq.qpu.forte-1" in s and word in s for s in route.skipped)
    assert any("forte-1" in r.message and word in r.message for r in caplog.records)
    assert "skipped: ionq.qpu.forte-1" in str(dev.routing_record)


def test_backend_turning_unavailable_mid_run_falls_back(server):
    dev = _router(server, strategy="hardware", budget=100.0, ionq={"error_mitigation": False})
    f = _circuit(dev)
    f(0.2)
    first = dev.routing_record.routes[0].target
    assert first in QPUS
    server.set_backend(first.removeprefix("ionq."), status="unavailable")
    server.set_backend("qpu.aria-1" if "forte" in first else "qpu.forte-1", status="unavailable")
    _fresh_status(server)
    f(0.2)
    route = dev.routing_record.routes[0]
    assert route.target == "ionq.simulator"
    assert len(route.skipped) == 2


def test_budget_spent_moves_tapes_to_simulators_and_is_never_exceeded(server, caplog):
    per_circuit = 12.4166 + 200 * (0.000220 * 6 + 0.000975 * 1)  # bound on one batch
    budget = Budget(1.5 * per_circuit)
    dev = _router(server, strategy="hardware", budget=budget, ionq={"error_mitigation": False})
    f = _circuit(dev)
    with caplog.at_level(logging.WARNING, logger="pennylane_qstore.router"):
        targets = []
        for _ in range(3):
            f(0.3)
            targets.append(dev.routing_record.routes[0].target)
    assert targets[0] in QPUS
    assert targets[1:] == ["ionq.simulator", "ionq.simulator"]
    assert len(_qpu_jobs(server)) == 1
    assert 0 < budget.spent <= budget.usd
    assert any("over budget" in r.message for r in caplog.records)


def test_cheapest_orders_qpus_by_price(server):
    dev = _router(
        server,
        strategy="cheapest",
        targets=["ionq.qpu.forte-1", "ionq.qpu.aria-1"],
        budget=100.0,
        ionq={"rates": BRAKET_RATES},
    )
    _circuit(dev)(0.3)
    route = dev.routing_record.routes[0]
    assert route.target == "ionq.qpu.aria-1"  # Braket: 0.03 per shot on Aria, 0.08 on Forte
    assert route.reason.startswith("cheapest: ionq.qpu.aria-1")
    free = _router(server, strategy="cheapest")
    _circuit(free)(0.3)
    assert free.routing_record.routes[0].target == "ionq.simulator"


def test_analytic_tapes_stay_on_simulators(server):
    dev = _router(server, shots=None, strategy="hardware", budget=100.0)
    value = _circuit(dev)(0.3)
    assert dev.routing_record.routes[0].target == "default.qubit"
    assert value == pytest.approx(np.cos(0.3), abs=1e-10)
    assert server.job_count == 0


def test_fastest_never_chooses_ionq_by_itself(server):
    dev = RouterDevice(
        wires=2, shots=100, target_options={"ionq": {"api_url": server.url, "api_key": "k"}}
    )
    assert not any(name.startswith("ionq") for name in dev.usable_targets())
    assert not dev.has_remote_targets
    _circuit(dev)(0.3)
    assert server.job_count == 0


def test_failing_qpu_job_falls_back_and_the_budget_holds(server):
    server.inject("fail_job", 1)
    budget = Budget(100.0)
    dev = _router(server, strategy="hardware", budget=budget, ionq={"error_mitigation": False})
    _circuit(dev)(0.3)
    route = dev.routing_record.routes[0]
    assert route.failures and route.failures[0].target in QPUS
    assert route.target != route.failures[0].target
    assert budget.reserved == 0
    assert budget.spent <= budget.usd


def test_cost_report_by_phase_and_target(server):
    dev = _router(server, strategy="hardware", budget=100.0, ionq={"error_mitigation": False})
    f = _circuit(dev)
    f(0.1)
    with dev.phase("validation"):
        f(0.2)
    with dev.phase("analytic"):
        qml.set_shots(f, None)(0.3)
    rows = {(r["phase"], r["target"]): r for r in dev.cost_report().rows}
    assert {p for p, _ in rows} == {"default", "validation", "analytic"}
    assert rows[("analytic", "default.qubit")]["billed_usd"] == 0
    paid = [r for (p, t), r in rows.items() if t in QPUS]
    assert len(paid) == 2
    assert all(r["billed_usd"] > 0 and r["circuits"] == 1 and r["shots"] == 200 for r in paid)
    assert sum(r["billed_usd"] for r in paid) == pytest.approx(dev.budget.spent)
    table = str(dev.cost_report())
    assert "validation" in table and "ionq.qpu" in table


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"strategy": "quickest"}, ValueError, "strategy= takes one of"),
        ({"budget": "20"}, TypeError, "budget"),
        ({"target_options": {"ionx": {}}}, ValueError, "names no registered target"),
        ({"target_options": {"ionq": 3}}, TypeError, "target_options= takes"),
    ],
)
def test_bad_options_are_refused_at_construction(options, error, match):
    with pytest.raises(error, match=match):
        RouterDevice(wires=2, **options)


def test_unknown_ionq_option_fails_at_construction(server):
    with pytest.raises(TypeError, match="unknown option"):
        _router(server, ionq={"colour": "blue"})


def test_no_target_left_names_why(server):
    server.set_backend("qpu.aria-1", status="unavailable")
    dev = _router(server, strategy="hardware", targets=["ionq.qpu.aria-1"], budget=100.0)
    with pytest.raises(RoutingError, match="unavailable"):
        _circuit(dev)(0.1)


def test_without_budget_the_router_reports_its_ionq_jobs(server):
    dev = _router(server, targets=["ionq.simulator"])
    _circuit(dev)(0.3)
    (row,) = dev.cost_report().rows
    assert (row["target"], row["jobs"], row["circuits"], row["billed_usd"]) == (
        "ionq.simulator",
        1,
        1,
        0,
    )
    assert dev.budget is None


def _skip_warning(record: logging.LogRecord, text: str) -> bool:
    return record.name == "pennylane_qstore.router.execution" and text in record.getMessage()


def test_a_lasting_skip_warns_once_then_again_when_it_changes(server, caplog):
    server.set_backend("qpu.aria-1", status="unavailable")
    dev = _router(server, strategy="hardware", targets=["ionq.qpu.aria-1", "ionq.simulator"])
    f = _circuit(dev)
    with caplog.at_level(logging.WARNING, logger="pennylane_qstore.router.execution"):
        f(0.1)
        f(0.2)
        assert len([r for r in caplog.records if _skip_warning(r, "aria-1")]) == 1
        server.set_backend("qpu.aria-1", status="available", degraded=True)
        _fresh_status(server)
        f(0.3)
    assert len([r for r in caplog.records if _skip_warning(r, "aria-1")]) == 2
    assert "degraded" in caplog.records[-1].message


def test_a_copied_router_or_model_draws_on_the_same_budget():
    import copy

    dev = RouterDevice(wires=2, budget=5.0)
    clone = copy.deepcopy(dev)
    assert clone.ledger is dev.ledger
    dev.budget.reserve(4.0, target="ionq.qpu.aria-1", phase="default", circuits=1, shots=1)
    assert clone.budget.remaining == pytest.approx(1.0)


def test_named_billed_targets_without_budget_warn_at_construction(server, caplog):
    with caplog.at_level(logging.WARNING, logger="pennylane_qstore.router"):
        _router(server, targets=["ionq.qpu.aria-1", "default.qubit"])
    assert "spending on QPUs is not capped" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="pennylane_qstore.router"):
        _router(server, targets=["ionq.qpu.aria-1", "default.qubit"], budget=1.0)
        _router(server, targets=["ionq.simulator"])
    assert caplog.records == []


def test_a_job_queued_on_a_backend_that_goes_away_is_cancelled_and_falls_back(server):
    import threading

    server.set_backend("qpu.aria-1", queue_time=30.0)
    budget = Budget(100.0)
    dev = _router(
        server,
        strategy="hardware",
        targets=["ionq.qpu.aria-1", "ionq.simulator"],
        budget=budget,
        ionq={"error_mitigation": False, "poll_interval": 0.05},
    )

    def go_away():
        server.set_backend("qpu.aria-1", status="unavailable")
        _fresh_status(server)

    timer = threading.Timer(0.5, go_away)
    timer.start()
    try:
        value = _circuit(dev)(0.3)
    finally:
        timer.cancel()
    route = dev.routing_record.routes[0]
    assert route.target == "ionq.simulator"
    assert "IonQBackendUnavailable" in route.failures[0].error
    assert abs(value - np.cos(0.3)) < 5 / np.sqrt(200)
    assert budget.spent == 0 and budget.reserved == 0  # cancelled in the queue: not billed
