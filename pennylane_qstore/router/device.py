"""``qstore.router``: a PennyLane device that sends each tape to the best available simulator.

The router preprocesses circuits with PennyLane's own transforms (from ``router.toml``), picks a
fallback chain of targets for every tape with a :class:`~.RoutingPolicy`, executes the tapes of a
batch grouped per chain (so each target sees one batch), retries a group on the next target of its
chain when a target raises, and keeps a :class:`~.RoutingRecord` of every batch.

The module is one class, PennyLane's device API (options, derivative resolution, preprocessing,
routed execution), about 560 lines: its parts share the router's target cache and chains, and
the policy (:mod:`.policy`), registry (:mod:`.targets`) and records (:mod:`.record`) are apart.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from time import perf_counter
from typing import Any

import numpy as np
from autograd.numpy.numpy_boxes import ArrayBox
from pennylane.devices import Device, ExecutionConfig
from pennylane.devices.capabilities import observable_stopping_condition_factory
from pennylane.devices.modifiers import simulator_tracking, single_tape_support
from pennylane.devices.preprocess import (
    decompose,
    device_resolve_dynamic_wires,
    validate_device_wires,
    validate_measurements,
    validate_observables,
)
from pennylane.exceptions import DeviceError
from pennylane.measurements import (
    ClassicalShadowMP,
    MeasurementProcess,
    SampleMeasurement,
    ShadowExpvalMP,
)
from pennylane.tape import QuantumScript, QuantumScriptBatch
from pennylane.transforms import defer_measurements
from pennylane.transforms.core import CompilePipeline
from pennylane.typing import Result, ResultBatch

from .policy import TARGET_FIELDS, RoutingPolicy, TapeInfo, default_policy
from .record import Failure, Route, RoutingRecord
from .targets import DERIVATIVE_METHODS, get_target, registered_targets, registry_generation

logger = logging.getLogger(__name__)
_SHADOWS = (ClassicalShadowMP, ShadowExpvalMP)

_DEVICE_DERIVATIVES = tuple(sorted(DERIVATIVE_METHODS))
_OPTIONS = ("wires", "shots", "seed", "target", "targets", "policy", "fallback")


class RoutingError(DeviceError):
    """Every target of a tape's fallback chain failed; the message names each failure."""


