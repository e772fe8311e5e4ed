"""Compiled (numba) body of one junction-block of the cycle-level model, clock by clock.

:class:`~predsparse.hardware.cycle.CycleSimulator` keeps the bank bookkeeping (which input each bank
holds, checked on every access) in Python and hands the banks of one block to :func:`block`, which
steps the block's cycles exactly as the numpy reference (``engine="reference"``) does: per cycle the
lanes' reads (queued on a memory in lane order: ``rank``), FF accumulation and the right neurons that
finish, the right deltas and ``g``, the UP write-backs, and the BP read-modify-writes at clock
``T + rank`` with writes visible ``2 + P`` clocks after their read (``exact``), always (``ideal``) or
forwarded (``bypass``, counted). A weight word is read only in its own cycle and a bias only when its
neuron finishes, so writing them back right after that cycle equals the reference's write-back at
``T + rank + 1 + P`` within the block. Tests compare the two engines bit for bit.
"""

from __future__ import annotations

import numba
import numpy as np

from predsparse.hardware.fast import _lr, _rp, _sat


@numba.njit(cache=True)
def block(
    rows,
    cols,
    last,
    stall,
    rank,
    z,
    C,
    P,
    R,
    zo,
    mode,
    do_ff,
    do_bp,
    has_bp,
    label,
    is_last,
    A_f,
    A_b,
    AD_b,
    D_acc,
    A_out,
    AD_out,
    DL_out,
    D_r,
    WM,
    BM,
    act,
    der,
    F,
    lo,
    hi,
    one,
    shift,
    half_even,
    reads,
):
    """One block of junction ``i``; returns ``(clocks, stall_clocks, contributions, lost, forwarded)``."""
    E = rows.size
    n_out = BM.shape[0] * BM.shape[1]
    acc = np.zeros(n_out, np.int64)
    g_edge = np.zeros(z, np.int64)
    T = 0
    stalls = 0
    contributions = 0
    forwarded = 0
    zin = A_f.shape[0] if do_ff else A_b.shape[0]
    D = A_f.shape[1] if do_ff else A_b.shape[1]
    count = np.zeros((zin, D), np.int64)
    last_read = np.full((zin, D), -(10**9), np.int64)
    cap = E + 1
    pt = np.empty(cap, np.int64)
    pm = np.empty(cap, np.int64)
    pa = np.empty(cap, np.int64)
    pv = np.empty(cap, np.int64)
    pc = np.empty(cap, np.int64)
    head = 0
    tail = 0
    if do_bp and has_bp:
        for m in range(zin):
            for a in range(D):
                D_acc[m, a] = 0
    for c in range(C):
        e0 = c * z
        e1 = min(e0 + z, E)
        st = stall[c]
        stalls += st
        if do_ff:
            for e in range(e0, e1):
                lft = cols[e]
                acc[rows[e]] += _rp(WM[e - e0, c] * A_f[lft % zin, lft // zin], F, lo, hi)
            for e in range(e0, e1):
                if last[e]:
                    r = rows[e]
                    v = _sat(acc[r] + BM[r % R, r // R], lo, hi)
                    a = act[v - lo]
                    om, oa = r % zo, r // zo
                    A_out[om, oa] = a
                    if is_last:
                        y = one if r == label else 0
                        DL_out[om, oa] = _sat(a - y, lo, hi)
                    else:
                        AD_out[om, oa] = der[v - lo]
        if do_bp:
            maxq = 0
            for e in range(e0, e1):
                r = rows[e]
                g_edge[e - e0] = _lr(D_r[r % zo, r // zo], shift, half_even, lo, hi)
                if rank[e] > maxq:
                    maxq = rank[e]
            if has_bp:
                contributions += e1 - e0
                for q in range(maxq + 1):
                    tr = T + q
                    if mode == 0:
                        while head < tail and pt[head] < tr:  # writes visible by now
                            D_acc[pm[head], pa[head]] = pv[head]
                            count[pm[head], pa[head]] = pc[head]
                            head += 1
                    for e in range(e0, e1):
                        if rank[e] != q:
                            continue
                        lft = cols[e]
                        m, a = lft % zin, lft // zin
                        r = rows[e]
                        cb = _rp(_rp(D_r[r % zo, r // zo] * AD_b[m, a], F, lo, hi) * WM[e - e0, c], F, lo, hi)
                        if mode == 0:
                            pt[tail] = tr + 1 + P
                            pm[tail] = m
                            pa[tail] = a
                            pv[tail] = _sat(D_acc[m, a] + cb, lo, hi)
                            pc[tail] = count[m, a] + 1
                            tail += 1
                        else:
                            if mode == 2:
                                if tr - last_read[m, a] <= 1 + P:
                                    forwarded += 1
                                last_read[m, a] = tr
                            D_acc[m, a] = _sat(D_acc[m, a] + cb, lo, hi)
                            count[m, a] += 1
            # UP: the weight word read in this cycle and the biases of the neurons finishing in it
            for e in range(e0, e1):
                lft = cols[e]
                WM[e - e0, c] = _sat(
                    WM[e - e0, c] + _rp(g_edge[e - e0] * A_b[lft % zin, lft // zin], F, lo, hi), lo, hi
                )
            for e in range(e0, e1):
                if last[e]:
                    r = rows[e]
                    BM[r % R, r // R] = _sat(BM[r % R, r // R] + g_edge[e - e0], lo, hi)
        T += 1 + st
    lost = 0
    if do_bp and has_bp:
        while head < tail:
            D_acc[pm[head], pa[head]] = pv[head]
            count[pm[head], pa[head]] = pc[head]
            head += 1
        for lft in range(reads.size):
            lost += reads[lft] - count[lft % zin, lft // zin]
    return T, stalls, contributions, lost, forwarded
