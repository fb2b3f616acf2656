"""``qstore.router``: a PennyLane device that sends each tape to the best available simulator.

The router preprocesses circuits with PennyLane's own transforms (from ``router.toml``), picks a
fallback chain of targets for every tape with a :class:`~.RoutingPolicy`, orders it by the
``strategy`` (:mod:`.strategy`: fastest, cheapest, hardware), executes the tapes of a batch
grouped per chain (so each target sees one batch), retries a group on the next target of its
chain when a target raises, and keeps a :class:`~.RoutingRecord` of every batch and a cost
ledger (:mod:`pennylane_qstore.budget`).

The module is one class, PennyLane's device API (the documented options, targets and their
chains, derivative resolution, preprocessing), about 470 lines: its parts share the router's
target cache and chains. Execution is :mod:`.execution`, the cost side :mod:`.costs`, option
checks :mod:`.options`; the policy (:mod:`.policy`), registry (:mod:`.targets`) and records
(:mod:`.record`) are apart.
"""

from __future__ import annotations

import logging
import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
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
from pennylane.typing import ResultBatch

from pennylane_qstore.budget import Budget, Ledger, as_budget

from .costs import CostAccounting
from .execution import RoutedExecution
from .options import check_fallback, check_policy, explicit_targets, router_rng
from .policy import TARGET_FIELDS, RoutingPolicy, TapeInfo
from .record import RoutingRecord
from .strategy import check_strategy
from .target_options import check_target_options, options_for
from .targets import DERIVATIVE_METHODS, get_target, registered_targets, registry_generation

logger = logging.getLogger(__name__)
_SHADOWS = (ClassicalShadowMP, ShadowExpvalMP)

_DEVICE_DERIVATIVES = tuple(sorted(DERIVATIVE_METHODS))
_OPTIONS = (
    "wires",
    "shots",
    "seed",
    "target",
    "targets",
    "policy",
    "fallback",
    "strategy",
    "budget",
    "target_options",
)


@simulator_tracking
@single_tape_support
class RouterDevice(CostAccounting, RoutedExecution, Device):
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
        strategy: ``"fastest"`` (simulators; named targets in the order given), ``"cheapest"``
            or ``"hardware"`` (sampled tapes to the QPU with the shortest expected completion);
            see :mod:`.strategy`.
        budget: USD this router may spend on billed targets (a number), or a
            :class:`~pennylane_qstore.budget.Budget` shared with other devices and processes.
            Billed targets leave the chain once it cannot pay for a batch.
        target_options: Keyword options for the devices of targets, keyed by target name or by
            ``"ionq"`` for every IonQ target, e.g. ``{"ionq": {"api_url": url, "api_key": key}}``.

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
        strategy: str = "fastest",
        budget: float | Budget | None = None,
        target_options: Mapping[str, Mapping[str, Any]] | None = None,
        **options: Any,
    ) -> None:
        if options:
            raise TypeError(
                f"Unknown option(s) {sorted(options)} for qstore.router; "
                f"valid options are {list(_OPTIONS)}."
            )
        super().__init__(wires=wires, shots=shots)
        explicit = explicit_targets(target, targets)
        self._target_options = check_target_options(target_options)
        for name in explicit or ():
            self._check_target(name, self._options_for(name))
        self._explicit = explicit
        self._pinned_by = "target=" if target is not None else "targets="
        self._strategy = check_strategy(strategy)
        self._budget = as_budget(budget)
        self._ledger = self._budget.ledger if self._budget is not None else Ledger()
        self._label = f"qstore.router#{uuid.uuid4().hex[:8]}"
        self._policy = check_policy(policy)
        self._fallback = check_fallback(fallback)
        self._rng, self._seeded = router_rng(seed)
        self._devices: dict[str, Device] = {}
        self._target_setup: dict[tuple, tuple[ExecutionConfig, CompilePipeline]] = {}
        self._chains: dict[tuple, tuple[str, tuple[str, ...]]] = {}
        self.routing_history: deque[RoutingRecord] = deque(maxlen=1000)
        self._check_costs()

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

    def __repr__(self) -> str:
        wires = len(self.wires) if self.wires is not None else None
        if self._explicit is not None:
            using = f"targets={self._explicit}"
        else:
            using = f"targets={self.usable_targets()} (auto)"
        shots = f", shots={self.shots.total_shots}" if self.shots else ""
        strategy = "" if self._strategy == "fastest" else f", strategy={self._strategy!r}"
        budget = "" if self._budget is None else f", budget=${self._budget.usd:.2f}"
        return f"<qstore.router device (wires={wires}{shots}{strategy}{budget}) {using}>"

    # ------------------------------------------------------------------ targets

    @staticmethod
    def _check_target(name: str, options: Mapping[str, Any] | None = None) -> None:
        try:
            spec = get_target(name)
        except KeyError as exc:
            raise ValueError(exc.args[0]) from None
        reason = spec.unavailable_reason(options)
        if reason is not None:
            raise ValueError(f"Target {name!r} is not available: {reason}")

    def _options_for(self, name: str) -> dict[str, Any]:
        return options_for(self._target_options, name)

    def _available(self, name: str) -> bool:
        return get_target(name).unavailable_reason(self._options_for(name)) is None

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
            hardware = self._strategy == "hardware"
            names = [
                s.name
                for s in registered_targets()
                if (s.auto or s.name in named or (hardware and s.billed))
                and self._available(s.name)
            ]
        if gradient_method in _DEVICE_DERIVATIVES:
            names = [n for n in names if gradient_method in get_target(n).derivatives]
        return names

    def _policy_names(self) -> list[str]:
        return [name for field in TARGET_FIELDS for name in getattr(self._policy, field)]

    def _device(self, name: str) -> Device:
        """Return the (lazily built) device of target ``name``.

        A remote target's device records its jobs in this router's ledger under this router's
        label and the target's name, and draws on this router's budget.
        """
        if name not in self._devices:
            spec = get_target(name)
            seed = int(self._rng.integers(2**31 - 1)) if self._seeded else None
            options = self._options_for(name)
            dev = (
                spec.factory(self.wires, seed, **options)
                if options
                else spec.factory(self.wires, seed)
            )
            if spec.remote:
                self._adopt_remote(dev, name)
            self._devices[name] = dev
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
        if info.shots is None:  # cloud targets only sample: keep them only if nothing else is named
            local = [name for name in usable if not get_target(name).remote]
            usable = local or usable
        if self._explicit is not None:
            return f"{self._pinned_by} option", usable
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


def _sampled(mp: MeasurementProcess) -> bool:
    """Measurements accepted with shots: samples and classical shadows (their targets run them)."""
    return isinstance(mp, (SampleMeasurement, *_SHADOWS))


def _differentiated_again(circuit: QuantumScript | None) -> bool:
    """Whether autograd traces this circuit's parameters at two levels (a derivative of a
    derivative being taken through a first-order execution)."""
    if circuit is None:
        return False
    return any(
        isinstance(p, ArrayBox) and isinstance(p._value, ArrayBox)
        for p in circuit.get_parameters(trainable_only=False)
    )
