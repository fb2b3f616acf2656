"""PennyLane's device test suite (``pl-device-test``) for the qstore devices; run by ``make conformance``.

Each row of :data:`RUNS` is one ``pl-device-test`` invocation; add a row to test another device.
Prints a table (device, options, outcome, wall time) and exits non-zero if any run failed.

Usage: ``python tests/conformance.py [--workers 2] [--only qstore.router] [-x]``
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

RUNS: list[tuple[str, tuple[str, ...]]] = [
    ("qstore.router", ("--shots=None",)),
    ("qstore.router", ("--shots=10000",)),
    ("qstore.ionq", ("--shots=1000000", "--skip-ops", "--device-kwargs", "seed=42")),
]
"""``(device, pl-device-test options)`` of every conformance run."""

_SUMMARY = re.compile(r"^=*\s*(\d+ (?:passed|failed|error).*?) in [\d.]+s", re.MULTILINE)


def _pl_device_test() -> str:
    exe = Path(sys.executable).with_name("pl-device-test")
    return str(exe) if exe.exists() else "pl-device-test"


@contextlib.contextmanager
def _ionq_server(device: str, env: dict[str, str]) -> Iterator[None]:
    """For ``qstore.ionq`` runs, serve a local IonQ API and point ``env`` at it."""
    if device != "qstore.ionq":
        yield
        return
    from pennylane_qstore.ionq.server import LocalIonQServer

    with LocalIonQServer(seed=1) as server:
        env.update(IONQ_API_URL=server.url, IONQ_API_KEY=server.api_key)
        yield


def run(device: str, options: tuple[str, ...], workers: int, exitfirst: bool) -> tuple[int, str]:
    """Run one ``pl-device-test`` and return its exit code and pytest's summary line."""
    cmd = [_pl_device_test(), f"--device={device}", *options, "-q", "-p", "no:cacheprovider"]
    cmd += ["-W", "ignore::DeprecationWarning", "-W", "ignore::UserWarning"]
    if workers > 1:
        cmd += ["-n", str(workers)]
    if exitfirst:
        cmd.append("-x")
    env = dict(os.environ, OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY", "PASSIVE"))
    # pl-device-test runs "pytest" from PATH: make it this interpreter's (the venv's) pytest
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    with _ionq_server(device, env):
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    output = proc.stdout + proc.stderr
    summaries = _SUMMARY.findall(output)
    summary = summaries[-1] if summaries else "no pytest summary"
    if proc.returncode != 0:
        print(output[-6000:], file=sys.stderr)
    return proc.returncode, summary


def main() -> int:
    """Run the selected conformance runs, print the table and return the exit code."""
    parser = argparse.ArgumentParser(description="Run pl-device-test for the qstore devices.")
    parser.add_argument("--workers", type=int, default=2, help="pytest-xdist workers per run")
    parser.add_argument("--only", default=None, help="only runs of this device")
    parser.add_argument("-x", action="store_true", help="stop each run at its first failure")
    args = parser.parse_args()

    rows, failed = [], False
    for device, options in RUNS:
        if args.only and device != args.only:
            continue
        start = time.perf_counter()
        code, summary = run(device, options, args.workers, args.x)
        rows.append(
            (
                device,
                " ".join(options),
                "ok" if code == 0 else "FAILED",
                summary,
                time.perf_counter() - start,
            )
        )
        failed |= code != 0
    print(f"{'device':<16} {'options':<16} {'result':<7} {'seconds':>8}  summary")
    for device, options, result, summary, seconds in rows:
        print(f"{device:<16} {options:<16} {result:<7} {seconds:>8.1f}  {summary}")
    return 1 if failed or not rows else 0


if __name__ == "__main__":
    sys.exit(main())
