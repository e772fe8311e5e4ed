"""Compiled (numba) training loop of the architecture-level model, bit-identical to the numpy reference.

:meth:`ArchSimulator.train_samples <predsparse.hardware.simulator.ArchSimulator.train_samples>` runs
this engine by default and keeps the vectorised numpy loop as the reference (``engine="reference"``);
tests compare the two bit for bit. The kernel does, per block and junction, exactly what the reference
does and in the same order: FF of input ``t - i`` (exact wide sum of rounded products, bias, saturate,
tables; the output error on the last junction), then BP (rounded products, the lost contributions of
``bp_hazard="exact"`` set to zero, a saturating accumulator per left neuron in edge order, which is the
reference's cycle order) and UP (``g = lr_step(delta)``, saturating bias and weight updates) of input
``t - (2L - i)``, all with the weights as they were at the start of the block. Compiled loops over
edges without temporary arrays, in one compiled loop over the epoch's blocks, are what make it fast.
Formats wider than the tabulated 20 bits fall back to the reference.

The words are held as floating-point numbers: every value is an integer that the type holds exactly
(``float32`` when ``W <= 12`` and each wide sum stays below ``2^24``, else ``float64``, exact below ``2^53``),
and the floor shifts are multiplications by powers of two and ``floor``. Exact either way; it is done because
x86 (AVX2) has 8-lane ``float32`` multiply, floor, min and max but no vector 64-bit integer multiply or
arithmetic shift, so the edge loops vectorise. Rounding uses ``floor(2x) - floor(x) = floor(x + 1/2)`` and
``floor(2x) - 2 floor(x) =`` the dropped bit ``F - 1``.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np


@numba.njit(cache=True, inline="always")
def _rp(p: int, F: int, lo: int, hi: int) -> int:
    """The RTL multiplier's output from the exact product (floor shift, saturate, round half up)."""
    t = (p + (1 << (F - 1))) >> F
    r = (p >> (F - 1)) & 1
    if t > hi:
        t = hi
    m = lo + r
    return t if t > m else m


@numba.njit(cache=True, inline="always")
def _sat(v: int, lo: int, hi: int) -> int:
    return lo if v < lo else (hi if v > hi else v)


@numba.njit(cache=True, inline="always")
def _lr(delta: int, shift: int, half_even: bool, lo: int, hi: int) -> int:
    neg = -delta
    if shift == 0:
        return _sat(neg, lo, hi)
    if half_even:
        q = neg >> shift
        r = neg - (q << shift)
        half = 1 << (shift - 1)
        if r > half or (r == half and (q & 1) == 1):
            q += 1
        return _sat(q, lo, hi)
    return _sat((neg + (1 << (shift - 1))) >> shift, lo, hi)


@numba.njit(cache=True, inline="always")
def _rpf(p, s, s2, lo, hi):
    """The RTL multiplier's output from the exact product (floor shift, saturate, round half up):
    ``t = floor((p + 2^(F-1)) / 2^F)``, ``r`` = bit ``F - 1`` of ``p``, ``max(min(t, hi), lo + r)``."""
    q = np.floor(p * s)
    q2 = np.floor(p * s2)
    t = q2 - q
    m = lo + (q2 - q - q)
    t = t if t < hi else hi
    return t if t > m else m


@numba.njit(cache=True, inline="always")
def _satf(v, lo, hi):
    v = v if v > lo else lo  # max then min: selects that vectorise (lo < hi)
    return v if v < hi else hi


@numba.njit(cache=True, inline="always")
def _lrf(delta, shift, half_even, sinv, half, lo, hi):
    """``-delta`` shifted right by ``shift`` (``sinv = 2^-shift``, ``half = 2^(shift-1)``), rounded, saturated."""
    neg = -delta
    if shift == 0:
        return _satf(neg, lo, hi)
    if half_even:
        q = np.floor(neg * sinv)
        r = neg - q / sinv
        if r > half or (r == half and q - 2 * np.floor(q * 0.5) != 0):
            q += 1
        return _satf(q, lo, hi)
    return _satf(np.floor((neg + half) * sinv), lo, hi)


