"""Quantum state store benchmark: insert rate, top-10 latency, recall@10, disk and peak RSS.

Engines (each measured in its own process, so peak RSS is its own):

- ``qstore-embedded``: ``QuantumStateStore(path)``, SQLite + exact float32 scan + float64 re-rank.
- ``numpy-bruteforce``: the baseline, ``|X @ conj(q)|**2`` on an in-memory complex64 array.
- ``usearch-exact``: usearch's SIMD flat search, four phase-rotated queries, certified and
  re-ranked exactly (the algorithm of the Pinecone backend, on an exact index).
- ``usearch-hnsw``: usearch's HNSW graph, same rotated queries and re-rank; approximate, so its
  recall is measured, not proven.

sqlite-vec is listed but cannot run here when Python's ``sqlite3`` is built without extension
loading. Run::

    python benchmarks/store.py                         # 10^4 states of 8 and 10 qubits
    python benchmarks/store.py --sizes 10000 100000    # adds 10^5 (minutes, ~2 GB RAM)
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ENGINES = ("qstore-embedded", "numpy-bruteforce", "usearch-exact", "usearch-hnsw")
INDEXED = ("qstore-embedded", "usearch-hnsw")
"""Engines with a build step (the others scan an in-memory array)."""
TOP_K = 10
N_QUERIES = 30
CHUNK = 2000


def make_states(n: int, num_qubits: int, seed: int) -> np.ndarray:
    """``n`` Haar-random states (complex64), generated in chunks."""
    rng = np.random.default_rng(seed)
    dim = 2**num_qubits
    out = np.empty((n, dim), np.complex64)
    for start in range(0, n, CHUNK):
        m = min(CHUNK, n - start)
        x = rng.normal(size=(m, dim)) + 1j * rng.normal(size=(m, dim))
        out[start : start + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def make_queries(states: np.ndarray, seed: int) -> np.ndarray:
    """Half fresh random states, half stored states with a global phase and a small kick."""
    rng = np.random.default_rng(seed + 1)
    fresh = make_states(N_QUERIES // 2, int(math.log2(states.shape[1])), seed + 2)
    picks = states[rng.choice(len(states), N_QUERIES - len(fresh), replace=False)].astype(complex)
    kick = rng.normal(size=picks.shape) + 1j * rng.normal(size=picks.shape)
    near = np.exp(1j * rng.uniform(0, 2 * np.pi, (len(picks), 1))) * picks + 0.05 * kick / 16
    near /= np.linalg.norm(near, axis=1, keepdims=True)
    return np.concatenate([fresh.astype(complex), near])


def truth(states: np.ndarray, queries: np.ndarray) -> list[set[int]]:
    """Exact top-10 ids by float64 fidelity against the stored (complex64) states."""
    fid = np.empty((len(queries), len(states)))
    for start in range(0, len(states), CHUNK):  # chunked: keeps the RSS of the set-up small
        block = states[start : start + CHUNK].astype(np.complex128)
        fid[:, start : start + CHUNK] = np.abs(np.conj(queries) @ block.T) ** 2
    return [set(np.argsort(-row)[:TOP_K].tolist()) for row in fid]


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def run_qstore(states: np.ndarray, queries: np.ndarray, workdir: Path) -> dict:
    from pennylane_qstore.store import QuantumStateStore

    store = QuantumStateStore(workdir / "store")
    t0 = time.perf_counter()
    for start in range(0, len(states), CHUNK):
        chunk = states[start : start + CHUNK]
        store.add(chunk, ids=[str(i) for i in range(start, start + len(chunk))], normalize=True)
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    store.query(queries[0], top_k=TOP_K)
    load = time.perf_counter() - t0
    out = _timed(lambda q: [int(m.id) for m in store.query(q, top_k=TOP_K)], queries)
    store.close()
    return out | {"build_s": build, "load_s": load, "disk_mb": dir_bytes(workdir / "store") / 1e6}


def run_numpy(states: np.ndarray, queries: np.ndarray, workdir: Path) -> dict:
    t0 = time.perf_counter()
    data = np.ascontiguousarray(states)
    build = time.perf_counter() - t0

    def query(q: np.ndarray) -> list[int]:
        fid = np.abs(data @ np.conj(q).astype(np.complex64)) ** 2
        top = np.argpartition(-fid, TOP_K)[:TOP_K]
        return top[np.argsort(-fid[top])].tolist()

    return _timed(query, queries) | {"build_s": build, "load_s": 0.0, "disk_mb": data.nbytes / 1e6}


def run_usearch(states: np.ndarray, queries: np.ndarray, workdir: Path, exact: bool) -> dict:
    from usearch.index import Index, MetricKind, search

    from pennylane_qstore.store.retrieval import certified, rotated_queries, unseen_bound
    from pennylane_qstore.store.states import embed, fidelities

    vectors = embed(states)
    t0 = time.perf_counter()
    if exact:
        index = None
        disk = vectors.nbytes
    else:
        index = Index(ndim=vectors.shape[1], metric="ip", dtype="f32")
        index.add(np.arange(len(vectors)), vectors)
        index.save(str(workdir / "hnsw.usearch"))
        disk = (workdir / "hnsw.usearch").stat().st_size
    build = time.perf_counter() - t0

    def query(q: np.ndarray) -> list[int]:
        depth = 4 * TOP_K
        while True:
            rq = rotated_queries(q)
            if exact:
                res = search(vectors, rq, depth, MetricKind.IP, exact=True)
            else:
                res = index.search(rq, depth)
            keys = np.unique(
                np.concatenate([k[: int(c)] for k, c in zip(res.keys, res.counts, strict=True)])
            )
            exact_f = fidelities(q, states[keys])
            order = np.argsort(-exact_f)
            kth = [
                1 - float(d[depth - 1]) if c >= depth else None
                for d, c in zip(res.distances, res.counts, strict=True)
            ]
            if (
                not exact
                or certified(exact_f[order].tolist(), TOP_K, unseen_bound(kth), None)
                or depth >= len(states)
            ):
                return keys[order[:TOP_K]].tolist()
            depth = min(len(states), 4 * depth)

    return _timed(query, queries) | {"build_s": build, "load_s": 0.0, "disk_mb": disk / 1e6}


def _timed(query, queries: np.ndarray) -> dict:
    query(queries[0])
    times, results = [], []
    for q in queries:
        t0 = time.perf_counter()
        results.append(query(q))
        times.append(time.perf_counter() - t0)
    return {
        "results": results,
        "p50_ms": 1e3 * np.median(times),
        "p95_ms": 1e3 * np.percentile(times, 95),
    }


def one(engine: str, n: int, num_qubits: int, seed: int) -> dict:
    """Measure one engine on one data set (run in a child process)."""
    states = make_states(n, num_qubits, seed)
    queries = make_queries(states, seed)
    expected = truth(states, queries)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if engine == "qstore-embedded":
            out = run_qstore(states, queries, workdir)
        elif engine == "numpy-bruteforce":
            out = run_numpy(states, queries, workdir)
        else:
            out = run_usearch(states, queries, workdir, exact=engine == "usearch-exact")
    got = out.pop("results")
    out["recall"] = float(
        np.mean([len(set(g) & e) / TOP_K for g, e in zip(got, expected, strict=True)])
    )
    out["insert_per_s"] = n / max(out["build_s"], 1e-9)
    out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def sqlite_vec_status() -> str:
    if not hasattr(sqlite3.connect(":memory:"), "enable_load_extension"):
        return "sqlite-vec: not measured, this Python's sqlite3 cannot load extensions"
    return "sqlite-vec: not measured by this script"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000], help="states per run")
    parser.add_argument("--qubits", type=int, nargs="+", default=[8, 10])
    parser.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--hnsw-max-qubits", type=int, default=8, help="skip usearch-hnsw above this (slow build)"
    )
    parser.add_argument("--one", nargs=3, metavar=("ENGINE", "N", "QUBITS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one(args.one[0], int(args.one[1]), int(args.one[2]), args.seed)))
        return 0
    print(
        "| states | qubits | engine | build s | insert/s | first query s | p50 ms | p95 ms | recall@10 | disk MB | peak RSS MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for n in args.sizes:
        for q in args.qubits:
            for engine in args.engines:
                if engine == "usearch-hnsw" and q > args.hnsw_max_qubits:
                    continue
                if engine.startswith("usearch") and not _has_usearch():
                    print(f"| {n} | {q} | {engine} | usearch not installed: pip install usearch |")
                    continue
                cmd = [
                    sys.executable,
                    __file__,
                    "--one",
                    engine,
                    str(n),
                    str(q),
                    "--seed",
                    str(args.seed),
                ]
                proc = subprocess.run(cmd, capture_output=True, text=True)
                if proc.returncode:
                    print(
                        f"| {n} | {q} | {engine} | failed: {proc.stderr.strip().splitlines()[-1]} |"
                    )
                    continue
                r = json.loads(proc.stdout.strip().splitlines()[-1])
                rate = f"{r['insert_per_s']:.0f}" if engine in INDEXED else "- (no index)"
                print(
                    f"| {n} | {q} | {engine} | {r['build_s']:.1f} | {rate} | "
                    f"{r['load_s']:.2f} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['recall']:.3f} | "
                    f"{r['disk_mb']:.0f} | {r['rss_mb']:.0f} |",
                    flush=True,
                )
    print(sqlite_vec_status())
    return 0


def _has_usearch() -> bool:
    try:
        import usearch  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
