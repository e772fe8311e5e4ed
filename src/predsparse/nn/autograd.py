"""Autograd functions of one sparse junction: batch-major on any backend, and on panels.

``sparse_matmul(x, w, idx, backend)``: ``y = x @ (W*M).T`` over present edges, gradients for ``x`` and
``w``. ``panel_linear(xp, w, bias, idx)``: one junction on feature-major panels (numba backend).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from predsparse.nn.backend import Backend, SparseIndex, select_backend
from predsparse.nn.numba_backend import NumbaCPU


class SparseMatmul(torch.autograd.Function):
    """``y = x @ (W*M).T`` over present edges only; gradients for ``x`` and the edge weights."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, w: torch.Tensor, idx: SparseIndex, backend: str) -> torch.Tensor:  # type: ignore[override]
        b = select_backend(backend, idx, x)
        ctx.idx, ctx.backend = idx, b
        ctx.save_for_backward(x, w)
        return b.forward(idx, x, w)

    @staticmethod
    def backward(ctx, g: torch.Tensor):  # type: ignore[override]
        x, w = ctx.saved_tensors
        b: Backend = ctx.backend
        g = g.contiguous()
        gx = b.grad_input(ctx.idx, g, w) if ctx.needs_input_grad[0] else None
        gw = b.grad_weight(ctx.idx, g, x) if ctx.needs_input_grad[1] else None
        return gx, gw, None, None


sparse_matmul: Callable[..., torch.Tensor] = SparseMatmul.apply


class _PanelLinear(torch.autograd.Function):
    """``yp = W xp + b`` on panels; backward gives the input panels' gradient, ``gw`` and ``gb``."""

    @staticmethod
    def forward(ctx, xp: torch.Tensor, w: torch.Tensor, bias: torch.Tensor | None, idx: SparseIndex):  # type: ignore[override]
        ctx.idx = idx
        ctx.has_bias = bias is not None
        ctx.save_for_backward(xp, w)
        return NumbaCPU.spmm_panels(idx, xp, w, bias)

    @staticmethod
    def backward(ctx, gp: torch.Tensor):  # type: ignore[override]
        xp, w = ctx.saved_tensors
        gp = gp.contiguous()
        gx = NumbaCPU.grad_input_panels(ctx.idx, gp, w) if ctx.needs_input_grad[0] else None
        gw = gb = None
        # padding columns of gp are zero (they come from _FromPanels.backward), so the bias sum is exact
        want_b = ctx.has_bias and ctx.needs_input_grad[2]
        if ctx.needs_input_grad[1]:
            gw = NumbaCPU.grad_weight_panels(ctx.idx, gp, xp, with_bias=want_b)
            if want_b:
                gw, gb = gw
        elif want_b:
            gb = gp.sum(dim=(0, 2))
        return gx, gw, gb, None


def panel_linear(xp: torch.Tensor, w: torch.Tensor, bias: torch.Tensor | None, idx: SparseIndex) -> torch.Tensor:
    """A sparse junction on panels: ``(P, n_in, bc)`` -> ``(P, n_out, bc)`` with the bias added."""
    return _PanelLinear.apply(xp, w, bias, idx)
