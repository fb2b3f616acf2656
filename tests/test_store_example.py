"""examples/store_digits.py: states of a trained QuantumLinear classify digits by fidelity."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "store_digits.py"


@pytest.mark.slow
def test_nearest_stored_states_classify_better_than_chance(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("store_digits", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    acc = module.main(["--store", str(tmp_path), "--train-size", "30", "--epochs", "1", "--k", "3"])
    out = capsys.readouterr().out
    assert "stored 30 states of 4 qubits" in out
    assert acc > 0.6  # three classes: chance is 1/3
