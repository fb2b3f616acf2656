"""Torch layers (``import qstore_layers.torch`` never imports TensorFlow)."""

from qstore_layers.torch_layer import QuantumLayer, QuantumLinear

__all__ = ["QuantumLayer", "QuantumLinear"]
