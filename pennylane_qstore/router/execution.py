"""How ``qstore.router`` executes a batch: group tapes by chain, rank, run, fall back, account.

:class:`RoutedExecution` is the execution half of :class:`~.device.RouterDevice` (a mixin; the
device half builds targets, chains and PennyLane's configuration). For each group of tapes that
share a fallback chain it lets the strategy (:mod:`.strategy`) order the chain and drop billed
targets that cannot take the group, runs the group on the first target that succeeds, and
records where it ran, why, what was skipped or failed, and what it cost.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from time import perf_counter
from typing import Any

import numpy as np
from pennylane.devices import ExecutionConfig
from pennylane.exceptions import DeviceError
from pennylane.measurements import ClassicalShadowMP, ShadowExpvalMP
from pennylane.tape import QuantumScript, QuantumScriptBatch
from pennylane.typing import Result

from pennylane_qstore.budget import current_phase

from .policy import TapeInfo
from .record import Failure, Route, RoutingRecord
from .strategy import Standing, order_chain
from .targets import DERIVATIVE_METHODS, get_target

logger = logging.getLogger(__name__)
_SHADOWS = (ClassicalShadowMP, ShadowExpvalMP)
_DEVICE_DERIVATIVES = tuple(sorted(DERIVATIVE_METHODS))


class RoutingError(DeviceError):
    """Every target of a tape's fallback chain failed; the message names each failure."""


