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
#            torch. So TorchQuantum is installed with --no-deps and only the modules its
#            `import torchquantum` really needs are installed next to it (torchvision stays out).
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
  "$ROOT/tq/bin/pip" install -q "torch==2.13.0" "qiskit==0.46.3" "numpy<2" scipy \
      opt-einsum "dill==0.3.4" pathos matplotlib pylatexenc torchdiffeq tqdm
  "$ROOT/tq/bin/pip" install -q --no-deps "torchquantum==0.1.8" torchpack
fi
"$ROOT/tq/bin/python" -c "import torchquantum as tq; print('torchquantum ok')"
