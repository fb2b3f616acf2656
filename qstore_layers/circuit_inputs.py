"""Circuits as layer inputs: a batch of input circuits, one per row, placed in the model QNode.

A model QNode takes an argument named ``circuits`` (besides or instead of ``inputs``) and places
the row's input circuit with :func:`prepend`. The layers read every row's circuit into a tape
(:func:`read_circuits`), group the rows whose circuits have the same structure (the same gates
on the same wires, any angles) and run each group as one broadcast batch: the group's gate
angles travel as extra input columns, constants to autograd, so every execution path and
gradient method of :class:`~qstore_layers.core.BatchExecutor` serves them unchanged.
"""

from __future__ import annotations

import functools
import inspect
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pennylane as qml
from pennylane.tape import QuantumScript

from qstore_layers.core import BatchExecutor
from qstore_layers.options import LayerOptions

__all__ = [
    "CIRCUIT_ARG",
    "CircuitGroup",
    "CircuitInputs",
    "Template",
    "group_rows",
    "prepend",
    "read_circuits",
    "takes_circuits",
]

logger = logging.getLogger(__name__)

CIRCUIT_ARG = "circuits"
"""Name of the QNode argument that receives the row's input circuit."""

MAX_STRUCTURES = 256
"""Circuit structures whose executors a layer keeps (least recently used are dropped)."""


def prepend(circuit: QuantumScript) -> None:
    """Apply the gates of ``circuit`` here; call it in a model QNode on its ``circuits`` argument.

    ``for op in circuit.operations: qml.apply(op)`` does the same.
    """
    for op in circuit.operations:
        qml.apply(op)


def takes_circuits(func: Callable[..., Any], circuit_arg: str = CIRCUIT_ARG) -> bool:
    """Whether a QNode function has an argument named ``circuit_arg``."""
    return circuit_arg in inspect.signature(func).parameters


@functools.lru_cache(maxsize=4096)
def _read_program(text: str) -> QuantumScript:
    """An OpenQASM program as a tape; cached, since a data set feeds the same strings every
    epoch (tapes are not modified by the layers)."""
    from pennylane_qstore.convert import convert

    return convert(text, to="tape")


def _as_tape(obj: Any, row: int) -> QuantumScript:
    """One row's circuit as a tape: tapes as they are, anything else through ``convert``."""
    if isinstance(obj, QuantumScript):
        return obj
    if isinstance(obj, bytes):
        obj = obj.decode("utf-8")
    from pennylane_qstore.convert import ConversionError, convert

    try:
        return _read_program(obj) if isinstance(obj, str) else convert(obj, to="tape")
    except ConversionError as exc:
        raise ValueError(f"Input circuit {row} cannot be read: {exc}") from exc


def _constant(value: Any) -> Any:
    """A gate parameter without its autograd history, as a float64 NumPy value."""
    detach = getattr(value, "detach", None)
    if callable(detach):
        value = detach().cpu().numpy()
    from autograd.tracer import getval

    return np.asarray(getval(value))


def _check(tape: QuantumScript, row: int, wires: Any) -> None:
    """Refuse measurements, mid-circuit measurements and wires the model does not have."""
    if tape.measurements:
        raise ValueError(
            f"Input circuit {row} has measurements ({tape.measurements[0]}); input circuits hold "
            "gates only, the model QNode measures. Remove them (OpenQASM: the measure statements)."
        )
    for op in tape.operations:
        if isinstance(op, qml.measurements.MidMeasureMP | qml.ops.Conditional):
            raise ValueError(
                f"Input circuit {row} has a mid-circuit measurement or classical control ({op}); "
                "input circuits hold gates only."
            )
    if wires is not None and not set(tape.wires) <= set(wires):
        missing = [w for w in tape.wires if w not in wires]
        raise ValueError(
            f"Input circuit {row} acts on wires {missing}, which the model's device (wires "
            f"{list(wires)}) does not have. Wires are matched by label (OpenQASM q[i] is wire i): "
            "give the device those wires or relabel the circuit with qml.map_wires."
        )


def read_circuits(circuits: Sequence[Any], wires: Any = None) -> list[QuantumScript]:
    """Read and check one input circuit per row.

    Args:
        circuits: PennyLane tapes, OpenQASM 2/3 strings, or any circuit
            :func:`pennylane_qstore.convert.convert` reads (Qiskit, Cirq, IonQ JSON).
        wires: The model device's wires (``None``: any wires).

    Raises:
        ValueError: for a row that cannot be read, has measurements or acts on unknown wires.
    """
    tapes = []
    for row, obj in enumerate(circuits):
        tape = _as_tape(obj, row)
        _check(tape, row, wires)
        tapes.append(tape)
    return tapes


