"""``qstore store stats|query`` and ``qstore pinecone-server``."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the state-store sub-commands to the ``qstore`` parser."""
    store = subparsers.add_parser(
        "store",
        help="inspect and query a quantum state store",
        description="Inspect or query a state store: a directory (embedded) or a Pinecone host URL.",
    )
    actions = store.add_subparsers(dest="store_command", required=True, metavar="ACTION")
    stats = actions.add_parser("stats", help="qubits, records per namespace")
    query = actions.add_parser("query", help="closest stored states to a state, by fidelity")
    for sub in (stats, query):
        sub.add_argument("location", help="store directory, or http(s):// host of a Pinecone index")
        sub.add_argument("--api-key", help="Pinecone API key (default: $PINECONE_API_KEY)")
        sub.add_argument("--json", action="store_true", help="print JSON")
    source = query.add_mutually_exclusive_group(required=True)
    source.add_argument("--state", help=".npy file holding one statevector")
    source.add_argument("--id", help="id of a stored state to use as the query")
    query.add_argument("--namespace", default="default", help="namespace (default: default)")
    query.add_argument("--top-k", type=int, default=10, help="matches to return (default 10)")
    query.add_argument("--filter", help="Pinecone-syntax filter as JSON, e.g. '{\"label\": 3}'")
    query.add_argument("--min-fidelity", type=float, help="drop matches below this fidelity")
    stats.set_defaults(func=_stats)
    query.set_defaults(func=_query)

    server = subparsers.add_parser(
        "pinecone-server",
        help="run a local server speaking Pinecone's data-plane API (one in-memory index)",
        description="Serve one in-memory Pinecone index on 127.0.0.1 for offline use and tests.",
    )
    server.add_argument("--dimension", type=int, required=True, help="2 * 2**n for n qubits")
    server.add_argument(
        "--metric", default="dotproduct", help="dotproduct (default), cosine, euclidean"
    )
    server.add_argument("--port", type=int, default=5080, help="port to listen on (0: any free)")
    server.add_argument("--host", default="127.0.0.1", help="interface to bind")
    server.add_argument("--api-key", default="qstore-local-key", help="key clients must send")
    server.set_defaults(func=_serve)


def _open(args: argparse.Namespace) -> Any:
    from pennylane_qstore.store import QuantumStateStore

    if args.location.startswith(("http://", "https://")):
        return QuantumStateStore.pinecone(args.location, api_key=args.api_key)
    return QuantumStateStore(args.location)


def _fail(message: str) -> int:
    print(f"qstore store: error: {message}", file=sys.stderr)
    return 2


def _stats(args: argparse.Namespace) -> int:
    try:
        stats = _open(args).stats()
    except (ValueError, OSError) as exc:
        return _fail(str(exc))
    if args.json:
        print(json.dumps(stats))
        return 0
    print(f"{stats['backend']} store, {stats['num_qubits']} qubits, {stats['total']} states")
    for name, count in stats["namespaces"].items():
        print(f"  {name}: {count}")
    return 0


def _query(args: argparse.Namespace) -> int:
    import numpy as np

    from pennylane_qstore.store import UnknownNamespaceError

    try:
        store = _open(args)
        if args.state:
            state = np.load(args.state)
        else:
            found = store.fetch([args.id], namespace=args.namespace)
            if args.id not in found:
                return _fail(f"no state with id {args.id!r} in namespace {args.namespace!r}")
            state = found[args.id].state
        flt = json.loads(args.filter) if args.filter else None
        matches = store.query(
            state, top_k=args.top_k, filter=flt, namespace=args.namespace,
            min_fidelity=args.min_fidelity, normalize=True,
        )  # fmt: skip
    except json.JSONDecodeError as exc:
        return _fail(f"--filter is not JSON: {exc}")
    except (ValueError, OSError, UnknownNamespaceError) as exc:
        return _fail(str(exc))
    if args.json:
        print(
            json.dumps(
                [{"id": m.id, "fidelity": m.fidelity, "metadata": m.metadata} for m in matches]
            )
        )
        return 0
    for m in matches:
        print(f"{m.fidelity:.6f}  {m.id}  {json.dumps(m.metadata)}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from pennylane_qstore.store.server import LocalPineconeServer

    try:
        server = LocalPineconeServer(
            dimension=args.dimension, metric=args.metric, api_key=args.api_key,
            host=args.host, port=args.port,
        )  # fmt: skip
    except (OSError, OverflowError, ValueError) as exc:
        print(f"qstore pinecone-server: error: {exc}", file=sys.stderr)
        return 2
    print(f"Pinecone local index on {server.url} (dimension {server.dimension}, {server.metric})")
    print(f"  export PINECONE_API_KEY={server.api_key}; index host {server.url}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0
