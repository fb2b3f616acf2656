"""A small batched state-vector simulator in torch with one-pass adjoint gradients.

>>> import pennylane as qml, torch
>>> from pennylane_qstore.engine import execute_tape
>>> x = torch.tensor([0.1, 0.2], requires_grad=True)
>>> tape = qml.tape.QuantumScript([qml.RX(x, 0), qml.CNOT([0, 1])], [qml.expval(qml.Z(1))])
>>> execute_tape(tape).shape
torch.Size([2, 1])
"""

from pennylane_qstore.engine.api import compile_tape, execute_tape
from pennylane_qstore.engine.program import (
    SUPPORTED_DESCRIPTION,
    EngineUnsupportedError,
    Program,
)

__all__ = [
    "SUPPORTED_DESCRIPTION",
    "EngineUnsupportedError",
    "Program",
    "compile_tape",
    "execute_tape",
]