class RoutedExecution:
    """Routed execution of batches; mixed into :class:`~.device.RouterDevice`, whose
    ``_chain``, ``_device``, ``_setup``, budget, ledger and history it uses."""

    _warned_skips: frozenset[tuple[str, str]] = frozenset()

    def _run(self, circuits: QuantumScriptBatch, config: ExecutionConfig, derivatives: bool):
        method = config.gradient_method if config.gradient_method in _DEVICE_DERIVATIVES else None
        if method == "adjoint" and not derivatives:
            # Nothing is differentiated here (diff_method="best" resolves to adjoint even for
            # a plain forward pass): route by the tape itself, e.g. wide tapes to qsim.
            method = None
        record = RoutingRecord("derivatives" if derivatives else "execute", len(circuits))
        groups: dict[tuple, list[int]] = {}
        for index, tape in enumerate(circuits):
            shots = tape.shots.total_shots if tape.shots else None
            shadow = any(isinstance(mp, _SHADOWS) for mp in tape.measurements)
            info = TapeInfo(len(tape.wires), shots, tape.batch_size, method, shadow)
            reason, chain = self._chain(info)
            groups.setdefault((reason, chain, shots), []).append(index)
        results: list[Any] = [None] * len(circuits)
        for (reason, chain, shots), indices in groups.items():
            tapes = [circuits[i] for i in indices]
            outputs, route = self._run_group(
                tapes, chain, reason, shots, indices, config, method, derivatives
            )
            for i, out in zip(indices, outputs, strict=True):
                results[i] = out
            record.routes.append(route)
        self.routing_history.append(record)
        if self.tracker.active:
            self.tracker.update(routing=record.tapes_per_target(), fallbacks=len(record.fallbacks))
        return tuple(results)

    # About 60 lines: one loop over the chain whose failure, logging and accounting branches
    # share its locals; split, each part would need them all passed.
    def _run_group(
        self,
        tapes: list[QuantumScript],
        chain: tuple[str, ...],
        reason: str,
        shots: int | None,
        indices: list[int],
        config: ExecutionConfig,
        method: str | None,
        derivatives: bool,
    ) -> tuple[Sequence[Any], Route]:
        num_wires = max(len(t.wires) for t in tapes)
        prepared: dict[str, tuple] = {}

        def prepare(name: str) -> tuple:
            """``(config, tapes, postprocess)`` of the target's own preprocessing, run once per
            target for the ranking and the execution alike."""
            if name not in prepared:
                target_config, program = self._setup(name, method, config.interface)
                prepared[name] = (target_config, *program(tapes))
            return prepared[name]

        chain, reason, skipped = self._rank(tapes, chain, reason, shots, prepare)
        if not chain and skipped:
            raise RoutingError(
                f"No target can take {len(tapes)} tape(s) now: {'; '.join(skipped)}. Name a "
                "simulator after the QPUs in targets=[...] to fall back to it, or raise the "
                "budget; an unavailable backend is retried on the next batch."
            )
        if not chain:
            mode = f" for {method} derivatives" if method else ""
            raise RoutingError(
                f"No available target{mode} for a {num_wires}-wire tape; usable targets: "
                f"{self.usable_targets()}. Run `qstore devices` to see why others are unavailable."
            )
        failures: list[Failure] = []
        start = perf_counter()
        for name in chain:
            runs = len(getattr(self._devices.get(name), "runs", ()))
            began = perf_counter()
            try:
                outputs = self._run_on(name, tapes, prepare, derivatives)
            except Exception as exc:
                failures.append(Failure(name, f"{type(exc).__name__}: {exc}"))
                if not self._fallback:
                    raise
                rest = list(chain[chain.index(name) + 1 :])
                logger.warning(
                    "qstore.router: target %s failed on %d tape(s) (%s: %s); %s",
                    name,
                    len(tapes),
                    type(exc).__name__,
                    exc,
                    f"trying {rest[0]} next (then {rest[1:]})" if rest else "no target is left",
                )
                continue
            logger.debug("qstore.router: %d tape(s) ran on %s (%s)", len(tapes), name, reason)
            estimated, billed = self._account(name, tapes, shots, perf_counter() - began, runs)
            route = Route(
                target=name,
                tapes=tuple(indices),
                num_wires=num_wires,
                shots=shots,
                reason=reason,
                seconds=perf_counter() - start,
                failures=tuple(failures),
                skipped=skipped,
                estimated_usd=estimated,
                cost_usd=billed,
            )
            return outputs, route
        details = "; ".join(f"{f.target}: {f.error}" for f in failures)
        raise RoutingError(f"Every target failed for {len(tapes)} tape(s): {details}")

    def _account(
        self, name: str, tapes: list[QuantumScript], shots: int | None, seconds: float, runs: int
    ) -> tuple[float, float | None]:
        """Record a group's cost; return its ``(estimated, billed)`` USD.

        A remote target's device recorded its own jobs (``runs`` of them existed before); the
        router records what its local simulators ran.
        """
        if get_target(name).remote:
            new = getattr(self._devices[name], "runs", [])[runs:]
            billed = [r.cost for r in new]
            total = None if any(b is None for b in billed) else float(sum(billed))
            return float(sum(r.estimated_cost for r in new)), total
        self._ledger.record(
            target=name,
            phase=current_phase(),
            jobs=1,
            circuits=len(tapes),
            shots=None if shots is None else shots * len(tapes),
            exec_s=seconds,
            device=self._label,
        )
        return 0.0, 0.0

    def _run_on(
        self,
        name: str,
        tapes: list[QuantumScript],
        prepare: Callable[[str], tuple],
        derivatives: bool,
    ) -> Sequence[Result] | Sequence[tuple[Result, Any]]:
        """Run ``tapes`` on target ``name`` through its own preprocessing (``prepare``)."""
        dev = self._device(name)
        target_config, new_tapes, postprocess = prepare(name)
        if not derivatives:
            return _float64(postprocess(dev.execute(new_tapes, target_config)))
        if [t.trainable_params for t in new_tapes] != [t.trainable_params for t in tapes]:
            raise DeviceError(f"{name} would change the trainable parameters of the tapes")
        values, jacobians = dev.execute_and_compute_derivatives(new_tapes, target_config)
        return list(zip(_float64(postprocess(values)), _float64(jacobians), strict=True))

    def _rank(
        self,
        tapes: list[QuantumScript],
        chain: tuple[str, ...],
        reason: str,
        shots: int | None,
        prepare: Callable[[str], tuple],
    ) -> tuple[tuple[str, ...], str, tuple[str, ...]]:
        """Order ``chain`` by the strategy and drop billed targets that cannot take ``tapes``.

        Returns the chain, the reason and the summaries of the billed targets skipped.
        """

        def standing(name: str) -> Standing:
            try:
                circuits = prepare(name)[1]
            except Exception as exc:  # the target would refuse them too
                return Standing(name, f"cannot run these tapes ({type(exc).__name__}: {exc})")
            return get_target(name).standing(self._device(name), name, circuits)

        remaining = self._budget.remaining if self._budget is not None else math.inf
        why, order, standings = order_chain(
            self._strategy,
            chain,
            lambda name: get_target(name).billed,
            standing,
            remaining,
            sampled=shots is not None,
        )
        skipped = tuple(s.summary() for s in standings if s.problem is not None)
        # WARNING when a target's problem starts or changes, DEBUG while it lasts (a training
        # loop would otherwise repeat the same warning every step)
        kinds = frozenset((s.target, s.problem.split(" (")[0]) for s in standings if s.problem)
        news = kinds - self._warned_skips
        self._warned_skips = kinds
        if skipped:
            logger.log(
                logging.WARNING if news else logging.DEBUG,
                "qstore.router: %s; %d tape(s) go to %s instead",
                "; ".join(skipped),
                len(tapes),
                order[0] if order else "no target",
            )
        return tuple(order), f"{why}; {reason}" if why else reason, skipped


def _float64(result: Any) -> Any:
    """Return ``result`` with Python floats as NumPy float64 (lightning returns Python floats,
    which torch turns into float32 tensors)."""
    if isinstance(result, float):
        return np.float64(result)
    if isinstance(result, (tuple, list)):
        return type(result)(_float64(r) for r in result)
    return result
