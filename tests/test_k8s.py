"""``qstore k8s``: generated manifests validate against the Kubeflow operators' CRD schemas.

The schemas in tests/data/crds are the operators' published ``openAPIV3Schema`` (see each file's
``source``). Validation is strict like ``kubectl apply --validate=strict``: a field a schema does
not declare is an error, not silently pruned. The CEL ``x-kubernetes-validations`` rules are not
evaluated; the operators' webhook rules that matter here are checked by hand below.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from pennylane_qstore.cli import main
from pennylane_qstore.k8s import JobConfig, dockerfile, pytorchjob, tfjob, trainjob

jsonschema = pytest.importorskip("jsonschema")
yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parent.parent
CRDS = Path(__file__).resolve().parent / "data" / "crds"


def _strict(node: Any, in_properties: bool = False) -> Any:
    """Forbid undeclared fields wherever a schema declares its properties."""
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    if in_properties:
        return {key: _strict(value) for key, value in node.items()}
    out = {key: _strict(value, key == "properties") for key, value in node.items()}
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


@pytest.fixture(scope="module")
def validators() -> dict[tuple[str, str], Any]:
    """Strict Draft 4 validators (OpenAPI 3.0's dialect) keyed by (apiVersion, kind)."""
    out = {}
    for path in sorted(CRDS.glob("*.json")):
        crd = json.loads(path.read_text())
        schema = _strict(crd["openAPIV3Schema"])
        jsonschema.Draft4Validator.check_schema(schema)
        out[crd["apiVersion"], crd["kind"]] = jsonschema.Draft4Validator(schema)
    assert set(out) == {
        ("trainer.kubeflow.org/v1alpha1", "TrainJob"),
        ("kubeflow.org/v1", "PyTorchJob"),
        ("kubeflow.org/v1", "TFJob"),
    }
    return out


def _errors(validators: dict, manifest: dict) -> list[str]:
    validator = validators[manifest["apiVersion"], manifest["kind"]]
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(manifest)
    ]


def _webhook_errors(manifest: dict) -> list[str]:
    """The operators' admission-webhook rules on what we generate (kubeflow webhooks, v1.9)."""
    errors = []
    name = manifest["metadata"]["name"]
    if not re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", name) or len(name) > 63:
        errors.append(f"name {name!r} is not a DNS-1035 label")
    spec = manifest["spec"]
    if manifest["kind"] == "TrainJob":
        env = spec["trainer"].get("env", [])
        errors += [f"reserved env {e['name']}" for e in env if e["name"].startswith("PET_")]
        return errors
    replicas = spec.get("pytorchReplicaSpecs") or spec["tfReplicaSpecs"]
    default = "pytorch" if manifest["kind"] == "PyTorchJob" else "tensorflow"
    for role, replica in replicas.items():
        names = [c["name"] for c in replica["template"]["spec"]["containers"]]
        if default not in names:
            errors.append(f"{role} has no container named {default}")
        if role == "Master" and replica["replicas"] != 1:
            errors.append("Master replicas must be 1")
    if "elasticPolicy" in spec and "Worker" not in replicas:
        errors.append("elasticPolicy needs Worker replicas")
    return errors


CLI_CASES = [
    ["torch", "--workers", "1"],
    ["torch", "--workers", "4", "--nproc-per-node", "2", "--cpu", "2500m", "--memory", "8Gi"],
    ["torch", "--workers", "3", "--min-workers", "1", "--namespace", "ml", "--env", "A=1"],
    ["torch", "--workers", "2", "--script", "/app/train.py", "--", "--epochs", "3", "--lr=0.1"],
    ["keras", "--workers", "2"],
    ["keras", "--workers", "5", "--name", "qdense-run", "--env", "IONQ_API_URL=http://x:8000"],
]


@pytest.mark.parametrize("argv", CLI_CASES, ids=[" ".join(c) for c in CLI_CASES])
def test_cli_manifests_validate_against_crds(
    argv: list[str], tmp_path: Path, validators: dict, capsys: pytest.CaptureFixture
) -> None:
    engine, *rest = argv
    assert (
        main(
            ["k8s", engine, "--image", "registry.example/qstore:0.1", "--out", str(tmp_path), *rest]
        )
        == 0
    )
    expected = {"torch": {"trainjob.yaml", "pytorchjob.yaml"}, "keras": {"tfjob.yaml"}}[engine]
    assert {p.name for p in tmp_path.iterdir()} == expected | {"Dockerfile"}
    for name in expected:
        (manifest,) = list(yaml.safe_load_all((tmp_path / name).read_text()))
        assert _errors(validators, manifest) == []
        assert _webhook_errors(manifest) == []
    assert "kubectl apply -f" in capsys.readouterr().out


