"""Registry of the simulators (*targets*) that ``qstore.router`` can send tapes to.

A target is a name plus a factory that builds a PennyLane device on the new device API
(:class:`pennylane.devices.Device`). The router runs each target's own ``preprocess_transforms``,
``execute`` and, when it delegates derivatives, ``execute_and_compute_derivatives``, so any
well-behaved PennyLane device can be a target.

Registering a target (other modules of this package, or user code)::

    from pennylane_qstore.router.targets import register_target

    def _make_engine(wires, seed):
        from pennylane_qstore.engine import EngineDevice
        return EngineDevice(wires=wires, seed=seed)

    register_target(
        "engine",
        _make_engine,
        check=lambda: None,             # or a function returning why it is unavailable
        derivatives=("backprop",),      # device derivatives the router may delegate to it
        auto=True,                      # False: only used when the user names it
        description="batched torch state-vector simulator",
    )

Targets of other packages (``pennylane_qstore.ionq``, ``pennylane_qstore.engine``, or a
third-party distribution) live in a small module that only calls ``register_target`` (the
factory imports the heavy packages), announced in the entry-point group
:data:`ENTRY_POINT_GROUP`, as PennyLane discovers devices through ``pennylane.plugins``::

    [project.entry-points."pennylane_qstore.targets"]
    mytarget = "my_package.qstore_target"

The registry loads every entry point of the group on first use; one that fails to import is
reported by ``qstore devices`` (see :func:`plugin_errors`) instead of breaking the router.

Rules a target follows:

* ``factory(wires, seed)`` returns a new-API device; ``wires`` is the router's ``Wires`` (or
  ``None``) and ``seed`` an ``int`` drawn from the router's RNG, or ``None``.
* ``check()`` returns ``None`` when the target can run here, else a one-line reason that names the
  fix (for example ``'qsimcirq is not installed: pip install "pennylane-qstore[qsim]"'``). It must be
  cheap and must not raise; the router imports a target's packages only when it builds it.
* ``auto=False`` keeps a target out of the automatic policy (remote hardware such as ``ionq`` is
  registered this way): it runs only when named with ``target=`` / ``targets=[...]``.
* ``derivatives`` lists the device derivative methods (``"adjoint"``, ``"backprop"``) the router may
  delegate to the target; any other method is computed by PennyLane's gradient transforms, whose
  tapes the router executes as one batch.
* ``remote=True`` marks a target that runs in a cloud service (IonQ): it samples, may queue, and
  its device records its jobs' cost itself; ``billed=True`` marks one that costs money (a QPU),
  which the ``hardware`` and ``cheapest`` strategies rank by queue, execution time and price, and
  which leaves the chain when the budget is spent. ``backend`` names the provider's backend.
* A factory that accepts keyword options receives the router's ``target_options`` for it.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import inspect
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .strategy import Standing

from pennylane.devices import Device
from pennylane.tape import QuantumScript
from pennylane.wires import Wires

TargetFactory = Callable[[Wires | None, int | None], Device]
"""Builds the target's device from the router's wires and a seed."""

AvailabilityCheck = Callable[..., str | None]
"""Returns ``None`` when available, else the reason it is not (with the fix); it may take the
target's options as its one argument."""

StandingOf = Callable[[Device, str, Sequence[QuantumScript]], "Standing"]
"""``standing(device, name, circuits)``: what a billed target offers now for circuits that its
device's own preprocessing produced (the ones it is about to execute)."""

