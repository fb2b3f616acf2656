"""Keras validation on another device: ``ValidateOn``, a callback for ``model.fit``.

At the end of every ``every``-th epoch the model's quantum layers run on ``device`` (weights
shared, restored afterwards, also on errors), the model is evaluated on ``validation_data``
with its compiled loss and metrics, and each result is written into the epoch's ``logs`` as
``val_<label>_<name>``, so ``History``, ``CSVLogger`` and ``TensorBoard`` (placed after this
callback) see it; epochs skipped by ``every`` log NaN. The device's cost is tagged as phase ``"validation"``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import numbers
import re
from typing import Any

import keras

from qstore_layers.core import BatchExecutor

logger = logging.getLogger(__name__)


def device_label(device: Any) -> str:
    """A short name for ``device`` usable in a metric key: ``ionq_qpu_aria_1`` for
    ``qstore.ionq`` on ``qpu.aria-1``, ``default_qubit``, ``qstore_router``, ..."""
    name = str(getattr(device, "name", type(device).__name__))
    if name == "qstore.ionq":
        name = f"ionq_{getattr(device, 'backend', '')}"
    return re.sub(r"[^0-9A-Za-z]+", "_", name).strip("_")


def _quantum_layers(model: keras.Model) -> list[Any]:
    layers = [
        layer
        for layer in model._flatten_layers(include_self=True)
        if isinstance(getattr(layer, "executor", None), BatchExecutor)
    ]
    if any(getattr(layer, "circuit_inputs", None) is not None for layer in layers):
        raise TypeError(
            "ValidateOn does not move layers that take input circuits (QNodes with a "
            "'circuits' argument); validate such a model with a second model built on the device."
        )
    return layers


class ValidateOn(keras.callbacks.Callback):
    """Evaluate the model on another device at epoch end and log the results.

    Args:
        device: A PennyLane device instance (its shots are used), e.g.
            ``qml.device("qstore.ionq", wires=4, backend="qpu.aria-1", shots=1000, budget=5.0)``.
        validation_data: ``(x, y)`` arrays or a ``tf.data.Dataset``, as ``model.evaluate``
            takes them (a small subset: hardware is priced per shot).
        every: Validate every ``every`` epochs (integer >= 1).
        steps: Batches per validation (``None``: the whole data).
        batch_size: Batch size for array data.
        label: The ``<label>`` of the log keys; default :func:`device_label`.
        phase: The cost phase of the validation's device work.
    """

    def __init__(
        self,
        device: Any,
        validation_data: Any,
        every: int = 1,
        steps: int | None = None,
        batch_size: int | None = None,
        label: str | None = None,
        phase: str = "validation",
    ) -> None:
        super().__init__()
        for name, value, none_ok in (("every", every, False), ("steps", steps, True)):
            if value is None and none_ok:
                continue
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")
        if not hasattr(device, "execute") or isinstance(device, str):
            raise TypeError(
                "ValidateOn needs a PennyLane device instance, e.g. qml.device('qstore.ionq', "
                f"wires=4, backend='qpu.aria-1', shots=1000); got {device!r}."
            )
        self.device, self.validation_data = device, validation_data
        self.every, self.steps, self.batch_size = int(every), steps, batch_size
        self.label = label or device_label(device)
        self.phase = phase

    def evaluate(self) -> dict[str, float]:
        """Evaluate now on the callback's device; returns ``{name: value}``."""
        data = self.validation_data
        x, y = data if isinstance(data, tuple) else (data, None)
        with contextlib.ExitStack() as stack:
            for layer in _quantum_layers(self.model):
                stack.enter_context(layer.executor.running_on(self.device, self.phase))
            results = self.model.evaluate(
                x, y, batch_size=self.batch_size, steps=self.steps, verbose=0, return_dict=True
            )
        return {name: float(value) for name, value in results.items()}

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Validate on every ``every``-th epoch and add ``val_<label>_<name>`` to ``logs``;
        other epochs get NaN under the same keys (``CSVLogger`` fixes its columns at the
        first epoch)."""
        if (epoch + 1) % self.every:
            names = [k for k in (logs or {}) if not k.startswith("val_")]
            results = dict.fromkeys(names, math.nan)
        else:
            results = self.evaluate()
            logger.info("epoch %d on %s: %s", epoch + 1, self.label, results)
        if logs is not None:
            logs.update({f"val_{self.label}_{name}": value for name, value in results.items()})
