"""qstore.router: options, routing decisions, fallback, routing record, tracker and CLI."""

from __future__ import annotations

import json

import numpy as np
import pennylane as qml
import pytest
from pennylane.devices import Device
from pennylane.exceptions import DeviceError

from pennylane_qstore.cli import main as qstore_main
from pennylane_qstore.router import (
    RouterDevice,
    RoutingError,
    RoutingPolicy,
    TapeInfo,
    get_target,
    register_target,
    unregister_target,
)


class _Broken(Device):
    """A target whose execution always raises."""

    def execute(self, circuits, execution_config=None):
        raise RuntimeError("simulated crash")


@pytest.fixture
def broken_target():
    """Register an explicit-only target named 'broken' for one test."""
    register_target(
        "broken", lambda wires, seed: _Broken(wires=wires), auto=False, description="fails"
    )
    yield "broken"
    unregister_target("broken")


@pytest.fixture
def missing_target():
    register_target(
        "missing",
        lambda wires, seed: _Broken(wires=wires),
        check=lambda: 'missingpkg is not installed: pip install "missingpkg"',
    )
    yield "missing"
    unregister_target("missing")


def _bell(shots=None, wires=(0, 1)) -> qml.tape.QuantumScript:
    return qml.tape.QuantumScript(
        [qml.Hadamard(wires[0]), qml.CNOT(wires)], [qml.expval(qml.PauliZ(wires[1]))], shots=shots
    )


def _ry_tape(num_wires: int, angle) -> qml.tape.QuantumScript:
    ops = [qml.RY(angle, wires=w) for w in range(num_wires)]
    ops += [qml.CNOT([w, w + 1]) for w in range(num_wires - 1)]
    return qml.tape.QuantumScript(ops, [qml.expval(qml.PauliZ(num_wires - 1))])


# ------------------------------------------------------------------ construction and options


def test_repr_names_device_wires_and_targets():
    text = repr(qml.device("qstore.router", wires=2))
    assert text.startswith("<qstore.router device (wires=2)")
    assert "default.qubit" in text and "(auto)" in text
    assert "targets=['qsim']" in repr(qml.device("qstore.router", wires=2, target="qsim"))


def test_unknown_option_lists_valid_ones():
    with pytest.raises(TypeError, match=r"Unknown option\(s\) \['colour'\].*'target', 'targets'"):
        qml.device("qstore.router", wires=2, colour="red")


def test_unknown_target_lists_registered():
    with pytest.raises(ValueError, match=r"Unknown target 'qiskit'.*'default.qubit'"):
        RouterDevice(wires=2, target="qiskit")


def test_unavailable_target_gives_reason_and_fix(missing_target):
    with pytest.raises(ValueError, match=r"'missing' is not available: .*pip install"):
        RouterDevice(wires=2, targets=[missing_target])
    assert missing_target not in RouterDevice(wires=2).usable_targets()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"target": "qsim", "targets": ["qsim"]}, ValueError, "not both"),
        ({"targets": "qsim"}, TypeError, "use target='qsim'"),
        ({"targets": []}, ValueError, "at least one"),
        ({"policy": {"wide_wires": 3}}, TypeError, "RoutingPolicy"),
    ],
)
def test_bad_option_values(kwargs, error, match):
    with pytest.raises(error, match=match):
        RouterDevice(wires=2, **kwargs)


def test_register_target_rejects_duplicates_and_unknown_derivatives():
    with pytest.raises(ValueError, match="already registered"):
        register_target("default.qubit", get_target("default.qubit").factory)
    with pytest.raises(ValueError, match=r"Unknown derivative methods \['hadamard'\]"):
        register_target("x", get_target("default.qubit").factory, derivatives=["hadamard"])


def test_unsupported_operation_is_a_clear_error():
    class Mystery(qml.operation.Operation):
        num_wires = 1

    dev = RouterDevice(wires=1)
    tape = qml.tape.QuantumScript([Mystery(wires=0)], [qml.expval(qml.PauliZ(0))])
    with pytest.raises(DeviceError, match=r"Mystery.*not supported with qstore.router"):
        qml.execute([tape], dev)


def test_execution_time_device_options_rejected():
    dev = RouterDevice(wires=1)
    with pytest.raises(DeviceError, match=r"no execution-time device options.*\['max_workers'\]"):
        dev.setup_execution_config(qml.devices.ExecutionConfig(device_options={"max_workers": 2}))


