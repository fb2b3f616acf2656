"""IonQ support: native gates (:mod:`.ops`), the native-gate compiler (:mod:`.compiler`), the
``ionq.circuit.v1`` native JSON view (:mod:`.native`), the ``qstore.ionq`` device
(:mod:`.device`), the REST client (:mod:`.client`) and a local IonQ server (:mod:`.server`).

Only light modules are imported here; ``to_native``, ``compile_circuit``, ``NativeCircuit``,
``IonQDevice``, ``IonQClient`` and ``LocalIonQServer`` are imported on first access.
"""

from __future__ import annotations

import importlib
from typing import Any

from pennylane_qstore.ionq.ops import GPI, GPI2, MS, ZZ, rad_to_turns, turns_to_rad, wrap_turns

_LAZY = {
    "NativeCircuit": "pennylane_qstore.ionq.native",
    "compile_circuit": "pennylane_qstore.ionq.compiler",
    "to_native": "pennylane_qstore.ionq.compiler",
    "IonQDevice": "pennylane_qstore.ionq.device",
    "IonQClient": "pennylane_qstore.ionq.client",
    "LocalIonQServer": "pennylane_qstore.ionq.server",
}

__all__ = [
    "GPI",
    "GPI2",
    "MS",
    "ZZ",
    "IonQClient",
    "IonQDevice",
    "LocalIonQServer",
    "NativeCircuit",
    "compile_circuit",
    "rad_to_turns",
    "to_native",
    "turns_to_rad",
    "wrap_turns",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
