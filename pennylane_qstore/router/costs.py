"""The cost side of ``qstore.router``: strategy, budget, ledger, phases and the cost report.

:class:`CostAccounting` is mixed into :class:`~.device.RouterDevice`: it hands the router's
budget and ledger to the cloud targets' devices it builds, records the batches that callers (the
quantum layers' engine path) run themselves, and reports the cost per phase and target.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from pennylane.devices import Device

from pennylane_qstore.budget import Budget, CostReport, Ledger, current_phase
from pennylane_qstore.budget import phase as budget_phase

from .record import Route, RoutingRecord
from .target_options import covers
from .targets import get_target, registered_targets

logger = logging.getLogger(__name__)


class CostAccounting:
    """Budget, ledger and cost report of :class:`~.device.RouterDevice` (a mixin; the device
    sets ``_strategy``, ``_budget``, ``_ledger``, ``_label`` and ``_target_options``)."""

    _strategy: str
    _budget: Budget | None
    _ledger: Ledger
    _label: str

    @property
    def strategy(self) -> str:
        """The routing strategy: ``"fastest"``, ``"cheapest"`` or ``"hardware"``."""
        return self._strategy

    @property
    def budget(self) -> Budget | None:
        """The budget billed targets draw on (``None``: spending is not capped)."""
        return self._budget

    @property
    def ledger(self) -> Ledger:
        """Where this router's batches and their cost are recorded (the budget's ledger)."""
        return self._ledger

    @property
    def has_remote_targets(self) -> bool:
        """Whether tapes may go to a cloud target (the layers then batch a step's circuits)."""
        return any(get_target(name).remote for name in self.usable_targets())

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[str]:
        """Tag the batches run inside the block (``with dev.phase("validation"): ...``)."""
        with budget_phase(name) as active:
            yield active

    def cost_report(self, all: bool = False) -> CostReport:
        """Jobs, circuits, shots, estimated and billed USD, queue and run seconds per phase
        and target.

        Args:
            all: Report every device and process of the ledger (a shared
                :class:`~pennylane_qstore.budget.Budget`), not only this router.
        """
        return self._ledger.report(device=None if all else self._label)

    def _check_costs(self) -> None:
        """Warn when a QPU may run without a budget; build one device per ``target_options``
        key now, so a wrong option fails at construction rather than mid-training."""
        billed = [n for n in self.usable_targets() if get_target(n).billed]
        if billed and self._budget is None:
            logger.warning(
                "qstore.router: billed targets %s may run and budget= is not set: spending on "
                "QPUs is not capped; pass budget=<USD> or a pennylane_qstore.Budget",
                billed,
            )
        for key in self._target_options:
            names = [s.name for s in registered_targets() if covers(key, s.name)]
            ready = [
                n for n in names if get_target(n).unavailable_reason(self._options_for(n)) is None
            ]
            if ready:
                self._device(ready[0])

    def _adopt_remote(self, dev: Device, name: str) -> None:
        """Make a remote target's device draw on this router's budget, record its jobs in this
        router's ledger under this router's label, and cancel jobs queued on a backend that
        stops taking them (so the tapes fall back) unless ``target_options`` said otherwise."""
        if self._budget is not None:
            dev.budget = self._budget
        else:
            dev.ledger = self._ledger
        dev.cost_label = self._label
        if "watch_backend" not in self._options_for(name):
            dev.watch_backend = True

    def record_batch(
        self, target: str, num_tapes: int, seconds: float, reason: str, kind: str = "execute"
    ) -> RoutingRecord:
        """Record a batch that a caller ran on one of the router's targets by itself.

        The quantum layers simulate whole batches on the ``engine`` target without building
        tapes; they report those batches here so :attr:`routing_record` tells the whole story.

        Args:
            target: Name of the registered target that ran the batch.
            num_tapes: Circuits in the batch (one per input row).
            seconds: Wall time of the batch.
            reason: Why this target ran it.
            kind: ``"execute"`` or ``"derivatives"``.

        Returns:
            The record appended to :attr:`routing_history`.
        """
        self._check_target(target)
        wires = len(self.wires) if self.wires is not None else 0
        route = Route(target, tuple(range(num_tapes)), wires, None, reason, seconds)
        self._ledger.record(
            target=target,
            phase=current_phase(),
            jobs=1,
            circuits=num_tapes,
            shots=None,
            exec_s=seconds,
            device=self._label,
        )
        record = RoutingRecord(kind, num_tapes, [route])
        self.routing_history.append(record)
        return record
