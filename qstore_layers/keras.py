"""Keras 3 layers (``import qstore_layers.keras`` never imports torch)."""

from qstore_layers.keras_layer import QuantumDense, QuantumLayer
from qstore_layers.keras_validate import ValidateOn

__all__ = ["QuantumDense", "QuantumLayer", "ValidateOn"]
