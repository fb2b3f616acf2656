"""Kubernetes manifests (Kubeflow TrainJob, PyTorchJob, TFJob) and a Dockerfile for training jobs.

``qstore k8s torch|keras`` writes them; see ``docs/distributed.md``.
"""

from pennylane_qstore.k8s.dockerfile import dockerfile
from pennylane_qstore.k8s.manifests import (
    JobConfig,
    manifests,
    pytorchjob,
    tfjob,
    to_yaml,
    trainjob,
)

__all__ = ["JobConfig", "dockerfile", "manifests", "pytorchjob", "tfjob", "to_yaml", "trainjob"]
