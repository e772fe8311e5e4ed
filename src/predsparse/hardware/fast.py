"""Compiled (numba) training loop of the architecture-level model, bit-identical to the numpy reference.

:meth:`ArchSimulator.train_samples <predsparse.hardware.simulator.ArchSimulator.train_samples>` runs
this engine by default and keeps the vectorised numpy loop as the reference (``engine="reference"``);
tests compare the two bit for bit. The kernel does, per block and junction, exactly what the reference
does and in the same order: FF of input ``t - i`` (exact wide sum of rounded products, bias, saturate,
tables; the output error on the last junction), then BP (rounded products, the lost contributions of
``bp_hazard="exact"`` set to zero, a saturating accumulator per left neuron in edge order, which is the
reference's cycle order) and UP (``g = lr_step(delta)``, saturating bias and weight updates) of input
``t - (2L - i)``, all with the weights as they were at the start of the block. Scalar loops over edges
instead of temporary arrays are what makes it fast. Formats wider than the tabulated 20 bits fall back
to the reference.
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


@numba.njit(cache=True)
def _ff(i, slot, A, AD, DL, W, B, cols, ff_idx, direct, ff_ptr, p_off, e_off, n_off, act, der, F, lo, hi, L, labels, one):  # noqa: ANN001, ANN202
    p0, q0 = n_off[i], n_off[i + 1]
    n = n_off[i + 2] - q0
    a_prev = A[slot, p0:q0]
    b0 = q0 - n_off[1]
    base = p_off[i]
    for r in range(n):
        acc = 0  # exact wide sum of the right neuron's rounded products (order-free), in a register
        for k in range(ff_ptr[base + r], ff_ptr[base + r + 1]):
            e = k if direct else ff_idx[k]
            acc += _rp(W[e] * a_prev[cols[e]], F, lo, hi)
        v = _sat(acc + B[b0 + r], lo, hi)
        A[slot, q0 + r] = act[v - lo]
        AD[slot, q0 + r] = der[v - lo]
    if i == L - 1:
        lab = labels[slot]
        for r in range(n):
            y = one if r == lab else 0
            DL[slot, q0 + r] = _sat(A[slot, q0 + r] - y, lo, hi)


@numba.njit(cache=True)
def _bpup(i, slot, A, AD, DL, W, B, rows, cols, keep, ff_idx, direct, ff_ptr, p_off, e_off, n_off, F, lo, hi, shift, half_even):  # noqa: ANN001, ANN202
    e0, e1 = e_off[i], e_off[i + 1]
    p0, q0 = n_off[i], n_off[i + 1]
    n_in = q0 - p0
    n = n_off[i + 2] - q0
    d_right = DL[slot, q0:q0 + n]
    if i >= 1:  # BP: partial_l = sat(partial_l + mult(mult(delta_r, a'_l), w)) in edge order
        part = DL[slot, p0:q0]
        ad_prev = AD[slot, p0:q0]
        for l in range(n_in):
            part[l] = 0
        for e in range(e0, e1):
            dr = d_right[rows[e]]
            if keep[e] and dr != 0:  # a zero delta contributes mult(mult(0, a'), w) = 0: skipping it is exact
                c = _rp(_rp(dr * ad_prev[cols[e]], F, lo, hi) * W[e], F, lo, hi)
                part[cols[e]] = _sat(part[cols[e]] + c, lo, hi)
    g = np.empty(n, np.int64)
    b0 = q0 - n_off[1]
    for r in range(n):
        g[r] = _lr(d_right[r], shift, half_even, lo, hi)
        B[b0 + r] = _sat(B[b0 + r] + g[r], lo, hi)
    a_prev = A[slot, p0:q0]
    base = p_off[i]
    for r in range(n):  # each edge's update is independent: walk right neurons, skip those with g = 0
        gr = g[r]
        if gr == 0:  # sat(w + mult(0, a)) = w exactly
            continue
        for k in range(ff_ptr[base + r], ff_ptr[base + r + 1]):
            e = k if direct else ff_idx[k]
            W[e] = _sat(W[e] + _rp(gr * a_prev[cols[e]], F, lo, hi), lo, hi)


@numba.njit(cache=True)
def _run(t0, t1, M, pipelined, x, order, y, A, AD, DL, labels, W, B, rows, cols, keep, ff_idx, direct, ff_ptr, p_off, e_off, n_off, act, der,  # noqa: ANN001, ANN202, E501
         F, lo, hi, shift, half_even, K, one):
    L = e_off.size - 1
    R = A.shape[0]
    n0 = n_off[1]
    qL = n_off[L]
    correct = 0
    for t in range(t0, t1):
        if pipelined:
            if t < M:
                s = t % R
                idx = order[t]
                for k in range(n0):
                    A[s, k] = x[idx, k]
                labels[s] = y[idx]
            for i in range(L):
                nf = t - (i + 1)
                nb = t - (2 * L - i)
                if 0 <= nf < M:
                    sf = nf % R
                    _ff(i, sf, A, AD, DL, W, B, cols, ff_idx, direct, ff_ptr, p_off, e_off, n_off, act, der, F, lo, hi, L, labels, one)
                    if i == L - 1:
                        best = qL
                        for k in range(qL + 1, qL + K):
                            if A[sf, k] > A[sf, best]:
                                best = k
                        correct += int(best - qL == labels[sf])
                if 0 <= nb < M:
                    _bpup(i, nb % R, A, AD, DL, W, B, rows, cols, keep, ff_idx, direct, ff_ptr, p_off, e_off, n_off, F, lo, hi, shift, half_even)
        else:
            idx = order[t]
            for k in range(n0):
                A[0, k] = x[idx, k]
            labels[0] = y[idx]
            for i in range(L):
                _ff(i, 0, A, AD, DL, W, B, cols, ff_idx, direct, ff_ptr, p_off, e_off, n_off, act, der, F, lo, hi, L, labels, one)
            best = qL
            for k in range(qL + 1, qL + K):
                if A[0, k] > A[0, best]:
                    best = k
            correct += int(best - qL == labels[0])
            for i in range(L - 1, -1, -1):
                _bpup(i, 0, A, AD, DL, W, B, rows, cols, keep, ff_idx, direct, ff_ptr, p_off, e_off, n_off, F, lo, hi, shift, half_even)
    return correct


def supported(sim: Any) -> bool:
    """The compiled engine needs tabulated activations (``W <= 20``)."""
    return bool(sim.tables.tabulated)


def train(sim: Any, x: np.ndarray, y: np.ndarray, order: np.ndarray, K: int, progress: Any = None, chunk: int = 4096) -> int:
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
    W = np.concatenate(sim.w).astype(np.int64)
    B = np.concatenate(sim.b).astype(np.int64)
    pipelined = sim.schedule == "pipelined"
    R = 2 * L + 1 if pipelined else 1
    tot = int(n_off[-1])
    A = np.zeros((R, tot), np.int64)
    AD = np.zeros((R, tot), np.int64)
    DL = np.zeros((R, tot), np.int64)
    labels = np.zeros(R, np.int64)
    xi = np.ascontiguousarray(x, dtype=np.int64)
    M = int(order.size)
    T = M + 2 * L if pipelined else M
    correct = 0
    args = (fmt.F, fmt.lo, fmt.hi, cfg.lr_shift, cfg.lr_rounding == "half-even", int(K), fmt.one)
    for t0 in range(0, T, chunk):
        t1 = min(T, t0 + chunk)
        correct += _run(t0, t1, M, pipelined, xi, order.astype(np.int64), np.asarray(y, np.int64), A, AD, DL, labels, W, B,
                        rows, cols, keep, ff_idx, direct, ff_ptr, p_off, e_off, n_off, sim.tables.act, sim.tables.der, *args)
        if progress is not None:
            progress(min(t1, M) - min(t0, M))
    sim.w = [W[e_off[i]:e_off[i + 1]].copy() for i in range(L)]
    sim.b = [B[n_off[i + 1] - n_off[1]:n_off[i + 2] - n_off[1]].copy() for i in range(L)]
    return correct