# ------------------------------------------------------------------ routing decisions


@pytest.mark.parametrize(
    ("info", "rule", "first"),
    [
        (TapeInfo(4, None, None, "backprop"), "backprop", "default.qubit"),
        (TapeInfo(20, None, None, "adjoint"), "adjoint", "lightning.gpu"),
        (TapeInfo(4, None, 32, None), "broadcast x32", "default.qubit"),
        (TapeInfo(4, None, None, None), "small", "lightning.qubit"),
        (TapeInfo(12, None, 32, None), "small", "lightning.qubit"),
        (TapeInfo(18, 100, None, None), "wide: 18 >= 18 wires", "lightning.gpu"),
        (TapeInfo(22, None, 8, None), "wide: 22 >= 18 wires", "lightning.gpu"),
    ],
)
def test_policy_rules(info, rule, first):
    reason, preferred = RoutingPolicy().preferences(info)
    assert reason == rule and preferred[0] == first


@pytest.mark.parametrize("field", ["wide_wires", "broadcast_wires", "adjoint_wires"])
def test_policy_validates_thresholds(field):
    with pytest.raises(ValueError, match=f"{field} must be a positive integer"):
        RoutingPolicy(**{field: 0})


@pytest.mark.parametrize(
    ("tape", "target"),
    [
        (_ry_tape(4, 0.3), "lightning.qubit"),
        (_ry_tape(4, np.array([0.1, 0.2, 0.3])), "default.qubit"),
        (_ry_tape(12, np.array([0.1, 0.2])), "lightning.qubit"),
        (_ry_tape(18, 0.3), "qsim"),
    ],
    ids=["small", "broadcast", "wide-broadcast", "wide"],
)
def test_router_routes_representative_tapes(tape, target):
    dev = RouterDevice(wires=18)
    (result,) = qml.execute([tape], dev, diff_method=None)
    # RY(a) on every wire then a CNOT chain: <Z_last> is the parity, cos(a) ** num_wires
    angle = tape.operations[0].data[0]
    assert np.allclose(result, np.cos(angle) ** len(tape.wires), atol=1e-6)
    assert dev.routing_record.target_of(0) == target


def test_mixed_batch_is_split_per_target_and_order_kept():
    dev = RouterDevice(wires=4, policy=RoutingPolicy(wide_wires=3, wide_targets=("qsim",)))
    tapes = [_ry_tape(2, 0.1), _ry_tape(4, 0.2), _ry_tape(2, 0.3), _ry_tape(3, 0.4)]
    results = dev.execute(tapes)
    want = qml.device("default.qubit", wires=4).execute(tapes)
    assert np.allclose(results, want, atol=1e-6)
    record = dev.routing_record
    assert record.tapes_per_target() == {"lightning.qubit": 2, "qsim": 2}
    assert [record.target_of(i) for i in range(4)] == ["lightning.qubit", "qsim"] * 2


def test_explicit_targets_only_when_named(broken_target):
    assert broken_target not in RouterDevice(wires=2).usable_targets()
    assert RouterDevice(wires=2, targets=["qsim", "default.qubit"]).usable_targets() == [
        "qsim",
        "default.qubit",
    ]


def test_shots_rule_is_opt_in(broken_target):
    dev = RouterDevice(wires=2, policy=RoutingPolicy(shots_targets=("qsim",)))
    dev.execute([_bell(), _bell(shots=100)])
    assert [dev.routing_record.target_of(i) for i in (0, 1)] == ["lightning.qubit", "qsim"]


# ------------------------------------------------------------------ fallback


def test_fallback_to_next_target_is_recorded(broken_target):
    dev = RouterDevice(wires=2, targets=[broken_target, "default.qubit"])
    (result,) = dev.execute([_bell()])
    assert np.isclose(result, 0.0)
    (route,) = dev.routing_record.routes
    assert route.target == "default.qubit"
    assert [(f.target, f.error) for f in route.failures] == [
        ("broken", "RuntimeError: simulated crash")
    ]
    assert "fallback: broken failed: RuntimeError: simulated crash" in str(dev.routing_record)