DERIVATIVE_METHODS = frozenset({"adjoint", "backprop"})
"""The device derivative methods the router delegates to targets."""

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TargetSpec:
    """A registered target.

    Attributes:
        name: Unique name used in ``target=`` / ``targets=[...]`` and in routing records.
        factory: Builds the target's PennyLane device.
        check: Availability check; ``None`` from it means available.
        derivatives: Device derivative methods the router may delegate to this target.
        auto: Whether the automatic routing policy may choose this target.
        description: One line shown by ``qstore devices``.
        remote: Whether it runs in a cloud service (sampled, queued, records its own cost).
        billed: Whether its jobs cost money (QPUs).
        backend: The provider's backend name (``"qpu.aria-1"``), if any.
        standing: For billed targets, ``standing(device, name, circuits)`` returning a
            :class:`~.strategy.Standing` (status, queue, execution time, price) for the tapes.
    """

    name: str
    factory: TargetFactory
    check: AvailabilityCheck
    derivatives: frozenset[str]
    auto: bool
    description: str
    remote: bool = False
    billed: bool = False
    backend: str | None = None
    standing: StandingOf | None = None

    def unavailable_reason(self, options: Mapping[str, Any] | None = None) -> str | None:
        """Return why this target cannot run here, or ``None`` when it can.

        Args:
            options: The router's ``target_options`` for it; a check that takes an argument
                sees them (an API key passed as an option makes a cloud target available).
        """
        try:
            if inspect.signature(self.check).parameters:
                return self.check(dict(options or {}))
            return self.check()
        except Exception as exc:  # a broken check must not break the router
            return f"availability check failed: {exc!r}"

    @property
    def available(self) -> bool:
        """Whether this target can run here."""
        return self.unavailable_reason() is None


_REGISTRY: dict[str, TargetSpec] = {}

ENTRY_POINT_GROUP = "pennylane_qstore.targets"
"""Entry-point group whose modules register targets when loaded."""

_generation = 0
_plugins_loaded = False
_PLUGIN_ERRORS: dict[str, str] = {}


def _load_plugins() -> None:
    """Load the :data:`ENTRY_POINT_GROUP` entry points once, remembering why any failed."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            entry_point.load()
        except Exception as exc:
            _PLUGIN_ERRORS[entry_point.value] = f"{type(exc).__name__}: {exc}"
            logger.warning("router target plugin %s failed to load: %s", entry_point.value, exc)


def plugin_errors() -> dict[str, str]:
    """Return ``{module: error}`` for target plugins that failed to import."""
    _load_plugins()
    return dict(_PLUGIN_ERRORS)


def register_target(
    name: str,
    factory: TargetFactory,
    *,
    check: AvailabilityCheck | None = None,
    derivatives: Iterable[str] = (),
    auto: bool = True,
    description: str = "",
    replace: bool = False,
    remote: bool = False,
    billed: bool = False,
    backend: str | None = None,
    standing: StandingOf | None = None,
) -> TargetSpec:
    """Register a target the router can execute tapes on.

    Args:
        name: Unique target name.
        factory: ``factory(wires, seed)`` returning a new-API PennyLane device.
        check: Returns ``None`` when the target is usable, else a reason naming the fix.
            Defaults to always available.
        derivatives: Device derivative methods (subset of ``{"adjoint", "backprop"}``) that the
            router may delegate to this target.
        auto: If ``False`` the automatic policy never picks it; users must name it.
        description: One-line description for ``qstore devices``.
        replace: Allow replacing an existing registration of the same name.
        remote: The target runs in a cloud service (see the module docstring).
        billed: Its jobs cost money; implies ``remote``.
        backend: The provider's backend name.
        standing: How the strategies rank a billed target (required when ``billed``).

    Returns:
        The registered :class:`TargetSpec`.

    Raises:
        ValueError: If the name is taken (and ``replace`` is false) or a derivative method is
            unknown.
    """
    if not name or not isinstance(name, str):
        raise ValueError(f"Target name must be a non-empty string, got {name!r}.")
    if name in _REGISTRY and not replace:
        raise ValueError(
            f"A target named {name!r} is already registered; pass replace=True to override it."
        )
    derivs = frozenset(derivatives)
    unknown = derivs - DERIVATIVE_METHODS
    if unknown:
        raise ValueError(
            f"Unknown derivative methods {sorted(unknown)} for target {name!r}; "
            f"valid ones are {sorted(DERIVATIVE_METHODS)}."
        )
    if billed and standing is None:
        raise ValueError(f"Billed target {name!r} needs standing= (how strategies rank it).")
    spec = TargetSpec(
        name=name,
        factory=factory,
        check=check or (lambda: None),
        derivatives=derivs,
        auto=auto,
        description=description,
        remote=bool(remote or billed),
        billed=bool(billed),
        backend=backend,
        standing=standing,
    )
    _REGISTRY[name] = spec
    _bump_generation()
    return spec


def unregister_target(name: str) -> None:
    """Remove a registered target.

    Raises:
        KeyError: If no target has that name.
    """
    if name not in _REGISTRY:
        raise KeyError(f"No target named {name!r}; registered: {sorted(_REGISTRY)}.")
    del _REGISTRY[name]
    _bump_generation()


def _bump_generation() -> None:
    global _generation
    _generation += 1


def registry_generation() -> int:
    """Return a counter that changes whenever a target is registered or removed."""
    _load_plugins()
    return _generation


def get_target(name: str) -> TargetSpec:
    """Return the registered target called ``name``.

    Raises:
        KeyError: If no target has that name; the message lists the registered ones.
    """
    _load_plugins()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(
            f"Unknown target {name!r}; registered targets are {list(_REGISTRY)}."
        ) from None


def registered_targets() -> tuple[TargetSpec, ...]:
    """Return every registered target in registration order (the default fallback order)."""
    _load_plugins()
    return tuple(_REGISTRY.values())


# --------------------------------------------------------------------------- built-in targets


def _missing_module(module: str, extra: str | None) -> str | None:
    """Return an install hint if ``module`` cannot be imported, else ``None``."""
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if found:
        return None
    fix = f'pip install "pennylane-qstore[{extra}]"' if extra else f"pip install {module}"
    return f"{module} is not installed: {fix}"


def _gpu_visible() -> bool:
    """Return whether an NVIDIA GPU is visible to this process."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    gpus = "/proc/driver/nvidia/gpus"
    return os.path.isdir(gpus) and bool(os.listdir(gpus))


