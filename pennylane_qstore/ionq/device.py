"""The ``qstore.ionq`` device: runs PennyLane batches on IonQ as multi-circuit jobs.

A whole batch (for example every parameter-shift tape of a gradient step) is sent as a few
``ionq.multi-circuit.v1`` jobs, which are polled concurrently on an event loop; the results'
probabilities become every measurement PennyLane asks for.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pennylane as qml
from pennylane.devices import Device, ExecutionConfig
from pennylane.devices.preprocess import (
    decompose,
    validate_device_wires,
    validate_measurements,
    validate_observables,
)
from pennylane.exceptions import DeviceError
from pennylane.measurements import SampleMeasurement
from pennylane.tape import QuantumScript
from pennylane.transforms import broadcast_expand, defer_measurements, split_non_commuting
from pennylane.transforms.core import transform
from pennylane.wires import Wires

from pennylane_qstore.ionq.client import IonQClient, job_payload
from pennylane_qstore.ionq.compiler import compile_circuit
from pennylane_qstore.ionq.errors import CostCapExceeded, DryRunComplete, IonQError, IonQJobFailed
from pennylane_qstore.ionq.ops import MS, ZZ
from pennylane_qstore.ionq.pricing import DEFAULT_RATES, QPU_BACKENDS, job_cost
from pennylane_qstore.ionq.qis import QIS_OPS, tape_to_qis
from pennylane_qstore.ionq.results import counts_from_probabilities, measure
from pennylane_qstore.ionq.server import BACKEND_QUBITS
from pennylane_qstore.ionq.simulate import gate_counts

BACKENDS = ("simulator", *QPU_BACKENDS)
GATESETS = ("native", "qis")
MAX_SHOTS = 1_000_000
PROGRESS_AFTER = 5.0
"""Seconds of waiting after which progress is printed (when enabled)."""
_OBSERVABLES = frozenset(
    {"Identity", "PauliX", "PauliY", "PauliZ", "Hadamard", "Hermitian", "Projector", "Prod"}
    | {"SProd", "Sum", "LinearCombination"}
)
_DEFAULTS: dict[str, Any] = {
    "backend": "simulator",
    "gateset": "native",
    "entangler": None,
    "error_mitigation": None,
    "noise_model": None,
    "noise_seed": None,
    "dry_run": False,
    "session": None,
    "api_key": None,
    "api_url": None,
    "cost_cap": None,
    "rates": DEFAULT_RATES,
    "max_circuits_per_job": 1000,
    "poll_interval": (0.1, 5.0),
    "timeout": None,
    "progress": None,
    "metadata": None,
}


@dataclass
class RunRecord:
    """What one batch ran on IonQ and what it cost.

    Attributes:
        job_ids: IonQ job ids, one per submitted job.
        backend: Backend the jobs ran on.
        circuits: Number of circuits in the batch.
        shots: Total shots over the batch.
        estimated_cost: Estimate in USD made before submitting.
        cost: Cost in USD reported by IonQ (``None`` while unknown; 0 on the simulator).
        wall_time: Seconds from submission to the last result.
        dry_run: Whether the jobs were dry runs.
    """

    job_ids: list[str]
    backend: str
    circuits: int
    shots: int
    estimated_cost: float
    cost: float | None = None
    wall_time: float = 0.0
    dry_run: bool = False


@dataclass
class _Batch:
    """Job ids of a batch in flight, so they can be cancelled on interruption."""

    submitted: list[str] = field(default_factory=list)
    pending: list[concurrent.futures.Future] = field(default_factory=list)
    done: set[str] = field(default_factory=set)
    cancelled: set[str] = field(default_factory=set)
    status: dict[str, str] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    shown: bool = False


@transform
def _require_shots(tape: QuantumScript) -> tuple[Sequence[QuantumScript], Callable]:
    """Reject analytic execution: IonQ hardware and its simulator jobs are sampled."""
    if not tape.shots:
        raise DeviceError(
            "qstore.ionq samples its results: give the device shots, e.g. "
            "qml.device('qstore.ionq', wires=2, shots=1000) (analytic shots=None is not supported)"
        )
    if tape.shots.total_shots > MAX_SHOTS:
        raise DeviceError(f"IonQ runs at most {MAX_SHOTS} shots per circuit, got {tape.shots}")
    return (tape,), lambda results: results[0]


@transform
def _sums_as_hermitian(tape: QuantumScript) -> tuple[Sequence[QuantumScript], Callable]:
    """Measure ``var``/``sample``/``counts`` of a sum as one Hermitian observable.

    ``split_non_commuting`` splits only expectation values into terms; the variance (or the
    samples) of a sum need the sum's own eigenbasis, which ``Hermitian`` provides.
    """
    measurements = []
    for mp in tape.measurements:
        obs = mp.obs
        if obs is not None and not isinstance(mp, qml.measurements.ExpectationMP):
            if isinstance(obs, (qml.ops.SProd, qml.ops.Prod)):
                obs = obs.simplify()
            if isinstance(obs, qml.ops.Sum):
                hermitian = qml.Hermitian(qml.matrix(obs, wire_order=obs.wires), wires=obs.wires)
                mp = type(mp)(obs=hermitian)
        measurements.append(mp)
    return (tape.copy(measurements=measurements),), lambda results: results[0]


@transform
def _rotate_to_measurement_basis(tape: QuantumScript) -> tuple[Sequence[QuantumScript], Callable]:
    """Append the measurements' diagonalizing gates so every measurement reads Z-basis samples."""
    rotated = tape.copy(operations=[*tape.operations, *tape.diagonalizing_gates])
    return (rotated,), lambda results: results[0]


