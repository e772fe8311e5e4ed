"""Fast CPU kernels (numba) for the three sparse training operations, on a "panel" layout.

Layout. Activations are kept feature-major in panels of ``BC`` batch columns: a batch ``x`` of
shape ``(B, n)`` becomes ``xp`` of shape ``(P, n, BC)`` with ``P = ceil(B / BC)`` (the last panel
zero-padded), so ``xp[p, k, :]`` holds feature ``k`` of batch items ``p*BC .. p*BC+BC-1``. Each
panel (``n * BC`` numbers, at most 512 KiB: :func:`panel_width`) fits in a core's L2 cache, and
every edge touches one contiguous ``BC``-vector of it, so the innermost loop over the batch is a
plain SIMD AXPY or dot product with the accumulators held in registers.

Operations (``crow``/``cols``/``w`` are the CSR of the junction, rows = right neurons; a fixed
in-degree pattern is the ELL layout ``(n_out, d_in)`` with ``crow = d_in * arange``: no padding):

- ``spmm``: ``y[p, j, :] = bias[j] + sum_e w[e] x[p, cols[e], :]``. Forward (FF) on the CSR, and
  the input gradient (BP) on the transposed CSR (built once, since the pattern never changes), so
  both are conflict-free gathers, parallel over (panel, output row), 8 edges per accumulator pass.
  ``spmm_t`` is the same kernel reading edge e's weight as ``w[wp[e]]``: for a single panel the input
  gradient takes the weights in transposed order through ``t_perm`` without copying them first (with
  several panels each weight would be read once per panel at random, so ``gather`` copies them once).
- ``sddmm``: ``gw[e] = sum_p sum_b g[p, rows(e), b] x[p, cols[e], b]``. Weight gradient (UP),
  one block of rows per thread (:func:`row_blocks`), panel by panel (each thread keeps one panel hot
  at a time and reads each panel once).
- ``to_panels`` / ``from_panels``: the layout changes at the ends of a network (``to_panels`` can
  gather the batch's rows from a whole data matrix in the same pass).

numba is imported and the kernels are built only on first use (:func:`available`, :func:`kernels`);
each kernel is compiled once per panel width and dtype (float32, float64) and cached on disk
(``cache=True``, under ``NUMBA_CACHE_DIR`` if set). If numba is missing or broken, or
``PREDSPARSE_NO_NUMBA=1`` is set, :func:`available` is False and callers use torch's CSR kernels.
"""

from __future__ import annotations

import os
import types
from types import SimpleNamespace

import numpy as np

PANEL_WIDTHS = (16, 32, 64, 128)
"""Batch columns per panel (see :func:`panel_width`)."""

PANEL_BYTES = 512 * 1024
"""A panel of the widest layer must fit in this many bytes (half a core's L2 cache here) for width 128."""

_STATE: dict = {}


def available() -> bool:
    """True when the numba kernels can be used: numba imports and ``PREDSPARSE_NO_NUMBA`` is not set.

    Decided once, on the first call (the environment variable is read then).
    """
    ok = _STATE.get("ok")
    if ok is None:
        if os.environ.get("PREDSPARSE_NO_NUMBA", "") not in ("", "0"):
            _STATE["error"] = "disabled by PREDSPARSE_NO_NUMBA"
            ok = False
        else:
            if "numba" not in _STATE:
                try:
                    import numba

                    _STATE["numba"], _STATE["error"] = numba, None
                except Exception as exc:  # ImportError, or a broken install (llvmlite mismatch, ...)
                    _STATE["numba"], _STATE["error"] = None, f"{type(exc).__name__}: {exc}"
            ok = _STATE["numba"] is not None
        _STATE["ok"] = ok
    return ok


def import_error() -> str | None:
    """Why numba could not be imported (None when it could, or was not tried yet)."""
    return _STATE.get("error")


def numba_module():
    """The numba module (RuntimeError saying why when the kernels are unavailable)."""
    if not available():
        raise RuntimeError(f"numba kernels unavailable: {import_error()}")
    return _STATE["numba"]


