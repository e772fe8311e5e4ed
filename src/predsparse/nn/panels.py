"""The panel layout between sparse junctions, autograd-aware, and its width policy.

A batch ``(B, n)`` is kept as ``P = ceil(B / bc)`` feature-major panels ``(P, n, bc)`` on the numba
backend (see :mod:`predsparse.nn.kernels_cpu`); these functions convert at the ends of a network.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from predsparse.nn import kernels_cpu
from predsparse.nn.numba_backend import NumbaCPU


def panel_width_for(batch: int, widths: Iterable[int], itemsize: int = 4) -> int:
    """The panel width for ``batch`` items through layers of ``widths`` neurons (:func:`kernels_cpu.panel_width`)."""
    return kernels_cpu.panel_width(batch, max(widths), itemsize)


class _ToPanels(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, bc: int) -> torch.Tensor:  # type: ignore[override]
        ctx.batch = x.shape[0]
        return NumbaCPU.to_panels(x, bc)

    @staticmethod
    def backward(ctx, gp: torch.Tensor):  # type: ignore[override]
        return NumbaCPU.from_panels(gp, ctx.batch), None


class _FromPanels(torch.autograd.Function):
    @staticmethod
    def forward(ctx, xp: torch.Tensor, batch: int) -> torch.Tensor:  # type: ignore[override]
        ctx.bc = xp.shape[2]
        return NumbaCPU.from_panels(xp, batch)

    @staticmethod
    def backward(ctx, g: torch.Tensor):  # type: ignore[override]
        return NumbaCPU.to_panels(g, ctx.bc), None  # padding columns get zero gradient


def to_panels(x: torch.Tensor, bc: int) -> torch.Tensor:
    """``(B, n)`` -> panels ``(P, n, bc)`` (differentiable); ``bc`` from :func:`kernels_cpu.panel_width`."""
    return _ToPanels.apply(x, bc)


def from_panels(xp: torch.Tensor, batch: int) -> torch.Tensor:
    """Panels ``(P, n, bc)`` -> ``(batch, n)`` (differentiable)."""
    return _FromPanels.apply(xp, batch)