def _is_slot(value: Any) -> bool:
    """Real scalars become broadcast columns; arrays and complex values stay constants."""
    return value.ndim == 0 and not np.iscomplexobj(value)


@dataclass(frozen=True)
class Template:
    """The structure of an input circuit: its gates with their real scalar angles as slots.

    Attributes:
        key: Hashable identity of the structure (gate types, wires, settings, constant data).
        ops: Per gate: its class, its flattened metadata and per data entry a slot number or a
            constant value.
        n_params: Number of slots (columns of the group's parameter table).
    """

    key: tuple
    ops: tuple[tuple[type, Any, tuple[Any, ...]], ...]
    n_params: int

    def build(self, columns: Any) -> QuantumScript:
        """The input circuit with slot ``j`` taken from ``columns[:, j]`` (broadcast over rows).

        ``columns`` may be a torch tensor, a NumPy array or an autograd box; it is used without
        its gradient history (input circuits are constants).
        """
        ops = []
        with qml.QueuingManager.stop_recording():
            for cls, metadata, spec in self.ops:
                data = tuple(columns[:, s] if isinstance(s, int) else s for s in spec)
                ops.append(cls._unflatten(data, metadata))
        return InputCircuit(ops)


class InputCircuit(QuantumScript):
    """A row's input circuit as the model QNode receives it; it notes whether the QNode read
    its gates (:func:`prepend` does), so one that ignores its input circuits is refused."""

    read = False

    @property
    def operations(self) -> list[qml.operation.Operator]:
        """The circuit's gates."""
        self.read = True
        return super().operations


def _template(tape: QuantumScript) -> tuple[Template, list[float]]:
    """The structure of ``tape`` and the values of its slots, in order."""
    key, ops, values = [], [], []
    for op in tape.operations:
        data, metadata = op._flatten()
        spec: list[Any] = []
        for value in map(_constant, data):
            if _is_slot(value):
                spec.append(len(values))
                values.append(float(value))
                key.append(("slot",))
            else:
                spec.append(value)
                key.append(("const", value.dtype.str, value.shape, value.tobytes()))
        try:
            hash(metadata)
            meta_key: Any = metadata
        except TypeError:
            meta_key = repr(metadata)
        key.append((type(op).__qualname__, meta_key))
        ops.append((type(op), metadata, tuple(spec)))
    return Template(tuple(key), tuple(ops), len(values)), values


@dataclass(frozen=True)
class CircuitGroup:
    """Rows of a batch whose input circuits share a structure.

    Attributes:
        template: Their common structure.
        rows: Their row numbers in the batch.
        params: ``(len(rows), template.n_params)`` float64 slot values.
    """

    template: Template
    rows: list[int]
    params: np.ndarray


def group_rows(tapes: Sequence[QuantumScript]) -> list[CircuitGroup]:
    """Group the rows by circuit structure, in order of first appearance."""
    found: dict[tuple, tuple[Template, list[int], list[list[float]]]] = {}
    for row, tape in enumerate(tapes):
        template, values = _template(tape)
        entry = found.setdefault(template.key, (template, [], []))
        entry[1].append(row)
        entry[2].append(values)
    return [
        CircuitGroup(t, rows, np.asarray(values, dtype=np.float64).reshape(len(rows), t.n_params))
        for t, rows, values in found.values()
    ]


EMPTY = Template((), (), 0)
"""The structure of a circuit without gates."""