def panel_width(batch: int, width: int, itemsize: int = 4) -> int:
    """The panel width for a batch of ``batch`` items through layers at most ``width`` neurons wide.

    16 up to 16 items, 32 up to 32, 64 up to 64. Larger batches get 128 columns when a panel of the
    widest layer (``width * 128 * itemsize`` bytes) fits in :data:`PANEL_BYTES` and no more padding
    columns than with 64 (the wider panel doubles the independent accumulators per edge, which hides
    the FMA latency, and halves the reductions of the weight gradient), else 64.
    """
    if batch <= 64:
        return 16 if batch <= 16 else 32 if batch <= 32 else 64
    fits = width * 128 * itemsize <= PANEL_BYTES
    return 128 if fits and -(-batch // 128) * 128 <= -(-batch // 64) * 64 else 64


SERIAL_WORK = 1 << 16
"""Calls with less work than this (multiply-adds, or numbers copied) run on the serial build of a kernel
(:func:`kernels` with ``serial=True``): with the passive OpenMP wait policy a parallel region wakes the
other threads, which costs more than such a call's work (the 100 -> 10 junction of an MLP, the logits'
layout changes). Each output is computed by one task either way and without reductions across vector
lanes, so the numbers are the same; ``sddmm`` (whose sums over the batch are vectorised reductions,
compiled differently in the two builds) always runs its parallel build."""


def kernels(bc: int, serial: bool = False) -> SimpleNamespace:
    """The kernels for panel width ``bc``: ``spmm``, ``spmm_t`` (weights read through an index), ``sddmm``,
    ``to_panels``, ``from_panels``, ``gather``; ``serial``: the same code compiled without threads.

    Built on first use; each is compiled by numba on its first call with a new dtype, then cached.
    """
    k = _STATE.get(("kernels", bc, serial))
    if k is None:
        numba_module()
        if ("convert", serial) not in _STATE:
            _STATE["convert", serial] = _make_converters(not serial)
        spmm, spmm_t, sddmm = _make_kernels(bc, not serial)
        to_panels, from_panels, gather = _STATE["convert", serial]
        k = _STATE[("kernels", bc, serial)] = SimpleNamespace(
            spmm=spmm,
            spmm_t=spmm_t,
            sddmm=sddmm,
            to_panels=to_panels,
            from_panels=from_panels,
            gather=gather,
            bc=bc,
            serial=serial,
        )
    return k


def _jit(parallel: bool, fastmath: bool = False):
    """numba's ``njit`` (cached on disk, nogil), with or without threads. The serial build of a function
    gets its own name: numba's on-disk cache is keyed by the function's name, code and closure, not by
    the compile flags, so both builds of one function would otherwise share (and overwrite) one entry."""
    from numba import njit

    def deco(f):
        if not parallel:
            g = types.FunctionType(f.__code__, f.__globals__, f.__name__ + "_serial", f.__defaults__, f.__closure__)
            g.__qualname__, g.__doc__ = f.__qualname__ + "_serial", f.__doc__
            f = g
        return njit(parallel=parallel, fastmath=fastmath, cache=True, nogil=True)(f)

    return deco


def instruction_sets() -> str:
    """Which vector instructions the kernels and torch's dense path use here, e.g.
    ``"kernels: numba/LLVM for znver4 with avx512f; torch dense: AVX512"`` (benchmarks print it)."""
    try:
        import llvmlite.binding as llvm

        cpu = llvm.get_host_cpu_name()
        feats = llvm.get_host_cpu_features()
        vec = next((f for f in ("avx512f", "avx2", "avx", "sse4.2") if feats.get(f)), "scalar")
        kern = f"numba/LLVM for {cpu} with {vec}"
    except Exception as exc:  # numba/llvmlite missing: torch's CSR kernels are used instead
        kern = f"unavailable ({type(exc).__name__})"
    try:
        import torch

        dense = torch.backends.cpu.get_cpu_capability()
    except Exception:
        dense = "unknown"
    return f"kernels: {kern}; torch dense: {dense}"


def row_blocks(crow: np.ndarray, threads: int) -> np.ndarray:
    """Row boundaries (``threads + 1``, int64) splitting a CSR into one block of about equal edge count
    per thread, for ``sddmm``: each thread then streams every input panel through its cache once
    (with 4 blocks per thread the panels were re-read 4 times: 10-15 % slower at 1 % density)."""
    nnz = int(crow[-1])
    targets = (np.arange(threads + 1, dtype=np.int64) * nnz) // max(threads, 1)
    bounds = np.searchsorted(crow, targets, side="left").astype(np.int64)
    bounds[0], bounds[-1] = 0, crow.size - 1
    return np.maximum.accumulate(bounds)


_EMPTY = {
    np.dtype(np.float32): np.zeros(0, np.float32),
    np.dtype(np.float64): np.zeros(0, np.float64),
    np.dtype(np.int64): np.zeros(0, np.int64),
}

EPILOGUE = {None: 0, "relu": 1, "sigmoid": 2, "tanh": 3, "relu'": 4, "sigmoid'": 5, "tanh'": 6}
"""``mode`` codes of ``spmm``'s epilogue: an activation (forward) or its derivative from the output (backward)."""


def empty(dtype) -> np.ndarray:
    """A length-0 array of ``dtype``: "none" for ``spmm``'s bias and gate, ``sddmm``'s bias gradient and
    ``to_panels``' rows (float32, float64, int64)."""
    return _EMPTY[np.dtype(dtype)]


def _make_kernels(BC: int, PAR: bool = True):
    """The compute kernels for panel width ``BC`` (numba treats ``BC``/``UBC`` as constants), parallel or not."""
    from numba import prange, uint64

    UBC = np.uint64(BC)
    U0, U1, U2, U3, U4 = (np.uint64(i) for i in range(5))
    U5, U6, U7, U8 = (np.uint64(i) for i in range(5, 9))
    # unsigned offsets: numba then emits no negative-index wraparound, and LLVM sees plain contiguous
    # vector loads/stores in the innermost loops

    def make_spmm(INDIRECT: bool):
        @_jit(PAR, fastmath=True)
        def spmm(crow, cols, w, wp, x, y, n_src, bias, gate, mode):  # pragma: no cover - compiled by numba
            """y[p, j, :] = bias[j] + sum_{e in row j} w[e] * x[p, cols[e], :] (flat arrays; bias may be empty;
            with INDIRECT the weight of edge e is w[wp[e]], so the input gradient reads the weights in
            transposed order without a separate gather pass),
            then an epilogue on each finished row: ``mode`` 0 none; 1/2/3 apply ReLU/sigmoid/tanh to y (forward);
            4/5/6 multiply y by the ReLU/sigmoid/tanh derivative computed from ``gate`` (the activation's
            output at the same positions: backward through the activation, fused)."""
            n_dst = crow.size - 1
            P = x.size // (n_src * BC)
            has_bias = bias.size > 0
            for t in prange(P * n_dst):
                p = t // n_dst
                j = t - p * n_dst
                xo = uint64(p * n_src) * UBC
                yo = uint64(t) * UBC
                b0 = bias[j] if has_bias else 0.0
                for b in range(U0, UBC):
                    y[yo + b] = b0
                e = uint64(crow[j])
                e1 = uint64(crow[j + 1])
                while e + U8 <= e1:
                    k0 = xo + uint64(cols[e]) * UBC
                    k1 = xo + uint64(cols[e + U1]) * UBC
                    k2 = xo + uint64(cols[e + U2]) * UBC
                    k3 = xo + uint64(cols[e + U3]) * UBC
                    k4 = xo + uint64(cols[e + U4]) * UBC
                    k5 = xo + uint64(cols[e + U5]) * UBC
                    k6 = xo + uint64(cols[e + U6]) * UBC
                    k7 = xo + uint64(cols[e + U7]) * UBC
                    w0 = w[wp[e]] if INDIRECT else w[e]
                    w1 = w[wp[e + U1]] if INDIRECT else w[e + U1]
                    w2 = w[wp[e + U2]] if INDIRECT else w[e + U2]
                    w3 = w[wp[e + U3]] if INDIRECT else w[e + U3]
                    w4 = w[wp[e + U4]] if INDIRECT else w[e + U4]
                    w5 = w[wp[e + U5]] if INDIRECT else w[e + U5]
                    w6 = w[wp[e + U6]] if INDIRECT else w[e + U6]
                    w7 = w[wp[e + U7]] if INDIRECT else w[e + U7]
                    for b in range(U0, UBC):
                        y[yo + b] += (w0 * x[k0 + b] + w1 * x[k1 + b] + w2 * x[k2 + b] + w3 * x[k3 + b]) + (
                            w4 * x[k4 + b] + w5 * x[k5 + b] + w6 * x[k6 + b] + w7 * x[k7 + b]
                        )
                    e += U8
                # the last 0..7 edges in straight-line blocks of 4, 2, 1 (no loop over edges that LLVM
                # could vectorise "sideways" with gathers)
                if e + U4 <= e1:
                    k0 = xo + uint64(cols[e]) * UBC
                    k1 = xo + uint64(cols[e + U1]) * UBC
                    k2 = xo + uint64(cols[e + U2]) * UBC
                    k3 = xo + uint64(cols[e + U3]) * UBC
                    w0 = w[wp[e]] if INDIRECT else w[e]
                    w1 = w[wp[e + U1]] if INDIRECT else w[e + U1]
                    w2 = w[wp[e + U2]] if INDIRECT else w[e + U2]
                    w3 = w[wp[e + U3]] if INDIRECT else w[e + U3]
                    for b in range(U0, UBC):
                        y[yo + b] += (w0 * x[k0 + b] + w1 * x[k1 + b]) + (w2 * x[k2 + b] + w3 * x[k3 + b])
                    e += U4
                if e + U2 <= e1:
                    k0 = xo + uint64(cols[e]) * UBC
                    k1 = xo + uint64(cols[e + U1]) * UBC
                    w0 = w[wp[e]] if INDIRECT else w[e]
                    w1 = w[wp[e + U1]] if INDIRECT else w[e + U1]
                    for b in range(U0, UBC):
                        y[yo + b] += w0 * x[k0 + b] + w1 * x[k1 + b]
                    e += U2
                if e < e1:
                    k0 = xo + uint64(cols[e]) * UBC
                    w0 = w[wp[e]] if INDIRECT else w[e]
                    for b in range(U0, UBC):
                        y[yo + b] += w0 * x[k0 + b]
                if mode == 1:
                    for b in range(U0, UBC):
                        y[yo + b] = max(y[yo + b], 0)
                elif mode == 2:
                    for b in range(U0, UBC):
                        y[yo + b] = 1 / (1 + np.exp(-y[yo + b]))
                elif mode == 3:
                    for b in range(U0, UBC):
                        y[yo + b] = np.tanh(y[yo + b])
                elif mode == 4:
                    for b in range(U0, UBC):
                        y[yo + b] = y[yo + b] if gate[yo + b] > 0 else 0
                elif mode == 5:
                    for b in range(U0, UBC):
                        y[yo + b] *= gate[yo + b] * (1 - gate[yo + b])
                elif mode == 6:
                    for b in range(U0, UBC):
                        y[yo + b] *= 1 - gate[yo + b] * gate[yo + b]

        return spmm

    spmm, spmm_t = make_spmm(False), make_spmm(True)

    @_jit(False, fastmath=True)
    def sddmm_rows(crow, cols, g, x, gw, n_src, j0, j1, gb):  # pragma: no cover - compiled by numba
        """:func:`sddmm` for the rows ``j0 .. j1-1``: one thread's block. A plain (serial) function that both
        builds of ``sddmm`` call: numba's cached copy of a vectorised reduction inside a parallel loop
        differed in the last bits from the copy compiled in the same process, so a run with an empty
        kernel cache gave other weight gradients than the same run with a warm one."""
        n_dst = crow.size - 1
        P = x.size // (n_src * BC)
        has_gb = gb.size > 0
        for p in range(P):
            xo = uint64(p * n_src) * UBC
            for j in range(j0, j1):
                go = uint64(p * n_dst + j) * UBC
                if has_gb:
                    sb = g[go] - g[go]
                    for b in range(U0, UBC):
                        sb += g[go + b]
                    if p == 0:
                        gb[j] = sb
                    else:
                        gb[j] += sb
                e = uint64(crow[j])
                e1 = uint64(crow[j + 1])
                while e + U8 <= e1:
                    k0 = xo + uint64(cols[e]) * UBC
                    k1 = xo + uint64(cols[e + U1]) * UBC
                    k2 = xo + uint64(cols[e + U2]) * UBC
                    k3 = xo + uint64(cols[e + U3]) * UBC
                    k4 = xo + uint64(cols[e + U4]) * UBC
                    k5 = xo + uint64(cols[e + U5]) * UBC
                    k6 = xo + uint64(cols[e + U6]) * UBC
                    k7 = xo + uint64(cols[e + U7]) * UBC
                    s0 = g[go] - g[go]  # a zero of the data dtype (float32 stays float32)
                    s1 = s0
                    s2 = s0
                    s3 = s0
                    s4 = s0
                    s5 = s0
                    s6 = s0
                    s7 = s0
                    for b in range(U0, UBC):
                        gv = g[go + b]
                        s0 += gv * x[k0 + b]
                        s1 += gv * x[k1 + b]
                        s2 += gv * x[k2 + b]
                        s3 += gv * x[k3 + b]
                        s4 += gv * x[k4 + b]
                        s5 += gv * x[k5 + b]
                        s6 += gv * x[k6 + b]
                        s7 += gv * x[k7 + b]
                    if p == 0:
                        gw[e] = s0
                        gw[e + U1] = s1
                        gw[e + U2] = s2
                        gw[e + U3] = s3
                        gw[e + U4] = s4
                        gw[e + U5] = s5
                        gw[e + U6] = s6
                        gw[e + U7] = s7
                    else:
                        gw[e] += s0
                        gw[e + U1] += s1
                        gw[e + U2] += s2
                        gw[e + U3] += s3
                        gw[e + U4] += s4
                        gw[e + U5] += s5
                        gw[e + U6] += s6
                        gw[e + U7] += s7
                    e += U8
                # the last 0..7 edges, one at a time
                while e < e1:
                    k0 = xo + uint64(cols[e]) * UBC
                    s0 = g[go] - g[go]
                    for b in range(U0, UBC):
                        s0 += g[go + b] * x[k0 + b]
                    if p == 0:
                        gw[e] = s0
                    else:
                        gw[e] += s0
                    e += U1

    @_jit(PAR)
    def sddmm(crow, cols, g, x, gw, n_src, bounds, gb):  # pragma: no cover - compiled by numba
        """gw[e] = sum over panels and batch of g[p, row(e), :] * x[p, cols[e], :] (gw overwritten); when
        ``gb`` is not empty, also the bias gradient gb[j] = sum over panels and batch of g[p, j, :].
        One block of rows (``bounds``) per task."""
        for c in prange(bounds.size - 1):
            sddmm_rows(crow, cols, g, x, gw, n_src, bounds[c], bounds[c + 1], gb)

    return spmm, spmm_t, sddmm


def _make_converters(PAR: bool = True):
    """``to_panels(x, rows, out, B, n, BC)``, ``from_panels(xp, out, B, n, BC)`` (flat arrays) and ``gather``."""
    from numba import prange, uint64

    @_jit(PAR)
    def to_panels(x, rows, out, B, n, BC):  # pragma: no cover - compiled by numba
        """(B, n) row-major -> (P, n, BC) panels, the tail of the last panel zeroed (flat arrays). With a
        non-empty ``rows`` (B row numbers of x, checked by the caller), batch item b is x's row rows[b]:
        the batch gather and the layout change in one pass.

        One task per 16 batch items of a panel: it reads their 16 rows as 16 sequential streams (which
        the hardware prefetchers follow, even for rows scattered over a large data set) and writes whole
        cache lines of the panel (no two threads share one): 1.4x faster than 64-feature tiles."""
        P = (B + BC - 1) // BC
        G = 16
        ng = BC // G
        ubc = uint64(BC)
        indexed = rows.size > 0
        for t in prange(P * ng):
            p = t // ng
            g0 = (t - p * ng) * G
            base = uint64(p * n) * ubc + uint64(g0)
            r0 = p * BC + g0
            m = min(G, B - r0)  # real batch items in this group (the rest is padding)
            off = np.zeros(G, np.uint64)
            for b in range(max(m, 0)):
                off[b] = uint64(rows[r0 + b] if indexed else r0 + b) * uint64(n)
            if m == G:
                for k in range(n):
                    q = base + uint64(k) * ubc
                    for b in range(G):
                        out[q + uint64(b)] = x[off[b] + uint64(k)]
            else:
                for k in range(n):
                    q = base + uint64(k) * ubc
                    for b in range(G):
                        out[q + uint64(b)] = x[off[b] + uint64(k)] if b < m else 0

    @_jit(PAR)
    def from_panels(xp, out, B, n, BC):  # pragma: no cover - compiled by numba
        """(P, n, BC) panels -> (B, n) row-major, padding dropped (flat arrays)."""
        P = (B + BC - 1) // BC
        KB = 64
        nkb = (n + KB - 1) // KB
        ubc = uint64(BC)
        for t in prange(P * nkb):
            p = t // nkb
            kb = t - p * nkb
            k0 = kb * KB
            k1 = min(n, k0 + KB)
            bmax = min(BC, B - p * BC)
            for b in range(bmax):
                o = uint64((p * BC + b) * n)
                for k in range(k0, k1):
                    out[o + uint64(k)] = xp[uint64(p * n + k) * ubc + uint64(b)]

    @_jit(PAR)
    def gather(src, perm, out):  # pragma: no cover - compiled by numba
        """out[i] = src[perm[i]] (the weights in transposed-CSR order, once per backward pass)."""
        for i in prange(out.size):
            out[i] = src[perm[i]]

    return to_panels, from_panels, gather
