"""Registers the ``ionq`` target of ``qstore.router``.

The target is never chosen automatically (``auto=False``): the router sends tapes to IonQ only
when asked, with ``target="ionq"``, ``targets=[...]`` or a policy rule the user enables. It uses
``$IONQ_API_KEY`` and ``$IONQ_API_URL`` (point the latter at ``qstore ionq-server`` to work
offline) and IonQ's simulator backend; register your own factory with ``replace=True`` to pick
another backend or options.
"""

from __future__ import annotations

import os

from pennylane.devices import Device
from pennylane.wires import Wires

from pennylane_qstore.router.targets import register_target


def make_ionq_device(wires: Wires | None, seed: int | None) -> Device:
    """Build the ``qstore.ionq`` device the router's ``ionq`` target runs tapes on."""
    from pennylane_qstore.ionq.device import IonQDevice

    return IonQDevice(wires=wires, seed=seed)


def _check() -> str | None:
    if os.environ.get("IONQ_API_KEY"):
        return None
    return (
        "IONQ_API_KEY is not set: export IONQ_API_KEY=<your key> (or run `qstore ionq-server` "
        "and export the IONQ_API_URL and IONQ_API_KEY it prints)"
    )


register_target(
    "ionq",
    make_ionq_device,
    check=_check,
    auto=False,
    description="IonQ cloud (or a local qstore ionq-server) through qstore.ionq; sampled, needs shots",
)
