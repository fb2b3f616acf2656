"""Validation of IonQ job payloads (``POST /jobs`` bodies), as the local server applies it."""

from __future__ import annotations

from collections.abc import Container
from typing import Any

from pennylane_qstore.ionq.backends import (
    BACKEND_NAMES,
    BACKENDS,
    MAX_SHOTS,
    MIN_SHOTS_ERROR_MITIGATION,
)
from pennylane_qstore.ionq.circuits import CircuitError, validate_circuit

JOB_TYPES = ("ionq.circuit.v1", "ionq.multi-circuit.v1")


class ApiError(Exception):
    """An HTTP error answer of the local server."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def payload_circuits(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Return ``[{"name", "circuit"}, ...]`` of a job payload (one entry for ``circuit.v1``)."""
    data = payload["input"]
    if payload["type"] == "ionq.circuit.v1":
        if "circuit" not in data:
            raise ApiError(400, "ionq.circuit.v1 jobs need input.circuit")
        return [{"name": payload.get("name"), "circuit": data["circuit"]}]
    circuits = data.get("circuits")
    if not isinstance(circuits, list) or not circuits:
        raise ApiError(400, "ionq.multi-circuit.v1 jobs need a non-empty input.circuits")
    if not all(isinstance(c, dict) and "circuit" in c for c in circuits):
        raise ApiError(400, "each entry of input.circuits needs a 'circuit' list")
    return circuits


def validate_payload(
    payload: Any, *, noise_models: Container[str], max_qubits: int, max_circuits: int
) -> None:
    """Raise a 400 :class:`ApiError` where IonQ would refuse the job.

    Args:
        payload: The decoded request body.
        noise_models: Names of the simulator noise models served.
        max_qubits: Largest register simulated here.
        max_circuits: Largest multi-circuit job.
    """
    if not isinstance(payload, dict):
        raise ApiError(400, "request body must be a JSON object")
    kind = payload.get("type")
    if kind not in JOB_TYPES:
        raise ApiError(
            400, f"type must be 'ionq.circuit.v1' or 'ionq.multi-circuit.v1', got {kind!r}"
        )
    backend = payload.get("backend")
    if backend not in BACKENDS:
        raise ApiError(
            400, f"unknown backend {backend!r}; choose one of {', '.join(BACKEND_NAMES)}"
        )
    _check_settings(payload, noise_models)
    qubits = _check_register(payload, backend, max_qubits)
    circuits = payload_circuits(payload)
    if kind == "ionq.multi-circuit.v1" and len(circuits) > max_circuits:
        raise ApiError(
            400, f"a multi-circuit job holds at most {max_circuits} circuits, got {len(circuits)}"
        )
    gateset = payload["input"].get("gateset", "qis")
    for number, circuit in enumerate(circuits):
        try:
            validate_circuit(circuit["circuit"], gateset, qubits)
        except CircuitError as err:
            raise ApiError(400, f"circuit {number}: {err}") from None
        if (
            gateset == "native"
            and "zz" not in BACKENDS[backend].entanglers
            and any(gate["gate"] == "zz" for gate in circuit["circuit"])
        ):
            raise ApiError(400, f"circuit {number}: {backend} has no native 'zz' gate")


def _check_settings(payload: dict[str, Any], noise_models: Container[str]) -> None:
    shots = payload.get("shots", 100)
    if not isinstance(shots, int) or isinstance(shots, bool) or not 1 <= shots <= MAX_SHOTS:
        raise ApiError(400, f"shots must be an integer in [1, {MAX_SHOTS}], got {shots!r}")
    settings = payload.get("settings", {}) or {}
    debias = (settings.get("error_mitigation") or {}).get("debiasing", False)
    if debias and shots < MIN_SHOTS_ERROR_MITIGATION:
        raise ApiError(
            400,
            f"error mitigation (debiasing) needs at least {MIN_SHOTS_ERROR_MITIGATION} "
            f"shots, got {shots}",
        )
    model = (payload.get("noise") or {}).get("model", "ideal")
    if model not in noise_models:
        raise ApiError(
            400, f"unknown noise model {model!r}; choose one of {', '.join(noise_models)}"
        )


def _check_register(payload: dict[str, Any], backend: str, max_qubits: int) -> int:
    data = payload.get("input")
    if not isinstance(data, dict):
        raise ApiError(400, "missing 'input' object")
    qubits = data.get("qubits")
    if not isinstance(qubits, int) or qubits < 1:
        raise ApiError(400, f"input.qubits must be a positive integer, got {qubits!r}")
    limit = BACKENDS[backend].qubits
    if qubits > limit:
        raise ApiError(400, f"{backend} has {limit} qubits; the job asks for {qubits}")
    if qubits > max_qubits:
        raise ApiError(
            400,
            f"the local server simulates at most {max_qubits} qubits; the job asks for {qubits}",
        )
    return qubits
