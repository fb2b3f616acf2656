"""Kubernetes manifests for Kubeflow's training operators, built from one :class:`JobConfig`.

Three kinds, each as the operator's CRD defines it:

- Kubeflow Trainer v2 ``TrainJob`` (``trainer.kubeflow.org/v1alpha1``) on the
  ``torch-distributed`` ``ClusterTrainingRuntime``: the runtime starts ``torchrun`` with
  ``PET_NNODES``, ``PET_NPROC_PER_NODE``, ``PET_NODE_RANK``, ``PET_MASTER_ADDR/PORT``.
- Training Operator v1 ``PyTorchJob`` (``kubeflow.org/v1``) with an ``elasticPolicy``: Worker
  replicas meet at a c10d rendezvous on worker 0 (``PET_RDZV_ENDPOINT``, ``PET_NNODES=min:max``).
- Training Operator v1 ``TFJob`` with Worker replicas; the operator injects ``TF_CONFIG``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

TORCH_SCRIPT = "/app/examples/ddp_torch.py"
"""The torch example inside the image built from :func:`~pennylane_qstore.k8s.dockerfile`."""
KERAS_SCRIPT = "/app/examples/multiworker_keras.py"
"""The Keras example inside that image."""
PYTORCH_PORT = 23456
"""Container port of PyTorchJob replicas (the operator's default, ``pytorchjob-port``)."""
TF_PORT = 2222
"""Container port of TFJob replicas (the operator's default, ``tfjob-port``)."""
MAX_NAME_LENGTH = 50
"""Job names leave 13 characters of the 63-character DNS label for the operators' pod suffixes."""

_DNS1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_QUANTITY = re.compile(
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
_ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")
_RESERVED_ENV = {
    "torch": ("PET_", "MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "LOCAL_RANK"),
    "keras": ("TF_CONFIG",),
}


@dataclass(frozen=True)
class JobConfig:
    """What every generated manifest needs; validated on construction.

    Args:
        engine: ``"torch"`` (TrainJob, PyTorchJob) or ``"keras"`` (TFJob).
        image: Container image with the project and the training script.
        workers: Nodes (pods); the maximum for an elastic PyTorchJob.
        name: Job name: a DNS-1035 label of at most ``MAX_NAME_LENGTH`` characters.
        namespace: Namespace of the job, or ``None`` for the current one.
        nproc_per_node: Torch processes per pod (``torchrun --nproc-per-node``).
        min_workers: Fewest pods an elastic PyTorchJob runs with (default: ``workers``).
        cpu: CPU request and limit per pod (Kubernetes quantity), default ``nproc_per_node``.
        memory: Memory request and limit per pod (Kubernetes quantity).
        script: Training script inside the image (default: the project's example).
        args: Arguments of the script.
        env: Extra environment variables of the training container.
    """

    engine: str
    image: str
    workers: int
    name: str | None = None
    namespace: str | None = None
    nproc_per_node: int = 1
    min_workers: int | None = None
    cpu: str | None = None
    memory: str = "2Gi"
    script: str | None = None
    args: Sequence[str] = ()
    env: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.engine not in _RESERVED_ENV:
            raise ValueError(f"engine={self.engine!r}: use 'torch' or 'keras'.")
        set_ = lambda key, value: object.__setattr__(self, key, value)  # noqa: E731
        set_("name", self.name or f"qstore-{self.engine}")
        set_("script", self.script or (TORCH_SCRIPT if self.engine == "torch" else KERAS_SCRIPT))
        set_("cpu", self.cpu or str(self.nproc_per_node))
        set_("env", dict(self.env))
        self._check_counts()
        self._check_names()
        set_("args", tuple(self.args) or self._default_args())

    def _check_counts(self) -> None:
        for key in ("workers", "nproc_per_node"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{key}={value!r}: give a whole number of at least 1.")
        low = self.min_workers
        if low is not None and (self.engine != "torch" or not 1 <= low <= self.workers):
            raise ValueError(
                f"min_workers={low!r}: elastic jobs are torch only, with "
                f"1 <= min_workers <= workers ({self.workers})."
            )
        if self.engine == "keras" and self.nproc_per_node != 1:
            raise ValueError("nproc_per_node applies to torch; a TFJob runs one worker per pod.")
        for key in ("cpu", "memory"):
            if not _QUANTITY.match(getattr(self, key)):
                raise ValueError(
                    f"{key}={getattr(self, key)!r}: give a quantity like 2, 500m, 4Gi."
                )

    def _check_names(self) -> None:
        if len(self.name) > MAX_NAME_LENGTH or not _DNS1035.fullmatch(self.name):
            raise ValueError(
                f"name={self.name!r}: use lower-case letters, digits and '-', starting with a "
                f"letter, at most {MAX_NAME_LENGTH} characters (a DNS-1035 label the operators "
                "extend with pod suffixes)."
            )
        if self.namespace is not None and not re.fullmatch(
            r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", self.namespace
        ):
            raise ValueError(f"namespace={self.namespace!r}: not a DNS-1123 label.")
        if not self.image or any(ch.isspace() for ch in self.image):
            raise ValueError(
                f"image={self.image!r}: give an image reference such as repo/name:tag."
            )
        if isinstance(self.args, str) or not all(isinstance(arg, str) for arg in self.args):
            raise ValueError(f"args={self.args!r}: give a sequence of strings.")
        reserved = _RESERVED_ENV[self.engine]
        for key in self.env:
            if not _ENV_NAME.fullmatch(key) or key.startswith(reserved) or key in reserved:
                raise ValueError(
                    f"env {key!r}: not a valid name, or set by the operator ({', '.join(reserved)})."
                )

    def _default_args(self) -> tuple[str, ...]:
        """The torch example needs a global batch divisible by every possible world size."""
        if self.engine != "torch" or self.script != TORCH_SCRIPT:
            return ()
        sizes = range(self.min_workers or self.workers, self.workers + 1)
        return ("--batch", str(8 * self.nproc_per_node * math.lcm(*sizes)))

    @property
    def command(self) -> list[str]:
        """Container command: ``torchrun SCRIPT ARGS`` or ``python SCRIPT ARGS``."""
        launcher = "torchrun" if self.engine == "torch" else "python"
        return [launcher, self.script, *self.args]

    @property
    def env_list(self) -> list[dict[str, str]]:
        """``env`` as Kubernetes ``EnvVar`` objects."""
        return [{"name": key, "value": value} for key, value in self.env.items()]

    @property
    def resources(self) -> dict[str, dict[str, str]]:
        """Requests equal to limits: the pods get the CPUs their threads assume."""
        amount = {"cpu": self.cpu, "memory": self.memory}
        return {"requests": dict(amount), "limits": dict(amount)}

    def metadata(self) -> dict[str, Any]:
        """Object metadata with the job name, namespace and a ``qstore`` label."""
        meta: dict[str, Any] = {"name": self.name, "labels": {"app.kubernetes.io/name": "qstore"}}
        if self.namespace:
            meta["namespace"] = self.namespace
        return meta


def trainjob(config: JobConfig) -> dict[str, Any]:
    """A Kubeflow Trainer v2 ``TrainJob`` on the ``torch-distributed`` runtime.

    Trainer v2 has no elastic torch yet, so it runs ``config.workers`` nodes.
    """
    _require(config, "torch", "TrainJob")
    trainer: dict[str, Any] = {
        "image": config.image,
        "command": config.command,
        "numNodes": config.workers,
        "numProcPerNode": config.nproc_per_node,
        "resourcesPerNode": config.resources,
    }
    if config.env:
        trainer["env"] = config.env_list
    return {
        "apiVersion": "trainer.kubeflow.org/v1alpha1",
        "kind": "TrainJob",
        "metadata": config.metadata(),
        "spec": {
            "runtimeRef": {
                "apiGroup": "trainer.kubeflow.org",
                "kind": "ClusterTrainingRuntime",
                "name": "torch-distributed",
            },
            "trainer": trainer,
        },
    }


def pytorchjob(config: JobConfig) -> dict[str, Any]:
    """A Training Operator v1 ``PyTorchJob``: elastic Worker replicas, c10d rendezvous."""
    _require(config, "torch", "PyTorchJob")
    container = _container(config, "pytorch", "pytorchjob-port", PYTORCH_PORT)
    return {
        "apiVersion": "kubeflow.org/v1",
        "kind": "PyTorchJob",
        "metadata": config.metadata(),
        "spec": {
            "nprocPerNode": str(config.nproc_per_node),
            "elasticPolicy": {
                "rdzvBackend": "c10d",
                "rdzvId": config.name,
                "minReplicas": config.min_workers or config.workers,
                "maxReplicas": config.workers,
                "maxRestarts": 3,
            },
            "pytorchReplicaSpecs": {"Worker": _replicas(config, container)},
        },
    }


def tfjob(config: JobConfig) -> dict[str, Any]:
    """A Training Operator v1 ``TFJob`` with Worker replicas (``TF_CONFIG`` from the operator)."""
    _require(config, "keras", "TFJob")
    container = _container(config, "tensorflow", "tfjob-port", TF_PORT)
    return {
        "apiVersion": "kubeflow.org/v1",
        "kind": "TFJob",
        "metadata": config.metadata(),
        "spec": {
            "runPolicy": {"cleanPodPolicy": "Running"},
            "tfReplicaSpecs": {"Worker": _replicas(config, container)},
        },
    }


def manifests(config: JobConfig) -> dict[str, dict[str, Any]]:
    """Every manifest for ``config.engine``, keyed by file name."""
    if config.engine == "torch":
        return {"trainjob.yaml": trainjob(config), "pytorchjob.yaml": pytorchjob(config)}
    return {"tfjob.yaml": tfjob(config)}


def to_yaml(manifest: Mapping[str, Any]) -> str:
    """Render one manifest as YAML (needs PyYAML)."""
    try:
        import yaml
    except ImportError as exc:
        raise ImportError(
            "Writing manifests needs PyYAML: pip install pennylane-qstore[k8s]"
        ) from exc
    return yaml.safe_dump(dict(manifest), sort_keys=False, default_flow_style=False)


def _require(config: JobConfig, engine: str, kind: str) -> None:
    if config.engine != engine:
        raise ValueError(f"a {kind} runs {engine}; this config is for engine={config.engine!r}.")


def _container(config: JobConfig, name: str, port_name: str, port: int) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": name,
        "image": config.image,
        "command": config.command,
        "ports": [{"name": port_name, "containerPort": port}],
        "resources": config.resources,
    }
    if config.env:
        container["env"] = config.env_list
    return container


def _replicas(config: JobConfig, container: dict[str, Any]) -> dict[str, Any]:
    return {
        "replicas": config.workers,
        "restartPolicy": "OnFailure",
        "template": {"spec": {"containers": [container]}},
    }
