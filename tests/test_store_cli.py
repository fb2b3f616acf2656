"""``qstore store stats|query`` and ``qstore pinecone-server``."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from pennylane_qstore.cli import main
from pennylane_qstore.store import QuantumStateStore


def _states(n: int, dim: int = 4) -> np.ndarray:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, dim)) + 1j * rng.normal(size=(n, dim))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_stats_and_query_on_an_embedded_store(tmp_path, capsys):
    states = _states(30)
    store = QuantumStateStore(tmp_path)
    store.add(
        states, ids=[f"s{i}" for i in range(30)], metadata=[{"label": i % 2} for i in range(30)]
    )
    assert main(["store", "stats", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["namespaces"] == {"default": 30}
    assert main(["store", "query", str(tmp_path), "--id", "s4", "--top-k", "3", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    fid = np.abs(states @ np.conj(states[4])) ** 2
    assert [m["id"] for m in got] == [f"s{i}" for i in np.argsort(-fid)[:3]]
    np.save(tmp_path / "q.npy", states[7] * 2)  # normalised by the CLI
    code = main(
        [
            "store",
            "query",
            str(tmp_path),
            "--state",
            str(tmp_path / "q.npy"),
            "--filter",
            '{"label": 1}',
        ]
    )
    out = capsys.readouterr().out.splitlines()
    assert code == 0 and out[0].startswith("1.000000  s7") and len(out) == 10


def test_errors_are_explained(tmp_path, capsys):
    QuantumStateStore(tmp_path).add(_states(3), ids=["a", "b", "c"])
    assert main(["store", "query", str(tmp_path), "--id", "a", "--namespace", "zz"]) == 2
    assert "'zz' holds no states; existing: ['default']" in capsys.readouterr().err
    assert main(["store", "query", str(tmp_path), "--id", "a", "--filter", "{label: 1}"]) == 2
    assert "--filter is not JSON" in capsys.readouterr().err
    assert main(["store", "query", str(tmp_path), "--id", "nope"]) == 2
    assert "no state with id 'nope'" in capsys.readouterr().err


def test_pinecone_server_command_serves_the_sdk(capsys):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pennylane_qstore.cli",
            "pinecone-server",
            "--dimension",
            "8",
            "--port",
            "0",
            "--api-key",
            "k1",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = proc.stdout.readline().split(" on ")[1].split()[0]
        store = QuantumStateStore.pinecone(url, api_key="k1")
        store.add(_states(5), ids=list("abcde"))
        assert store.query(_states(5)[2], top_k=1)[0].id == "c"
        assert main(["store", "stats", url, "--api-key", "k1"]) == 0
        assert "pinecone store, 2 qubits, 5 states" in capsys.readouterr().out
    finally:
        proc.terminate()
        proc.wait(timeout=10)
