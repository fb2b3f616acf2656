"""Checks of the ``qstore.ionq`` device's options, each with an error naming the fix."""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

from pennylane_qstore.ionq.backends import (
    ENTANGLERS,
    GATESETS,
    MIN_SHOTS_ERROR_MITIGATION,
)
from pennylane_qstore.ionq.backends import backend as backend_facts
from pennylane_qstore.ionq.pricing import RateCard


def _number(name: str, value: Any, unit: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise TypeError(f"{name}= takes a number of {unit} or None, got {value!r}")
    return float(value)


def non_negative(name: str, value: Any, unit: str) -> float | None:
    if value is None:
        return None
    if _number(name, value, unit) < 0:
        raise ValueError(f"{name}= must be at least 0 ({unit}), got {value!r}")
    return float(value)


def positive(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if _number(name, value, "seconds") <= 0:
        raise ValueError(f"{name}= must be a number of seconds above 0 or None, got {value!r}")
    return float(value)


def flag(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}= takes True or False, got {value!r}")
    return bool(value)


def optional_bool(name: str, value: Any) -> bool | None:
    return None if value is None else flag(name, value)


def check_mitigation_shots(shots: int) -> None:
    if shots < MIN_SHOTS_ERROR_MITIGATION:
        raise ValueError(
            f"error mitigation needs at least {MIN_SHOTS_ERROR_MITIGATION} shots, got {shots}"
        )


def check_poll_interval(value: Any) -> tuple[float, float]:
    pair = (value, value) if isinstance(value, numbers.Real) else value
    try:
        first, longest = (float(v) for v in pair)
    except (TypeError, ValueError):
        first = longest = -1.0
    if isinstance(value, bool) or not 0 < first <= longest or not np.isfinite(longest):
        raise ValueError(
            "poll_interval= takes seconds above 0 or a pair (first, longest) with "
            f"0 < first <= longest, got {value!r}"
        )
    return first, longest


def check_max_circuits(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"max_circuits_per_job must be at least 1, got {value!r}")
    return int(value)


def check_noise_seed(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"noise_seed= takes a non-negative int or None, got {value!r}")
    return int(value)


def session_id(value: Any) -> str | None:
    """Accept a session id or the record ``IonQClient.create_session`` returns."""
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return value["id"]
    if value is None or isinstance(value, str):
        return value
    raise TypeError(
        "session= takes a session id (str) or the record IonQClient.create_session returns, "
        f"got {value!r}"
    )


def check_metadata(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise TypeError(f"metadata= takes a dict of strings, got {value!r}")
    return {str(k): str(v) for k, v in value.items()}


def check_target(backend: str, gateset: str, entangler: str | None, wires: Any) -> str:
    """Check the backend, gate set, entangler and wire count; return the entangler to use."""
    facts = backend_facts(backend)
    if gateset not in GATESETS:
        raise ValueError(f"gateset must be 'native' or 'qis', got {gateset!r}")
    entangler = entangler or facts.default_entangler
    if entangler not in ENTANGLERS:
        raise ValueError(f"entangler must be 'ms' or 'zz', got {entangler!r}")
    if entangler not in facts.entanglers:
        raise ValueError(f"{backend} has no ZZ gate; use entangler='ms'")
    if wires is not None and len(wires) > facts.qubits:
        raise ValueError(
            f"{backend} has {facts.qubits} qubits but the device was given "
            f"{len(wires)} wires; use fewer wires or another backend"
        )
    return entangler


def check_rates(value: Any) -> RateCard:
    if not isinstance(value, RateCard):
        raise TypeError(f"rates= takes a pennylane_qstore.ionq.pricing.RateCard, got {value!r}")
    return value


def seed_generator(seed: Any) -> np.random.Generator:
    """Return the device's generator for ``seed=`` (an int, a Generator or None)."""
    try:
        return np.random.default_rng(seed)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"seed= takes a non-negative int, a numpy.random.Generator or None, got {seed!r}"
        ) from exc
