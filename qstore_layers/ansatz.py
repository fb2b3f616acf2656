"""The default ansatz of ``QuantumLinear`` / ``QuantumDense``: encoding, entangling layers, readout.

Circuit for ``F`` features on ``n`` qubits:

* ``encoding="angle"``: the features are split into ``B = ceil(F / n)`` blocks of ``n``. Block
  ``b`` is written with ``RY(x)`` rotations on qubits ``0..`` and followed by ``n_layers`` trainable
  entangling layers. With ``F > n`` the data is thus re-uploaded ``B`` times.
  Weights: ``(B, n_layers, n, 3)``.
* ``encoding="amplitude"``: the features, zero-padded to ``2**n`` and normalised, become the
  amplitudes of the initial state (needs ``F <= 2**n`` and a non-zero row), followed by
  ``n_layers`` entangling layers. Weights: ``(1, n_layers, n, 3)``.

Entangling layer (weights ``w`` of shape ``(n, 3)``): ``Rot(w[q, 0], w[q, 1], w[q, 2])`` on every
qubit ``q``, then a ring of CNOTs ``q -> q + 1 (mod n)`` (one CNOT for two qubits, none for one).
The gates are written out rather than taken from a template, so devices run them without
decomposition.

Readout: expectation values of the chosen Paulis on every qubit, grouped by Pauli
(``readout="xyz"`` gives ``[<X0>..<Xn-1>, <Y0>.., <Z0>..]``, ``3 * n`` outputs).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pennylane as qml

ENCODINGS = ("angle", "amplitude")
"""Feature encodings of the default ansatz."""

_PAULIS = {"x": qml.PauliX, "y": qml.PauliY, "z": qml.PauliZ}


def parse_readout(readout: str | Sequence[str]) -> tuple[str, ...]:
    """Normalise ``readout`` (``"xyz"``, ``"z"``, ``["X", "Z"]``) to lower-case Pauli letters."""
    letters = tuple(str(p).lower() for p in readout)
    if not letters or any(p not in _PAULIS for p in letters) or len(set(letters)) != len(letters):
        raise ValueError(
            f"readout={readout!r} must name distinct Paulis among 'x', 'y', 'z', e.g. 'xyz' or 'z'."
        )
    return letters


def validate_ansatz(n_qubits: int, n_layers: int, encoding: str) -> None:
    """Raise ``ValueError`` with the fix when the ansatz options are invalid."""
    if not isinstance(n_qubits, int) or n_qubits < 1:
        raise ValueError(f"n_qubits must be an integer >= 1, got {n_qubits!r}.")
    if not isinstance(n_layers, int) or n_layers < 1:
        raise ValueError(f"n_layers must be an integer >= 1, got {n_layers!r}.")
    if encoding not in ENCODINGS:
        raise ValueError(f"Unknown encoding {encoding!r}; choose one of {', '.join(ENCODINGS)}.")


def weight_shape(n_features: int, n_qubits: int, n_layers: int, encoding: str) -> tuple[int, ...]:
    """Shape of the trainable weights for ``n_features`` inputs (see the module docstring)."""
    if encoding == "amplitude":
        if n_features > 2**n_qubits:
            raise ValueError(
                f"Amplitude encoding of {n_features} features needs at least "
                f"{math.ceil(math.log2(n_features))} qubits, got n_qubits={n_qubits}; raise "
                "n_qubits or use encoding='angle'."
            )
        return (1, n_layers, n_qubits, 3)
    return (math.ceil(n_features / n_qubits), n_layers, n_qubits, 3)


def preferred_methods(encoding: str) -> tuple[str, ...]:
    """Exact gradient methods tried by ``gradient_method="best"`` for ``encoding``."""
    return ("backprop", "adjoint") if encoding == "amplitude" else ("adjoint", "backprop")


def check_input_gradient(encoding: str, gradient_method: str) -> None:
    """Raise when input gradients are asked for where the encoding cannot provide them.

    Amplitude encoding prepares the state by a Mottonen decomposition whose angles are not
    differentiable at zero amplitudes, so only ``backprop`` (which differentiates the state
    vector directly) yields input gradients.
    """
    if encoding == "amplitude" and gradient_method != "backprop":
        raise ValueError(
            f"encoding='amplitude' gives input gradients only with gradient_method='backprop' "
            f"(got {gradient_method!r}); use backprop on default.qubit, encoding='angle', or "
            "detach the inputs."
        )


def make_device(device: Any, n_qubits: int, seed: int | None = None) -> Any:
    """Return a device with ``n_qubits`` wires: build it from a name or check a given instance."""
    if isinstance(device, str):
        kwargs = {"seed": seed} if seed is not None else {}
        return qml.device(device, wires=n_qubits, **kwargs)
    wires = getattr(device, "wires", None)
    if wires is not None and len(wires) < n_qubits:
        raise ValueError(
            f"The device has {len(wires)} wires but the layer needs n_qubits={n_qubits}."
        )
    return device


def entangling_layers(weights: Any, n_qubits: int) -> None:
    """Queue the entangling layers for ``weights`` of shape ``(n_layers, n_qubits, 3)``."""
    ring = [(q, (q + 1) % n_qubits) for q in range(n_qubits if n_qubits > 2 else n_qubits - 1)]
    for layer in range(qml.math.shape(weights)[0]):
        for q in range(n_qubits):
            qml.Rot(weights[layer, q, 0], weights[layer, q, 1], weights[layer, q, 2], wires=q)
        for control, target in ring:
            qml.CNOT(wires=[control, target])


class AnsatzCircuit:
    """The default-ansatz circuit function ``circuit(inputs, weights)``.

    A module-level class (not a closure) so that models holding a layer can be pickled
    (``torch.save(model)``, ``copy.deepcopy``, multiprocessing).
    """

    def __init__(self, n_qubits: int, encoding: str, readout: Sequence[str]) -> None:
        self.n_qubits, self.encoding, self.readout = n_qubits, encoding, tuple(readout)
        self.__name__ = "circuit"

    def __call__(self, inputs: Any, weights: Any) -> list[Any]:
        wires = list(range(self.n_qubits))
        if self.encoding == "amplitude":
            qml.AmplitudeEmbedding(inputs, wires=wires, pad_with=0.0, normalize=True)
            entangling_layers(weights[0], self.n_qubits)
        else:
            n_features = qml.math.shape(inputs)[-1]
            for block in range(qml.math.shape(weights)[0]):
                start = block * self.n_qubits
                for wire in range(min(self.n_qubits, n_features - start)):
                    qml.RY(inputs[..., start + wire], wires=wire)
                entangling_layers(weights[block], self.n_qubits)
        return [qml.expval(_PAULIS[p](w)) for p in self.readout for w in wires]


def check_amplitude_rows(norms: Any) -> None:
    """Raise when an amplitude-encoded batch has an all-zero row (it has no normalised state)."""
    zero = [i for i, n in enumerate(norms) if not n > 0]
    if zero:
        raise ValueError(
            f"encoding='amplitude' cannot encode an all-zero input row (rows {zero[:10]}): it has "
            "no normalised state. Add a constant feature or shift the data before the layer."
        )


def make_qnode(
    n_qubits: int, encoding: str, readout: Sequence[str], device: Any, shots: int | None
) -> qml.QNode:
    """Build the default-ansatz QNode ``circuit(inputs, weights)`` on ``device``."""
    return qml.QNode(AnsatzCircuit(n_qubits, encoding, readout), device, shots=shots)