@numba.njit(cache=True, fastmath={"reassoc", "nsz"})  # reassoc: the wide sum of integers is exact in any order
def _ff(
    i, slot, A, AD, DL, G, W, B, cols, ff_idx, direct, ff_ptr, p_off, n_off, act, der, s, s2, lo, hi, L, labels, one
):
    p0, q0 = n_off[i], n_off[i + 1]
    n = n_off[i + 2] - q0
    a_prev = A[slot, p0:q0]
    g_slot = G[slot]
    b0 = q0 - n_off[1]
    base = p_off[i]
    zero = lo - lo
    if direct:  # contiguous edges: gather every edge's activation first (kept for UP), then sum contiguously
        ea, eb = ff_ptr[base], ff_ptr[base + n]
        gs, cs = g_slot[ea:eb], cols[ea:eb]
        for k in range(gs.size):
            gs[k] = a_prev[cs[k]]
    else:
        for k in range(ff_ptr[base], ff_ptr[base + n]):
            e = ff_idx[k]
            g_slot[e] = a_prev[cols[e]]
    for r in range(n):
        acc = zero  # exact wide sum of the right neuron's rounded products (order-free)
        if direct:
            w = W[ff_ptr[base + r] : ff_ptr[base + r + 1]]
            ga = g_slot[ff_ptr[base + r] : ff_ptr[base + r + 1]]
            for k in range(w.size):
                acc += _rpf(w[k] * ga[k], s, s2, lo, hi)
        else:
            for k in range(ff_ptr[base + r], ff_ptr[base + r + 1]):
                e = ff_idx[k]
                acc += _rpf(W[e] * g_slot[e], s, s2, lo, hi)
        k = int(_satf(acc + B[b0 + r], lo, hi) - lo)
        A[slot, q0 + r] = act[k]
        AD[slot, q0 + r] = der[k]
    if i == L - 1:
        lab = labels[slot]
        for r in range(n):
            y = one if r == lab else zero
            DL[slot, q0 + r] = _satf(A[slot, q0 + r] - y, lo, hi)


@numba.njit(cache=True, fastmath={"nsz"})
def _bpup(
    i,
    slot,
    A,
    AD,
    DL,
    G,
    W,
    B,
    rows,
    cols,
    keep,
    ff_idx,
    direct,
    ff_ptr,
    p_off,
    e_off,
    n_off,
    s,
    s2,
    lo,
    hi,
    shift,
    half_even,
    sinv,
    half,
    cbuf,
    g,
):
    e0, e1 = e_off[i], e_off[i + 1]
    p0, q0 = n_off[i], n_off[i + 1]
    n_in = q0 - p0
    n = n_off[i + 2] - q0
    d_right = DL[slot, q0 : q0 + n]
    zero = lo - lo
    if i >= 1:  # BP: partial_l = sat(partial_l + mult(mult(delta_r, a'_l), w)) in edge order
        part = DL[slot, p0:q0]
        ad_prev = AD[slot, p0:q0]
        cb, wj, kj, rj, cj = cbuf[: e1 - e0], W[e0:e1], keep[e0:e1], rows[e0:e1], cols[e0:e1]
        for k in range(cb.size):  # gather, then every contribution (independent: vectorises); lost ones are 0
            cb[k] = d_right[rj[k]] * ad_prev[cj[k]]
        for k in range(cb.size):
            c = _rpf(_rpf(cb[k], s, s2, lo, hi) * wj[k], s, s2, lo, hi)
            cb[k] = c if kj[k] else zero
        for l in range(n_in):
            part[l] = zero
        for k in range(cb.size):  # then each left neuron's saturating accumulator, in edge (cycle) order
            l = cj[k]
            part[l] = _satf(part[l] + cb[k], lo, hi)
    b0 = q0 - n_off[1]
    for r in range(n):
        g[r] = _lrf(d_right[r], shift, half_even, sinv, half, lo, hi)
        B[b0 + r] = _satf(B[b0 + r] + g[r], lo, hi)
    g_slot = G[slot]
    base = p_off[i]
    for r in range(n):  # each edge's update is independent: walk right neurons, skip those with g = 0
        gr = g[r]
        if gr == 0:  # sat(w + mult(0, a)) = w exactly
            continue
        if direct:  # local views of the contiguous edges: the loop vectorises
            w = W[ff_ptr[base + r] : ff_ptr[base + r + 1]]
            ga = g_slot[ff_ptr[base + r] : ff_ptr[base + r + 1]]
            for k in range(w.size):
                w[k] = _satf(w[k] + _rpf(gr * ga[k], s, s2, lo, hi), lo, hi)
        else:
            for k in range(ff_ptr[base + r], ff_ptr[base + r + 1]):
                e = ff_idx[k]
                W[e] = _satf(W[e] + _rpf(gr * g_slot[e], s, s2, lo, hi), lo, hi)


