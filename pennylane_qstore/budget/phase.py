"""The phase a run is in (``"training"``, ``"validation"``...), which tags its cost records.

A phase is set with ``with phase("validation"):`` (devices expose the same as ``dev.phase(...)``)
and read with :func:`current_phase`. The quantum layers set a *default* phase from
``module.training`` / Keras ``training=`` with :func:`default_phase`, which never overrides a
phase the user set. The phase lives in a :class:`contextvars.ContextVar`, so threads and asyncio
tasks started inside a ``with`` block see it, and other threads do not.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

DEFAULT_PHASE = "default"
"""The phase of work run outside any ``phase(...)`` block."""

_explicit: contextvars.ContextVar[str | None] = contextvars.ContextVar("qstore_phase", default=None)
_implicit: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "qstore_default_phase", default=None
)


def check_phase(name: object) -> str:
    """Return ``name`` if it is a usable phase name.

    Raises:
        TypeError: If it is not a non-empty string.
    """
    if not isinstance(name, str) or not name.strip():
        raise TypeError(f"a phase is a non-empty string such as 'validation', got {name!r}")
    return name


@contextlib.contextmanager
def phase(name: str) -> Iterator[str]:
    """Tag everything run inside the block with phase ``name``.

    Example:
        >>> from pennylane_qstore.budget import current_phase, phase
        >>> with phase("validation"):
        ...     current_phase()
        'validation'
    """
    token = _explicit.set(check_phase(name))
    try:
        yield name
    finally:
        _explicit.reset(token)


@contextlib.contextmanager
def default_phase(name: str) -> Iterator[str]:
    """Set the phase used when no :func:`phase` block is active (the layers' automatic tags)."""
    token = _implicit.set(check_phase(name))
    try:
        yield current_phase()
    finally:
        _implicit.reset(token)


def current_phase() -> str:
    """Return the active phase: the innermost ``phase(...)``, else the default one, else
    :data:`DEFAULT_PHASE`."""
    return _explicit.get() or _implicit.get() or DEFAULT_PHASE