def _check_lightning_gpu() -> str | None:
    try:
        found = importlib.util.find_spec("pennylane_lightning.lightning_gpu_ops") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        return "lightning.gpu is not installed: pip install pennylane-lightning-gpu"
    if not _gpu_visible():
        return "no NVIDIA GPU is visible to this process"
    return None


def _plain_wires(wires: Wires | None) -> Wires | int | None:
    """Return ``len(wires)`` for wires labelled ``0..n-1`` (devices then skip wire mapping)."""
    if wires is not None and wires.tolist() == list(range(len(wires))):
        return len(wires)
    return wires


def _pennylane_device(short_name: str) -> TargetFactory:
    """Return a factory for the installed PennyLane device ``short_name`` (seedable)."""

    def factory(wires: Wires | None, seed: int | None) -> Device:
        import pennylane as qml

        return qml.device(short_name, wires=_plain_wires(wires), seed=seed)

    return factory


def _make_braket(wires: Wires | None, seed: int | None) -> Device:
    import pennylane as qml

    if wires is None:
        raise ValueError("the braket.local target needs device wires: qml.device(..., wires=n)")
    # The Braket local simulator draws samples from its own unseeded RNG.
    return qml.device("braket.local.qubit", wires=wires)


def _make_qsim(wires: Wires | None, seed: int | None) -> Device:
    from pennylane_qstore.router.qsim import QsimDevice

    return QsimDevice(wires=wires, seed=seed)


register_target(
    "default.qubit",
    _pennylane_device("default.qubit"),
    derivatives=DERIVATIVE_METHODS,
    description="PennyLane's NumPy simulator; broadcasting and backprop",
)
register_target(
    "lightning.qubit",
    _pennylane_device("lightning.qubit"),
    check=lambda: _missing_module("pennylane_lightning.lightning_qubit_ops", None),
    derivatives=("adjoint",),
    description="PennyLane-Lightning C++ CPU simulator; adjoint derivatives",
)
register_target(
    "lightning.gpu",
    _pennylane_device("lightning.gpu"),
    check=_check_lightning_gpu,
    derivatives=("adjoint",),
    description="PennyLane-Lightning cuStateVec GPU simulator",
)
register_target(
    "qsim",
    _make_qsim,
    check=lambda: _missing_module("qsimcirq", "qsim"),
    description="Google qsim through qsimcirq; one parameter sweep per batch of same-shape tapes",
)
register_target(
    "braket.local",
    _make_braket,
    check=lambda: _missing_module("braket.pennylane_plugin", "braket"),
    description="Amazon Braket local state-vector simulator (braket.local.qubit)",
)