def test_policy_chain_falls_back_to_automatic_targets(broken_target):
    dev = RouterDevice(wires=2, policy=RoutingPolicy(small_targets=(broken_target,)))
    (result,) = dev.execute([_bell()])
    assert np.isclose(result, 0.0)
    assert dev.routing_record.fallbacks[0].target == "broken"
    assert dev.routing_record.target_of(0) != "broken"


def test_every_target_failing_names_each_failure(broken_target):
    dev = RouterDevice(wires=2, targets=[broken_target, "braket.local"])
    with pytest.raises(RoutingError, match=r"broken: RuntimeError: simulated crash; braket.local:"):
        dev.execute([_bell(shots=(10, 10))])


def test_fallback_disabled_raises_first_error(broken_target):
    dev = RouterDevice(wires=2, targets=[broken_target, "default.qubit"], fallback=False)
    with pytest.raises(RuntimeError, match="simulated crash"):
        dev.execute([_bell()])


def test_monkeypatched_lightning_failure_falls_back(monkeypatch):
    dev = RouterDevice(wires=2)
    dev.execute([_bell()])
    lightning = dev._devices["lightning.qubit"]

    def crash(*args, **kwargs):
        raise MemoryError("out of memory")

    monkeypatch.setattr(lightning, "execute", crash)
    (result,) = dev.execute([_bell()])
    assert np.isclose(result, 0.0)
    assert dev.routing_record.fallbacks[0].error == "MemoryError: out of memory"


# ------------------------------------------------------------------ record, tracker, seeds


def test_routing_record_and_history():
    dev = RouterDevice(wires=2)
    assert dev.routing_record is None
    dev.execute([_bell(), _bell()])
    dev.execute([_bell()])
    assert len(dev.routing_history) == 2
    record = dev.routing_record
    assert record.kind == "execute" and record.num_tapes == 1
    (route,) = record.routes
    assert route.tapes == (0,) and route.num_wires == 2 and route.shots is None
    assert route.seconds > 0 and record.seconds == route.seconds
    with pytest.raises(IndexError):
        record.target_of(3)


def test_tracker_counts_executions_and_routes():
    dev = qml.device("qstore.router", wires=2)

    @qml.qnode(dev, diff_method="parameter-shift")
    def circuit(x):
        qml.RX(x, wires=0)
        qml.CNOT([0, 1])
        return qml.expval(qml.PauliZ(1))

    with qml.Tracker(dev) as tracker:
        qml.grad(circuit)(qml.numpy.array(0.3, requires_grad=True))
    assert tracker.totals["executions"] == 3
    assert tracker.totals["fallbacks"] == 0
    assert sum(sum(r.values()) for r in tracker.history["routing"]) == 3


def test_seed_makes_samples_reproducible():
    tape = qml.tape.QuantumScript(
        [qml.Hadamard(0), qml.Hadamard(1)], [qml.sample(wires=[0, 1])], shots=50
    )
    for target in ("default.qubit", "qsim", "lightning.qubit"):
        a = RouterDevice(wires=2, seed=11, target=target).execute(tape)
        b = RouterDevice(wires=2, seed=11, target=target).execute(tape)
        assert np.array_equal(a, b), target


def test_router_without_wires_and_with_mid_circuit_measurement():
    dev = qml.device("qstore.router")

    @qml.qnode(dev)
    def circuit(x):
        qml.RX(x, wires=0)
        m = qml.measure(0)
        qml.cond(m, qml.PauliX)(wires=1)
        return qml.probs(wires=[0, 1])

    assert np.allclose(circuit(0.7), [np.cos(0.35) ** 2, 0, 0, np.sin(0.35) ** 2], atol=1e-6)


# ------------------------------------------------------------------ CLI


def test_cli_lists_every_target_with_reason(capsys):
    assert qstore_main(["devices"]) == 0
    out = capsys.readouterr().out
    for name in ("default.qubit", "lightning.qubit", "lightning.gpu", "qsim", "braket.local"):
        assert name in out
    gpu_line = next(line for line in out.splitlines() if line.startswith("lightning.gpu"))
    assert "missing" in gpu_line and ("pip install" in gpu_line or "GPU" in gpu_line)


