"""Exact fidelity top-k from an index that only ranks by a real dot product.

A vector index holding ``x = [Re phi, Im phi]`` scores a real query ``r`` by ``r . x``. For the
query ``r_m = [Re(w q), Im(w q)]`` with ``w = exp(i theta_m)`` that score is
``Re(conj(w) <q|phi>) = |<q|phi>| cos(arg<q|phi> - theta_m)``. With ``M`` rotations
``theta_m = 2 pi m / M`` one of them is within ``pi / M`` of the overlap's phase, so

    max_m  r_m . x  >=  sqrt(F) cos(pi / M),       F = |<q|phi>|**2.

If the index returns the top ``K`` of each rotated query and ``t_m`` is the ``K``-th score of list
``m``, every state in none of the lists has ``r_m . x <= t_m`` for all ``m``, hence
``F <= (max_m t_m / cos(pi / M))**2``. When the ``k``-th best exact fidelity among the returned
candidates reaches that bound, the candidates provably contain the true top-k; otherwise ``K``
grows. The bound assumes the index ranks exactly (as the embedded store and the local Pinecone
server do).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from pennylane_qstore.store.states import embed

ROTATIONS = 4
"""Phase rotations per query: four queries (q, iq, -q, -iq) bound F within a factor of 2."""

SCORE_SLACK = 1e-5
"""Added to index scores in the bound: float32 rounding of stored vectors and scores."""


def rotated_queries(query: np.ndarray, rotations: int = ROTATIONS) -> np.ndarray:
    """Real embeddings (float32, one per row) of ``exp(i 2 pi m / M) q`` for ``m < M``."""
    phases = np.exp(2j * np.pi * np.arange(rotations) / rotations)
    return embed(phases[:, None] * np.asarray(query, dtype=np.complex128)[None, :])


def unseen_bound(
    kth_scores: Sequence[float | None], rotations: int = ROTATIONS, slack: float = SCORE_SLACK
) -> float:
    """Upper bound on the fidelity of any state no rotated list returned.

    Args:
        kth_scores: per rotated query, the score of its last (``K``-th) result, or ``None`` when
            the list came back shorter than ``K`` (it then holds every candidate).
        rotations: the ``M`` the queries were built with.
        slack: margin for float32 scores.
    """
    if all(s is None for s in kth_scores):
        return -math.inf
    top = max(s for s in kth_scores if s is not None) + slack
    return (max(top, 0.0) / math.cos(math.pi / rotations)) ** 2


def certified(
    ranked: Sequence[float], top_k: int, bound: float, min_fidelity: float | None
) -> bool:
    """Whether candidates with exact fidelities ``ranked`` (best first) contain the true answer.

    States outside the candidates have fidelity at most ``bound``; they cannot enter the result
    if the ``top_k``-th candidate is at least as good, or if the bound is below ``min_fidelity``.
    """
    kth = ranked[top_k - 1] if len(ranked) >= top_k else -math.inf
    floor = -math.inf if min_fidelity is None else min_fidelity
    return bound <= kth or bound < floor