@simulator_tracking
@single_tape_support
class RouterDevice(Device):
    """Routes each tape to a simulator target (``default.qubit``, ``lightning.qubit``, qsim, ...).

    Args:
        wires: Number of wires or wire labels (``None``: taken from each circuit).
        shots: Default shots of QNodes on this device (``None``: analytic).
        seed: Seed of the router's NumPy generator; targets are seeded from it (``"global"``:
            drawn from NumPy's global generator, as ``default.qubit`` does).
        target: Run everything on this one target (no fallback to others).
        targets: Run on these targets, in order: the first one, then the next on failure.
        policy: A :class:`~.RoutingPolicy` replacing the default rules and thresholds.
        fallback: If ``False``, a failing target raises at once instead of passing tapes on.

    Raises:
        TypeError: For unknown options (the message lists the valid ones).
        ValueError: For unknown or unavailable targets (the message says why and how to fix it).

    Attributes:
        routing_history: The records of the last 1000 batches, oldest first.
    """

    config_filepath = str(Path(__file__).with_name("router.toml"))

    def __init__(
        self,
        wires: Any = None,
        shots: Any = None,
        seed: int | np.random.Generator | str | None = None,
        target: str | None = None,
        targets: Sequence[str] | None = None,
        policy: RoutingPolicy | None = None,
        fallback: bool = True,
        **options: Any,
    ) -> None:
        if options:
            raise TypeError(
                f"Unknown option(s) {sorted(options)} for qstore.router; "
                f"valid options are {list(_OPTIONS)}."
            )
        super().__init__(wires=wires, shots=shots)
        if target is not None and targets is not None:
            raise ValueError("Pass either target= or targets=[...] to qstore.router, not both.")
        if isinstance(targets, str):
            raise TypeError(f"targets= takes a list of names; use target={targets!r} for one.")
        explicit = (
            [target] if target is not None else list(targets) if targets is not None else None
        )
        if explicit is not None:
            if not explicit:
                raise ValueError("targets= must name at least one target.")
            for name in explicit:
                self._check_target(name)
        if policy is not None and not isinstance(policy, RoutingPolicy):
            raise TypeError(
                f"policy= takes a pennylane_qstore.router.RoutingPolicy, got {type(policy).__name__}."
            )
        self._explicit = explicit
        self._policy = policy or default_policy()
        if not isinstance(fallback, (bool, np.bool_)):
            raise TypeError(f"fallback= takes True or False, got {fallback!r}.")
        self._fallback = bool(fallback)
        if isinstance(seed, str) and seed == "global":  # as default.qubit: use NumPy's global RNG
            seed = int(np.random.randint(2**31 - 1))
        try:
            self._rng = np.random.default_rng(seed)
        except (TypeError, ValueError) as exc:
            negative = isinstance(seed, (int, np.integer)) and seed < 0
            hint = " (an int seed must be 0 or more)" if negative else ""
            raise TypeError(
                "seed= takes an int, a numpy.random.Generator, 'global' or None, "
                f"got {seed!r}{hint}."
            ) from exc
        self._seeded = seed is not None
        self._devices: dict[str, Device] = {}
        self._target_setup: dict[tuple, tuple[ExecutionConfig, CompilePipeline]] = {}
        self._chains: dict[tuple, tuple[str, tuple[str, ...]]] = {}
        self.routing_history: deque[RoutingRecord] = deque(maxlen=1000)

    def __getstate__(self) -> dict[str, Any]:
        """Copy and pickle without the built target devices (lightning's C++ state cannot be
        pickled); a copy builds its own targets on first use."""
        state = self.__dict__.copy()
        state["_devices"] = {}
        state["_target_setup"] = {}
        state["_chains"] = {}
        return state

    @property
    def name(self) -> str:
        """The PennyLane short name of this device."""
        return "qstore.router"

    @property
    def policy(self) -> RoutingPolicy:
        """The routing policy in use."""
        return self._policy

    @property
    def pinned_targets(self) -> tuple[str, ...] | None:
        """The targets named with ``target=``/``targets=``, or ``None`` when the policy picks."""
        return None if self._explicit is None else tuple(self._explicit)

    @property
    def routing_record(self) -> RoutingRecord | None:
        """The record of the last executed batch, or ``None`` before the first execution."""
        return self.routing_history[-1] if self.routing_history else None

    def record_batch(
        self, target: str, num_tapes: int, seconds: float, reason: str, kind: str = "execute"
    ) -> RoutingRecord:
        """Record a batch that a caller ran on one of the router's targets by itself.

        The quantum layers simulate whole batches on the ``engine`` target without building
        tapes; they report those batches here so :attr:`routing_record` tells the whole story.

        Args:
            target: Name of the registered target that ran the batch.
            num_tapes: Circuits in the batch (one per input row).
            seconds: Wall time of the batch.
            reason: Why this target ran it.
            kind: ``"execute"`` or ``"derivatives"``.

        Returns:
            The record appended to :attr:`routing_history`.
        """
        self._check_target(target)
        wires = len(self.wires) if self.wires is not None else 0
        route = Route(target, tuple(range(num_tapes)), wires, None, reason, seconds)
        record = RoutingRecord(kind, num_tapes, [route])
        self.routing_history.append(record)
        return record

    def __repr__(self) -> str:
        wires = len(self.wires) if self.wires is not None else None
        if self._explicit is not None:
            using = f"targets={self._explicit}"
        else:
            using = f"targets={self.usable_targets()} (auto)"
        shots = f", shots={self.shots.total_shots}" if self.shots else ""
        return f"<qstore.router device (wires={wires}{shots}) {using}>"

    # ------------------------------------------------------------------ targets

    @staticmethod
    def _check_target(name: str) -> None:
        try:
            spec = get_target(name)
        except KeyError as exc:
            raise ValueError(exc.args[0]) from None
        reason = spec.unavailable_reason()
        if reason is not None:
            raise ValueError(f"Target {name!r} is not available: {reason}")

    def usable_targets(self, gradient_method: str | None = None) -> list[str]:
        """Return the targets this router may use, in fallback order.

        Args:
            gradient_method: ``"adjoint"`` or ``"backprop"`` keeps only targets that can compute
                that derivative; ``None`` keeps all.
        """
        if self._explicit is not None:
            names = list(self._explicit)
        else:
            named = set(self._policy_names())
            names = [
                s.name for s in registered_targets() if (s.auto or s.name in named) and s.available
            ]
        if gradient_method in _DEVICE_DERIVATIVES:
            names = [n for n in names if gradient_method in get_target(n).derivatives]
        return names

    def _policy_names(self) -> list[str]:
        return [name for field in TARGET_FIELDS for name in getattr(self._policy, field)]

    def _device(self, name: str) -> Device:
        """Return the (lazily built) device of target ``name``."""
        if name not in self._devices:
            seed = int(self._rng.integers(2**31 - 1)) if self._seeded else None
            self._devices[name] = get_target(name).factory(self.wires, seed)
        return self._devices[name]

    def _setup(self, name: str, gradient_method: str | None, interface: Any):
        """Return the target's execution config and preprocessing for a derivative mode."""
        key = (name, gradient_method, str(interface))
        if key not in self._target_setup:
            dev = self._device(name)
            config = dev.setup_execution_config(
                ExecutionConfig(gradient_method=gradient_method, interface=interface)
            )
            self._target_setup[key] = (config, dev.preprocess_transforms(config))
        return self._target_setup[key]

    def _chain(self, info: TapeInfo) -> tuple[str, tuple[str, ...]]:
        """Return ``(reason, fallback chain)``, cached until the target registry changes."""
        key = (registry_generation(), info)
        if key not in self._chains:
            reason, chain = self._compute_chain(info)
            self._chains[key] = (reason, tuple(chain))
        return self._chains[key]

    def _compute_chain(self, info: TapeInfo) -> tuple[str, list[str]]:
        usable = self.usable_targets(info.gradient_method)
        if self._explicit is not None:
            option = "target=" if len(self._explicit) == 1 else "targets="
            return f"{option} option", usable
        fallbacks = usable if self._fallback else []
        return self._policy.chain(info, usable, fallbacks)

    # ------------------------------------------------------------------ PennyLane device API

    def supports_derivatives(
        self,
        execution_config: ExecutionConfig | None = None,
        circuit: QuantumScript | None = None,
    ) -> bool:
        """Whether the router can delegate this derivative to a target.

        ``backprop`` needs an analytic circuit and a backprop target (``default.qubit``);
        ``adjoint`` needs a target whose own ``supports_derivatives`` accepts the circuit;
        ``best`` is either of these. Other methods run as PennyLane gradient transforms.
        """
        if execution_config is None:
            return True
        method = execution_config.gradient_method
        if method not in (*_DEVICE_DERIVATIVES, "best"):
            return False
        if circuit is not None and circuit.shots:
            return False
        order = execution_config.derivative_order
        return self._device_gradient(method, circuit, order) is not None

    def _device_gradient(
        self, method: str, circuit: QuantumScript | None, derivative_order: int = 1
    ) -> str | None:
        """Resolve ``method`` (``best``, ``adjoint``, ``backprop``) to a delegated method.

        ``best`` never resolves to adjoint for higher-order derivatives (``max_diff > 1``):
        adjoint jacobians are not differentiable again, so Hessians would come out as zeros.
        """
        num_wires = len(circuit.wires) if circuit is not None else len(self.wires or ())
        if method == "best" and derivative_order > 1:
            order = ["backprop"]
        elif method == "best":
            order = (
                list(_DEVICE_DERIVATIVES)
                if num_wires >= self._policy.adjoint_wires
                else [
                    "backprop",
                    "adjoint",
                ]
            )
        else:
            order = [method]
        for candidate in order:
            usable = self.usable_targets(candidate)
            if not usable:
                continue
            if method == "best" and self._explicit is not None and usable[0] != self._explicit[0]:
                # "best" must not skip the first target the user named (targets=["qsim", ...]):
                # a device derivative would run every tape on a later target of the list.
                continue
            if candidate == "backprop" or circuit is None:
                return candidate
            chain = self._chain(TapeInfo(num_wires, None, None, candidate))[1]
            dev = self._device(chain[0])
            config = ExecutionConfig(gradient_method="adjoint")
            if dev.supports_derivatives(config, circuit):
                return candidate
        return None

    def setup_execution_config(
        self, config: ExecutionConfig | None = None, circuit: QuantumScript | None = None
    ) -> ExecutionConfig:
        """Resolve ``best`` and device-gradient settings, reject unknown device options."""
        config = config or ExecutionConfig()
        if config.device_options:
            raise DeviceError(
                f"qstore.router has no execution-time device options, got "
                f"{sorted(config.device_options)}; pass options to qml.device(...) instead."
            )
        method = config.gradient_method
        order = config.derivative_order
        if method in ("best", "adjoint") and _differentiated_again(circuit):
            # autograd is tracing a derivative of this derivative (qml.jacobian(qml.jacobian(f))
            # with max_diff=1): adjoint jacobians are constants to it and Hessians come out as 0
            if method == "adjoint":
                raise DeviceError(
                    "qstore.router: adjoint derivatives cannot be differentiated again (the "
                    "Hessian would silently be 0); use diff_method='best' or 'backprop', or "
                    "diff_method='parameter-shift' with max_diff=2."
                )
            order = max(order, 2)
        if method in ("best", *_DEVICE_DERIVATIVES):
            resolved = self._device_gradient(method, circuit, order)
            if resolved is not None and not (circuit is not None and circuit.shots):
                method = resolved
        updates: dict[str, Any] = {"gradient_method": method}
        if config.use_device_gradient is None:
            updates["use_device_gradient"] = method in _DEVICE_DERIVATIVES
        if config.use_device_jacobian_product is None:
            updates["use_device_jacobian_product"] = False
        if config.grad_on_execution is None:
            updates["grad_on_execution"] = method == "adjoint"
        return super().setup_execution_config(replace(config, **updates), circuit)

    def preprocess_transforms(
        self, execution_config: ExecutionConfig | None = None
    ) -> CompilePipeline:
        """PennyLane's preprocessing to the gate set of ``router.toml``; broadcasts are kept.

        Mid-circuit measurements are deferred, operations decomposed to ``router.toml``'s gate
        set, wires, measurements and observables validated. Broadcasted tapes are left to the
        targets (``default.qubit`` simulates them vectorised; others split them).

        With ``adjoint``/``backprop`` derivatives, the preprocessing of the target that computes
        them is appended, so PennyLane differentiates exactly the tapes that target runs.
        """
        config = execution_config or ExecutionConfig()
        caps = self.capabilities
        program = CompilePipeline()
        if config.mcm_config.mcm_method == "deferred":
            program.add_transform(defer_measurements, allow_postselect=False)
        program.add_transform(
            decompose,
            stopping_condition=caps.supports_operation,
            device_wires=self.wires,
            target_gates=caps.gate_set(),
            name=self.name,
        )
        program.add_transform(device_resolve_dynamic_wires, wires=self.wires, allow_resets=False)
        program.add_transform(validate_device_wires, self.wires, name=self.name)
        program.add_transform(validate_measurements, sample_measurements=_sampled, name=self.name)
        program.add_transform(
            validate_observables,
            stopping_condition=observable_stopping_condition_factory(
                caps.filter(finite_shots=False)
            ),
            stopping_condition_shots=observable_stopping_condition_factory(
                caps.filter(finite_shots=True)
            ),
            name=self.name,
        )
        method = config.gradient_method
        if method in _DEVICE_DERIVATIVES:
            num_wires = len(self.wires) if self.wires is not None else 0
            chain = self._chain(TapeInfo(num_wires, None, None, method))[1]
            if not chain:
                raise DeviceError(f"qstore.router has no target that supports {method}.")
            program = program + self._setup(chain[0], method, config.interface)[1]
        return program

    def execute(
        self,
        circuits: QuantumScriptBatch,
        execution_config: ExecutionConfig | None = None,
    ) -> ResultBatch:
        """Execute ``circuits`` on their targets; see :attr:`routing_record` afterwards."""
        config = execution_config or ExecutionConfig()
        return self._run(circuits, config, derivatives=False)

    def compute_derivatives(
        self,
        circuits: QuantumScriptBatch,
        execution_config: ExecutionConfig | None = None,
    ) -> tuple:
        """Jacobians of ``circuits`` computed by the target that supports the method."""
        return self.execute_and_compute_derivatives(circuits, execution_config)[1]

    def execute_and_compute_derivatives(
        self,
        circuits: QuantumScriptBatch,
        execution_config: ExecutionConfig | None = None,
    ) -> tuple[ResultBatch, tuple]:
        """Results and jacobians of ``circuits`` from the target that computes them."""
        config = execution_config or ExecutionConfig(gradient_method="adjoint")
        if config.gradient_method != "adjoint":
            raise DeviceError(
                f"qstore.router computes device derivatives with 'adjoint' only, got "
                f"{config.gradient_method!r}."
            )
        pairs = self._run(circuits, config, derivatives=True)
        return tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)

    # ------------------------------------------------------------------ routing

    def _run(self, circuits: QuantumScriptBatch, config: ExecutionConfig, derivatives: bool):
        method = config.gradient_method if config.gradient_method in _DEVICE_DERIVATIVES else None
        if method == "adjoint" and not derivatives:
            # Nothing is differentiated here (diff_method="best" resolves to adjoint even for
            # a plain forward pass): route by the tape itself, e.g. wide tapes to qsim.
            method = None
        record = RoutingRecord("derivatives" if derivatives else "execute", len(circuits))
        groups: dict[tuple, list[int]] = {}
        for index, tape in enumerate(circuits):
            shots = tape.shots.total_shots if tape.shots else None
            shadow = any(isinstance(mp, _SHADOWS) for mp in tape.measurements)
            info = TapeInfo(len(tape.wires), shots, tape.batch_size, method, shadow)
            reason, chain = self._chain(info)
            groups.setdefault((reason, chain, shots), []).append(index)
        results: list[Any] = [None] * len(circuits)
        for (reason, chain, shots), indices in groups.items():
            tapes = [circuits[i] for i in indices]
            outputs, route = self._run_group(
                tapes, chain, reason, shots, indices, config, method, derivatives
            )
            for i, out in zip(indices, outputs, strict=True):
                results[i] = out
            record.routes.append(route)
        self.routing_history.append(record)
        if self.tracker.active:
            self.tracker.update(routing=record.tapes_per_target(), fallbacks=len(record.fallbacks))
        return tuple(results)

    def _run_group(
        self,
        tapes: list[QuantumScript],
        chain: tuple[str, ...],
        reason: str,
        shots: int | None,
        indices: list[int],
        config: ExecutionConfig,
        method: str | None,
        derivatives: bool,
    ) -> tuple[Sequence[Any], Route]:
        num_wires = max(len(t.wires) for t in tapes)
        if not chain:
            mode = f" for {method} derivatives" if method else ""
            raise RoutingError(
                f"No available target{mode} for a {num_wires}-wire tape; usable targets: "
                f"{self.usable_targets()}. Run `qstore devices` to see why others are unavailable."
            )
        failures: list[Failure] = []
        start = perf_counter()
        for name in chain:
            try:
                outputs = self._run_on(name, tapes, config, method, derivatives)
            except Exception as exc:
                failures.append(Failure(name, f"{type(exc).__name__}: {exc}"))
                if not self._fallback:
                    raise
                logger.warning(
                    "qstore.router: target %s failed on %d tape(s) (%s: %s); trying the next "
                    "target of %s",
                    name,
                    len(tapes),
                    type(exc).__name__,
                    exc,
                    list(chain),
                )
                continue
            logger.debug("qstore.router: %d tape(s) ran on %s (%s)", len(tapes), name, reason)
            route = Route(
                target=name,
                tapes=tuple(indices),
                num_wires=num_wires,
                shots=shots,
                reason=reason,
                seconds=perf_counter() - start,
                failures=tuple(failures),
            )
            return outputs, route
        details = "; ".join(f"{f.target}: {f.error}" for f in failures)
        raise RoutingError(f"Every target failed for {len(tapes)} tape(s): {details}")

    def _run_on(
        self,
        name: str,
        tapes: list[QuantumScript],
        config: ExecutionConfig,
        method: str | None,
        derivatives: bool,
    ) -> Sequence[Result] | Sequence[tuple[Result, Any]]:
        """Run ``tapes`` on target ``name`` through its own preprocessing."""
        dev = self._device(name)
        target_config, program = self._setup(name, method, config.interface)
        new_tapes, postprocess = program(tapes)
        if not derivatives:
            return _float64(postprocess(dev.execute(new_tapes, target_config)))
        if [t.trainable_params for t in new_tapes] != [t.trainable_params for t in tapes]:
            raise DeviceError(f"{name} would change the trainable parameters of the tapes")
        values, jacobians = dev.execute_and_compute_derivatives(new_tapes, target_config)
        return list(zip(_float64(postprocess(values)), _float64(jacobians), strict=True))


def _sampled(mp: MeasurementProcess) -> bool:
    """Measurements accepted with shots: samples and classical shadows (their targets run them)."""
    return isinstance(mp, (SampleMeasurement, *_SHADOWS))


def _float64(result: Any) -> Any:
    """Return ``result`` with Python floats as NumPy float64 (lightning returns Python floats,
    which torch turns into float32 tensors)."""
    if isinstance(result, float):
        return np.float64(result)
    if isinstance(result, (tuple, list)):
        return type(result)(_float64(r) for r in result)
    return result


def _differentiated_again(circuit: QuantumScript | None) -> bool:
    """Whether autograd traces this circuit's parameters at two levels (a derivative of a
    derivative being taken through a first-order execution)."""
    if circuit is None:
        return False
    return any(
        isinstance(p, ArrayBox) and isinstance(p._value, ArrayBox)
        for p in circuit.get_parameters(trainable_only=False)
    )