def test_cli_json(capsys):
    assert qstore_main(["devices", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    rows = {row["name"]: row for row in data["targets"]}
    assert rows["default.qubit"]["available"] is True
    assert rows["default.qubit"]["derivatives"] == ["adjoint", "backprop"]
    assert rows["lightning.gpu"]["reason"]


@pytest.mark.parametrize("target", ["lightning.qubit", "qsim", "default.qubit"])
def test_custom_wire_labels(target):
    dev = RouterDevice(wires=["a", "b", "c"], target=target)

    @qml.qnode(dev, diff_method=None)
    def circuit():
        qml.RY(0.4, wires="c")
        qml.CNOT(wires=["c", "a"])
        return qml.probs(wires=["a", "b"]), qml.expval(qml.PauliZ("a"))

    probs, z_a = circuit()
    assert np.allclose(probs, [np.cos(0.2) ** 2, 0, np.sin(0.2) ** 2, 0], atol=1e-6)
    assert np.isclose(z_a, np.cos(0.4), atol=1e-6)
    assert dev.routing_record.target_of(0) == target


# ------------------------------------------------------------------ QA regressions


@pytest.mark.parametrize("first", ["qsim", "braket.local"])
def test_best_runs_on_the_first_named_target(first):
    """targets=[first, ...] with the default diff_method must run on ``first``: "best" used to
    resolve to adjoint and send every tape to the later target that computes it."""
    dev = qml.device("qstore.router", wires=1, targets=[first, "default.qubit"])

    @qml.qnode(dev)
    def circuit(x):
        qml.RX(x, wires=0)
        return qml.expval(qml.PauliZ(0))

    assert np.isclose(circuit(0.3), np.cos(0.3), atol=1e-6)
    assert dev.routing_record.target_of(0) == first
    grad = qml.grad(circuit)(qml.numpy.array(0.3, requires_grad=True))
    assert np.isclose(grad, -np.sin(0.3), atol=1e-6)
    assert set(dev.routing_record.tapes_per_target()) == {first}


def test_best_still_delegates_when_the_first_target_computes_it():
    dev = qml.device("qstore.router", wires=1, targets=["lightning.qubit", "qsim"])
    circuit = qml.QNode(lambda x: (qml.RX(x, 0), qml.expval(qml.Z(0)))[1], dev)
    qml.grad(circuit)(qml.numpy.array(0.3, requires_grad=True))
    assert dev.routing_record.kind == "derivatives"
    assert dev.routing_record.target_of(0) == "lightning.qubit"


def test_copy_deepcopy_and_pickle_after_execution():
    """Copies used to fail once a lightning target held its C++ state vector."""
    import copy
    import pickle

    dev = qml.device("qstore.router", wires=2, seed=4)

    def circuit(x):
        qml.RX(x, 0)
        qml.CNOT([0, 1])
        return qml.expval(qml.Z(1))

    expected = qml.QNode(circuit, dev)(0.3)
    assert dev.routing_record.target_of(0) == "lightning.qubit"
    for clone in (copy.copy(dev), copy.deepcopy(dev), pickle.loads(pickle.dumps(dev))):
        assert clone._devices is not dev._devices
        assert np.isclose(qml.QNode(circuit, clone)(0.3), expected)
        assert clone.routing_record.target_of(0) == "lightning.qubit"


def test_seed_global_and_bad_seeds():
    def circuit():
        qml.Hadamard(0)
        return qml.sample(wires=[0])

    runs = []
    for _ in range(2):
        np.random.seed(11)
        dev = qml.device("qstore.router", wires=1, seed="global", shots=30)
        runs.append(qml.QNode(circuit, dev)())
    assert np.array_equal(runs[0], runs[1])
    with pytest.raises(TypeError, match=r"seed= takes an int, a numpy.random.Generator, 'global'"):
        qml.device("qstore.router", wires=1, seed="glob")


def test_forward_pass_with_best_is_routed_by_the_tape():
    """A QNode with the default diff_method ("best" -> adjoint) used to send even plain forward
    passes down the adjoint chain, so wide tapes never reached qsim."""
    dev = qml.device("qstore.router", wires=2, policy=RoutingPolicy(wide_wires=2))

    @qml.qnode(dev)
    def circuit(x):
        qml.RX(x, wires=0)
        qml.CNOT(wires=[0, 1])
        return qml.expval(qml.PauliZ(1))

    assert np.isclose(circuit(0.3), np.cos(0.3), atol=1e-6)
    assert dev.routing_record.routes[0].target == "qsim"
    assert dev.routing_record.routes[0].reason.startswith("wide")
    grad = qml.grad(circuit)(qml.numpy.array(0.3, requires_grad=True))
    assert np.isclose(grad, -np.sin(0.3))
    assert dev.routing_record.kind == "derivatives"
    assert dev.routing_record.routes[0].target == "lightning.qubit"


@pytest.mark.parametrize("options", [{}, {"target": "lightning.qubit"}])
def test_hessian_with_best_is_not_zero(options):
    """With max_diff=2 "best" resolved to adjoint, whose jacobian is not differentiable again:
    the Hessian came out as zeros without any error (default.qubit's "best" gets it right)."""
    dev = qml.device("qstore.router", wires=2, **options)

    def circuit(x):
        qml.RX(x[0], wires=0)
        qml.RY(x[1], wires=1)
        qml.CNOT(wires=[0, 1])
        return qml.expval(qml.PauliZ(1))

    x = qml.numpy.array([0.2, 0.4], requires_grad=True)
    hessian = qml.jacobian(qml.grad(qml.QNode(circuit, dev, max_diff=2)))(x)
    exact = qml.QNode(circuit, qml.device("default.qubit"), diff_method="backprop", max_diff=2)
    assert np.allclose(hessian, qml.jacobian(qml.grad(exact))(x), atol=1e-6)
    assert not np.allclose(hessian, 0.0)


# ------------------------------------------------------------------ issue 10 regressions


def test_fallback_takes_a_bool():
    """fallback='no' was taken as True."""
    with pytest.raises(TypeError, match="fallback= takes True or False, got 'no'"):
        qml.device("qstore.router", wires=1, fallback="no")


def test_negative_seed_says_so():
    with pytest.raises(TypeError, match=r"got -1 \(an int seed must be 0 or more\)"):
        qml.device("qstore.router", wires=1, seed=-1)


def test_policy_refuses_unregistered_target_names():
    """RoutingPolicy(wide_targets=('nosuch',)) was accepted and silently ignored."""
    with pytest.raises(ValueError, match="wide_targets: Unknown target 'nosuch'"):
        RoutingPolicy(wide_targets=("nosuch",))
    with pytest.raises(TypeError, match="small_targets= takes a tuple of target names"):
        RoutingPolicy(small_targets="qsim")
    assert RoutingPolicy(small_targets=["default.qubit"]).small_targets == ("default.qubit",)


def test_mcm_error_lists_deferred_once():
    """The mid-circuit-measurement error listed "deferred", "deferred"."""

    @qml.qnode(qml.device("qstore.router", wires=2), mcm_method="one-shot")
    def circuit():
        qml.cond(qml.measure(0), qml.X)(1)
        return qml.expval(qml.Z(1))

    with pytest.raises(qml.exceptions.QuantumFunctionError, match='methods are: "deferred"\\.'):
        qml.set_shots(circuit, 10)()


def test_classical_shadows_with_shots_match_default_qubit():
    """classical_shadow and shadow_expval were refused with shots."""

    def bell():
        qml.Hadamard(0)
        qml.CNOT([0, 1])

    def shadow():
        bell()
        return qml.classical_shadow(wires=[0, 1])

    def estimate():
        bell()
        return qml.shadow_expval(qml.Z(0) @ qml.Z(1))

    router = qml.device("qstore.router", wires=2, seed=3)
    bits, recipes = qml.set_shots(qml.QNode(shadow, router), 200)()
    assert bits.shape == recipes.shape == (200, 2)
    assert router.routing_record.routes[0].reason == "classical shadow"
    assert not router.routing_record.fallbacks
    value = qml.set_shots(qml.QNode(estimate, router), 2000)()
    assert abs(value - 1.0) < 0.2  # shadow estimator: variance <= 9 per snapshot for ZZ


def _hessian_circuit(x):
    qml.RX(x[0], 0)
    qml.RY(x[1], 1)
    qml.CNOT([0, 1])
    return qml.expval(qml.Z(0) @ qml.X(1) + qml.Z(1))


def test_best_hessian_with_default_max_diff_matches_default_qubit():
    """With max_diff=1, 'best' (adjoint) gave Hessians of zeros, silently."""
    x = qml.numpy.array([0.4, 1.1], requires_grad=True)
    want = qml.jacobian(qml.jacobian(qml.QNode(_hessian_circuit, qml.device("default.qubit"))))(x)
    router = qml.device("qstore.router", wires=2)
    got = qml.jacobian(qml.jacobian(qml.QNode(_hessian_circuit, router)))(x)
    assert np.allclose(got, want, atol=1e-6) and not np.allclose(want, 0)


def test_adjoint_hessian_with_default_max_diff_raises():
    x = qml.numpy.array([0.4, 1.1], requires_grad=True)
    qnode = qml.QNode(_hessian_circuit, qml.device("qstore.router", wires=2), diff_method="adjoint")
    with pytest.raises(DeviceError, match="adjoint derivatives cannot be differentiated again"):
        qml.jacobian(qml.jacobian(qnode))(x)


def test_torch_float64_stays_float64_through_lightning():
    """Lightning returns Python floats, which torch made float32."""
    torch = pytest.importorskip("torch")
    dev = qml.device("qstore.router", wires=1, target="lightning.qubit")

    @qml.qnode(dev, interface="torch")
    def circuit(x):
        qml.RX(x, 0)
        return qml.expval(qml.Z(0)), qml.probs(wires=0)

    x = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    value, probs = circuit(x)
    assert value.dtype == probs.dtype == torch.float64
    value.backward()
    assert x.grad.dtype == torch.float64
    assert torch.isclose(x.grad, -torch.sin(x.detach()))


def test_fallbacks_are_logged_at_warning(caplog):
    from pennylane_qstore.router import register_target, unregister_target

    def broken(wires, seed):
        raise RuntimeError("boom")

    register_target("broken.test", broken)
    try:
        dev = qml.device("qstore.router", wires=1, targets=["broken.test", "default.qubit"])
        with caplog.at_level("WARNING", logger="pennylane_qstore.router"):
            assert qml.QNode(lambda: qml.expval(qml.Z(0)), dev)() == 1.0
    finally:
        unregister_target("broken.test")
    (record,) = [r for r in caplog.records if "broken.test failed" in r.getMessage()]
    assert record.levelname == "WARNING" and "boom" in record.getMessage()


def test_targets_are_discovered_through_the_entry_point_group():
    """Plugin targets come from the pennylane_qstore.targets entry points, not a fixed list."""
    from importlib.metadata import entry_points

    from pennylane_qstore.router import registered_targets
    from pennylane_qstore.router.targets import ENTRY_POINT_GROUP

    announced = {ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
    assert {"pennylane_qstore.ionq.target", "pennylane_qstore.engine.target"} <= announced
    assert {"ionq", "engine"} <= {s.name for s in registered_targets()}


def test_a_broken_target_plugin_is_reported_not_raised(monkeypatch):
    from importlib.metadata import EntryPoint

    from pennylane_qstore.router import targets

    broken = EntryPoint("nope", "pennylane_qstore.no_such_module", targets.ENTRY_POINT_GROUP)
    monkeypatch.setattr(targets.importlib.metadata, "entry_points", lambda group: [broken])
    monkeypatch.setattr(targets, "_plugins_loaded", False)
    monkeypatch.setattr(targets, "_PLUGIN_ERRORS", {})
    errors = targets.plugin_errors()
    assert "ModuleNotFoundError" in errors["pennylane_qstore.no_such_module"]


def test_engine_device_reads_engine_toml():
    """engine/device.py had no TOML: its measurements and observables were hard-coded."""
    import copy

    pytest.importorskip("torch")
    from pennylane_qstore.engine.device import EngineDevice

    dev = EngineDevice(wires=1)
    tape = qml.tape.QuantumScript([qml.RX(0.3, 0)], [qml.expval(qml.X(0))])
    (checked,), _ = dev.preprocess_transforms()(tape)
    assert dev.execute(checked) == pytest.approx(0.0)
    dev.capabilities = copy.deepcopy(dev.capabilities)  # the class's copy is shared
    dev.capabilities.observables.pop("PauliX")
    with pytest.raises(DeviceError, match=r"X\(0\) not supported on qstore.engine"):
        dev.preprocess_transforms()(tape)
    with pytest.raises(DeviceError, match="probs"):
        dev.preprocess_transforms()(tape.copy(measurements=[qml.probs(wires=0)]))
