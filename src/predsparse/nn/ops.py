"""The three sparse training operations over present edges only, and their dispatch.

For a junction with edges ``(rows[e], cols[e])`` (sorted by right neuron, then left neuron) and
weights ``w[e]``:

- forward  ``y[b, j]  = sum_{e: rows[e]=j} w[e] x[b, cols[e]]``        (FF)
- grad_input ``gx[b, k] = sum_{e: cols[e]=k} w[e] g[b, rows[e]]``      (BP)
- grad_weight ``gw[e] = sum_b g[b, rows[e]] x[b, cols[e]]``            (UP)

Each costs ``2 * batch * |W|`` FLOPs and memory proportional to ``|W|``; the dense ``(n, p)``
matrix is never formed. ``TorchCSR`` uses torch's CSR kernels (CPU and CUDA, any float dtype): the
portable fallback. ``NumbaCPU`` (``"numba"``, preferred by ``"auto"`` on CPU for float32/float64 when
numba imports) runs the kernels of :mod:`predsparse.nn.kernels_cpu` on a feature-major "panel"
layout ``(P, n, BC)``; layers and MLPs that use it keep activations in that layout between
junctions (:func:`to_panels`, :func:`panel_linear`, :func:`from_panels`), converting once at each
end. Backends register themselves in :data:`BACKENDS` and are picked by :func:`select_backend`.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Protocol

import numpy as np
import torch

from predsparse.nn import kernels_cpu

warnings.filterwarnings("ignore", message=".*Sparse CSR tensor support is in beta.*")
warnings.filterwarnings("ignore", message=".*Sparse invariant checks are implicitly disabled.*")


class SparseIndex(Protocol):
    """What a backend needs from a layer: its index buffers (on the layer's device)."""

    n_in: int
    n_out: int
    rows: torch.Tensor  # (|W|,) right neuron per edge
    cols: torch.Tensor  # (|W|,) left neuron per edge
    crow: torch.Tensor  # (n_out + 1,) CSR row pointer
    t_perm: torch.Tensor  # (|W|,) edge order sorted by left neuron
    t_crow: torch.Tensor  # (n_in + 1,) CSR row pointer of the transpose
    t_rows: torch.Tensor  # (|W|,) right neuron per edge in transposed order (rows[t_perm])
    in_degree: int  # fixed in-degree, or 0 when degrees vary


class Backend(Protocol):
    name: str
    layout: str  # "batch": tensors (B, n); "panel": also offers the panel methods of NumbaCPU

    def supports(self, idx: SparseIndex, x: torch.Tensor) -> bool: ...
    def forward(self, idx: SparseIndex, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor: ...
    def grad_input(self, idx: SparseIndex, g: torch.Tensor, w: torch.Tensor) -> torch.Tensor: ...
    def grad_weight(self, idx: SparseIndex, g: torch.Tensor, x: torch.Tensor) -> torch.Tensor: ...


class TorchCSR:
    """torch's CSR SpMM and ``sampled_addmm``: portable (CPU and CUDA), the reference fallback."""

    name = "torch-csr"
    layout = "batch"

    def supports(self, idx: SparseIndex, x: torch.Tensor) -> bool:
        return True

    def forward(self, idx: SparseIndex, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        a = torch.sparse_csr_tensor(idx.crow, idx.cols, w, (idx.n_out, idx.n_in))
        return (a @ x.t()).t()

    def grad_input(self, idx: SparseIndex, g: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        at = torch.sparse_csr_tensor(idx.t_crow, idx.t_rows, torch.index_select(w, 0, idx.t_perm), (idx.n_in, idx.n_out))
        return (at @ g.t()).t()

    def grad_weight(self, idx: SparseIndex, g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        a = torch.sparse_csr_tensor(
            idx.crow, idx.cols, torch.zeros(idx.cols.numel(), dtype=g.dtype, device=g.device), (idx.n_out, idx.n_in)
        )
        return torch.sparse.sampled_addmm(a, g.t().contiguous(), x.contiguous(), beta=0.0).values()


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy()


class _Arrays:
    """numpy views of a junction's index buffers (flat, int64) and, refreshed when a tensor's storage
    changes, of its weight and bias; cached on the junction so that a kernel call costs microseconds.

    A cached view keeps its storage alive, so an unchanged ``data_ptr`` means the same storage.
    """

    __slots__ = ("key", "crow", "cols", "t_crow", "t_rows", "t_perm", "_params", "_blocks")

    def __init__(self, idx: SparseIndex, key: int) -> None:
        self.key = key
        self.crow, self.cols = _np(idx.crow), _np(idx.cols)
        self.t_crow, self.t_rows, self.t_perm = _np(idx.t_crow), _np(idx.t_rows), _np(idx.t_perm)
        self._params: dict[str, tuple[int, np.ndarray]] = {}
        self._blocks: dict[int, np.ndarray] = {}

    def blocks(self, threads: int) -> np.ndarray:
        """``sddmm``'s row blocks for ``threads`` threads (:func:`kernels_cpu.row_blocks`), cached."""
        b = self._blocks.get(threads)
        if b is None:
            b = self._blocks[threads] = kernels_cpu.row_blocks(self.crow, threads)
        return b

    def param(self, name: str, t: torch.Tensor, dtype: np.dtype) -> np.ndarray:
        """A flat numpy view of parameter ``t`` (a converted copy if its dtype is not ``dtype``)."""
        ptr = t.data_ptr()
        hit = self._params.get(name)
        if hit is not None and hit[0] == ptr and hit[1].dtype == dtype:
            return hit[1]
        v = _np(t)
        if v.dtype != dtype or not v.flags.c_contiguous:
            return np.ascontiguousarray(v, dtype=dtype).reshape(-1)  # not cached: a copy goes stale
        self._params[name] = (ptr, v.reshape(-1))
        return self._params[name][1]


def _arrays(idx: SparseIndex) -> _Arrays:
    """The cached :class:`_Arrays` of ``idx`` (rebuilt when its index buffers move, e.g. ``.to()``)."""
    buffers = idx.__dict__.get("_buffers")  # nn.Module: skip Module.__getattr__, ~0.5 us per access
    cols = buffers["cols"] if buffers is not None else idx.cols
    key = cols.data_ptr()
    cached = idx.__dict__.get("_numba_arrays")
    if cached is None or cached.key != key:
        cached = _Arrays(idx, key)
        idx.__dict__["_numba_arrays"] = cached
    return cached


_tls = threading.local()


def _sync_threads() -> int:
    """Set numba's thread count for the next kernel to torch's (``torch.get_num_threads()``).

    numba's count is per calling thread (autograd may run backward in another one), so it is tracked
    per thread; starting numba's OpenMP layer can reset the process-wide OpenMP count that torch
    reports (the two share libgomp's symbols), which is put back. (Running small calls on one thread
    was tried: toggling the count cost more than it saved.)
    """
    numba = kernels_cpu.numba_module()
    want = torch.get_num_threads()
    n = max(1, min(want, numba.config.NUMBA_NUM_THREADS))
    if getattr(_tls, "threads", 0) != n:
        numba.set_num_threads(n)
        _tls.threads = n
        if torch.get_num_threads() != want:
            torch.set_num_threads(want)
    return n


# --- the numba kernels on flat numpy arrays (panels (P, n, bc) flattened) -----------------------------------
_TORCH_DTYPE = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}


def _empty(n: int, dtype: np.dtype) -> np.ndarray:
    """A flat uninitialised array from torch's allocator, which aligns to 64 bytes (numpy's often gives
    32): every panel row then starts a cache line and no vector load straddles two (measured: up to
    30 % slower kernels with numpy's buffers)."""
    return torch.empty(n, dtype=_TORCH_DTYPE[np.dtype(dtype)]).numpy()


def _to_panels_np(k: SimpleNamespace, x: np.ndarray, rows: np.ndarray, batch: int, n: int, bc: int) -> np.ndarray:
    out = _empty(((batch + bc - 1) // bc) * n * bc, x.dtype)
    k.to_panels(x, rows, out, batch, n, bc)
    return out


def _from_panels_np(k: SimpleNamespace, xp: np.ndarray, batch: int, n: int, bc: int) -> np.ndarray:
    out = _empty(batch * n, xp.dtype)
    k.from_panels(xp, out, batch, n, bc)
    return out


def _spmm_np(k, a: _Arrays, w, x, n_in: int, n_out: int, bc: int, bias, mode: int) -> np.ndarray:
    """Forward on panels: ``x`` (P*n_in*bc) -> (P*n_out*bc), bias and activation ``mode`` fused."""
    y = _empty((x.size // (n_in * bc)) * n_out * bc, x.dtype)
    k.spmm(a.crow, a.cols, w, kernels_cpu.empty(np.int64), x, y, n_in, bias, kernels_cpu.empty(x.dtype), mode)
    return y


def _grad_input_np(k, a: _Arrays, w, g, n_in: int, n_out: int, bc: int, gate, mode: int) -> np.ndarray:
    """Input gradient on panels over the transposed CSR; ``mode`` multiplies by act'(gate) in the same pass."""
    panels = g.size // (n_out * bc)
    gx = _empty(panels * n_in * bc, g.dtype)
    if panels == 1:
        # one pass over the edges: read the weights in transposed order through t_perm (measured 20 %
        # faster at batch 64, 2048^2 at 20 %, than gathering them first)
        k.spmm_t(a.t_crow, a.t_rows, w, a.t_perm, g, gx, n_out, kernels_cpu.empty(g.dtype), gate, mode)
        return gx
    # several passes: copy the weights into transposed order once (a parallel numba gather, 3x faster
    # than index_select on the cold caches left by the previous kernel), so each pass reads them in order
    wt = _empty(w.size, g.dtype)
    k.gather(w, a.t_perm, wt)
    k.spmm(a.t_crow, a.t_rows, wt, kernels_cpu.empty(np.int64), g, gx, n_out, kernels_cpu.empty(g.dtype), gate, mode)
    return gx


def _grad_weight_np(k, a: _Arrays, g, x, n_in: int, n_out: int, with_bias: bool, threads: int):
    """Weight gradient ``(|W|,)`` and, with ``with_bias``, the bias gradient ``(n_out,)`` (else empty)."""
    gw = _empty(a.cols.size, g.dtype)
    gb = _empty(n_out if with_bias else 0, g.dtype)
    if not g.size:  # an empty batch has zero gradients
        gw[:] = 0
        gb[:] = 0
    k.sddmm(a.crow, a.cols, g, x, gw, n_in, a.blocks(threads), gb)
    return gw, gb


class NumbaCPU:
    """numba kernels on CPU (float32 and float64), on the feature-major panel layout.

    The three batch-major methods of :class:`Backend` convert to panels and back around each call
    (for :func:`sparse_matmul`); :class:`~predsparse.nn.SparseLinear` and
    :class:`~predsparse.nn.SparseMLP` call the panel methods directly and convert once.
    """

    name = "numba-cpu"
    layout = "panel"

    def supports(self, idx: SparseIndex, x: torch.Tensor) -> bool:
        return (
            kernels_cpu.available()
            and x.device.type == "cpu"
            and x.layout == torch.strided
            and x.dtype in (torch.float32, torch.float64)
            and idx.cols.device.type == "cpu"
            and getattr(getattr(idx, "weight", None), "dtype", x.dtype) == x.dtype
        )

    # --- layout ---------------------------------------------------------------------------
    @staticmethod
    def to_panels(x: torch.Tensor, bc: int, rows: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, n)`` -> ``(P, n, bc)``, the last panel zero-padded; with ``rows``, the panels of ``x[rows]``
        (gathered in the same pass; ``rows`` must be valid row numbers of ``x``)."""
        x = x.detach().contiguous()
        n = x.shape[1]
        r = kernels_cpu.empty(np.int64) if rows is None else _np(rows.to(torch.int64).contiguous())
        b = x.shape[0] if rows is None else r.size
        _sync_threads()
        xp = _to_panels_np(kernels_cpu.kernels(bc), _np(x).reshape(-1), r, b, n, bc)
        return torch.from_numpy(xp).view((b + bc - 1) // bc, n, bc)

    @staticmethod
    def from_panels(xp: torch.Tensor, batch: int) -> torch.Tensor:
        """``(P, n, bc)`` -> ``(batch, n)``, padding dropped."""
        xp = xp.detach().contiguous()
        _, n, bc = xp.shape
        _sync_threads()
        return torch.from_numpy(_from_panels_np(kernels_cpu.kernels(bc), _np(xp).reshape(-1), batch, n, bc)).view(batch, n)

    # --- the three operations on panels -------------------------------------------------------
    @staticmethod
    def spmm_panels(
        idx: SparseIndex, xp: torch.Tensor, w: torch.Tensor, bias: torch.Tensor | None = None, act: str | None = None
    ) -> torch.Tensor:
        """Forward: ``(P, n_in, bc)`` -> ``(P, n_out, bc)``, the bias and the activation ``act`` (``None``,
        ``"relu"``, ``"sigmoid"``, ``"tanh"``) applied in the same pass."""
        xp = xp.detach().contiguous()
        p, _, bc = xp.shape
        x = _np(xp).reshape(-1)
        a = _arrays(idx)
        bv = kernels_cpu.empty(x.dtype) if bias is None else a.param("b", bias, x.dtype)
        _sync_threads()
        y = _spmm_np(kernels_cpu.kernels(bc), a, a.param("w", w, x.dtype), x, idx.n_in, idx.n_out, bc, bv,
                     kernels_cpu.EPILOGUE[act])
        return torch.from_numpy(y).view(p, idx.n_out, bc)

    @staticmethod
    def grad_input_panels(
        idx: SparseIndex, gp: torch.Tensor, w: torch.Tensor, gate: torch.Tensor | None = None, act: str | None = None
    ) -> torch.Tensor:
        """Input gradient: ``(P, n_out, bc)`` -> ``(P, n_in, bc)`` over the transposed CSR (a gather too).

        With ``gate`` (the output ``h = act(s)`` of the activation in front of this junction, same shape
        as the result), the result is multiplied by ``act'(s)`` in the same pass."""
        gp = gp.detach().contiguous()
        p, _, bc = gp.shape
        g = _np(gp).reshape(-1)
        a = _arrays(idx)
        if gate is None:
            gv, mode = kernels_cpu.empty(g.dtype), 0
        else:
            gv, mode = _np(gate.detach().contiguous()).reshape(-1), kernels_cpu.EPILOGUE[act + "'"]
        _sync_threads()
        gx = _grad_input_np(kernels_cpu.kernels(bc), a, a.param("w", w, g.dtype), g, idx.n_in, idx.n_out, bc, gv, mode)
        return torch.from_numpy(gx).view(p, idx.n_in, bc)

    @staticmethod
    def grad_weight_panels(
        idx: SparseIndex, gp: torch.Tensor, xp: torch.Tensor, with_bias: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Weight gradient ``(|W|,)`` from output-gradient and input panels (padding columns are zero in
        ``gp``); with ``with_bias`` also the bias gradient ``(n_out,)``, from the same pass."""
        gp = gp.detach().contiguous()
        xp = xp.detach().contiguous()
        threads = _sync_threads()
        gw, gb = _grad_weight_np(
            kernels_cpu.kernels(gp.shape[2]), _arrays(idx), _np(gp).reshape(-1), _np(xp).reshape(-1),
            idx.n_in, idx.n_out, with_bias, threads,
        )
        return (torch.from_numpy(gw), torch.from_numpy(gb)) if with_bias else torch.from_numpy(gw)

    # --- the Backend protocol (batch-major) -----------------------------------------------------
    @staticmethod
    def _bc(idx: SparseIndex, t: torch.Tensor) -> int:
        return kernels_cpu.panel_width(t.shape[0], max(idx.n_in, idx.n_out), t.element_size())

    def forward(self, idx: SparseIndex, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        bc = self._bc(idx, x)
        return self.from_panels(self.spmm_panels(idx, self.to_panels(x, bc), w), x.shape[0])

    def grad_input(self, idx: SparseIndex, g: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        bc = self._bc(idx, g)
        return self.from_panels(self.grad_input_panels(idx, self.to_panels(g, bc), w), g.shape[0])

    def grad_weight(self, idx: SparseIndex, g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        bc = self._bc(idx, g)
        return self.grad_weight_panels(idx, self.to_panels(g, bc), self.to_panels(x, bc))


BACKENDS: dict[str, Backend] = {"torch": TorchCSR(), "numba": NumbaCPU()}
# Order in which "auto" tries backends; faster ones insert themselves at the front.
AUTO_ORDER: list[str] = ["numba", "torch"]


def register_backend(key: str, backend: Backend, *, prefer: bool = True) -> None:
    """Make ``backend`` available as ``key``; ``prefer`` puts it first for ``backend="auto"``."""
    BACKENDS[key] = backend
    if key in AUTO_ORDER:
        AUTO_ORDER.remove(key)
    AUTO_ORDER.insert(0 if prefer else len(AUTO_ORDER), key)


def select_backend(name: str, idx: SparseIndex, x: torch.Tensor) -> Backend:
    """The backend called ``name``, or for ``"auto"`` the first in :data:`AUTO_ORDER` that supports the call."""
    if name != "auto":
        try:
            b = BACKENDS[name]
        except KeyError:
            from predsparse.errors import InputError

            raise InputError(f"sparse backend {name!r} is not one of {['auto', *BACKENDS]}") from None
        if b.supports(idx, x):
            return b
        return BACKENDS["torch"]
    for key in AUTO_ORDER:
        if BACKENDS[key].supports(idx, x):
            return BACKENDS[key]
    return BACKENDS["torch"]


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


# --- panel layout (autograd-aware) ------------------------------------------------------------------
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


def to_panels(x: torch.Tensor, bc: int) -> torch.Tensor:
    """``(B, n)`` -> panels ``(P, n, bc)`` (differentiable); ``bc`` from :func:`kernels_cpu.panel_width`."""
    return _ToPanels.apply(x, bc)


def from_panels(xp: torch.Tensor, batch: int) -> torch.Tensor:
    """Panels ``(P, n, bc)`` -> ``(batch, n)`` (differentiable)."""
    return _FromPanels.apply(xp, batch)


def panel_linear(xp: torch.Tensor, w: torch.Tensor, bias: torch.Tensor | None, idx: SparseIndex) -> torch.Tensor:
    """A sparse junction on panels: ``(P, n_in, bc)`` -> ``(P, n_out, bc)`` with the bias added."""
    return _PanelLinear.apply(xp, w, bias, idx)


# --- a whole MLP on panels in one autograd node --------------------------------------------------------
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
        layers, act, has_bias = spec
        _sync_threads()
        xa = _np(x.detach().contiguous()).reshape(-1)
        dt = xa.dtype
        r = kernels_cpu.empty(np.int64) if rows is None else _np(rows)
        batch = x.shape[0] if rows is None else r.size
        width = max([layers[0].n_in] + [layer.n_out for layer in layers])
        bc = kernels_cpu.panel_width(batch, width, dt.itemsize)
        k = kernels_cpu.kernels(bc)
        h = _to_panels_np(k, xa, r, batch, layers[0].n_in, bc)
        hs = [h]
        pk, last = 0, len(layers) - 1
        for i, layer in enumerate(layers):
            a = _arrays(layer)
            w = a.param("w", params[pk], dt)
            b = a.param("b", params[pk + 1], dt) if has_bias[i] else kernels_cpu.empty(dt)
            pk += 2 if has_bias[i] else 1
            mode = kernels_cpu.EPILOGUE[act if i < last else None]
            h = _spmm_np(k, a, w, h, layer.n_in, layer.n_out, bc, b, mode)
            if i < last:
                hs.append(h)
        ctx.spec, ctx.batch, ctx.bc, ctx.dtype = spec, batch, bc, dt
        # saved through autograd (not on ctx) so they are freed after backward unless the graph is retained
        ctx.save_for_backward(*(torch.from_numpy(v) for v in hs), *params)
        return torch.from_numpy(_from_panels_np(k, h, batch, layers[-1].n_out, bc)).view(batch, layers[-1].n_out)

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


def panel_mlp(x: torch.Tensor, layers: Sequence, activation: str | None, rows: torch.Tensor | None = None) -> torch.Tensor:
    """``(B, n_0)`` -> ``(B, n_L)`` logits through sparse junctions ``layers`` with ``activation`` between
    them (``"relu"``, ``"sigmoid"`` or ``"tanh"``; unused for one junction), on the numba kernels, in one
    autograd node. With ``rows`` (int64, valid row numbers of ``x``, which must not need a gradient),
    the batch is ``x[rows]``, gathered in the same pass as the layout change."""
    params: list[torch.Tensor] = []
    has_bias = []
    for layer in layers:
        p = layer.__dict__.get("_parameters")  # nn.Module: skip Module.__getattr__
        w, b = (p["weight"], p.get("bias")) if p is not None else (layer.weight, layer.bias)
        params.append(w)
        has_bias.append(b is not None)
        if b is not None:
            params.append(b)
    return _PanelMLP.apply(x, rows, (tuple(layers), activation, tuple(has_bias)), *params)
