"""Shared test setup.

OpenMP threads of lightning.qubit busy-wait by default; on a loaded 2-core machine (pytest -n 2)
that makes a 2-qubit execution take ~10-60 ms instead of ~0.3 ms. Passive waiting must be set
before the OpenMP runtime loads, hence here.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
