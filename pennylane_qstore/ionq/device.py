"""The ``qstore.ionq`` device: runs PennyLane batches on IonQ as multi-circuit jobs.

A whole batch (for example every parameter-shift tape of a gradient step) is sent as a few
``ionq.multi-circuit.v1`` jobs, which are polled concurrently on an event loop; the results'
probabilities become every measurement PennyLane asks for. Jobs run in :mod:`.jobs`, options are
checked by :mod:`.options`, the device's own preprocessing steps are in :mod:`.preprocess`;
this module is the device class (about 450 lines: its documented options and the batch pipeline
that shares their state).
"""

from __future__ import annotations

import inspect
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pennylane as qml
from pennylane.devices import Device, ExecutionConfig
from pennylane.devices.capabilities import observable_stopping_condition_factory
from pennylane.devices.modifiers import single_tape_support
from pennylane.devices.preprocess import (
    decompose,
    no_analytic,
    validate_device_wires,
    validate_measurements,
    validate_observables,
)
from pennylane.measurements import SampleMeasurement
from pennylane.tape import QuantumScript
from pennylane.transforms import broadcast_expand, defer_measurements
from pennylane.wires import Wires

from pennylane_qstore.budget import Budget, Ledger
from pennylane_qstore.ionq.backends import (
    BACKEND_QUBITS,
    QPU_BACKENDS,
)
from pennylane_qstore.ionq.billing import CostTracking
from pennylane_qstore.ionq.circuits import gate_counts
from pennylane_qstore.ionq.client import IonQClient, job_payload
from pennylane_qstore.ionq.errors import CostCapExceeded, DryRunComplete
from pennylane_qstore.ionq.jobs import JobRunner, RunRecord, new_pool, run_coroutine
from pennylane_qstore.ionq.native import circuit_json
from pennylane_qstore.ionq.options import (
    check_max_circuits,
    check_metadata,
    check_mitigation_shots,
    check_noise_seed,
    check_poll_interval,
    check_rates,
    check_target,
    flag,
    non_negative,
    optional_bool,
    positive,
    seed_generator,
    session_id,
)
from pennylane_qstore.ionq.preprocess import (
    check_shot_limit,
    compile_to_native,
    native_compiles,
    rotate_to_measurement_basis,
    split_measurements,
    sums_as_hermitian,
)
from pennylane_qstore.ionq.pricing import DEFAULT_RATES, RateCard, job_cost
from pennylane_qstore.ionq.qis import QIS_OPS, tape_to_qis
from pennylane_qstore.ionq.results import counts_from_probabilities, measure
from pennylane_qstore.ionq.structure import StructureCache

logger = logging.getLogger(__name__)

_ANALYTIC_REFUSED = (
    "qstore.ionq: it samples its results; give the device shots, e.g. "
    "qml.device('qstore.ionq', wires=2, shots=1000) (analytic shots=None is not supported)"
)


