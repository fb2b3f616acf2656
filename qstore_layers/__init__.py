"""Torch and Keras 3 layers built from PennyLane QNodes."""
