"""Batch-1 inference (on-line use): a whole sparse MLP's forward pass for ONE input vector, serial, in one call.

At batch 1 a junction is a sparse matrix-vector product: a few microseconds of work, less than waking
other threads or changing to panel layout would cost, and bound by streaming the weights and indices.
So this path differs from the batched kernels (:mod:`predsparse.nn.kernels_cpu`):

- it runs input by input (the transposed, CSC order: input ``i``'s edges are contiguous) and adds
  ``w * x_i`` into the outputs, skipping every input that is exactly 0. Images have many zero pixels
  (Fashion-MNIST: about half) and a ReLU zeroes about half of every hidden layer, so about half of the
  edges are never read. The gather order of the batched kernels must read every edge;
- the weights are kept in that order in a copy, made when the plan is built and rebuilt whenever a
  weight may have changed: after any torch optimiser's step (a global step hook: fused Adam changes
  weights without bumping their version counter), when a weight's version counter moves (in-place
  changes such as ``copy_`` or ``load_state_dict``), or its storage or dtype changes. Writes through
  ``.data`` outside an optimiser are seen by neither; ``model.train()`` / ``model.eval()``
  (:func:`forget`) drop the copy too;
- the output indices are stored once per junction in the narrowest unsigned type that holds them
  (``uint16`` up to 65,536 outputs, else ``uint32``);
- the Python path from ``SparseMLP.forward`` to the kernel is short (:func:`try_forward`: the kernel's
  arguments are prepared once and cached).

The sums run in another order than the batched kernels' (input by input), so the results agree with them
to float rounding (tests compare both with the dense masked computation).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch.optim.optimizer import register_optimizer_step_post_hook

from predsparse.nn import kernels_cpu
from predsparse.nn.backend import AUTO_ORDER, BACKENDS, SparseIndex
from predsparse.nn.numba_backend import _arrays

_STATE: dict = {}
_FLOATS = (torch.float32, torch.float64)
_STEPS = [0]  # optimiser steps taken in this process (any optimiser): a plan built before one is stale


def _count_step(*_: object) -> None:
    _STEPS[0] += 1


register_optimizer_step_post_hook(_count_step)


def index_dtype(n: int) -> np.dtype:
    """The index dtype for ``n`` neurons: ``uint16`` when it fits, else ``uint32``."""
    return np.dtype(np.uint16) if n <= 1 << 16 else np.dtype(np.uint32)


def _transposed(idx: SparseIndex, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(t_crow, t_rows, t_perm)`` of junction ``idx``: input ``i``'s edges are ``t_crow[i] .. t_crow[i+1]-1``
    with output ``t_rows`` (as ``dtype``) and CSR edge number ``t_perm``. Cached on the junction's index
    arrays (they never change)."""
    a = _arrays(idx)
    cache = idx.__dict__.setdefault("_numba_single", {})
    hit = cache.get(dtype)
    if hit is None or hit[3] is not a:  # rebuilt when the index buffers moved (a new _Arrays)
        hit = cache[dtype] = (a.t_crow, a.t_rows.astype(dtype), a.t_perm, a)
    return hit[0], hit[1], hit[2]


def forget(junctions: Sequence) -> None:
    """Drop the cached plan (and its weight copy) of a network: it lives on its first junction."""
    next(iter(junctions)).__dict__.pop("_numba_plan", None)


def try_forward(
    x: torch.Tensor,
    junctions: Sequence,
    act: int,
    rows: torch.Tensor | None = None,
    params: Sequence[tuple[torch.Tensor, torch.Tensor | None]] | None = None,
) -> torch.Tensor | None:
    """The ``(1, n_out)`` logits of ``x`` (one row) or of ``x[rows]`` (one valid row number) through
    ``junctions`` with the :data:`kernels_cpu.EPILOGUE` activation code ``act`` between them, or None
    when this path does not apply: more than one input, a gradient wanted, not CPU float32/float64 of
    the weights' dtype, or a junction not on the numba backend (what ``select_backend`` would pick).
    ``params``: ``(weight, bias or None)`` per junction (default: the junctions' own)."""
    if (x.shape[0] if rows is None else rows.numel()) != 1 or x.dtype not in _FLOATS or x.device.type != "cpu":
        return None
    if x.layout != torch.strided or not kernels_cpu.available():
        return None
    wbs = [_own_params(j) for j in junctions] if params is None else params
    if torch.is_grad_enabled() and (
        x.requires_grad or any(t is not None and t.requires_grad for wb in wbs for t in wb)
    ):
        return None
    plan = _plan(junctions, wbs, x.dtype)
    if plan is None:
        return None
    xa = (x.detach() if x.requires_grad else x).numpy()
    xa = xa[int(rows[0])] if rows is not None else xa[0] if xa.ndim == 2 else xa.reshape(-1)
    if xa.size != plan[0]:  # not one input of the first junction's width: the batched path says why
        return None
    if not xa.flags.c_contiguous:
        xa = np.ascontiguousarray(xa)
    return torch.from_numpy(kernel()(xa, *plan[1:], act))  # (1, n_out)