@single_tape_support
class IonQDevice(CostTracking, Device):
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
        budget: USD limit over every batch: a number (this device alone) or a
            :class:`~pennylane_qstore.Budget` shared by devices and processes. Each paid batch
            reserves its estimate first and raises
            :class:`~pennylane_qstore.BudgetExhausted` when it does not fit (docs/cost.md).
        rates: Rate card used for the estimates.
        max_circuits_per_job: Largest multi-circuit job; bigger batches are split.
        poll_interval: ``(first, longest)`` seconds between status polls (grows 1.5x).
        timeout: Seconds to wait for a batch before cancelling it (``None``: no limit).
        progress: Print progress to stderr for waits over 5 s (default: when stderr is a TTY).
        metadata: String metadata added to every job.
        watch_backend: While jobs wait in the queue, check the backend's status (``GET
            /backends``, cached for 30 s) and cancel the batch with
            :class:`~pennylane_qstore.ionq.errors.IonQBackendUnavailable` when the backend is
            no longer available or is degraded (``qstore.router`` sets it for its IonQ targets,
            so it can fall back). By default jobs stay queued until the backend is back.
    """

    name = "qstore.ionq"
    short_name = "qstore.ionq"  # read by PennyLane's device test suite
    config_filepath = Path(__file__).with_name("ionq.toml")

    # One keyword per documented option (as the router), each checked here: hence its length.
    def __init__(
        self,
        wires: Any = None,
        shots: Any = None,
        seed: int | np.random.Generator | None = None,
        backend: str = "simulator",
        gateset: str = "native",
        entangler: str | None = None,
        error_mitigation: bool | None = None,
        noise_model: str | None = None,
        noise_seed: int | None = None,
        dry_run: bool = False,
        session: str | Mapping[str, Any] | None = None,
        api_key: str | None = None,
        api_url: str | None = None,
        cost_cap: float | None = None,
        budget: float | Budget | None = None,
        rates: RateCard = DEFAULT_RATES,
        max_circuits_per_job: int = 1000,
        poll_interval: float | tuple[float, float] = (0.1, 5.0),
        timeout: float | None = None,
        progress: bool | None = None,
        metadata: Mapping[str, str] | None = None,
        watch_backend: bool = False,
        **options: Any,
    ) -> None:
        if options:
            raise TypeError(
                f"qstore.ionq got unknown option(s) {sorted(options)}; valid options: "
                f"{', '.join(_options())}"
            )
        super().__init__(wires=wires, shots=shots)
        self.backend: str = backend
        self.gateset: str = gateset
        self.entangler: str = check_target(backend, gateset, entangler, self.wires)
        self.error_mitigation = optional_bool("error_mitigation", error_mitigation)
        if self.error_mitigation and self.shots:
            check_mitigation_shots(self.shots.total_shots)
        if noise_model is not None and backend != "simulator":
            raise ValueError("noise_model= applies to backend='simulator' only")
        self.noise_model = noise_model
        self.noise_seed = check_noise_seed(noise_seed)
        self.dry_run = flag("dry_run", dry_run)
        self.session = session_id(session)
        self.cost_cap = non_negative("cost_cap", cost_cap, "US dollars, e.g. cost_cap=10.0")
        self.budget = budget
        self._ledger = Ledger()
        self.cost_label = f"qstore.ionq:{backend}#{uuid.uuid4().hex[:8]}"
        self.rates = check_rates(rates)
        self.max_circuits_per_job = check_max_circuits(max_circuits_per_job)
        self.poll_interval = check_poll_interval(poll_interval)
        self.timeout = positive("timeout", timeout)
        self.progress = optional_bool("progress", progress)
        self.metadata = check_metadata(metadata)
        self.watch_backend = flag("watch_backend", watch_backend)
        self.client = IonQClient(api_key=api_key, api_url=api_url)
        self.runs: list[RunRecord] = []
        self.structure_cache = StructureCache()  # native compiles once per circuit structure
        self._rng = seed_generator(seed)
        self._pool = new_pool()

    def __getstate__(self) -> dict[str, Any]:
        """Copy and pickle without the thread pool (it cannot be pickled); copies get their own."""
        state = self.__dict__.copy()
        del state["_pool"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._pool = new_pool()

    # -- preprocessing -----------------------------------------------------------------------
    def _accepts(self, op: qml.operation.Operator) -> bool:
        """Whether ``op`` reaches execution as it is (everything else is decomposed).

        With ``gateset="qis"`` these are the gates of ``ionq.toml`` that :mod:`.qis` writes;
        with ``"native"`` every gate the compiler lowers directly (any one-qubit gate with a
        matrix, which a TOML gate list cannot express).
        """
        if op.name in ("Identity", "GlobalPhase"):
            return True
        if self.gateset == "qis":
            return op.name in QIS_OPS and self.capabilities.supports_operation(op)
        return native_compiles(op)

    def preprocess_transforms(
        self, execution_config: ExecutionConfig | None = None
    ) -> qml.CompilePipeline:
        """Validate, split into measurable groups, rotate to the Z basis and compile to IonQ gates.

        Observables and QIS gates come from ``ionq.toml``; any sample-based measurement is
        computed from IonQ's results.
        """
        caps = self.capabilities
        program = qml.CompilePipeline()
        config = execution_config or ExecutionConfig()
        if config.mcm_config.mcm_method in (None, "deferred"):
            # IonQ measures at the end only: mid-circuit measurements become controlled gates
            program.add_transform(defer_measurements, allow_postselect=False)
        program.add_transform(validate_device_wires, self.wires, name=self.name)
        program.add_transform(no_analytic, name=_ANALYTIC_REFUSED)
        program.add_transform(check_shot_limit)
        program.add_transform(
            validate_measurements,
            # every sample-based measurement, custom ones too (ionq.toml lists the standard ones)
            sample_measurements=lambda mp: isinstance(mp, SampleMeasurement),
            name=self.name,
        )
        program.add_transform(
            validate_observables, observable_stopping_condition_factory(caps), name=self.name
        )
        program.add_transform(broadcast_expand)
        program.add_transform(sums_as_hermitian)
        program.add_transform(split_measurements)  # split_non_commuting, "qwc" groups
        program.add_transform(rotate_to_measurement_basis)
        program.add_transform(
            decompose,
            stopping_condition=self._accepts,
            skip_initial_state_prep=False,  # IonQ has no state preparation: decompose it too
            device_wires=self.wires,
            name=self.name,
        )
        if self.gateset == "native":
            qubits = BACKEND_QUBITS[self.backend]
            cache = self.structure_cache
            program.add_transform(compile_to_native, self.entangler, self.wires, qubits, cache)
        return program

    # -- execution ---------------------------------------------------------------------------
    def execute(
        self,
        circuits: QuantumScript | Sequence[QuantumScript],
        execution_config: ExecutionConfig | None = None,
    ) -> Any:
        """Run preprocessed circuits as multi-circuit jobs; Ctrl-C cancels the submitted jobs."""
        runner = self._runner()
        try:
            return tuple(run_coroutine(self._run(list(circuits), runner)))
        except KeyboardInterrupt:
            runner.cancel()
            raise

    async def execute_async(
        self,
        circuits: QuantumScript | Sequence[QuantumScript],
        execution_config: ExecutionConfig | None = None,
    ) -> Any:
        """Preprocess and run circuits without blocking the caller's event loop.

        Example: ``results = await dev.execute_async([tape1, tape2])`` (a single tape gives a
        single result). Tapes without shots take the device's. Cancelling the awaiting task
        cancels the submitted jobs.
        """
        single = isinstance(circuits, QuantumScript)
        given = [circuits] if single else list(circuits)
        config = self.setup_execution_config(execution_config)
        tapes = [c if c.shots or not self.shots else c.copy(shots=self.shots) for c in given]
        runner = self._runner()
        batch, postprocess = await runner.call(self.preprocess_transforms(config), tapes)
        results = tuple(postprocess(tuple(await self._run(list(batch), runner))))
        return results[0] if single else results

    def _runner(self) -> JobRunner:
        return JobRunner(
            self.client,
            self._pool,
            self.backend,
            self.poll_interval,
            timeout=self.timeout,
            progress=self.progress,
            dry_run=self.dry_run,
            watch=self._backend_problem if self.watch_backend else None,
        )

    def _backend_problem(self) -> str | None:
        """Why the backend cannot run queued jobs now (``None``: it can, or its status is not
        known; an unreadable status never cancels jobs)."""
        from pennylane_qstore.ionq.status import monitor_for

        try:
            status = monitor_for(self.client).status(self.backend)
        except Exception as exc:
            logger.debug("status of %s unknown while its jobs wait: %s", self.backend, exc)
            return None
        if not status.available:
            return f"{self.backend} became {status.status}"
        return f"{self.backend} became degraded" if status.degraded else None

    def _serialise(self, circuit: QuantumScript) -> tuple[list[dict[str, Any]], Wires]:
        """Return ``(IonQ gate list, wire order)``: wire ``order[i]`` is qubit ``i``.

        With ``gateset="native"`` preprocessing compiled the circuit (``compile_to_native``), so
        its gates are sent as they are.
        """
        order = Wires(self.wires if self.wires is not None else circuit.wires)
        if self.gateset == "qis":
            position = {wire: i for i, wire in enumerate(order)}
            return tape_to_qis(circuit.operations, position.__getitem__), order
        return circuit_json(circuit.operations, order)["circuit"], order

    def _plan(self, circuits: list[QuantumScript]) -> list[tuple[list[int], int, int]]:
        """Group circuits by (qubits, shots) and chunk: ``[(indices, qubits, shots), ...]``."""
        groups: dict[tuple[int, int], list[int]] = {}
        for index, circuit in enumerate(circuits):
            if self.error_mitigation:
                check_mitigation_shots(circuit.shots.total_shots)
            qubits = len(self.wires) if self.wires is not None else max(circuit.num_wires, 1)
            groups.setdefault((qubits, circuit.shots.total_shots), []).append(index)
        size = self.max_circuits_per_job
        return [
            (indices[start : start + size], qubits, shots)
            for (qubits, shots), indices in groups.items()
            for start in range(0, len(indices), size)
        ]

    def _payloads(self, specs: list, plan: list) -> list[dict[str, Any]]:
        return [
            job_payload(
                [specs[i][0] for i in indices],
                qubits,
                gateset=self.gateset,
                backend=self.backend,
                shots=shots,
                error_mitigation=self.error_mitigation,
                noise_model=self.noise_model,
                noise_seed=self._noise_seed(),
                dry_run=self.dry_run,
                session_id=self.session,
                metadata=self.metadata,
            )
            for indices, qubits, shots in plan
        ]

    async def _run(self, circuits: list[QuantumScript], runner: JobRunner) -> list[Any]:
        # serialising is CPU work: keep it off the event loop so other tasks keep running
        specs = await runner.call(lambda: [self._serialise(c) for c in circuits])
        plan = self._plan(circuits)
        counts = [gate_counts(gates) for gates, _ in specs]
        estimate = sum(
            job_cost(
                self.backend,
                shots,
                [counts[i] for i in indices],
                bool(self.error_mitigation),
                self.rates,
            )
            for indices, _, shots in plan
        )
        if self.cost_cap is not None and estimate > self.cost_cap:
            raise CostCapExceeded(estimate, self.cost_cap)
        bill = None if self.dry_run else self._open_bill(circuits, counts, plan, estimate)
        runner.on_submit = None if bill is None else bill.submitted
        try:
            client_ids = None if bill is None else bill.client_ids
            job_ids, answers = await runner.run(self._payloads(specs, plan), client_ids)
        except BaseException as error:
            if bill is not None:
                if isinstance(error, Exception):
                    await runner.call(bill.failed, self.client, list(runner.batch.submitted), error)
                else:  # interrupted: no more HTTP calls now
                    bill.failed(self.client, list(runner.batch.submitted), error)
            raise
        record = RunRecord(
            job_ids=job_ids,
            backend=self.backend,
            circuits=len(circuits),
            shots=sum(c.shots.total_shots for c in circuits),
            estimated_cost=estimate,
            wall_time=time.monotonic() - runner.batch.started,
            dry_run=self.dry_run,
        )
        if self.backend in QPU_BACKENDS:
            record.cost = await runner.actual_cost(job_ids)
        elif not self.dry_run:
            record.cost = 0.0
        if bill is not None:
            jobs = [job for job, _ in answers]
            await runner.call(bill.completed, record.cost, job_ids, jobs, record.wall_time)
        self.runs.append(record)
        self._track(record)
        logger.debug("IonQ batch ran as jobs %s (estimated $%.2f)", job_ids, estimate)
        if self.dry_run:
            raise DryRunComplete(record)
        return self._results(circuits, specs, plan, answers)

    def _results(self, circuits: list, specs: list, plan: list, answers: list) -> list[Any]:
        exact = self.backend == "simulator" and self.noise_model in (None, "ideal")
        results: list[Any] = [None] * len(circuits)
        for (indices, _, shots), (job, probabilities) in zip(plan, answers, strict=True):
            children = job.get("child_job_ids") or []
            per_circuit = [probabilities[c] for c in children] if children else [probabilities]
            for index, probs in zip(indices, per_circuit, strict=True):
                _, order = specs[index]
                states, counts = counts_from_probabilities(probs, shots, self._rng, exact)
                qubits = range(len(order))
                results[index] = measure(circuits[index], states, counts, qubits, order, self._rng)
        return results

    def _noise_seed(self) -> int | None:
        if self.noise_seed is not None:
            return self.noise_seed
        if self.backend == "simulator" and self.noise_model not in (None, "ideal"):
            return int(self._rng.integers(2**31))
        return None

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


def _options() -> list[str]:
    """The device's keyword options, in the order of its signature."""
    names = inspect.signature(IonQDevice.__init__).parameters
    return [n for n in names if n not in ("self", "options")]
