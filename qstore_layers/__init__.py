"""Torch and Keras 3 layers built from PennyLane QNodes.

The frameworks are imported lazily: ``from qstore_layers.torch import QuantumLinear`` never
imports TensorFlow and ``from qstore_layers.keras import QuantumDense`` never imports torch.
``qstore_layers.QuantumLinear`` and friends resolve on first access.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "QuantumLinear": "qstore_layers.torch_layer",
    "TorchQuantumLayer": "qstore_layers.torch_layer",
    "QuantumDense": "qstore_layers.keras_layer",
    "KerasQuantumLayer": "qstore_layers.keras_layer",
    "BatchExecutor": "qstore_layers.core",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    """Import the framework module that defines ``name`` on first access."""
    if name not in _LAZY:
        raise AttributeError(f"module 'qstore_layers' has no attribute {name!r}")
    module = importlib.import_module(_LAZY[name])
    attr = "QuantumLayer" if name.endswith("QuantumLayer") else name
    return getattr(module, attr)
