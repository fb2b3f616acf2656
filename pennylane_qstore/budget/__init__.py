"""Budgets, cost ledgers and phases of quantum training runs (stdlib only: cheap to import)."""

from pennylane_qstore.budget.budget import Budget, BudgetExhausted, Reservation, as_budget
from pennylane_qstore.budget.ledger import Ledger
from pennylane_qstore.budget.phase import DEFAULT_PHASE, current_phase, default_phase, phase
from pennylane_qstore.budget.report import CostReport

__all__ = [
    "DEFAULT_PHASE",
    "Budget",
    "BudgetExhausted",
    "CostReport",
    "Ledger",
    "Reservation",
    "as_budget",
    "current_phase",
    "default_phase",
    "phase",
]
