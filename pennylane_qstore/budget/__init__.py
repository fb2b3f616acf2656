"""Budgets, cost ledgers and phases of quantum training runs."""

from pennylane_qstore.budget.phase import DEFAULT_PHASE, current_phase, default_phase, phase

__all__ = ["DEFAULT_PHASE", "current_phase", "default_phase", "phase"]