def test_manifests_carry_the_config(validators: dict) -> None:
    config = JobConfig(
        "torch", "img:1", workers=4, min_workers=2, nproc_per_node=2, env={"LOGLEVEL": "INFO"}
    )
    job = trainjob(config)["spec"]["trainer"]
    assert (job["numNodes"], job["numProcPerNode"]) == (4, 2)
    assert job["command"][:2] == ["torchrun", "/app/examples/ddp_torch.py"]
    assert job["env"] == [{"name": "LOGLEVEL", "value": "INFO"}]
    spec = pytorchjob(config)["spec"]
    assert (spec["elasticPolicy"]["minReplicas"], spec["elasticPolicy"]["maxReplicas"]) == (2, 4)
    assert spec["nprocPerNode"] == "2"
    assert spec["pytorchReplicaSpecs"]["Worker"]["replicas"] == 4
    # the example's global batch splits evenly over 2, 3 and 4 pods of 2 processes
    batch = int(job["command"][job["command"].index("--batch") + 1])
    assert all(batch % (2 * pods) == 0 for pods in (2, 3, 4))
    keras_job = tfjob(JobConfig("keras", "img:1", workers=3))
    container = keras_job["spec"]["tfReplicaSpecs"]["Worker"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python", "/app/examples/multiworker_keras.py"]
    assert container["ports"] == [{"name": "tfjob-port", "containerPort": 2222}]


@pytest.mark.parametrize(
    ("path", "value", "needle"),
    [
        (("spec", "trainer", "numNodes"), "3", "is not of type 'integer'"),
        (("spec", "trainer", "numNode"), 3, "Additional properties are not allowed"),
        (("spec", "runtimeRef", "name"), "", "should be non-empty"),
        (("spec", "nprocPerNode"), 2, "is not of type 'string'"),
        (("spec", "elasticPolicy", "minReplicas"), 1.5, "is not of type 'integer'"),
        (("spec", "trainer", "resourcesPerNode", "limits", "cpu"), "two", "does not match"),
        (("spec", "pytorchReplicaSpecs", "Worker", "replicas"), "2", "is not of type 'integer'"),
    ],
)
def test_schemas_catch_wrong_manifests(
    validators: dict, path: tuple[str, ...], value: Any, needle: str
) -> None:
    """The validation is not vacuous: typos and wrong types in the generated YAML fail."""
    config = JobConfig("torch", "img:1", workers=2)
    manifest = copy.deepcopy(
        trainjob(config) if path[1] in ("trainer", "runtimeRef") else pytorchjob(config)
    )
    node = manifest
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    errors = _errors(validators, manifest)
    assert errors and any(needle in e for e in errors), errors


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"workers": 0}, "workers=0: give a whole number of at least 1"),
        ({"nproc_per_node": 0}, "nproc_per_node=0"),
        ({"min_workers": 3}, "1 <= min_workers <= workers (2)"),
        ({"engine": "keras", "min_workers": 1}, "elastic jobs are torch only"),
        ({"engine": "keras", "nproc_per_node": 2}, "a TFJob runs one worker per pod"),
        ({"name": "Train_Job"}, "DNS-1035 label"),
        ({"name": "a" * 51}, "at most 50 characters"),
        ({"namespace": "ML"}, "not a DNS-1123 label"),
        ({"image": ""}, "give an image reference"),
        ({"cpu": "two"}, "give a quantity like 2, 500m, 4Gi"),
        ({"env": {"PET_NNODES": "2"}}, "set by the operator"),
        ({"engine": "keras", "env": {"TF_CONFIG": "{}"}}, "set by the operator"),
        ({"args": "--steps 5"}, "give a sequence of strings"),
        ({"engine": "jax"}, "use 'torch' or 'keras'"),
    ],
)
def test_bad_config_is_refused_with_the_fix(kwargs: dict, message: str) -> None:
    base = {"engine": "torch", "image": "img:1", "workers": 2}
    with pytest.raises(ValueError, match=re.escape(message)):
        JobConfig(**{**base, **kwargs})


def test_cli_reports_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    argv = ["k8s", "torch", "--image", "img:1", "--workers", "2", "--env", "NOEQUALS"]
    assert main([*argv, "--out", str(tmp_path)]) == 2
    assert "--env 'NOEQUALS': write KEY=VALUE" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_manifest_kind_must_match_engine() -> None:
    with pytest.raises(ValueError, match="a TFJob runs keras"):
        tfjob(JobConfig("torch", "img:1", workers=2))


@pytest.mark.parametrize("engine", ["torch", "keras"])
def test_dockerfile_builds_from_this_checkout(engine: str) -> None:
    """Every COPY source exists here, the extra exists, and the default script lands at its path."""
    text = dockerfile(engine)
    assert text.splitlines()[5].startswith("FROM python:3.11")
    copies = [line.split()[1:] for line in text.splitlines() if line.startswith("COPY ")]
    for *sources, _dest in copies:
        for source in sources:
            assert (ROOT / source).exists(), source
    extra = re.search(r'"\.\[(\w+)\]"', text).group(1)
    extras = (ROOT / "pyproject.toml").read_text().split("[project.optional-dependencies]")[1]
    assert re.search(rf"^{extra} = \[", extras.split("\n[")[0], re.MULTILINE), extra
    assert "-c constraints.txt" in text
    script = JobConfig(engine, "img:1", workers=2).script
    assert ["examples", "examples"] in copies and "WORKDIR /app" in text
    assert (ROOT / Path(script).relative_to("/app")).is_file()
