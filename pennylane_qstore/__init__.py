"""PennyLane devices that route circuits to the best simulator or to IonQ hardware.

Devices are registered under the ``pennylane.plugins`` entry-point group:

>>> import pennylane as qml
>>> dev = qml.device("qstore.router", wires=2)
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pennylane-qstore")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

from pennylane_qstore.budget import Budget, BudgetExhausted  # stdlib only: a cheap import

__all__ = ["Budget", "BudgetExhausted", "__version__"]
