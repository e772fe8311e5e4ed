"""The fused MLP node: a whole network of sparse junctions on the numba kernels as ONE autograd node."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from predsparse.nn import inference, kernels_cpu
from predsparse.nn.numba_backend import (
    _arrays,
    _from_panels_np,
    _grad_input_np,
    _grad_weight_np,
    _np,
    _spmm_np,
    _sync_threads,
    _to_panels_np,
)


def _forward_np(
    x: torch.Tensor, rows: torch.Tensor | None, spec: tuple, params: Sequence[torch.Tensor], keep: bool
) -> tuple:
    """The forward pass on flat numpy arrays: ``(logits, activation panels kept for backward, batch, bc, dtype)``."""
    layers, act, has_bias = spec
    _sync_threads()
    xa = _np(x.detach().contiguous()).reshape(-1)
    dt = xa.dtype
    r = kernels_cpu.empty(np.int64) if rows is None else _np(rows)
    batch = x.shape[0] if rows is None else r.size
    n0 = layers[0].n_in
    width = max([n0] + [layer.n_out for layer in layers])
    bc = kernels_cpu.panel_width(batch, width, dt.itemsize)
    k = kernels_cpu.kernels(bc)
    h = _to_panels_np(k, xa, r, batch, n0, bc)
    hs = [h]
    pk, last = 0, len(layers) - 1
    for i, layer in enumerate(layers):
        a = _arrays(layer)
        w = a.param("w", params[pk], dt)
        b = a.param("b", params[pk + 1], dt) if has_bias[i] else kernels_cpu.empty(dt)
        pk += 2 if has_bias[i] else 1
        mode = kernels_cpu.EPILOGUE[act if i < last else None]
        h = _spmm_np(k, a, w, h, layer.n_in, layer.n_out, bc, b, mode)
        if keep and i < last:
            hs.append(h)
    y = _from_panels_np(k, h, batch, layers[-1].n_out, bc)
    return y, hs, batch, bc, dt


class _PanelMLP(torch.autograd.Function):
    """``x -> [junction -> act]* -> junction`` kept in panel layout, as ONE autograd node.

    Same values and gradients as chaining :func:`to_panels`, :func:`panel_linear`, the activation and
    :func:`from_panels`, with the per-node autograd overhead paid once per network instead of ~3 times
    per junction; the activation (forward) and its derivative (backward, from the saved activation
    outputs) are fused into the junction kernels, and the bias gradient into the weight-gradient pass.
    Between kernels everything stays in flat numpy arrays (cached views of the index buffers and
    parameters), so a junction costs its kernels plus a few microseconds. With ``rows``, the batch is
    ``x[rows]``, gathered straight into panels (``x`` then gets no gradient).
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, rows: torch.Tensor | None, spec: tuple, *params: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        layers = spec[0]
        y, hs, batch, bc, dt = _forward_np(x, rows, spec, params, keep=True)
        ctx.spec, ctx.batch, ctx.bc, ctx.dtype = spec, batch, bc, dt
        # saved through autograd (not on ctx) so they are freed after backward unless the graph is retained
        ctx.save_for_backward(*(torch.from_numpy(v) for v in hs), *params)
        return torch.from_numpy(y).view(batch, layers[-1].n_out)

    @staticmethod
    def backward(ctx, gy: torch.Tensor):  # type: ignore[override]
        layers, act, has_bias = ctx.spec
        n = len(layers)
        saved = ctx.saved_tensors
        hs, params = [_np(t) for t in saved[:n]], saved[n:]
        bc, dt = ctx.bc, ctx.dtype
        pos, pk = [], 0  # where each junction's parameters sit in ``params``
        for i in range(n):
            pos.append(pk)
            pk += 2 if has_bias[i] else 1
        need = ctx.needs_input_grad  # (x, rows, spec, *params)
        grads: list[torch.Tensor | None] = [None] * len(params)
        threads = _sync_threads()
        k = kernels_cpu.kernels(bc)
        gya = _np(gy.detach().to(params[0].dtype).contiguous()).reshape(-1)
        g = _to_panels_np(k, gya, kernels_cpu.empty(np.int64), ctx.batch, layers[-1].n_out, bc)  # padding: zero
        for i in range(n - 1, -1, -1):
            layer = layers[i]
            a = _arrays(layer)
            want_w, want_b = need[3 + pos[i]], has_bias[i] and need[4 + pos[i]]
            if want_w:
                gw, gb = _grad_weight_np(k, a, g, hs[i], layer.n_in, layer.n_out, want_b, threads)
                grads[pos[i]] = torch.from_numpy(gw)
                if want_b:
                    grads[pos[i] + 1] = torch.from_numpy(gb)
            elif want_b:
                grads[pos[i] + 1] = torch.from_numpy(g.reshape(-1, layer.n_out, bc).sum(axis=(0, 2)))
            if i > 0 or need[0]:
                w = a.param("w", params[pos[i]], dt)
                if i > 0:  # through the junction and the activation in front of it, one pass
                    g = _grad_input_np(k, a, w, g, layer.n_in, layer.n_out, bc, hs[i], kernels_cpu.EPILOGUE[act + "'"])
                else:
                    g = _grad_input_np(k, a, w, g, layer.n_in, layer.n_out, bc, kernels_cpu.empty(dt), 0)
        gx = None
        if need[0]:
            gx = torch.from_numpy(_from_panels_np(k, g, ctx.batch, layers[0].n_in, bc)).view(ctx.batch, layers[0].n_in)
        return (gx, None, None, *grads)


def panel_mlp(
    x: torch.Tensor,
    layers: Sequence,
    activation: str | None,
    rows: torch.Tensor | None = None,
    params: Sequence[torch.Tensor] | None = None,
) -> torch.Tensor:
    """``(B, n_0)`` -> ``(B, n_L)`` logits through sparse junctions ``layers`` with ``activation`` between
    them (``"relu"``, ``"sigmoid"`` or ``"tanh"``; unused for one junction), on the numba kernels, in one
    autograd node. With ``rows`` (int64, valid row numbers of ``x``, which must not need a gradient),
    the batch is ``x[rows]``, gathered in the same pass as the layout change. ``params``: each junction's
    weight followed by its bias if it has one (default: the junctions' own ``weight`` and ``bias``)."""
    has_bias = []
    if params is None:
        params = []
        for layer in layers:
            p = layer.__dict__.get("_parameters")  # nn.Module: skip Module.__getattr__
            w, b = (p["weight"], p.get("bias")) if p is not None else (layer.weight, layer.bias)
            params.append(w)
            has_bias.append(b is not None)
            if b is not None:
                params.append(b)
    else:
        if len(params) not in (len(layers), 2 * len(layers)):
            raise ValueError("params: give every junction's weight, or every junction's weight and bias")
        with_bias = len(params) == 2 * len(layers)
        has_bias = [with_bias] * len(layers)
    spec = (tuple(layers), activation, tuple(has_bias))
    if not torch.is_grad_enabled() or not (x.requires_grad or any(p.requires_grad for p in params)):
        # inference (evaluation, on-line use): the same kernels without an autograd node or saved activations
        it = iter(params)
        wbs = [(next(it), next(it) if hb else None) for hb in has_bias]
        y = inference.try_forward(x, layers, kernels_cpu.EPILOGUE[activation], rows, wbs)  # one input: one call
        if y is not None:
            return y
        y, _, batch, _, _ = _forward_np(x, rows, spec, params, keep=False)
        return torch.from_numpy(y).view(batch, layers[-1].n_out)
    return _PanelMLP.apply(x, rows, spec, *params)
