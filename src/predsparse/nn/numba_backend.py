"""The numba CPU backend (``"numba"``): the kernels of :mod:`predsparse.nn.kernels_cpu` on the
feature-major panel layout ``(P, n, BC)``.

:class:`NumbaCPU` offers the three operations of :class:`~predsparse.nn.backend.Backend` on batch-major
tensors (converting around each call) and on panels (``*_panels``, for layers that keep activations in
panel layout). The ``_*_np`` helpers run a kernel on flat numpy arrays: the fused MLP node
(:mod:`predsparse.nn.fused`) chains them without a torch tensor per step. Registered as ``"numba"``,
first for ``backend="auto"``; ``supports`` is False where numba cannot run (then torch's CSR is used).
"""

from __future__ import annotations

import threading
from types import SimpleNamespace

import numpy as np
import torch

from predsparse.nn import kernels_cpu
from predsparse.nn.backend import SparseIndex, register_backend


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


def _fit(k: SimpleNamespace, work: int) -> SimpleNamespace:
    """``k``, or the serial build of its kernels for a call with less than :data:`kernels_cpu.SERIAL_WORK`
    of work (multiply-adds or numbers copied): waking the other threads would cost more than the work."""
    return kernels_cpu.kernels(k.bc, serial=True) if work < kernels_cpu.SERIAL_WORK else k


def _to_panels_np(k: SimpleNamespace, x: np.ndarray, rows: np.ndarray, batch: int, n: int, bc: int) -> np.ndarray:
    out = _empty(((batch + bc - 1) // bc) * n * bc, x.dtype)
    k = _fit(k, batch * n)
    k.to_panels(x, rows, out, batch, n, bc)
    return out


def _from_panels_np(k: SimpleNamespace, xp: np.ndarray, batch: int, n: int, bc: int) -> np.ndarray:
    out = _empty(batch * n, xp.dtype)
    k = _fit(k, batch * n)
    k.from_panels(xp, out, batch, n, bc)
    return out


def _spmm_np(k, a: _Arrays, w, x, n_in: int, n_out: int, bc: int, bias, mode: int) -> np.ndarray:
    """Forward on panels: ``x`` (P*n_in*bc) -> (P*n_out*bc), bias and activation ``mode`` fused."""
    y = _empty((x.size // (n_in * bc)) * n_out * bc, x.dtype)
    k = _fit(k, a.cols.size * (x.size // n_in))
    k.spmm(a.crow, a.cols, w, kernels_cpu.empty(np.int64), x, y, n_in, bias, kernels_cpu.empty(x.dtype), mode)
    return y


def _grad_input_np(k, a: _Arrays, w, g, n_in: int, n_out: int, bc: int, gate, mode: int) -> np.ndarray:
    """Input gradient on panels over the transposed CSR; ``mode`` multiplies by act'(gate) in the same pass."""
    panels = g.size // (n_out * bc)
    gx = _empty(panels * n_in * bc, g.dtype)
    k = _fit(k, a.cols.size * panels * bc)
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
    # always the parallel build: its sums over the batch are vectorised reductions, which LLVM compiles
    # differently in the serial build (last-bit differences), and the numbers must not depend on the build
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
        return torch.from_numpy(_from_panels_np(kernels_cpu.kernels(bc), _np(xp).reshape(-1), batch, n, bc)).view(
            batch, n
        )

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
        y = _spmm_np(
            kernels_cpu.kernels(bc),
            a,
            a.param("w", w, x.dtype),
            x,
            idx.n_in,
            idx.n_out,
            bc,
            bv,
            kernels_cpu.EPILOGUE[act],
        )
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
            kernels_cpu.kernels(gp.shape[2]),
            _arrays(idx),
            _np(gp).reshape(-1),
            _np(xp).reshape(-1),
            idx.n_in,
            idx.n_out,
            with_bias,
            threads,
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


register_backend("numba", NumbaCPU(), prefer=True)
