"""The functional form of the sparse modules: a module's ``forward`` is one call here.

As ``torch.nn.Linear -> F.linear -> backend``: :class:`~predsparse.nn.SparseLinear` calls
:func:`sparse_linear`, :class:`~predsparse.nn.SparseMLP` calls :func:`sparse_mlp`. The layout policy
lives here and below, never in a module: on the numba backend a network runs in panel layout, as one
fused autograd node (:mod:`predsparse.nn.fused`) when there is no active dropout, else one node per
junction on panels (:mod:`predsparse.nn.panels`, :mod:`predsparse.nn.autograd`); other backends run
batch-major junction by junction (:func:`~predsparse.nn.autograd.sparse_matmul`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch.nn import functional as F

from predsparse.errors import InputError
from predsparse.nn import inference, kernels_cpu
from predsparse.nn.autograd import panel_linear, sparse_matmul
from predsparse.nn.backend import SparseIndex, select_backend
from predsparse.nn.fused import panel_mlp
from predsparse.nn.panels import from_panels, panel_width_for, to_panels

ACTIVATION_FUNCTIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
}
"""The activations between junctions (the functions ``nn.ReLU``/``nn.Sigmoid``/``nn.Tanh`` apply)."""


def uses_panels(index: SparseIndex, x: torch.Tensor, backend: str = "auto") -> bool:
    """True when a call with input ``x`` runs on the panel-layout (numba) kernels rather than batch-major."""
    return getattr(select_backend(backend, index, x), "layout", "batch") == "panel"


def runs_dense(index: SparseIndex, weight: torch.Tensor, backend: str = "auto") -> bool:
    """True when the junction is complete (every (right, left) pair an edge) and the backend is ``auto``:
    its edges, stored by (right, left) neuron, are then the row-major ``(n_out, n_in)`` matrix, and torch's
    dense ``F.linear`` computes exactly the sums the sparse kernels would, at the dense library's rate."""
    return backend == "auto" and weight.numel() == index.n_in * index.n_out


def sparse_linear(
    x: torch.Tensor, index: SparseIndex, weight: torch.Tensor, bias: torch.Tensor | None = None, backend: str = "auto"
) -> torch.Tensor:
    """``(B, n_in)`` -> ``(B, n_out)``: the junction ``index`` (a :class:`SparseLinear` or anything with its
    index buffers) with edge weights ``weight`` (``(|W|,)``) and ``bias``."""
    if x.dim() != 2 or x.shape[1] != index.n_in:
        raise InputError(f"input has shape {tuple(x.shape)}: SparseLinear expects (batch, {index.n_in})")
    if runs_dense(index, weight, backend):
        return F.linear(x, weight.view(index.n_out, index.n_in), bias)
    if uses_panels(index, x, backend):  # to panels, the junction and back as one autograd node
        return panel_mlp(x, [index], None, params=[weight] if bias is None else [weight, bias])
    y = sparse_matmul(x, weight, index, backend)
    return y if bias is None else y + bias


def sparse_mlp(
    x: torch.Tensor,
    junctions: Sequence,
    activation: str,
    *,
    dropout: float | Callable[[torch.Tensor], torch.Tensor] = 0.0,
    training: bool = False,
    rows: torch.Tensor | None = None,
    batch_one: bool = True,
) -> torch.Tensor:
    """Logits of an MLP of sparse ``junctions`` (:class:`SparseLinear` modules) with ``activation`` and
    dropout between them, for the batch ``x`` (``(B, *features)``) or,
    with ``rows`` (1-D integer row numbers of ``x``), for ``x[rows]``: on the numba kernels the gather
    then happens in the same pass as the change to panel layout.

    ``dropout``: a probability, or a dropout module (an ``nn.Dropout``, applied to activations in either
    layout); either acts only when ``training``. ``batch_one=False``: the caller has tried the batch-1 path
    (:func:`inference.try_forward`) already."""
    n_in = junctions[0].n_in
    x = x.reshape(x.shape[0], -1) if x.shape[0] else x.reshape(0, n_in)
    if x.shape[1] != n_in:  # the kernels index the input by the pattern: a narrower one would be read past its end
        raise InputError(f"input has {x.shape[1]} features per item: the network expects {n_in}")
    if rows is not None:
        rows = check_rows(rows, x.shape[0])
    act = ACTIVATION_FUNCTIONS[activation]
    if callable(dropout):
        drop, drop_fn = training, dropout
    else:
        p = float(dropout)
        drop = training and p > 0

        def drop_fn(h: torch.Tensor) -> torch.Tensor:
            return F.dropout(h, p, True)

    last = len(junctions) - 1
    # fully connected: every junction runs as torch's dense F.linear in the batch-major loop at the end
    dense = all(runs_dense(j, j.weight, j.backend) for j in junctions)
    if (
        batch_one and not drop and not dense
    ):  # on-line inference (one input, no gradient): one serial kernel call, a short path
        y = inference.try_forward(x, junctions, kernels_cpu.EPILOGUE[activation], rows)
        if y is not None:
            return y
    if not dense and all(uses_panels(j, x, j.backend) for j in junctions):
        if not drop:
            # the whole network in panel layout as one autograd node (activations in place)
            if rows is not None and x.requires_grad:
                x, rows = x[rows], None
            return panel_mlp(x, list(junctions), activation, rows)
        if rows is not None:
            x = x[rows]
        # with dropout: feature-major panels through the network, one conversion at each end
        widths = [n_in, *(j.n_out for j in junctions)]
        h = to_panels(x, panel_width_for(x.shape[0], widths, x.element_size()))
        for i, j in enumerate(junctions):
            h = panel_linear(h, j.weight, j.bias, j)
            if i < last:
                h = drop_fn(act(h))
        return from_panels(h, x.shape[0])
    if rows is not None:
        x = x[rows]
    for i, j in enumerate(junctions):
        x = sparse_linear(x, j, j.weight, j.bias, j.backend)
        if i < last:
            x = drop_fn(act(x)) if drop else act(x)
    return x


def check_rows(rows: torch.Tensor, n: int) -> torch.Tensor:
    """``rows`` as a contiguous int64 tensor, every entry in ``[0, n)`` (InputError otherwise)."""
    if (
        not isinstance(rows, torch.Tensor)
        or rows.dim() != 1
        or rows.dtype.is_floating_point
        or rows.dtype == torch.bool
    ):
        raise InputError("rows must be a 1-D integer tensor of row numbers")
    if rows.numel():
        lo, hi = (int(v) for v in torch.aminmax(rows))  # one pass instead of two (once per training step)
        if lo < 0 or hi >= n:
            raise InputError(f"rows has entry {lo if lo < 0 else hi}: row numbers must be in [0, {n})")
    return rows.to(torch.int64).contiguous()
