"""Batched gate matrices in torch, built in a few vectorised ops per gate kind.

Every builder takes a parameter tensor of shape ``(G, B)`` (``G`` gates of one kind, ``B`` batch
rows; ``Rot`` takes ``(G, B, 3)``) and returns complex matrices of shape ``(G, B, 2, 2)``. They are
plain differentiable torch code: the engine's adjoint pass returns gradients with respect to the
(fused) matrices and torch's autograd carries them back to the angles.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

MatrixBuilder = Callable[[torch.Tensor, torch.dtype], torch.Tensor]


def _cs(theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    half = 0.5 * theta
    return torch.cos(half), torch.sin(half)


def _assemble(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """Stack entries into matrices ``[[a, b], [c, d]]`` along two new trailing axes."""
    return torch.stack((a, b, c, d), dim=-1).unflatten(-1, (2, 2))


def rx(theta: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``RX(θ) = [[cos θ/2, -i sin θ/2], [-i sin θ/2, cos θ/2]]``."""
    c, s = _cs(theta)
    c, ms = c.to(dtype), (-1j * s).to(dtype)
    return _assemble(c, ms, ms, c)


def ry(theta: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``RY(θ) = [[cos θ/2, -sin θ/2], [sin θ/2, cos θ/2]]``."""
    c, s = _cs(theta)
    c, s = c.to(dtype), s.to(dtype)
    return _assemble(c, -s, s, c)


def rz(theta: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``RZ(θ) = diag(e^{-iθ/2}, e^{iθ/2})``."""
    c, s = _cs(theta)
    c, s = c.to(dtype), (1j * s).to(dtype)
    zero = torch.zeros_like(c)
    return _assemble(c - s, zero, zero, c + s)


def phase_shift(phi: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``PhaseShift(φ) = diag(1, e^{iφ})``."""
    one = torch.ones_like(phi).to(dtype)
    zero = torch.zeros_like(one)
    return _assemble(one, zero, zero, torch.polar(torch.ones_like(phi), phi).to(dtype))


def rot(angles: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``Rot(φ, θ, ω) = RZ(ω) RY(θ) RZ(φ)`` for ``angles[..., (φ, θ, ω)]``."""
    phi, theta, omega = angles.unbind(-1)
    c, s = _cs(theta)
    plus = torch.polar(torch.ones_like(phi), 0.5 * (phi + omega))
    minus = torch.polar(torch.ones_like(phi), 0.5 * (phi - omega))
    c, s = c.to(dtype), s.to(dtype)
    plus, minus = plus.to(dtype), minus.to(dtype)
    return _assemble(plus.conj() * c, -minus * s, minus.conj() * s, plus * c)


FAST_BUILDERS: dict[str, tuple[int, MatrixBuilder]] = {
    "RX": (1, rx),
    "RY": (1, ry),
    "RZ": (1, rz),
    "PhaseShift": (1, phase_shift),
    "Rot": (3, rot),
}
"""Parametrised one-qubit gates with a vectorised builder: name -> (number of angles, builder)."""
