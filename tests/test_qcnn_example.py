"""examples/qcnn_cluster_states.py: a QCNN learns cluster-state excitations from input circuits."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("torch")

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "qcnn_cluster_states.py"


@pytest.mark.slow
def test_qcnn_classifies_excitations_of_unseen_circuits(capsys):
    spec = importlib.util.spec_from_file_location("qcnn_cluster_states", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.main(["--seed", "0"])  # 8 qubits, 96 training and 64 test circuits
    out = capsys.readouterr().out
    assert "8 qubits, 96 training circuits, 12 epochs" in out
    assert result["test_accuracy"] >= 0.9
    assert result["train_accuracy"] >= 0.9


def test_qcnn_refuses_a_register_it_cannot_pool():
    spec = importlib.util.spec_from_file_location("qcnn_cluster_states", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(ValueError, match="power of two"):
        module.make_layer(6, "default.qubit", 0)
