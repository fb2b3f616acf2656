"""Registers the engine as the ``engine`` target of ``qstore.router`` (imported by the router)."""

from __future__ import annotations

import importlib.util

from pennylane_qstore.router.targets import register_target


def _check() -> str | None:
    if importlib.util.find_spec("torch") is None:
        return 'torch is not installed: pip install "pennylane-qstore[torch]"'
    return None


def _make_engine(wires, seed):
    from pennylane_qstore.engine.device import EngineDevice

    return EngineDevice(wires=wires)


register_target(
    "engine",
    _make_engine,
    check=_check,
    derivatives=("backprop",),
    auto=False,  # name it (target="engine"); the layers call the engine directly
    description="batched torch state-vector simulator, one-pass adjoint gradients (analytic)",
)
