"""Registers IonQ's backends as targets of ``qstore.router``.

Targets (none is chosen by the default ``fastest`` strategy: name them, or use
``strategy="hardware"`` / ``"cheapest"``):

* ``ionq.simulator`` (also ``ionq``): IonQ's free ideal cloud simulator.
* ``ionq.simulator:<model>``: the cloud simulator with a noise model (``aria-1``, ``forte-1``...).
* ``ionq.qpu.<name>``: the QPUs (``qpu.aria-1``, ``qpu.forte-1``...), billed.

Each builds a ``qstore.ionq`` device; it reads ``$IONQ_API_KEY`` and ``$IONQ_API_URL`` (point the
latter at ``qstore ionq-server`` to work offline) unless the router's
``target_options={"ionq": {...}}`` (or a target's own name) pass ``api_key=``/``api_url=`` and
any other ``qstore.ionq`` option.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import partial
from typing import Any

from pennylane.devices import Device
from pennylane.wires import Wires

from pennylane_qstore.ionq.backends import BACKENDS, target_name
from pennylane_qstore.ionq.server import NOISE_MODELS
from pennylane_qstore.router.targets import register_target

TARGET_PREFIX = "ionq"
"""The prefix of every IonQ target name, and the ``target_options`` key shared by all of them."""


def make_ionq_device(
    wires: Wires | None,
    seed: int | None,
    backend: str = "simulator",
    noise_model: str | None = None,
    **options: Any,
) -> Device:
    """Build the ``qstore.ionq`` device an IonQ target runs tapes on."""
    from pennylane_qstore.ionq.device import IonQDevice

    if noise_model is not None:
        options["noise_model"] = noise_model
    return IonQDevice(wires=wires, seed=seed, backend=backend, **options)


def _check(options: Mapping[str, Any]) -> str | None:
    if options.get("api_key") or os.environ.get("IONQ_API_KEY"):
        return None
    return (
        "IONQ_API_KEY is not set: export IONQ_API_KEY=<your key> (or run `qstore ionq-server` "
        "and export the IONQ_API_URL and IONQ_API_KEY it prints), or pass "
        "target_options={'ionq': {'api_key': ..., 'api_url': ...}} to qstore.router"
    )


def _standing(dev: Device, name: str, tapes: Any) -> Any:
    from pennylane_qstore.ionq.standing import ionq_standing

    return ionq_standing(dev, name, tapes)


def _register(name: str, backend: str, noise: str | None, description: str) -> None:
    qpu = BACKENDS[backend].qpu
    register_target(
        name,
        partial(make_ionq_device, backend=backend, noise_model=noise),
        check=_check,
        auto=False,
        description=description,
        remote=True,
        billed=qpu,
        backend=backend,
        standing=_standing if qpu else None,
    )


_register("ionq", "simulator", None, "IonQ's ideal cloud simulator (alias of ionq.simulator)")
_register(
    target_name("simulator"), "simulator", None, "IonQ's ideal cloud simulator; free, sampled"
)
for _model in NOISE_MODELS:
    if _model != "ideal":
        _register(
            target_name("simulator", _model),
            "simulator",
            _model,
            f"IonQ's cloud simulator with the {_model} noise model; free, sampled",
        )
for _backend in BACKENDS.values():
    if _backend.qpu:
        _register(
            target_name(_backend.name),
            _backend.name,
            None,
            f"IonQ {_backend.name} ({_backend.qubits} qubits); billed per shot and gate",
        )
