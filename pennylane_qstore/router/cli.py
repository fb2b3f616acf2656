"""``qstore devices``: list every router target, whether it can run here and why not."""

from __future__ import annotations

import argparse
import json

from .policy import default_policy
from .targets import plugin_errors, registered_targets


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``devices`` sub-command to the ``qstore`` parser."""
    parser = subparsers.add_parser(
        "devices",
        help="list the simulators qstore.router can use and why any is unavailable",
        description="List every qstore.router target: available or not (and why), "
        "automatic or explicit-only, and the device derivatives it computes.",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(func=_devices)


def _rows() -> list[dict]:
    rows = []
    for spec in registered_targets():
        reason = spec.unavailable_reason()
        rows.append(
            {
                "name": spec.name,
                "available": reason is None,
                "reason": reason,
                "auto": spec.auto,
                "billed": spec.billed,
                "derivatives": sorted(spec.derivatives),
                "description": spec.description,
            }
        )
    return rows


def _devices(args: argparse.Namespace) -> int:
    rows = _rows()
    errors = plugin_errors()
    if args.json:
        print(json.dumps({"targets": rows, "plugin_errors": errors}, indent=2))
        return 0
    width = max(len("target"), *(len(row["name"]) for row in rows))
    print(f"{'target':<{width}} {'status':<11} {'routing':<9} {'derivatives':<18} notes")
    said: set[str] = set()
    for row in rows:
        status = "available" if row["available"] else "missing"
        routing = "auto" if row["auto"] else "billed" if row["billed"] else "explicit"
        derivs = ",".join(row["derivatives"]) or "-"
        notes = row["description"]
        if not row["available"]:  # a reason shared by a family of targets is said once
            notes = row["reason"] if row["reason"] not in said else "(as above)"
            said.add(row["reason"])
        print(f"{row['name']:<{width}} {status:<11} {routing:<9} {derivs:<18} {notes}")
    for module, error in errors.items():
        print(f"plugin {module} failed to load: {error}")
    print(
        f"\nwide circuits: >= {default_policy().wide_wires} wires (see docs/router.md); billed "
        "targets run when named or with strategy='hardware'/'cheapest'"
    )
    return 0
