"""The Pinecone backend's protocol details and the local Pinecone server, over real HTTP."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import requests
from pinecone.errors import UnauthorizedError

from pennylane_qstore.store import LocalPineconeServer, QuantumStateStore, StateError
from pennylane_qstore.store.retrieval import certified, rotated_queries, unseen_bound
from pennylane_qstore.store.states import embed


def random_states(rng, n, num_qubits):
    dim = 2**num_qubits
    x = rng.normal(size=(n, dim)) + 1j * rng.normal(size=(n, dim))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture
def server():
    with LocalPineconeServer(dimension=2 * 2**7) as srv:
        yield srv


@pytest.mark.parametrize("rotations", [2, 4, 8])
def test_rotated_scores_bound_the_fidelity(rotations):
    """max_m r_m . x >= sqrt(F) cos(pi/M) for every state (the certificate's premise)."""
    rng = np.random.default_rng(rotations)
    states = random_states(rng, 2000, 3)
    for q in random_states(rng, 5, 3):
        best = (embed(states) @ rotated_queries(q, rotations).T).max(axis=1)
        sqrt_f = np.abs(states @ np.conj(q))
        assert (best >= sqrt_f * math.cos(math.pi / rotations) - 1e-6).all()
        assert (best <= sqrt_f + 1e-6).all()
    assert unseen_bound([None, None]) == -math.inf
    assert certified([0.9, 0.5], 2, unseen_bound([0.3, 0.2]), None)
    assert not certified([0.9, 0.5], 2, unseen_bound([0.6, 0.2]), None)
    assert certified([0.9], 2, 0.4, min_fidelity=0.5)


def test_api_key_is_checked(server):
    resp = requests.post(f"{server.url}/describe_index_stats", json={}, timeout=10)
    assert resp.status_code == 401 and resp.json()["message"] == "Invalid API Key"
    with pytest.raises(UnauthorizedError):
        QuantumStateStore.pinecone(server.url, api_key="wrong")


def test_missing_api_key_names_the_fix(server, monkeypatch):
    monkeypatch.delenv("PINECONE_API_KEY", raising=False)
    with pytest.raises(ValueError, match="PINECONE_API_KEY"):
        QuantumStateStore.pinecone(server.url)
    monkeypatch.setenv("PINECONE_API_KEY", server.api_key)
    assert QuantumStateStore.pinecone(server.url).count() == 0


def test_dimension_limits(server):
    with pytest.raises(ValueError, match="over Pinecone's limit of 20000"):
        QuantumStateStore.pinecone(server.url, api_key=server.api_key, num_qubits=14)
    with pytest.raises(StateError, match="holds 7-qubit states, not 5"):
        QuantumStateStore.pinecone(server.url, api_key=server.api_key, num_qubits=5)
    with (
        LocalPineconeServer(dimension=24) as odd,
        pytest.raises(ValueError, match=r"needs dimension 2 \* 2\*\*n"),
    ):
        QuantumStateStore.pinecone(odd.url, api_key=odd.api_key)


def test_upserts_are_batched_under_pinecone_limits(server):
    store = QuantumStateStore.pinecone(server.url, api_key=server.api_key)
    states = random_states(np.random.default_rng(0), 1200, 7)
    store.add(states, metadata={"note": "x" * 200})
    upserts = [size for method, path, size in server.requests if path == "/vectors/upsert"]
    assert len(upserts) >= 3 and max(upserts) <= 2_000_000
    assert store.count() == 1200


def test_server_refuses_oversized_and_malformed_requests(server):
    headers = {"Api-Key": server.api_key}
    vec = [0.0] * server.dimension
    big = {"vectors": [{"id": str(i), "values": vec} for i in range(1001)]}
    resp = requests.post(f"{server.url}/vectors/upsert", json=big, headers=headers, timeout=30)
    assert resp.status_code in (400, 413)
    short = {"vectors": [{"id": "a", "values": [1.0]}]}
    resp = requests.post(f"{server.url}/vectors/upsert", json=short, headers=headers, timeout=10)
    assert resp.status_code == 400 and "dimension 1" in resp.json()["message"]
    bad = {"topK": 3, "vector": vec, "filter": {"a": {"$regex": "x"}}}
    resp = requests.post(f"{server.url}/query", json=bad, headers=headers, timeout=10)
    assert resp.status_code == 400 and "unknown operator '$regex'" in resp.json()["message"]
    too_many = {"topK": 1001, "vector": vec, "includeValues": True}
    resp = requests.post(f"{server.url}/query", json=too_many, headers=headers, timeout=10)
    assert resp.status_code == 400 and "1 to 1000" in resp.json()["message"]


def test_uncertified_queries_fall_back_to_an_exact_scan():
    """More matches than four lists of 1,000 can certify: list + fetch, still exact."""
    with LocalPineconeServer(dimension=8) as srv:
        store = QuantumStateStore.pinecone(srv.url, api_key=srv.api_key)
        states = random_states(np.random.default_rng(2), 3000, 2)
        store.add(states, ids=[str(i) for i in range(3000)])
        q = states[17]
        got = store.query(q, top_k=2900)
        fid = np.abs(states @ np.conj(q)) ** 2
        np.testing.assert_allclose([m.fidelity for m in got], np.sort(fid)[::-1][:2900], atol=1e-6)
        assert any(path == "/vectors/list" for _, path, _ in srv.requests)


def test_sdk_sees_the_local_server_as_pinecone(server):
    """The raw SDK, pointed at the server by host, round-trips namespaces and filters."""
    from pinecone import Pinecone

    index = Pinecone(api_key=server.api_key).Index(host=server.url)
    vec = [1.0] + [0.0] * (server.dimension - 1)
    index.upsert(
        vectors=[("a", vec, {"label": 1}), ("b", vec, {"label": 2})],
        namespace="n1",
        show_progress=False,
    )
    res = index.query(
        vector=vec, top_k=5, namespace="n1", filter={"label": {"$gte": 2}}, include_metadata=True
    )
    assert [m.id for m in res.matches] == ["b"] and res.matches[0].metadata == {"label": 2}
    assert index.describe_index_stats().namespaces["n1"].vector_count == 2
    assert [v.id for page in index.list(namespace="n1") for v in page.vectors] == ["a", "b"]
    assert json.loads(json.dumps(index.fetch(ids=["a"], namespace="n1").vectors["a"].metadata)) == {
        "label": 1
    }
