"""Intra-op thread policy of the engine.

Torch's CPU kernels and MKL's batched matmuls fork a thread team per op. For the engine's many
small ops, and whenever other processes already keep the cores busy, the team costs more than it
saves: measured on the 2-core benchmark machine under load, two threads made a W1 training step
10-20x *slower* at every size. Policy, applied around every forward and backward simulation:

* states of fewer than :data:`PARALLEL_AMPLITUDES` amplitudes (``batch * 2**n``) run on one
  thread;
* larger states use torch's thread count (``torch.get_num_threads()``), reduced to one while
  the 1-minute load average already reaches the CPU count (the cores are taken);
* ``QSTORE_ENGINE_THREADS=N`` in the environment forces ``N`` threads.

The previous setting is restored after each call. ``torch.set_num_threads`` is process-wide,
so concurrent torch work in other threads sees the engine's setting while it runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

PARALLEL_AMPLITUDES = 2**20
"""Smallest batch state (``batch * 2**n_wires`` amplitudes) worth more than one thread."""


def threads_for(amplitudes: int, available: int) -> int:
    """Return the thread count the engine uses for a state of ``amplitudes`` amplitudes."""
    forced = os.environ.get("QSTORE_ENGINE_THREADS")
    if forced:
        return max(1, int(forced))
    if amplitudes < PARALLEL_AMPLITUDES or available <= 1:
        return 1
    try:
        busy = os.getloadavg()[0] >= (os.cpu_count() or 1)
    except OSError:  # no load average on this platform
        busy = False
    return 1 if busy else available


@contextmanager
def engine_threads(amplitudes: int, device: torch.device) -> Iterator[None]:
    """Run the body with the policy's CPU thread count (GPU runs are left alone)."""
    if device.type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    want = threads_for(amplitudes, before)
    if want != before:
        torch.set_num_threads(want)
    try:
        yield
    finally:
        if want != before:
            torch.set_num_threads(before)


class _RestoreThreads(torch.autograd.Function):
    """Identity on the parameters; its backward runs last and restores the thread count."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, state: dict) -> torch.Tensor:
        ctx.state = state
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        before = ctx.state.pop("before", None)
        if before is not None:
            torch.set_num_threads(before)
        return grad, None


class _EnterThreads(torch.autograd.Function):
    """Identity on the outputs; its backward runs first and applies the policy."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, state: dict, want: int) -> torch.Tensor:
        ctx.state, ctx.want = state, want
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        before = torch.get_num_threads()
        if before != ctx.want:
            ctx.state["before"] = before
            torch.set_num_threads(ctx.want)
        return grad, None, None


def scoped_backward(params: torch.Tensor, amplitudes: int):
    """Extend the policy over the whole backward pass of a computation ``params -> outputs``.

    Returns ``(params, close)``: use the returned ``params`` as the computation's input and
    ``close(outputs)`` as its result; the backward pass from ``outputs`` down to ``params``
    (engine adjoint sweep *and* the small ops that build gate matrices) then runs under the
    policy's thread count, restored when it reaches ``params``.
    """
    if params.device.type != "cpu" or not params.requires_grad:
        return params, lambda out: out
    want = threads_for(amplitudes, torch.get_num_threads())
    state: dict = {}
    return _RestoreThreads.apply(params, state), lambda out: _EnterThreads.apply(out, state, want)
