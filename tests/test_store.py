"""Behaviour of QuantumStateStore, the same suite on the embedded backend and on Pinecone.

The Pinecone backend runs through the official SDK against the package's local Pinecone server
(real HTTP on 127.0.0.1). Exactness is checked against brute-force fidelity in float64.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pennylane as qml
import pytest

from pennylane_qstore.store import (
    FilterError,
    LocalPineconeServer,
    MetadataError,
    QuantumStateStore,
    StateError,
    UnknownNamespaceError,
)

BACKENDS = ("embedded", "pinecone")


def random_states(rng: np.random.Generator, n: int, num_qubits: int) -> np.ndarray:
    dim = 2**num_qubits
    x = rng.normal(size=(n, dim)) + 1j * rng.normal(size=(n, dim))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def brute_top(states: np.ndarray, query: np.ndarray, k: int) -> tuple[list[int], np.ndarray]:
    fid = np.abs(states @ np.conj(query)) ** 2
    order = np.argsort(-fid, kind="stable")[:k]
    return [int(i) for i in order], fid[order]


@pytest.fixture(params=BACKENDS)
def make_store(request, tmp_path):
    """``make_store(num_qubits)``: a fresh store on the parametrised backend."""
    servers = []

    def make(num_qubits: int) -> QuantumStateStore:
        if request.param == "embedded":
            return QuantumStateStore(tmp_path / "db")
        server = LocalPineconeServer(dimension=2 * 2**num_qubits).start()
        servers.append(server)
        return QuantumStateStore.pinecone(server.url, api_key=server.api_key)

    make.backend = request.param
    make.servers = servers
    make.path = tmp_path / "db"
    yield make
    for server in servers:
        server.stop()


def reopen_code(make_store) -> str:
    if make_store.backend == "embedded":
        return f"QuantumStateStore({str(make_store.path)!r})"
    srv = make_store.servers[-1]
    return f"QuantumStateStore.pinecone({srv.url!r}, api_key={srv.api_key!r})"


def test_add_query_fetch_delete_roundtrip(make_store):
    rng = np.random.default_rng(0)
    store = make_store(3)
    states = random_states(rng, 40, 3)
    ids = store.add(states, ids=[f"s{i}" for i in range(40)], metadata={"model": "m1", "epoch": 2})
    assert ids[0] == "s0" and store.count() == 40 and store.num_qubits == 3
    auto = store.add(states[:2], namespace="other")
    assert len(set(auto)) == 2 and store.namespaces() == ["default", "other"]
    got = store.fetch(["s5", "missing"])
    assert list(got) == ["s5"]
    np.testing.assert_allclose(got["s5"].state, states[5], atol=1e-6)
    assert got["s5"].metadata == {"model": "m1", "epoch": 2}
    store.add(states[6], ids=["s5"], metadata={"model": "m2", "epoch": 3})  # replace
    assert store.count("default") == 40
    best = store.query(states[6], top_k=2)
    assert {m.id for m in best} == {"s5", "s6"}
    assert all(abs(m.fidelity - 1) < 1e-6 for m in best)
    store.delete(ids=["s5", "s6"])
    assert store.count("default") == 38
    store.delete(filter={"epoch": 2}, namespace="default")
    assert store.count("default") == 0 and store.namespaces() == ["other"]
    assert store.stats() == {
        "backend": make_store.backend,
        "num_qubits": 3,
        "total": 2,
        "namespaces": {"other": 2},
    }


@pytest.mark.parametrize("num_qubits", [4, 6])
def test_recall_is_one_on_random_states(make_store, num_qubits):
    rng = np.random.default_rng(num_qubits)
    store = make_store(num_qubits)
    states = random_states(rng, 300, num_qubits)
    store.add(states, ids=[str(i) for i in range(300)])
    for trial in range(5):
        query = random_states(rng, 1, num_qubits)[0] if trial % 2 else states[trial * 7]
        want, fid = brute_top(states, query, 10)
        got = store.query(query, top_k=10)
        assert [int(m.id) for m in got] == want
        np.testing.assert_allclose([m.fidelity for m in got], fid, atol=1e-6)


def test_recall_on_phase_families(make_store):
    """States equal up to global phase, differing only by relative phases, near-duplicates."""
    rng = np.random.default_rng(7)
    store = make_store(4)
    base = random_states(rng, 1, 4)[0]
    family = [base * np.exp(1j * t) for t in np.linspace(0, 2 * np.pi, 8, endpoint=False)]
    mags = np.abs(base)
    family += [mags * np.exp(1j * rng.uniform(0, 2 * np.pi, 16)) for _ in range(20)]
    family += [mags * np.exp(1j * 0.01 * k * np.arange(16)) for k in range(1, 12)]
    noise = random_states(rng, 10, 4)
    family += [
        (base + eps * n) / np.linalg.norm(base + eps * n)
        for eps, n in zip([1e-3, 1e-2, 0.05, 0.1, 0.2] * 2, noise, strict=True)
    ]
    family += list(random_states(rng, 150, 4))
    states = np.array(family)
    store.add(states, ids=[str(i) for i in range(len(states))])
    queries = [base * np.exp(0.9j), mags, mags * np.exp(1j * np.pi * np.arange(16) / 7)]
    for query in queries:
        want, fid = brute_top(states, query, 12)
        got = store.query(query, top_k=12)
        np.testing.assert_allclose([m.fidelity for m in got], fid, atol=1e-6)
        # equal fidelities (the global-phase copies) may come in any order, distinct ones may not
        assert sorted(int(m.id) for m in got) == sorted(want) or np.ptp(fid) < 1e-6
    top = store.query(base * np.exp(2.2j), top_k=8)
    assert sorted(int(m.id) for m in top) == list(range(8))
    assert all(abs(m.fidelity - 1) < 1e-6 for m in top)


def test_filters_and_min_fidelity(make_store):
    rng = np.random.default_rng(3)
    store = make_store(3)
    states = random_states(rng, 60, 3)
    meta = [
        {"label": i % 4, "model": "a" if i < 30 else "b", "tags": ["x"] if i % 2 else []}
        for i in range(60)
    ]
    store.add(states, ids=[str(i) for i in range(60)], metadata=meta)
    query = states[10]
    flt = {"$and": [{"label": {"$in": [1, 2]}}, {"model": {"$ne": "b"}}]}
    rows = [i for i in range(60) if meta[i]["label"] in (1, 2) and meta[i]["model"] != "b"]
    want, fid = brute_top(states[rows], query, 5)
    got = store.query(query, top_k=5, filter=flt)
    assert [int(m.id) for m in got] == [rows[i] for i in want]
    np.testing.assert_allclose([m.fidelity for m in got], fid, atol=1e-6)
    assert store.query(query, top_k=5, filter={"tags": "x"})[0].metadata["tags"] == ["x"]
    assert store.query(query, top_k=5, filter={"label": {"$gt": 10}}) == []
    strong = store.query(query, top_k=50, min_fidelity=0.2)
    fids = np.abs(states @ np.conj(query)) ** 2
    assert len(strong) == int((fids >= 0.2).sum()) and strong[0].id == "10"


def test_circuits_are_simulated_on_the_router(make_store):
    store = make_store(2)
    dev = qml.device("default.qubit", wires=2)

    @qml.qnode(dev)
    def prep(theta):
        qml.RY(theta, wires=0)
        qml.CNOT(wires=[0, 1])
        return qml.state()

    ids = store.add(prep, params=[0.1, 0.7, 2.0], ids=["a", "b", "c"], metadata={"epoch": 1})
    assert ids == ["a", "b", "c"]
    rec = store.fetch(["b"])["b"]
    np.testing.assert_allclose(rec.state, prep(0.7), atol=1e-6)
    assert rec.metadata["epoch"] == 1 and rec.metadata["qnode"] == "prep"
    assert "CNOT" in rec.metadata["circuit"]
    tape = qml.tape.QuantumScript([qml.RY(0.7, 0), qml.CNOT([0, 1])], [qml.state()])
    assert store.query(tape, top_k=1)[0].id == "b"
    assert store.query(prep, params=(2.0,), top_k=1)[0].id == "c"

    @qml.qnode(qml.device("default.qubit", wires=3))
    def idle_wire():
        qml.Hadamard(0)
        return qml.state()

    with pytest.raises(StateError, match=r"8 amplitudes \(3 qubits\)"):
        store.add(idle_wire)  # the QNode's device wires, not only the wires its gates touch
    bad = qml.tape.QuantumScript([qml.RY(0.7, 0)], [qml.expval(qml.Z(0))])
    with pytest.raises(StateError, match=r"qml.state\(\)"):
        store.add(bad)


def test_bad_input_is_refused_with_the_fix(make_store):
    rng = np.random.default_rng(1)
    store = make_store(3)
    store.add(random_states(rng, 5, 3))
    with pytest.raises(StateError, match=r"4 amplitudes .* 8-amplitude"):
        store.add(random_states(rng, 1, 2))
    with pytest.raises(StateError, match="normalize=True"):
        store.add(np.ones(8))
    assert len(store.add(np.ones(8), normalize=True)) == 1
    nan = random_states(rng, 2, 3)
    nan[1, 3] = np.nan
    with pytest.raises(StateError, match="state 1 contains NaN"):
        store.add(nan)
    with pytest.raises(StateError, match="power of two"):
        store.add(np.ones(6) / np.sqrt(6))
    with pytest.raises(
        UnknownNamespaceError, match="'nope' holds no states; existing: \\['default'\\]"
    ):
        store.query(random_states(rng, 1, 3)[0], namespace="nope")
    with pytest.raises(FilterError, match=r"unknown operator '\$like'"):
        store.query(random_states(rng, 1, 3)[0], filter={"label": {"$like": "a"}})
    with pytest.raises(FilterError, match=r"\$in takes a list"):
        store.query(random_states(rng, 1, 3)[0], filter={"label": {"$in": 3}})
    with pytest.raises(MetadataError, match=r"json\.dumps nested data"):
        store.add(random_states(rng, 1, 3), metadata={"params": {"a": 1}})
    with pytest.raises(ValueError, match="one id per state"):
        store.add(random_states(rng, 2, 3), ids=["x"])
    with pytest.raises(ValueError, match="exactly one of"):
        store.delete()


def test_persistence_seen_by_another_process(make_store):
    rng = np.random.default_rng(5)
    store = make_store(3)
    states = random_states(rng, 20, 3)
    store.add(states, ids=[f"p{i}" for i in range(20)], metadata={"epoch": 4})
    code = textwrap.dedent(f"""
        import numpy as np
        from pennylane_qstore.store import QuantumStateStore
        s = {reopen_code(make_store)}
        q = np.array({states[7].tolist()!r})
        m = s.query(q, top_k=1)[0]
        print(s.count(), m.id, round(m.fidelity, 6), m.metadata["epoch"])
        s.add(q, ids=["child"], metadata={{"by": "child"}})
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["20", "p7", "1.0", "4"]
    assert store.count() == 21 and store.fetch(["child"])["child"].metadata == {"by": "child"}


