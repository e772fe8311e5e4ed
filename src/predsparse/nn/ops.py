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


def _index(idx: SparseIndex) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """numpy views of ``crow, cols, t_crow, t_rows`` (cached on ``idx`` while its buffers stay put)."""
    key = (idx.crow.data_ptr(), idx.cols.data_ptr(), idx.t_crow.data_ptr(), idx.t_rows.data_ptr())
    cached = idx.__dict__.get("_numpy_index")
    if cached is None or cached[0] != key:
        cached = (key, (_np(idx.crow), _np(idx.cols), _np(idx.t_crow), _np(idx.t_rows)))
        idx.__dict__["_numpy_index"] = cached
    return cached[1]


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
    def to_panels(x: torch.Tensor, bc: int) -> torch.Tensor:
        """``(B, n)`` -> ``(P, n, bc)``, the last panel zero-padded."""
        x = x.detach().contiguous()
        b, n = x.shape
        out = torch.empty(((b + bc - 1) // bc, n, bc), dtype=x.dtype)
        _sync_threads()
        kernels_cpu.kernels(bc).to_panels(_np(x).reshape(-1), _np(out).reshape(-1), b, n, bc)
        return out

    @staticmethod
    def from_panels(xp: torch.Tensor, batch: int) -> torch.Tensor:
        """``(P, n, bc)`` -> ``(batch, n)``, padding dropped."""
        xp = xp.detach().contiguous()
        _, n, bc = xp.shape
        out = torch.empty((batch, n), dtype=xp.dtype)
        _sync_threads()
        kernels_cpu.kernels(bc).from_panels(_np(xp).reshape(-1), _np(out).reshape(-1), batch, n, bc)
        return out

    # --- the three operations on panels -------------------------------------------------------
    @staticmethod
    def spmm_panels(
        idx: SparseIndex, xp: torch.Tensor, w: torch.Tensor, bias: torch.Tensor | None = None, act: str | None = None
    ) -> torch.Tensor:
        """Forward: ``(P, n_in, bc)`` -> ``(P, n_out, bc)``, the bias and the activation ``act`` (``None``,
        ``"relu"``, ``"sigmoid"``, ``"tanh"``) applied in the same pass."""
        xp = xp.detach().contiguous()
        p, _, bc = xp.shape
        y = torch.empty((p, idx.n_out, bc), dtype=xp.dtype)
        wv = _np(w.detach().to(xp.dtype).contiguous())
        none = kernels_cpu.empty(wv.dtype)
        bv = none if bias is None else _np(bias.detach().to(xp.dtype).contiguous())
        _sync_threads()
        crow, cols, _, _ = _index(idx)
        kernels_cpu.kernels(bc).spmm(
            crow, cols, wv, _np(xp).reshape(-1), _np(y).reshape(-1), idx.n_in, bv, none, kernels_cpu.EPILOGUE[act]
        )
        return y

    @staticmethod
    def grad_input_panels(
        idx: SparseIndex, gp: torch.Tensor, w: torch.Tensor, gate: torch.Tensor | None = None, act: str | None = None
    ) -> torch.Tensor:
        """Input gradient: ``(P, n_out, bc)`` -> ``(P, n_in, bc)`` over the transposed CSR (a gather too).

        With ``gate`` (the output ``h = act(s)`` of the activation in front of this junction, same shape
        as the result), the result is multiplied by ``act'(s)`` in the same pass."""
        gp = gp.detach().contiguous()
        p, _, bc = gp.shape
        gx = torch.empty((p, idx.n_in, bc), dtype=gp.dtype)
        k = kernels_cpu.kernels(bc)
        _sync_threads()
        # the weights in transposed order: a parallel numba gather (3x faster than index_select when
        # the caches are cold, as they are after the previous kernel)
        wt = np.empty(idx.cols.numel(), dtype=_np(gp).dtype)
        k.gather(_np(w.detach().to(gp.dtype).contiguous()), _np(idx.t_perm), wt)
        none = kernels_cpu.empty(wt.dtype)
        if gate is None:
            gv, mode = none, 0
        else:
            gv, mode = _np(gate.detach().contiguous()).reshape(-1), kernels_cpu.EPILOGUE[act + "'"]
        _, _, t_crow, t_rows = _index(idx)
        k.spmm(
            t_crow, t_rows, wt, _np(gp).reshape(-1), _np(gx).reshape(-1), idx.n_out, none, gv, mode
        )
        return gx

    @staticmethod
    def grad_weight_panels(
        idx: SparseIndex, gp: torch.Tensor, xp: torch.Tensor, with_bias: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Weight gradient ``(|W|,)`` from output-gradient and input panels (padding columns are zero in
        ``gp``); with ``with_bias`` also the bias gradient ``(n_out,)``, from the same pass."""
        gp = gp.detach().contiguous()
        xp = xp.detach().contiguous()
        bc = gp.shape[2]
        alloc = torch.empty if gp.shape[0] else torch.zeros  # an empty batch has zero gradients
        gw = alloc(idx.cols.numel(), dtype=gp.dtype)
        gb = alloc(idx.n_out if with_bias else 0, dtype=gp.dtype)
        threads = _sync_threads()
        kernels_cpu.kernels(bc).sddmm(
            *_index(idx)[:2], _np(gp).reshape(-1), _np(xp).reshape(-1), _np(gw), idx.n_in,
            kernels_cpu.nblocks_for(idx.n_out, threads), _np(gb),
        )
        return (gw, gb) if with_bias else gw

    # --- the Backend protocol (batch-major) -----------------------------------------------------
    def forward(self, idx: SparseIndex, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        bc = kernels_cpu.panel_width(x.shape[0])
        return self.from_panels(self.spmm_panels(idx, self.to_panels(x, bc), w), x.shape[0])

    def grad_input(self, idx: SparseIndex, g: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        bc = kernels_cpu.panel_width(g.shape[0])
        return self.from_panels(self.grad_input_panels(idx, self.to_panels(g, bc), w), g.shape[0])

    def grad_weight(self, idx: SparseIndex, g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        bc = kernels_cpu.panel_width(g.shape[0])
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


def to_panels(x: torch.Tensor, bc: int | None = None) -> torch.Tensor:
    """``(B, n)`` -> panels ``(P, n, bc)`` (differentiable); ``bc`` defaults to :func:`kernels_cpu.panel_width`."""
    return _ToPanels.apply(x, bc or kernels_cpu.panel_width(x.shape[0]))


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
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, spec: tuple, *params: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        layers, act, has_bias = spec
        batch = x.shape[0]
        bc = kernels_cpu.panel_width(batch)
        h = NumbaCPU.to_panels(x, bc)
        saved = [h]
        k = 0
        last = len(layers) - 1
        for i, layer in enumerate(layers):
            w = params[k]
            b = params[k + 1] if has_bias[i] else None
            k += 2 if has_bias[i] else 1
            h = NumbaCPU.spmm_panels(layer, h, w, b, act if i < last else None)
            if i < last:
                saved.append(h)
        ctx.spec, ctx.batch, ctx.bc = spec, batch, bc
        ctx.save_for_backward(*saved, *params)
        return NumbaCPU.from_panels(h, batch)

    @staticmethod
    def backward(ctx, gy: torch.Tensor):  # type: ignore[override]
        layers, act, has_bias = ctx.spec
        n = len(layers)
        tensors = ctx.saved_tensors
        hs, params = tensors[:n], tensors[n:]
        # where each junction's parameters sit in ``params``
        pos, k = [], 0
        for i in range(n):
            pos.append(k)
            k += 2 if has_bias[i] else 1
        grads: list[torch.Tensor | None] = [None] * len(params)
        need = ctx.needs_input_grad
        gp = NumbaCPU.to_panels(gy, ctx.bc)  # padding columns get zero gradient
        for i in range(n - 1, -1, -1):
            layer, w = layers[i], params[pos[i]]
            want_b = has_bias[i] and need[3 + pos[i]]
            if need[2 + pos[i]]:
                r = NumbaCPU.grad_weight_panels(layer, gp, hs[i], with_bias=want_b)
                if want_b:
                    grads[pos[i]], grads[pos[i] + 1] = r
                else:
                    grads[pos[i]] = r
            elif want_b:
                grads[pos[i] + 1] = gp.sum(dim=(0, 2))
            if i > 0:  # through the junction and the activation in front of it, one pass
                gp = NumbaCPU.grad_input_panels(layer, gp, w, gate=hs[i], act=act)
            elif need[0]:
                gp = NumbaCPU.grad_input_panels(layer, gp, w)
        gx = NumbaCPU.from_panels(gp, ctx.batch) if need[0] else None
        return (gx, None, *grads)


def panel_mlp(x: torch.Tensor, layers: Sequence, activation: str | None) -> torch.Tensor:
    """``(B, n_0)`` -> ``(B, n_L)`` logits through sparse junctions ``layers`` with ``activation`` between
    them (``"relu"``, ``"sigmoid"`` or ``"tanh"``; unused for one junction), on the numba kernels, in one
    autograd node."""
    params: list[torch.Tensor] = []
    has_bias = []
    for layer in layers:
        params.append(layer.weight)
        has_bias.append(layer.bias is not None)
        if layer.bias is not None:
            params.append(layer.bias)
    return _PanelMLP.apply(x, (tuple(layers), activation, tuple(has_bias)), *params)
