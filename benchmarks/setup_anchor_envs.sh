#!/usr/bin/env bash
# Create the anchor environments that benchmarks/w1.py compares against, OUTSIDE the repository.
#
#   bash benchmarks/setup_anchor_envs.sh [ROOT]      # default ROOT=/work/bench-envs
#
# ROOT/tfq : Python 3.11 venv with TensorFlow Quantum 0.7.6 (pulls TensorFlow 2.18 + tf-keras,
#            cirq 1.5); separate because the project itself uses TensorFlow 2.21 / Keras 3.
# ROOT/tq  : Python 3.11 venv with TorchQuantum 0.1.8, qiskit==0.46.3 and the CPU torch 2.13.0.
#            TorchQuantum's wheel declares torchvision, tensorflow, pyscf, ... as hard dependencies,
#            but its simulator needs none of them, and torchvision wheels do not import with the CPU
#            torch (installing one also swaps torch for a CUDA build). So TorchQuantum is installed
#            with --no-deps next to the modules `import torchquantum` really needs, and
#            torchvision stays out (see benchmarks/anchors/tq_w1.py).
# ROOT/tket: Python 3.11 venv with pytket 2.18, the TKET anchor of benchmarks/ionq_compile.py
#            (benchmarks/anchors/tket_ionq.py reads the circuits as JSON on stdin).
# w1.py finds the envs through ROOT (or --anchor-envs) and runs each anchor as a subprocess
# that prints JSON; a missing env just drops that column.
set -euo pipefail
ROOT="${1:-/work/bench-envs}"
PY="${PYTHON:-python3.11}"
mkdir -p "$ROOT"

if [ ! -x "$ROOT/tfq/bin/python" ]; then
  "$PY" -m venv "$ROOT/tfq"
  "$ROOT/tfq/bin/pip" install -q "tensorflow-quantum==0.7.6" "tensorflow==2.18.*"
fi
"$ROOT/tfq/bin/python" -c "import tensorflow_quantum as tfq; print('tfq', tfq.__version__)"

if [ ! -x "$ROOT/tq/bin/python" ]; then
  "$PY" -m venv "$ROOT/tq"
  # The CPU torch first and without dependencies: a plain "torch" (or torchvision) from PyPI is
  # a CUDA build. setuptools<81 still ships pkg_resources, which qiskit-ibm-runtime imports.
  "$ROOT/tq/bin/pip" install -q --no-deps "torch==2.13.0+cpu" \
      --extra-index-url https://download.pytorch.org/whl/cpu
  "$ROOT/tq/bin/pip" install -q "setuptools<81" sympy typing_extensions jinja2 networkx fsspec \
      filelock "numpy<2" scipy "qiskit==0.46.3" "qiskit-aer==0.13.3" "qiskit-ibm-runtime==0.20.0" \
      opt-einsum "dill==0.3.4" pathos matplotlib pylatexenc torchdiffeq tqdm multimethod toml \
      pyyaml loguru
  # TorchQuantum declares torchvision, tensorflow, pyscf, ... as hard requirements; its
  # simulator needs none of them. benchmarks/anchors/tq_w1.py registers inert torchvision
  # modules before importing torchquantum (whose dataset package imports torchvision).
  "$ROOT/tq/bin/pip" install -q --no-deps "torchquantum==0.1.8" "torchpack==0.3.1"
fi
"$ROOT/tq/bin/python" -c "
import sys
from unittest import mock
for m in ('torchvision', 'torchvision.transforms', 'torchvision.datasets', 'torchvision.datasets.utils'):
    sys.modules[m] = mock.MagicMock()
import torch, torchquantum
print('torchquantum 0.1.8 with torch', torch.__version__)
"

if [ ! -x "$ROOT/tket/bin/python" ]; then
  "$PY" -m venv "$ROOT/tket"
  "$ROOT/tket/bin/pip" install -q "pytket==2.18.*"
fi
"$ROOT/tket/bin/python" -c "import pytket; print('pytket', pytket.__version__)"
