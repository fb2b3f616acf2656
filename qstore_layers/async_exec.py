"""Concurrency for the layers: worker threads, the PennyLane lock and lock-free device calls.

PennyLane records operators in a process-global queue: an operator created in one thread while
another thread records a circuit lands in the wrong circuit. Every thread of the layers therefore
holds :data:`PENNYLANE_LOCK` while it runs PennyLane Python code (building tapes, transforms,
gradient rules). Only the device's own execution runs outside the lock, and only for devices
whose execution creates no PennyLane operators (:func:`runs_outside_lock`): there, chunks of a
batch overlap, e.g. jobs of a remote device waiting on the network. On other devices concurrent
chunks are correct but serialized.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import copy
import threading
from collections.abc import Iterator
from typing import Any

import pennylane as qml

PENNYLANE_LOCK = threading.Lock()
"""Held by layer threads while they run PennyLane Python code (never re-entered)."""

CONCURRENT_DEVICES = frozenset({"lightning.qubit", "lightning.kokkos"})
"""Devices whose ``execute`` and derivative calls build no PennyLane operators (C++ simulators
reading the tape). Other devices opt in with a true ``concurrent_execution`` attribute, which
also promises that one instance accepts concurrent calls."""

_POOL_LOCK = threading.Lock()
_POOLS: dict[int, concurrent.futures.ThreadPoolExecutor] = {}


def thread_pool(workers: int) -> concurrent.futures.ThreadPoolExecutor:
    """Return the process-wide pool with ``workers`` threads (shared by layers, never pickled)."""
    with _POOL_LOCK:
        if workers not in _POOLS:
            _POOLS[workers] = concurrent.futures.ThreadPoolExecutor(
                max_workers=workers, thread_name_prefix="qstore-layers"
            )
        return _POOLS[workers]


def runs_outside_lock(device: Any) -> bool:
    """Whether ``device``'s execution may run without :data:`PENNYLANE_LOCK`."""
    explicit = getattr(device, "concurrent_execution", None)
    if explicit is not None:
        return bool(explicit)
    return getattr(device, "name", None) in CONCURRENT_DEVICES


@contextlib.contextmanager
def released() -> Iterator[None]:
    """Release :data:`PENNYLANE_LOCK` (held by this thread) for the duration of the block."""
    PENNYLANE_LOCK.release()
    try:
        yield
    finally:
        PENNYLANE_LOCK.acquire()


class UnlockedDevice(qml.devices.Device):
    """Proxy of a device whose executions release :data:`PENNYLANE_LOCK`.

    Preprocessing, configuration and capability queries go to the wrapped device unchanged
    (under the lock); ``execute`` and the derivative calls run with the lock released.
    """

    def __init__(self, device: qml.devices.Device) -> None:
        super().__init__(wires=device.wires)
        self._device = device

    @property
    def name(self) -> str:
        """The wrapped device's name."""
        return self._device.name

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._device, attr)

    def preprocess_transforms(self, execution_config: Any = None) -> Any:
        """The wrapped device's preprocessing transforms."""
        return self._device.preprocess_transforms(execution_config)

    def setup_execution_config(self, config: Any = None, circuit: Any = None) -> Any:
        """The wrapped device's execution config."""
        return self._device.setup_execution_config(config, circuit)

    def supports_derivatives(self, execution_config: Any = None, circuit: Any = None) -> bool:
        """As the wrapped device."""
        return self._device.supports_derivatives(execution_config, circuit)

    def supports_vjp(self, execution_config: Any = None, circuit: Any = None) -> bool:
        """As the wrapped device."""
        return self._device.supports_vjp(execution_config, circuit)

    def supports_jvp(self, execution_config: Any = None, circuit: Any = None) -> bool:
        """As the wrapped device."""
        return self._device.supports_jvp(execution_config, circuit)

    def execute(self, circuits: Any, execution_config: Any = None) -> Any:
        """Execute on the wrapped device with the lock released."""
        with released():
            return self._device.execute(circuits, execution_config)

    def compute_derivatives(self, circuits: Any, execution_config: Any = None) -> Any:
        """Jacobians from the wrapped device with the lock released."""
        with released():
            return self._device.compute_derivatives(circuits, execution_config)

    def execute_and_compute_derivatives(self, circuits: Any, execution_config: Any = None) -> Any:
        """Results and Jacobians from the wrapped device with the lock released."""
        with released():
            return self._device.execute_and_compute_derivatives(circuits, execution_config)

    def compute_vjp(self, circuits: Any, cotangents: Any, execution_config: Any = None) -> Any:
        """Vector-Jacobian products from the wrapped device with the lock released."""
        with released():
            return self._device.compute_vjp(circuits, cotangents, execution_config)

    def execute_and_compute_vjp(
        self, circuits: Any, cotangents: Any, execution_config: Any = None
    ) -> Any:
        """Results and vector-Jacobian products from the wrapped device, lock released."""
        with released():
            return self._device.execute_and_compute_vjp(circuits, cotangents, execution_config)


def pristine_copy(device: Any) -> Any:
    """A deep copy of a device, or ``None`` for devices that cannot be copied.

    Copies are taken from a device that never executed: ``lightning.qubit`` cannot be copied
    once it holds a state vector.
    """
    try:
        return copy.deepcopy(device)
    except (TypeError, copy.Error):
        return None


class ThreadDevices:
    """The device each thread runs its chunks on, when chunks of a batch overlap.

    A device that must run under :data:`PENNYLANE_LOCK` is used as it is. Otherwise every
    thread gets its own copy wrapped in :class:`UnlockedDevice` (simulators such as
    ``lightning.qubit`` keep their state on the device object), copied from a template taken
    before the device first executed. A device that cannot be copied runs serialized unless it
    declares ``concurrent_execution = True``.
    """

    def __init__(self, device: Any) -> None:
        self._template = pristine_copy(device)
        self._local = threading.local()

    def get(self, device: Any) -> Any:
        """The current thread's device for ``device`` (created on the thread's first call)."""
        if not runs_outside_lock(device):
            return device
        proxy = getattr(self._local, "device", None)
        if proxy is None:
            clone = pristine_copy(self._template) if self._template is not None else None
            if clone is not None:
                proxy = UnlockedDevice(clone)
            elif getattr(device, "concurrent_execution", False):
                proxy = UnlockedDevice(device)  # the device accepts concurrent calls itself
            else:
                proxy = device  # cannot be copied: stay under the lock, serialized
            self._local.device = proxy
        return proxy

    def __deepcopy__(self, memo: dict[int, Any]) -> ThreadDevices:
        """A copy shares the template and starts without per-thread devices."""
        clone = copy.copy(self)
        clone._local = threading.local()
        return clone

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the template only: per-thread devices are not carried over."""
        return {"_template": self._template}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore with no per-thread devices yet."""
        self._template = state["_template"]
        self._local = threading.local()