def test_concurrent_writers_lose_nothing(make_store):
    store = make_store(3)
    store.add(random_states(np.random.default_rng(0), 1, 3), ids=["seed"])
    code = textwrap.dedent(f"""
        import sys
        import numpy as np
        from pennylane_qstore.store import QuantumStateStore
        s = {reopen_code(make_store)}
        rng = np.random.default_rng(int(sys.argv[1]))
        for batch in range(10):
            x = rng.normal(size=(15, 8)) + 1j * rng.normal(size=(15, 8))
            x /= np.linalg.norm(x, axis=1, keepdims=True)
            s.add(x, ids=[f"w{{sys.argv[1]}}-{{batch}}-{{i}}" for i in range(15)])
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code, str(w)]) for w in (1, 2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    assert store.count() == 1 + 2 * 10 * 15
    assert len(store.fetch([f"w2-9-{i}" for i in range(15)])) == 15


def test_one_store_shared_by_threads(make_store):
    from concurrent.futures import ThreadPoolExecutor

    store = make_store(3)
    batches = [random_states(np.random.default_rng(s), 10, 3) for s in range(12)]

    def work(i: int) -> int:
        store.add(batches[i], ids=[f"t{i}-{j}" for j in range(10)])
        return len(store.query(batches[i][0], top_k=3))

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(work, range(12))) == [3] * 12
    assert store.count() == 120


@pytest.mark.parametrize("num_qubits", [2, 8, 11])
def test_float32_scan_error_bound_holds(num_qubits):
    """The embedded scan's candidate margin bounds the real float32 error (here far inside it)."""
    from pennylane_qstore.store.embedded import scan_error

    rng = np.random.default_rng(num_qubits)
    states = random_states(rng, 64, num_qubits)
    near = states[0] + 1e-3 * random_states(rng, 1, num_qubits)[0]
    for q in [states[0], near / np.linalg.norm(near), random_states(rng, 1, num_qubits)[0]]:
        ov32 = states.astype(np.complex64) @ np.conj(q).astype(np.complex64)
        f32 = (ov32.real**2 + ov32.imag**2).astype(np.float64)  # as the scan computes it
        exact = np.abs(states.astype(np.complex64).astype(np.complex128) @ np.conj(q)) ** 2
        assert np.max(np.abs(f32 - exact)) <= scan_error(2 * 2**num_qubits)
