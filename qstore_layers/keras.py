"""Keras 3 layers (``import qstore_layers.keras`` never imports torch)."""

from qstore_layers.keras_layer import QuantumDense, QuantumLayer

__all__ = ["QuantumDense", "QuantumLayer"]