def _own_params(j: SparseIndex) -> tuple[torch.Tensor, torch.Tensor | None]:
    p = j.__dict__.get("_parameters")  # nn.Module: skip Module.__getattr__ (~0.5 us per access)
    return (p["weight"], p.get("bias")) if p is not None else (j.weight, j.bias)


def _on_numba(j: SparseIndex, x_dtype: torch.dtype, wb: tuple) -> bool:
    """Whether ``select_backend`` puts junction ``j`` on the numba kernels for an input of ``x_dtype``."""
    backend = getattr(j, "backend", "auto")
    if backend not in ("auto", "numba") or (backend == "auto" and AUTO_ORDER[0] != "numba") or "numba" not in BACKENDS:
        return False
    return _cols(j).device.type == "cpu" and all(
        t is None or (t.dtype == x_dtype and t.device.type == "cpu") for t in wb
    )


def _cols(j: SparseIndex) -> torch.Tensor:
    buffers = j.__dict__.get("_buffers")  # nn.Module: skip Module.__getattr__
    return buffers["cols"] if buffers is not None else j.cols


def _plan(junctions: Sequence, wbs: Sequence, x_dtype: torch.dtype) -> tuple | None:
    """``(n_in, n_outs, t_crows, t_rowss, wts, bs)``: the input width, the output widths and the kernel's
    arguments (the weights copied in input order), or None when the network is fully connected (torch's
    dense path is better) or a junction is not on the numba backend. Cached on the first junction and
    rebuilt after an optimiser step, or when a junction, its index buffers or backend, a parameter's
    storage or version, or the dtype changes: a lookup instead of ~10 us of Python per call."""
    first = next(iter(junctions))
    key = [x_dtype, _STEPS[0], AUTO_ORDER[0]]
    for j, (w, b) in zip(junctions, wbs):  # one plain loop: a third of the cost of unpacked generators
        key += (id(j), _cols(j).data_ptr(), getattr(j, "backend", "auto"), w.data_ptr(), w._version)
        key += (0, 0) if b is None else (b.data_ptr(), b._version)
    hit = first.__dict__.get("_numba_plan")
    if hit is not None and hit[0] == key:
        return hit[1]
    from predsparse.nn.functional import runs_dense  # (functional imports this module)

    plan = None
    # fully connected throughout: torch's dense F.linear is the better path (sparse_mlp takes it)
    dense = all(runs_dense(j, w, getattr(j, "backend", "auto")) for j, (w, _) in zip(junctions, wbs))
    if not dense and all(_on_numba(j, x_dtype, wb) for j, wb in zip(junctions, wbs)):
        arrays = [_arrays(j) for j in junctions]
        dt = np.dtype(np.float32 if x_dtype == torch.float32 else np.float64)
        rdt = index_dtype(max(j.n_out for j in junctions))
        t_crows, t_rowss, t_perms = zip(*(_transposed(j, rdt) for j in junctions))
        wts = tuple(a.param("w", w, dt)[p] for a, (w, _), p in zip(arrays, wbs, t_perms))
        bs = tuple(kernels_cpu.empty(dt) if b is None else a.param("b", b, dt) for a, (_, b) in zip(arrays, wbs))
        plan = (first.n_in, np.array([j.n_out for j in junctions], np.int64), t_crows, t_rowss, wts, bs)
    first.__dict__["_numba_plan"] = (key, plan)
    return plan


def kernel() -> Callable:
    """``mlp_one(x, n_outs, t_crows, t_rowss, wts, bs, act) -> y`` (module docstring), built and compiled on first use."""
    k = _STATE.get("mlp_one")
    if k is None:
        kernels_cpu.numba_module()
        k = _STATE["mlp_one"] = _make_kernel()
    return k


def _make_kernel() -> Callable:
    from numba import njit, uint64

    @njit(fastmath=True, cache=True, nogil=True)
    def mlp_one(x, n_outs, t_crows, t_rowss, wts, bs, act):  # noqa: ANN001, ANN202  # pragma: no cover - numba
        """One input vector through every junction (``n_outs[i]`` outputs), input by input (``t_crows[i]``:
        junction i's transposed row pointer, ``t_rowss[i]`` the output of each edge, ``wts[i]`` its weight),
        skipping zero inputs; ``act`` (EPILOGUE code) after every junction but the last; empty bias: none."""
        h = x
        last = len(t_crows) - 1
        for li in range(len(t_crows)):
            t_crow = t_crows[li]
            t_rows = t_rowss[li]
            w = wts[li]
            b = bs[li]
            n = n_outs[li]
            y = b.copy() if b.size > 0 else np.zeros(n, x.dtype)
            for i in range(t_crow.size - 1):
                xi = h[i]
                if xi != 0:  # an exact zero adds nothing: half the pixels of an image, half a ReLU layer
                    for k in range(uint64(t_crow[i]), uint64(t_crow[i + 1])):
                        y[t_rows[k]] += w[k] * xi
            if li < last:
                if act == 1:
                    for j in range(n):
                        y[j] = max(y[j], 0)
                elif act == 2:
                    for j in range(n):
                        y[j] = 1 / (1 + np.exp(-y[j]))
                elif act == 3:
                    for j in range(n):
                        y[j] = np.tanh(y[j])
            h = y
        return h.reshape((1, h.size))  # the (1, n_out) logits: no view to take in Python

    return mlp_one
