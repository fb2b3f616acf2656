"""The ``qstore`` command line: one sub-command per capability.

Each capability module exposes ``register(subparsers)``, which adds its sub-commands and sets
``func`` on them; ``func(args)`` returns the process exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from pennylane_qstore import __version__

_COMMAND_MODULES = (
    "pennylane_qstore.router.cli",
    "pennylane_qstore.ionq.cli",
    "pennylane_qstore.ionq.estimate",
    "pennylane_qstore.budget.cli",
    "pennylane_qstore.k8s.cli",
    "pennylane_qstore.store.cli",
    "pennylane_qstore.convert.cli",
)


def build_parser() -> argparse.ArgumentParser:
    """Return the ``qstore`` argument parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="qstore", description="pennylane-qstore: routing devices, IonQ tools and layers."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``qstore`` command line and return its exit code."""
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
