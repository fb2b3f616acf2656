"""Torch layers (``import qstore_layers.torch`` never imports TensorFlow)."""

from qstore_layers.torch_layer import QuantumLayer, QuantumLinear
from qstore_layers.validate_on import evaluate_on, on_device

__all__ = ["QuantumLayer", "QuantumLinear", "evaluate_on", "on_device"]
