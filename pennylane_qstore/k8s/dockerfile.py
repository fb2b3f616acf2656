"""A Dockerfile for the training image: the project, its tested versions and the examples."""

from __future__ import annotations

EXTRAS = {"torch": "torch", "keras": "tf"}
"""The pyproject extra each engine's image installs."""

_TEMPLATE = """\
# Training image for `qstore k8s {engine}` jobs. Build it from the root of a pennylane-qstore
# checkout (or of your project with the same layout) and push it where the cluster pulls from:
#   docker build -f path/to/this/Dockerfile -t IMAGE . && docker push IMAGE
# For the CPU-only PyTorch build, pass the PyTorch CPU wheel index:
#   docker build --build-arg PIP_EXTRA_INDEX_URL=<index> ...
FROM python:{python}-slim
ARG PIP_EXTRA_INDEX_URL=
ENV PYTHONUNBUFFERED=1 \\
    PIP_NO_CACHE_DIR=1 \\
    OMP_WAIT_POLICY=PASSIVE \\
    TF_CPP_MIN_LOG_LEVEL=2
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY pennylane_qstore pennylane_qstore
COPY qstore_layers qstore_layers
RUN pip install -c constraints.txt ".[{extra}]" scikit-learn
COPY examples examples
# Your own script: COPY it too and pass --script /app/<script> to `qstore k8s`.
"""


def dockerfile(engine: str, python: str = "3.11") -> str:
    """The Dockerfile of the image that runs ``engine`` (``"torch"`` or ``"keras"``) jobs.

    The examples that the manifests start by default end up in ``/app/examples``; scikit-learn
    is installed for their bundled data set. Versions come from the project's constraints.txt.
    """
    if engine not in EXTRAS:
        raise ValueError(f"engine={engine!r}: use 'torch' or 'keras'.")
    return _TEMPLATE.format(engine=engine, python=python, extra=EXTRAS[engine])