class IonQDevice(Device):
    """Runs circuits on IonQ's cloud (or a :class:`~pennylane_qstore.ionq.server.LocalIonQServer`).

    Args:
        wires: Number of qubits or their labels.
        shots: Shots per circuit. Results are sampled, so circuits without shots (here or
            from ``qml.set_shots``) are refused.
        seed: Seed of the device's random generator (sampling of exact probabilities).
        backend: ``simulator``, ``qpu.aria-1``, ``qpu.aria-2``, ``qpu.forte-1`` or
            ``qpu.forte-enterprise-1``.
        gateset: ``"qis"`` (IonQ's QIS gates, compiled by IonQ) or ``"native"`` (GPI/GPI2/MS/ZZ
            compiled here).
        entangler: ``"ms"`` or ``"zz"`` for the native gateset; default MS on Aria and the
            simulator, ZZ on Forte.
        error_mitigation: Debiasing on or off (needs at least 500 shots); ``None`` keeps
            IonQ's default.
        noise_model: Simulator noise model (``"ideal"``, ``"aria-1"``, ``"forte-1"``...).
        noise_seed: Seed of the simulator's noisy sampling (default: drawn from ``seed``).
        dry_run: Validate and price jobs without running them; execution then raises
            :class:`~pennylane_qstore.ionq.errors.DryRunComplete` carrying the record.
        session: IonQ session id to run the jobs in.
        api_key: API key (default ``$IONQ_API_KEY``).
        api_url: API base URL (default ``$IONQ_API_URL`` or ``https://api.ionq.co/v0.4``).
        cost_cap: Largest estimated USD cost of one batch; larger batches are refused.
        rates: Rate card used for the estimates.
        max_circuits_per_job: Largest multi-circuit job; bigger batches are split.
        poll_interval: ``(first, longest)`` seconds between status polls (grows 1.5x).
        timeout: Seconds to wait for a batch before cancelling it (``None``: no limit).
        progress: Print progress to stderr for waits over 5 s (default: when stderr is a TTY).
        metadata: String metadata added to every job.
    """

    name = "qstore.ionq"
    short_name = "qstore.ionq"  # read by PennyLane's device test suite
    config_filepath = Path(__file__).with_name("ionq.toml")

    def __init__(
        self, wires: Any = None, shots: Any = None, seed: int | None = None, **options: Any
    ) -> None:
        unknown = sorted(set(options) - set(_DEFAULTS))
        if unknown:
            valid = ", ".join(["wires", "shots", "seed", *_DEFAULTS])
            raise TypeError(f"qstore.ionq got unknown option(s) {unknown}; valid options: {valid}")
        opts = {**_DEFAULTS, **options}
        super().__init__(wires=wires, shots=shots)
        if opts["backend"] not in BACKENDS:
            raise ValueError(
                f"unknown IonQ backend {opts['backend']!r}; choose one of {', '.join(BACKENDS)}"
            )
        if opts["gateset"] not in GATESETS:
            raise ValueError(f"gateset must be 'native' or 'qis', got {opts['gateset']!r}")
        entangler = opts["entangler"] or ("zz" if "forte" in opts["backend"] else "ms")
        if entangler not in ("ms", "zz"):
            raise ValueError(f"entangler must be 'ms' or 'zz', got {entangler!r}")
        if entangler == "zz" and "aria" in opts["backend"]:
            raise ValueError(f"{opts['backend']} has no ZZ gate; use entangler='ms'")
        if opts["error_mitigation"] and self.shots and self.shots.total_shots < 500:
            raise ValueError(f"error mitigation needs at least 500 shots, got {self.shots}")
        if opts["noise_model"] is not None and opts["backend"] != "simulator":
            raise ValueError("noise_model= applies to backend='simulator' only")
        limit = BACKEND_QUBITS[opts["backend"]]
        if self.wires is not None and len(self.wires) > limit:
            raise ValueError(
                f"{opts['backend']} has {limit} qubits but the device was given "
                f"{len(self.wires)} wires; use fewer wires or another backend"
            )
        first, longest = opts["poll_interval"]
        if not 0 < first <= longest:
            raise ValueError(
                f"poll_interval=(first, longest) needs 0 < first <= longest, got {(first, longest)}"
            )
        if opts["max_circuits_per_job"] < 1:
            raise ValueError("max_circuits_per_job must be at least 1")
        self.backend: str = opts["backend"]
        self.gateset: str = opts["gateset"]
        self.entangler: str = entangler
        self.options = opts
        self.client = IonQClient(api_key=opts["api_key"], api_url=opts["api_url"])
        self.runs: list[RunRecord] = []
        self._rng = np.random.default_rng(seed)
        self._pool = _new_pool()

    def __getstate__(self) -> dict[str, Any]:
        """Copy and pickle without the thread pool (it cannot be pickled); copies get their own."""
        state = self.__dict__.copy()
        del state["_pool"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._pool = _new_pool()

    # -- preprocessing -----------------------------------------------------------------------
    def _accepts(self, op: qml.operation.Operator) -> bool:
        if op.name in ("Identity", "GlobalPhase"):
            return True
        if self.gateset == "qis":
            return op.name in QIS_OPS
        return _native_compiles(op)

    def preprocess_transforms(
        self, execution_config: ExecutionConfig | None = None
    ) -> qml.CompilePipeline:
        """Validate, split into measurable groups, rotate to the Z basis and compile to IonQ gates."""
        program = qml.CompilePipeline()
        config = execution_config or ExecutionConfig()
        if config.mcm_config.mcm_method in (None, "deferred"):
            # IonQ measures at the end only: mid-circuit measurements become controlled gates
            program.add_transform(defer_measurements, allow_postselect=False)
        program.add_transform(validate_device_wires, self.wires, name=self.name)
        program.add_transform(_require_shots)
        program.add_transform(
            validate_measurements,
            sample_measurements=lambda mp: isinstance(mp, SampleMeasurement),
            name=self.name,
        )
        program.add_transform(
            validate_observables, lambda obs: obs.name in _OBSERVABLES, name=self.name
        )
        program.add_transform(broadcast_expand)
        program.add_transform(_sums_as_hermitian)
        program.add_transform(split_non_commuting, grouping_strategy="qwc")
        program.add_transform(_rotate_to_measurement_basis)
        program.add_transform(
            decompose,
            stopping_condition=self._accepts,
            skip_initial_state_prep=False,  # IonQ has no state preparation: decompose it too
            device_wires=self.wires,
            name=self.name,
        )
        return program

    # -- execution ---------------------------------------------------------------------------
    def execute(
        self,
        circuits: QuantumScript | Sequence[QuantumScript],
        execution_config: ExecutionConfig | None = None,
    ) -> Any:
        """Run preprocessed circuits as multi-circuit jobs; Ctrl-C cancels the submitted jobs."""
        single = isinstance(circuits, QuantumScript)
        batch = [circuits] if single else list(circuits)
        state = _Batch()
        try:
            results = _run_coroutine(self._run(batch, state))
        except KeyboardInterrupt:
            self._cancel(state)
            raise
        return results[0] if single else tuple(results)

    async def execute_async(
        self, circuits: Sequence[QuantumScript], execution_config: ExecutionConfig | None = None
    ) -> tuple:
        """Preprocess and run circuits without blocking the caller's event loop.

        Example: ``results = await dev.execute_async([tape1, tape2])``. Tapes without shots take
        the device's. Cancelling the awaiting task cancels the submitted jobs.
        """
        config = self.setup_execution_config(execution_config)
        tapes = [c if c.shots or not self.shots else c.copy(shots=self.shots) for c in circuits]
        batch, postprocess = await self._call(self.preprocess_transforms(config), tapes)
        results = await self._run(list(batch), _Batch())
        return tuple(postprocess(tuple(results)))

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def _serialise(self, circuit: QuantumScript) -> tuple[list[dict[str, Any]], Wires, list[int]]:
        """Return ``(IonQ gate list, wire order, physical qubit of each wire at the end)``."""
        order = Wires(self.wires if self.wires is not None else circuit.wires)
        if self.gateset == "qis":
            position = {wire: i for i, wire in enumerate(order)}
            gates = tape_to_qis(circuit.operations, position.__getitem__)
            return gates, order, list(range(len(order)))
        native = compile_circuit(
            circuit.operations,
            self.entangler,
            wires=order.tolist(),
            max_qubits=BACKEND_QUBITS[self.backend],
        )
        return [gate.to_json() for gate in native.gates], order, list(native.output_qubits)

    def _plan(self, circuits: list[QuantumScript]) -> list[tuple[list[int], int, int]]:
        """Group circuits by (qubits, shots) and chunk: ``[(indices, qubits, shots), ...]``."""
        groups: dict[tuple[int, int], list[int]] = {}
        for index, circuit in enumerate(circuits):
            if self.options["error_mitigation"] and circuit.shots.total_shots < 500:
                raise ValueError(
                    f"error mitigation needs at least 500 shots, got {circuit.shots.total_shots}"
                )
            qubits = len(self.wires) if self.wires is not None else max(circuit.num_wires, 1)
            groups.setdefault((qubits, circuit.shots.total_shots), []).append(index)
        size = self.options["max_circuits_per_job"]
        return [
            (indices[start : start + size], qubits, shots)
            for (qubits, shots), indices in groups.items()
            for start in range(0, len(indices), size)
        ]

    async def _run(self, circuits: list[QuantumScript], state: _Batch) -> list[Any]:
        opts = self.options
        # compiling is CPU work: keep it off the event loop so other tasks keep running
        specs = await self._call(lambda: [self._serialise(c) for c in circuits])
        plan = self._plan(circuits)
        mitigation = bool(opts["error_mitigation"])
        estimate = sum(
            job_cost(
                self.backend,
                shots,
                [gate_counts(specs[i][0]) for i in indices],
                mitigation,
                opts["rates"],
            )
            for indices, _, shots in plan
        )
        if opts["cost_cap"] is not None and estimate > opts["cost_cap"]:
            raise CostCapExceeded(estimate, opts["cost_cap"])
        exact = self.backend == "simulator" and opts["noise_model"] in (None, "ideal")
        payloads = [
            job_payload(
                [specs[i][0] for i in indices],
                qubits,
                gateset=self.gateset,
                backend=self.backend,
                shots=shots,
                error_mitigation=opts["error_mitigation"],
                noise_model=opts["noise_model"],
                noise_seed=self._noise_seed(),
                dry_run=opts["dry_run"],
                session_id=opts["session"],
                metadata=opts["metadata"],
            )
            for indices, qubits, shots in plan
        ]
        try:
            job_ids = await self._submit_all(payloads, state)
            answers = await self._gather([self._wait(job_id, state) for job_id in job_ids])
        except BaseException:
            await self._call(self._cancel, state)
            raise
        finally:
            self._end_progress(state)
        record = RunRecord(
            job_ids=job_ids,
            backend=self.backend,
            circuits=len(circuits),
            shots=sum(c.shots.total_shots for c in circuits),
            estimated_cost=estimate,
            wall_time=time.monotonic() - state.started,
            dry_run=bool(opts["dry_run"]),
        )
        if self.backend in QPU_BACKENDS:
            record.cost = await self._actual_cost(job_ids)
        elif not opts["dry_run"]:
            record.cost = 0.0
        self.runs.append(record)
        self._track(record)
        if opts["dry_run"]:
            raise DryRunComplete(record)
        results: list[Any] = [None] * len(circuits)
        for (indices, _, shots), (job, probabilities) in zip(plan, answers, strict=True):
            children = job.get("child_job_ids") or []
            per_circuit = [probabilities[c] for c in children] if children else [probabilities]
            for index, probs in zip(indices, per_circuit, strict=True):
                _, order, output_qubits = specs[index]
                states, counts = counts_from_probabilities(probs, shots, self._rng, exact)
                results[index] = measure(
                    circuits[index], states, counts, output_qubits, order, self._rng
                )
        return results

    def _noise_seed(self) -> int | None:
        if self.options["noise_seed"] is not None:
            return int(self.options["noise_seed"])
        if self.backend == "simulator" and self.options["noise_model"] not in (None, "ideal"):
            return int(self._rng.integers(2**31))
        return None

    @staticmethod
    async def _gather(coroutines: list[Any]) -> list[Any]:
        """Run coroutines concurrently; on the first error cancel the rest and re-raise."""
        tasks = [asyncio.ensure_future(c) for c in coroutines]
        try:
            return list(await asyncio.gather(*tasks))
        finally:
            for task in tasks:
                task.cancel()

    async def _submit_all(self, payloads: list[dict[str, Any]], state: _Batch) -> list[str]:
        def submit(payload: dict[str, Any]) -> str:
            job_id = self.client.submit_job(payload)
            state.submitted.append(job_id)  # recorded even if the caller was interrupted
            return job_id

        state.pending = [self._pool.submit(submit, payload) for payload in payloads]
        return await self._gather([asyncio.wrap_future(f) for f in state.pending])

    async def _wait(self, job_id: str, state: _Batch) -> tuple[dict[str, Any], Any]:
        delay, longest = self.options["poll_interval"]
        timeout = self.options["timeout"]
        while True:
            job = await self._call(self.client.get_job, job_id)
            status = state.status[job_id] = job["status"]
            if status == "completed":
                break
            if status in ("failed", "canceled"):
                failure = job.get("failure") or {}
                code = failure.get("code", status)
                raise IonQJobFailed(job_id, code, failure.get("error", f"the job was {status}"))
            elapsed = time.monotonic() - state.started
            if timeout is not None and elapsed > timeout:
                raise IonQError(
                    f"IonQ job {job_id} is still {status} after {timeout:g} s; it was cancelled "
                    "(raise timeout= to wait longer)"
                )
            self._show_progress(state, elapsed)
            await asyncio.sleep(delay)
            delay = min(longest, delay * 1.5)
        state.done.add(job_id)
        if self.options["dry_run"]:
            return job, None
        return job, await self._call(self.client.get_probabilities, job_id)

    def _cancel(self, state: _Batch) -> None:
        """Cancel every submitted job that has not finished (best effort).

        Submissions still in flight are waited for first, so no job they create escapes.
        """
        concurrent.futures.wait(state.pending, timeout=self.client.timeout[1])
        for job_id in list(state.submitted):
            if job_id in state.done or job_id in state.cancelled:
                continue
            state.cancelled.add(job_id)
            with contextlib.suppress(Exception):
                self.client.cancel_job(job_id)

    async def _actual_cost(self, job_ids: list[str]) -> float | None:
        answers = await asyncio.gather(*(self._call(self.client.get_cost, j) for j in job_ids))
        values = [(a.get("cost") or {}).get("value") for a in answers]
        return None if any(v is None for v in values) else float(sum(values))

    def _show_progress(self, state: _Batch, elapsed: float) -> None:
        enabled = self.options["progress"]
        if enabled is None:
            enabled = sys.stderr.isatty()
        if not enabled or elapsed < PROGRESS_AFTER:
            return
        done = sum(1 for s in state.status.values() if s == "completed")
        waiting = ", ".join(
            f"{n} {s}" for s in ("submitted", "ready", "started") if (n := _count(state, s))
        )
        sys.stderr.write(
            f"\rIonQ {self.backend}: {done}/{len(state.submitted)} jobs completed"
            f"{', ' + waiting if waiting else ''} ({elapsed:.0f} s)   "
        )
        sys.stderr.flush()
        state.shown = True

    @staticmethod
    def _end_progress(state: _Batch) -> None:
        if state.shown:
            sys.stderr.write("\n")

    def _track(self, record: RunRecord) -> None:
        if self.tracker.active:
            self.tracker.update(
                batches=1,
                executions=record.circuits,
                jobs=len(record.job_ids),
                job_ids=tuple(record.job_ids),
                shots=record.shots,
                estimated_cost=record.estimated_cost,
                cost=record.cost,
            )
            self.tracker.record()


def _new_pool() -> concurrent.futures.ThreadPoolExecutor:
    return concurrent.futures.ThreadPoolExecutor(16, thread_name_prefix="qstore-ionq")


def _count(state: _Batch, status: str) -> int:
    return sum(1 for s in state.status.values() if s == status)


def _native_compiles(op: qml.operation.Operator) -> bool:
    """Whether the native compiler lowers ``op`` directly (others are decomposed first)."""
    if isinstance(op, (qml.Barrier, MS, ZZ, qml.SWAP, qml.IsingXX, qml.IsingYY, qml.IsingZZ)):
        return True
    if len(op.wires) == 1:
        return op.has_matrix
    return isinstance(op, qml.ops.op_math.Controlled) and len(op.wires) == 2 and op.base.has_matrix


def _run_coroutine(coroutine: Any) -> Any:
    """Run a coroutine to completion from synchronous code, even inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
