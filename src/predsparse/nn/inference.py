"""Batch-1 inference (on-line use): a whole sparse MLP's forward pass for ONE input vector, serial, in one call.

At batch 1 a junction is a sparse matrix-vector product: a few microseconds of work, less than waking
other threads or changing to panel layout would cost, and bound by streaming the weights and indices.
So this path differs from the batched kernels (:mod:`predsparse.nn.kernels_cpu`) in three ways:

- the column indices are stored once per junction in the narrowest unsigned type that holds them
  (``uint16`` up to 65,536 inputs, else ``uint32``): 6 bytes per edge streamed instead of 12;
- a fixed in-degree junction (structured, clash-free, fully connected) runs as ELL: row ``j``'s edges
  are ``j*d .. j*d+d-1`` (the CSR order, so the weights are used in place), one simple loop per row
  that LLVM vectorises with gathers; other patterns run the same loop over their CSR row pointer;
- the Python path from ``SparseMLP.forward`` to the kernel is short (:func:`try_forward`: the kernel's
  arguments are prepared once and cached).

The sums run in another order than the batched kernels' (vector lanes), so the results agree with them
to float rounding (tests compare both with the dense masked computation).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from predsparse.nn import kernels_cpu
from predsparse.nn.backend import AUTO_ORDER, BACKENDS, SparseIndex
from predsparse.nn.numba_backend import _arrays

_STATE: dict = {}
_FLOATS = (torch.float32, torch.float64)


def index_dtype(n_in: int) -> np.dtype:
    """The column-index dtype for a junction with ``n_in`` inputs: ``uint16`` when it fits, else ``uint32``."""
    return np.dtype(np.uint16) if n_in <= 1 << 16 else np.dtype(np.uint32)


def _narrow(idx: SparseIndex, dtype: np.dtype) -> tuple[int, np.ndarray]:
    """``(d, cols)`` of junction ``idx``: its in-degree ``d`` when every row has ``d > 0`` edges (ELL),
    else -1 (CSR); its column indices as ``dtype``. Cached on the junction's index arrays (never change)."""
    a = _arrays(idx)
    cache = idx.__dict__.setdefault("_numba_single", {})
    hit = cache.get(dtype)
    if hit is None or hit[2] is not a:  # rebuilt when the index buffers moved (a new _Arrays)
        crow = a.crow
        d = int(crow[1] - crow[0]) if crow.size > 1 else 0
        ell = d > 0 and bool(np.array_equal(crow, d * np.arange(crow.size, dtype=crow.dtype)))
        hit = cache[dtype] = (d if ell else -1, a.cols.astype(dtype), a)
    return hit[0], hit[1]


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
    xa = xa[int(rows[0])] if rows is not None else xa.reshape(-1)
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
    """``(n_in, degs, crows, colss, ws, bs)``: the input width and the kernel's arguments, or None when a
    junction is not on the numba backend. Cached on the first junction and rebuilt when a junction, its
    index buffers or backend, a parameter's storage or the dtype changes (the plan's views keep their
    storage alive, so an unchanged ``data_ptr`` is the same storage): a lookup instead of ~10 us of Python
    per call."""
    first = next(iter(junctions))
    key = (
        x_dtype,
        AUTO_ORDER[0],
        *map(id, junctions),
        *(_cols(j).data_ptr() for j in junctions),
        *(getattr(j, "backend", "auto") for j in junctions),
        *(0 if t is None else t.data_ptr() for wb in wbs for t in wb),
    )
    hit = first.__dict__.get("_numba_plan")
    if hit is not None and hit[0] == key:
        return hit[1]
    plan = None
    if all(_on_numba(j, x_dtype, wb) for j, wb in zip(junctions, wbs)):
        arrays = [_arrays(j) for j in junctions]
        dt = np.dtype(np.float32 if x_dtype == torch.float32 else np.float64)
        cdt = index_dtype(max(j.n_in for j in junctions))
        degs, colss = zip(*(_narrow(j, cdt) for j in junctions))
        ws = tuple(a.param("w", w, dt) for a, (w, _) in zip(arrays, wbs))
        bs = tuple(kernels_cpu.empty(dt) if b is None else a.param("b", b, dt) for a, (_, b) in zip(arrays, wbs))
        plan = (first.n_in, np.array(degs, np.int64), tuple(a.crow for a in arrays), tuple(colss), ws, bs)
    first.__dict__["_numba_plan"] = (key, plan)
    return plan


def kernel() -> Callable:
    """``mlp_one(x, degs, crows, colss, ws, bs, act) -> y`` (module docstring), built and compiled on first use."""
    k = _STATE.get("mlp_one")
    if k is None:
        kernels_cpu.numba_module()
        k = _STATE["mlp_one"] = _make_kernel()
    return k


def _make_kernel() -> Callable:
    from numba import njit, uint64

    @njit(fastmath=True, cache=True, nogil=True)
    def mlp_one(x, degs, crows, colss, ws, bs, act):  # noqa: ANN001, ANN202  # pragma: no cover - numba
        """One input vector through every junction: ``degs[i]`` is junction i's in-degree (ELL) or -1 (CSR
        rows ``crows[i]``); ``act`` (EPILOGUE code) after every junction but the last; empty bias: none."""
        h = x
        last = len(crows) - 1
        for li in range(len(crows)):
            crow = crows[li]
            cols = colss[li]
            w = ws[li]
            b = bs[li]
            n = crow.size - 1
            y = np.empty(n, x.dtype)
            hb = b.size > 0
            d = degs[li]
            # two plain loops (not one with a runtime choice of bounds): LLVM then vectorises each with
            # gathers; unsigned offsets spare the negative-index checks
            if d > 0:
                ud = uint64(d)
                for j in range(n):
                    acc = b[j] if hb else x[0] - x[0]
                    o = uint64(j) * ud
                    for k in range(uint64(0), ud):
                        acc += w[o + k] * h[cols[o + k]]
                    y[j] = acc
            else:
                for j in range(n):
                    acc = b[j] if hb else x[0] - x[0]
                    for k in range(uint64(crow[j]), uint64(crow[j + 1])):
                        acc += w[k] * h[cols[k]]
                    y[j] = acc
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
