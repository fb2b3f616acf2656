"""``qstore cost-report LEDGER``: a ledger's cost per phase and target, its open reservations,
and (``--reconcile``) closing the reservations of crashed runs from IonQ's job records."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

from pennylane_qstore.budget.budget import Reservation
from pennylane_qstore.budget.ledger import Ledger
from pennylane_qstore.budget.report import COLUMNS


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``cost-report`` to the ``qstore`` parser."""
    parser = subparsers.add_parser(
        "cost-report",
        help="print a cost ledger's report per phase and target; reconcile crashed runs",
        description=(
            "Print the jobs, circuits, shots, estimated and billed USD, queue and execution "
            "seconds per phase and target of a ledger (Budget(usd, ledger=PATH)), and its open "
            "reservations. --reconcile settles or releases the reservations of dead processes "
            "from their jobs on the IonQ API."
        ),
    )
    parser.add_argument("ledger", help="ledger file (the ledger= path of a Budget)")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print the report as JSON")
    output.add_argument("--csv", action="store_true", help="print the report rows as CSV")
    parser.add_argument(
        "--reconcile",
        action="store_true",
        help="close stale reservations from IonQ's job records before reporting",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="with --reconcile: also reservations of processes that still run (or another host)",
    )
    parser.add_argument("--api-url", default=None, help="IonQ API URL (default $IONQ_API_URL)")
    parser.add_argument("--api-key", default=None, help="IonQ API key (default $IONQ_API_KEY)")
    parser.set_defaults(func=_cost_report)


def _reservation(reservation: Reservation) -> dict[str, Any]:
    return {
        "id": reservation.id,
        "usd": reservation.usd,
        "state": reservation.state,
        "target": reservation.target,
        "phase": reservation.phase,
        "pid": reservation.pid,
        "host": reservation.host,
        "stale": reservation.stale,
        "client_ids": list(reservation.client_ids),
        "job_ids": list(reservation.job_ids),
    }


def _reconcile(ledger: Ledger, args: argparse.Namespace) -> list[Reservation]:
    from pennylane_qstore.budget.reconcile import reconcile
    from pennylane_qstore.ionq.client import IonQClient

    client = IonQClient(api_key=args.api_key, api_url=args.api_url)
    try:
        return reconcile(ledger, client, force=args.force)
    finally:
        client.close()


def _cost_report(args: argparse.Namespace) -> int:
    if not Path(args.ledger).is_file():
        print(f"qstore cost-report: no ledger at {args.ledger}", file=sys.stderr)
        return 2
    try:
        ledger = Ledger(args.ledger)
    except ValueError as err:
        print(f"qstore cost-report: {err}", file=sys.stderr)
        return 2
    handled: list[Reservation] = []
    if args.reconcile:
        from pennylane_qstore.ionq.errors import IonQError

        try:
            handled = _reconcile(ledger, args)
        except IonQError as err:
            print(f"qstore cost-report: reconcile failed: {err}", file=sys.stderr)
            return 1
    report = ledger.report()
    reservations = [Reservation(ledger, row) for row in ledger.reservation_rows("open")]
    if args.json:
        data = report.to_dict()
        data["open"] = [_reservation(r) for r in reservations]
        data["reconciled"] = [_reservation(r) for r in handled]
        print(json.dumps(data, indent=2))
        return 0
    if args.csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=list(COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(report.rows)
        return 0
    for reservation in handled:
        print(f"reconciled {reservation.id} (${reservation.usd:.2f}): {reservation.state}")
    print(report)
    for reservation in reservations:
        stale = " STALE: its process is gone, run --reconcile" if reservation.stale else ""
        print(
            f"open {reservation.id} ${reservation.usd:.2f} {reservation.target} "
            f"phase={reservation.phase} pid={reservation.pid}@{reservation.host}{stale}"
        )
    return 0