@numba.njit(cache=True)
def _run(
    t0,
    t1,
    M,
    pipelined,
    x,
    order,
    y,
    A,
    AD,
    DL,
    G,
    cbuf,
    g,
    labels,
    W,
    B,
    rows,
    cols,
    keep,
    ff_idx,
    direct,
    ff_ptr,
    p_off,
    e_off,
    n_off,
    act,
    der,
    s,
    s2,
    lo,
    hi,
    shift,
    half_even,
    sinv,
    half,
    K,
    one,
):
    L = e_off.size - 1
    R = A.shape[0]
    n0 = n_off[1]
    qL = n_off[L]
    correct = 0
    for t in range(t0, t1):
        if pipelined:
            if t < M:
                sl = t % R
                idx = order[t]
                for k in range(n0):
                    A[sl, k] = x[idx, k]
                labels[sl] = y[idx]
            for i in range(L):
                nf = t - (i + 1)
                nb = t - (2 * L - i)
                if 0 <= nf < M:
                    sf = nf % R
                    _ff(
                        i,
                        sf,
                        A,
                        AD,
                        DL,
                        G,
                        W,
                        B,
                        cols,
                        ff_idx,
                        direct,
                        ff_ptr,
                        p_off,
                        n_off,
                        act,
                        der,
                        s,
                        s2,
                        lo,
                        hi,
                        L,
                        labels,
                        one,
                    )
                    if i == L - 1:
                        best = qL
                        for k in range(qL + 1, qL + K):
                            if A[sf, k] > A[sf, best]:
                                best = k
                        correct += int(best - qL == labels[sf])
                if 0 <= nb < M:
                    _bpup(
                        i,
                        nb % R,
                        A,
                        AD,
                        DL,
                        G,
                        W,
                        B,
                        rows,
                        cols,
                        keep,
                        ff_idx,
                        direct,
                        ff_ptr,
                        p_off,
                        e_off,
                        n_off,
                        s,
                        s2,
                        lo,
                        hi,
                        shift,
                        half_even,
                        sinv,
                        half,
                        cbuf,
                        g,
                    )
        else:
            idx = order[t]
            for k in range(n0):
                A[0, k] = x[idx, k]
            labels[0] = y[idx]
            for i in range(L):
                _ff(
                    i,
                    0,
                    A,
                    AD,
                    DL,
                    G,
                    W,
                    B,
                    cols,
                    ff_idx,
                    direct,
                    ff_ptr,
                    p_off,
                    n_off,
                    act,
                    der,
                    s,
                    s2,
                    lo,
                    hi,
                    L,
                    labels,
                    one,
                )
            best = qL
            for k in range(qL + 1, qL + K):
                if A[0, k] > A[0, best]:
                    best = k
            correct += int(best - qL == labels[0])
            for i in range(L - 1, -1, -1):
                _bpup(
                    i,
                    0,
                    A,
                    AD,
                    DL,
                    G,
                    W,
                    B,
                    rows,
                    cols,
                    keep,
                    ff_idx,
                    direct,
                    ff_ptr,
                    p_off,
                    e_off,
                    n_off,
                    s,
                    s2,
                    lo,
                    hi,
                    shift,
                    half_even,
                    sinv,
                    half,
                    cbuf,
                    g,
                )
    return correct


def supported(sim: Any) -> bool:
    """The compiled engine needs tabulated activations (``W <= 20``)."""
    return bool(sim.tables.tabulated)