def _derived_func(
    func: Callable[..., Any],
    template: Template,
    n_features: int,
    weight_names: Sequence[str],
    input_arg: str | None,
    circuit_arg: str,
) -> Callable[..., Any]:
    """``f(inputs, **weights)``: the model function with the group's circuit placed.

    The first ``n_features`` input columns are the model's features, the next
    ``template.n_params`` the circuit's angles (a column of zeros when there are neither).
    """

    @functools.wraps(func)
    def derived(inputs: Any, **weights: Any) -> Any:
        columns = inputs[..., n_features : n_features + template.n_params]
        detach = getattr(columns, "detach", None)
        if callable(detach):
            columns = detach()
        else:
            from autograd.tracer import getval

            columns = getval(columns)
        circuit = template.build(columns)
        kwargs = {circuit_arg: circuit, **weights}
        if input_arg is not None:
            kwargs[input_arg] = inputs[..., :n_features]
        result = func(**kwargs)
        if not circuit.read:
            raise ValueError(
                f"The QNode takes {circuit_arg!r} but never applies it, so the input circuits "
                f"would be ignored; call qstore_layers.circuit_inputs.prepend({circuit_arg}) in "
                "the QNode where each row's circuit should act."
            )
        return result

    params = [inspect.Parameter("inputs", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    params += [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY) for n in weight_names]
    derived.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    del derived.__wrapped__  # inspect.signature must read the derived signature
    return derived


def model_signature(
    func: Callable[..., Any], input_arg: str, circuit_arg: str = CIRCUIT_ARG
) -> Callable[..., Any]:
    """A stand-in of ``func`` whose signature has ``input_arg`` in place of ``circuit_arg``, for
    :func:`~qstore_layers.validation.validate_weight_shapes` (weights are checked as usual)."""
    signature = inspect.signature(func)
    params = [p for name, p in signature.parameters.items() if name != circuit_arg]
    if input_arg not in signature.parameters:
        params.insert(0, inspect.Parameter(input_arg, inspect.Parameter.POSITIONAL_OR_KEYWORD))

    def stand_in(*args: Any, **kwargs: Any) -> None:
        raise NotImplementedError  # only its signature is read

    stand_in.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    stand_in.__name__ = getattr(func, "__name__", "the QNode function")
    return stand_in


def _same(executor: BatchExecutor) -> BatchExecutor:
    return executor


class CircuitInputs:
    """The executors of a model QNode that takes input circuits, one per circuit structure.

    Args:
        qnode: Model QNode with a ``circuit_arg`` argument (and optionally ``input_arg``).
        weight_names: Its weight arguments, in the layer's order.
        options: The layer's options (every structure's executor gets them).
        input_arg: Name of the numeric-features argument, if the QNode has one.
        circuit_arg: Name of the circuits argument.
        prefer: Exact methods tried in order when resolving ``"best"``.
        wrap: Turns each structure's executor into what the framework runs (the Torch layer
            wraps it in a :class:`~qstore_layers.torch_exec.TorchExecution`).
    """

    def __init__(
        self,
        qnode: qml.QNode,
        weight_names: Sequence[str],
        options: LayerOptions,
        input_arg: str = "inputs",
        circuit_arg: str = CIRCUIT_ARG,
        prefer: Sequence[str] = ("adjoint", "backprop"),
        wrap: Callable[[BatchExecutor], Any] | None = None,
    ) -> None:
        params = inspect.signature(qnode.func).parameters
        self.qnode, self.options, self.prefer, self.wrap = (
            qnode,
            options,
            tuple(prefer),
            wrap or _same,
        )
        self.weight_names = tuple(weight_names)
        self.circuit_arg = circuit_arg
        self.input_arg = input_arg if input_arg in params else None
        self.wires = qnode.device.wires
        self._lock = threading.Lock()
        self._executors: OrderedDict[tuple, Any] = OrderedDict()

    def __getstate__(self) -> dict[str, Any]:
        """Pickle/deepcopy: the per-structure executors hold closures and are rebuilt."""
        state = self.__dict__.copy()
        del state["_lock"]
        state["_executors"] = OrderedDict()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore with a new lock and no cached executors."""
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @property
    def takes_features(self) -> bool:
        """Whether the model QNode also takes numeric features."""
        return self.input_arg is not None

    def executor(self, template: Template, n_features: int) -> Any:
        """The (wrapped) executor of one circuit structure, built on first use, kept LRU."""
        key = (template.key, n_features)
        with self._lock:
            if key in self._executors:
                self._executors.move_to_end(key)
                return self._executors[key]
            func = _derived_func(
                self.qnode.func,
                template,
                n_features,
                self.weight_names,
                self.input_arg,
                self.circuit_arg,
            )
            executor = self.wrap(
                BatchExecutor(
                    self.qnode.update(func=func),
                    self.weight_names,
                    options=self.options,
                    prefer=self.prefer,
                )
            )
            self._executors[key] = executor
            while len(self._executors) > MAX_STRUCTURES:
                self._executors.popitem(last=False)
            logger.debug("input circuits: %d structure(s) cached", len(self._executors))
            return executor

    def read(self, circuits: Any) -> tuple[list[CircuitGroup], bool]:
        """Read a batch of circuits (or one circuit) into groups; also whether it was one."""
        single = isinstance(circuits, QuantumScript | str | bytes | Mapping)
        rows = [circuits] if single else list(circuits)
        return group_rows(read_circuits(rows, self.wires)), single
