"""``target_options=`` of ``qstore.router``: keyword options for the devices of its targets.

Keys are target names (``"ionq.qpu.aria-1"``) or a prefix naming a family (``"ionq"`` applies to
``ionq``, ``ionq.simulator``, ``ionq.simulator:aria-1``, ``ionq.qpu.forte-1``...). A target gets
its family's options overlaid with its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .targets import registered_targets


def covers(key: str, name: str) -> bool:
    """Whether option key ``key`` applies to target ``name``."""
    return name == key or name.startswith((f"{key}.", f"{key}:"))


def check_target_options(value: Any) -> dict[str, dict[str, Any]]:
    """Return ``value`` as ``{key: {option: value}}``.

    Raises:
        TypeError: If it is not a mapping of mappings with string keys.
        ValueError: If a key names no registered target or family.
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(v, Mapping) for v in value.values()):
        raise TypeError(
            "target_options= takes {target name or family: {option: value}}, e.g. "
            f"{{'ionq': {{'api_url': 'http://127.0.0.1:8000/v0.4'}}}}, got {value!r}."
        )
    names = [spec.name for spec in registered_targets()]
    for key in value:
        if not isinstance(key, str) or not any(covers(key, name) for name in names):
            raise ValueError(
                f"target_options= key {key!r} names no registered target; registered: {names}."
            )
    return {key: dict(options) for key, options in value.items()}


def options_for(target_options: Mapping[str, Mapping[str, Any]], name: str) -> dict[str, Any]:
    """The options of target ``name``: its family's, then its own (longer keys win)."""
    merged: dict[str, Any] = {}
    for key in sorted((k for k in target_options if covers(k, name)), key=len):
        merged.update(target_options[key])
    return merged