def train(
    sim: Any, x: np.ndarray, y: np.ndarray, order: np.ndarray, K: int, progress: Any = None, chunk: int = 4096
) -> int:
    """Train ``sim`` (an :class:`ArchSimulator`) on ``x[order]`` in place; returns the online correct count."""
    cfg, fmt = sim.cfg, sim.fmt
    L = cfg.L
    js = sim.junctions
    e_off = np.zeros(L + 1, np.int64)
    e_off[1:] = np.cumsum([j.edges for j in js])
    n_off = np.zeros(L + 2, np.int64)
    n_off[1:] = np.cumsum(cfg.layers)
    rows = np.concatenate([j.rows for j in js]).astype(np.int64)
    cols = np.concatenate([j.cols for j in js]).astype(np.int64)
    keep = np.concatenate([j.keep if j.keep is not None else np.ones(j.edges, bool) for j in js])
    # FF walks each right neuron's edges (CSR order; the wide sum does not depend on the order)
    ff_idx = np.concatenate([np.argsort(j.rows, kind="stable") + e_off[k] for k, j in enumerate(js)]).astype(np.int64)
    ptrs = [np.searchsorted(np.sort(j.rows), np.arange(j.n_out + 1)) + e_off[k] for k, j in enumerate(js)]
    p_off = np.zeros(L + 1, np.int64)
    p_off[1:] = np.cumsum([p.size for p in ptrs])
    ff_ptr = np.concatenate(ptrs).astype(np.int64)
    direct = bool((ff_idx == np.arange(ff_idx.size)).all())  # edges already in right-neuron order: no indirection
    # float32 holds every value exactly when products (< 2^(2W-2)) and each wide sum stay below 2^24
    dmax_in = max(int(np.diff(p).max(initial=0)) for p in ptrs)
    dt = np.float32 if fmt.width <= 12 and (dmax_in + 2) * (fmt.hi + 1) < 1 << 24 else np.float64
    W = np.concatenate(sim.w).astype(dt)
    B = np.concatenate(sim.b).astype(dt)
    rows, cols = rows.astype(np.uint32), cols.astype(np.uint32)  # unsigned indices: no negative-index wraparound code
    pipelined = sim.schedule == "pipelined"
    R = 2 * L + 1 if pipelined else 1
    tot = int(n_off[-1])
    A = np.zeros((R, tot), dt)
    AD = np.zeros((R, tot), dt)
    DL = np.zeros((R, tot), dt)
    G = np.zeros((R, int(e_off[-1])), dt)  # per slot: each edge's left activation, gathered in FF, read by UP
    cbuf = np.zeros(max(j.edges for j in js), dt)  # BP contributions of one junction
    g = np.zeros(max(cfg.layers), dt)  # UP steps of one junction
    labels = np.zeros(R, np.int64)
    xi = np.ascontiguousarray(x)  # raw integer words; converted row by row as inputs are loaded (no copy of x)
    if xi.dtype.kind not in "iu":
        xi = xi.astype(np.int64)
    M = int(order.size)
    T = M + 2 * L if pipelined else M
    correct = 0
    sh = int(cfg.lr_shift)
    args = (
        dt(2.0**-fmt.F),
        dt(2.0 ** (1 - fmt.F)),
        dt(fmt.lo),
        dt(fmt.hi),
        sh,
        cfg.lr_rounding == "half-even",
        dt(2.0**-sh),
        dt(2.0 ** (sh - 1)),
        int(K),
        dt(fmt.one),
    )
    act, der = sim.tables.act.astype(dt), sim.tables.der.astype(dt)
    order64, y64 = order.astype(np.int64), np.asarray(y, np.int64)
    for t0 in range(0, T, chunk):
        t1 = min(T, t0 + chunk)
        correct += _run(
            t0,
            t1,
            M,
            pipelined,
            xi,
            order64,
            y64,
            A,
            AD,
            DL,
            G,
            cbuf,
            g,
            labels,
            W,
            B,
            rows,
            cols,
            keep,
            ff_idx,
            direct,
            ff_ptr,
            p_off,
            e_off,
            n_off,
            act,
            der,
            *args,
        )
        if progress is not None:
            progress(min(t1, M) - min(t0, M))
    sim.w = [W[e_off[i] : e_off[i + 1]].astype(np.int64) for i in range(L)]
    sim.b = [B[n_off[i + 1] - n_off[1] : n_off[i + 2] - n_off[1]].astype(np.int64) for i in range(L)]
    return correct
