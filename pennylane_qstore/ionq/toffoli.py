"""The ``"toffoli"`` pass: write each Toffoli as five interactions, in the way that compiles best.

PennyLane decomposes a Toffoli into six CNOTs. With partial-angle entanglers five interactions
suffice (Barenco et al. 1995): for controls ``a, b`` and target ``t``,
``Toffoli = CV(a,t)·CNOT(a,b)·CV†(b,t)·CNOT(a,b)·CV(b,t)`` (``CV(b,t)`` first in time) with
``V = √X``, and each controlled-√X is one partial-angle MS or ZZ. Which order of the controls, and
whether ``V`` or ``V†`` is used, changes what merges with the gates around it, so
:func:`choose_forms` compiles the circuit once per form (every Toffoli alike) and keeps the
circuit with the fewest two-qubit gates, then the fewest in total. (Choosing each Toffoli's form
on its own, greedily, found nothing more on the benchmark suite at four times the compile time.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import pennylane as qml
from pennylane.operation import Operator

from pennylane_qstore.ionq.native import NativeCircuit

logger = logging.getLogger(__name__)

FORMS = (None, "ab", "ba", "ab†", "ba†")
"""``None``: PennyLane's decomposition; else the order of the controls, ``†`` for ``V†``."""


def toffoli_form(op: qml.Toffoli, form: str) -> list[Operator]:
    """Return ``op`` as five interactions in ``form`` (one of :data:`FORMS` except ``None``)."""
    a, b, t = op.wires
    if form.startswith("ba"):
        a, b = b, a
    root = qml.adjoint(qml.SX(t)) if form.endswith("†") else qml.SX(t)
    return [
        qml.ctrl(root, b),
        qml.CNOT([a, b]),
        qml.ctrl(qml.adjoint(root), b),
        qml.CNOT([a, b]),
        qml.ctrl(root, a),
    ]


def _rewritten(operations: Sequence[Operator], forms: dict[int, str | None]) -> list[Operator]:
    out: list[Operator] = []
    for i, op in enumerate(operations):
        form = forms.get(i)
        out.extend([op] if form is None else toffoli_form(op, form))
    return out


def _cost(native: NativeCircuit) -> tuple[int, int]:
    counts = native.gate_counts()
    return counts["2q"], counts["total"]


def choose_forms(
    operations: Sequence[Operator], compile_fn: Callable[[list[Operator]], NativeCircuit]
) -> NativeCircuit:
    """Return the cheapest ``compile_fn`` result over the Toffoli forms tried (see module doc)."""
    toffolis = [i for i, op in enumerate(operations) if isinstance(op, qml.Toffoli)]
    best_forms: dict[int, str | None] = {}
    best = compile_fn(list(operations))
    for form in FORMS[1:]:
        forms = dict.fromkeys(toffolis, form)
        native = compile_fn(_rewritten(operations, forms))
        if _cost(native) < _cost(best):
            best, best_forms = native, forms
    logger.debug("toffoli forms chosen: %s", best_forms)
    return best
