"""``qstore`` sub-commands for IonQ."""

from __future__ import annotations

import argparse
import contextlib


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the IonQ sub-commands to the ``qstore`` parser."""
    server = subparsers.add_parser(
        "ionq-server",
        help="run a local IonQ v0.4 API server that simulates the jobs it receives",
        description="Serve IonQ's v0.4 job API on 127.0.0.1, simulating every submitted circuit.",
    )
    server.add_argument("--port", type=int, default=8000, help="port to listen on (0: any free)")
    server.add_argument("--host", default="127.0.0.1", help="interface to bind")
    server.add_argument("--api-key", default="qstore-local-key", help="key clients must send")
    server.add_argument("--latency", type=float, default=0.0, help="seconds added per request")
    server.add_argument(
        "--queue-time", type=float, default=0.0, help="seconds a job waits before completing"
    )
    server.add_argument("--seed", type=int, default=None, help="seed of sampled results")
    server.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    from pennylane_qstore.ionq.server import LocalIonQServer

    server = LocalIonQServer(
        api_key=args.api_key,
        host=args.host,
        port=args.port,
        latency=args.latency,
        queue_time=args.queue_time,
        seed=args.seed,
    )
    print(f"IonQ local server on {server.url} (API key {server.api_key}); Ctrl-C stops it")
    print(f"  export IONQ_API_URL={server.url} IONQ_API_KEY={server.api_key}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0
