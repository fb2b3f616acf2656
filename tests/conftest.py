"""Shared test setup.

OpenMP threads of lightning.qubit busy-wait by default; on a loaded 2-core machine (pytest -n 2)
that makes a 2-qubit execution take ~10-60 ms instead of ~0.3 ms. Passive waiting must be set
before the OpenMP runtime loads, hence here.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# ---------------------------------------------------------------- shared fixtures (issue 10)
from collections.abc import Callable, Iterator

import pytest


@pytest.fixture
def server_seed() -> int | None:
    """Seed of the :func:`server` fixture's sampling; a test module overrides it to fix one."""
    return None


@pytest.fixture
def server(server_seed: int | None) -> Iterator:
    """A :class:`~pennylane_qstore.ionq.server.LocalIonQServer` on 127.0.0.1, real HTTP."""
    from pennylane_qstore.ionq.server import LocalIonQServer

    with LocalIonQServer(seed=server_seed) as srv:
        yield srv


@pytest.fixture
def router_target() -> Callable[[str], str]:
    """Return a target name, or skip the test visibly saying why the target cannot run here."""
    from pennylane_qstore.router import registered_targets

    def require(name: str) -> str:
        spec = {s.name: s for s in registered_targets()}.get(name)
        if spec is None:
            pytest.skip(f"router target {name!r} is not registered")
        reason = spec.unavailable_reason()
        if reason is not None:
            pytest.skip(f"router target {name!r} is unavailable: {reason}")
        return name

    return require
