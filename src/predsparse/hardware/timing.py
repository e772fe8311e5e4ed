"""Static analysis of a junction's memory traffic: clashes and stalls, read clocks, the BP hazard,
and neurons that only see padding.

Everything here depends on the pattern and the clock schedule only, never on data, so the
architecture model computes it once per junction. The cycle model (:mod:`predsparse.hardware.cycle`)
finds the same numbers independently by stepping the clock.

**Stalls.** Edge ``e`` is handled in cycle ``c = e // z`` by lane ``j = e % z`` and reads left neuron
``l = cols[e]`` from memory ``l mod z``. Each memory serves one read per clock and the memories work in
parallel, so a cycle whose busiest memory is asked ``k`` times takes ``k`` clocks: ``k - 1`` stall
clocks. The right side is checked the same way with ``z / d_in`` right memories (neuron ``r`` in memory
``r mod (z/d_in)``), counting distinct right neurons per cycle; a cycle's stall is the larger of the
two. Clash-free patterns give zero. Reads that queue on one memory are served in lane order, one per
clock, so lane ``j``'s read happens ``rank`` clocks after the cycle starts.

**BP hazard.** The BP accumulator of left neuron ``l`` is a read-modify-write: read at clock ``t``, the
new partial sum is written at ``t + 1 + P`` and is visible to reads from ``t + 2 + P`` on. A read at
``t' <= t + 1 + P`` gets the older value, and its own write later overwrites the first one: that
contribution is lost. Because the final value is whatever the last write holds, the surviving
contributions are the chain ``last read -> the latest write it saw -> ...``: a static set. Setting the
lost contributions to zero and accumulating in order reproduces the hazard bit-exactly (adding zero
under saturation changes nothing).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from predsparse.patterns import Pattern


def right_memories(pattern: Pattern, z: int) -> int:
    """Number of right-neuron memories: ``z / d_in`` with the nominal in-degree ``|W| / n``."""
    d_in = max(1, int(round(pattern.edges / pattern.n_out)))
    return max(1, z // d_in)


def _max_hits(cycle: np.ndarray, mem: np.ndarray, n_cycles: int, n_mem: int) -> np.ndarray:
    hits = np.bincount(cycle * n_mem + mem, minlength=n_cycles * n_mem).reshape(n_cycles, n_mem)
    return hits.max(axis=1)


def clash_stalls(pattern: Pattern, z: int) -> np.ndarray:
    """Stall clocks of each cycle (length ``C = ceil(|W| / z)``); all zero for a clash-free pattern."""
    E = pattern.edges
    C = -(-E // z)
    e = np.arange(E, dtype=np.int64)
    cyc = e // z
    left = _max_hits(cyc, pattern.cols % z, C, z)
    R = right_memories(pattern, z)
    key = np.unique(cyc * pattern.n_out + pattern.rows)  # distinct (cycle, right neuron) pairs
    kc, kr = np.divmod(key, pattern.n_out)
    right = _max_hits(kc, kr % R, C, R)
    return np.maximum(np.maximum(left, right) - 1, 0)


def read_clocks(pattern: Pattern, z: int, stalls: np.ndarray | None = None) -> np.ndarray:
    """Clock (from the start of the block) at which each edge's left-neuron read happens."""
    E = pattern.edges
    if stalls is None:
        stalls = clash_stalls(pattern, z)
    e = np.arange(E, dtype=np.int64)
    cyc = e // z
    start = np.arange(stalls.size, dtype=np.int64) + np.concatenate([[0], np.cumsum(stalls)[:-1]])
    key = cyc * z + pattern.cols % z
    order = np.argsort(key, kind="stable")
    sk = key[order]
    first = np.concatenate([[True], sk[1:] != sk[:-1]])
    grp_start = np.maximum.accumulate(np.where(first, np.arange(E), 0))
    rank = np.empty(E, dtype=np.int64)
    rank[order] = np.arange(E) - grp_start
    return start[cyc] + rank


def occurrence_layout(pattern: Pattern) -> tuple[np.ndarray, int]:
    """For BP accumulation: ``pos[e] = cols[e] * dmax + k`` where edge ``e`` is the ``k``-th (in edge,
    i.e. cycle, order) edge of its left neuron, and ``dmax`` the largest out-degree."""
    cols = pattern.cols
    E = cols.size
    order = np.argsort(cols, kind="stable")
    sc = cols[order]
    first = np.concatenate([[True], sc[1:] != sc[:-1]]) if E else np.zeros(0, bool)
    grp_start = np.maximum.accumulate(np.where(first, np.arange(E), 0)) if E else np.zeros(0, np.int64)
    rank = np.empty(E, dtype=np.int64)
    rank[order] = np.arange(E) - grp_start
    dmax = int(rank.max()) + 1 if E else 1
    return cols * dmax + rank, dmax


def hazard_survivors(pattern: Pattern, z: int, P: int, clocks: np.ndarray | None = None) -> np.ndarray:
    """Boolean mask over edges: ``True`` where the BP contribution reaches the final partial sum in
    the released RTL's read-modify-write accumulator (see the module docstring)."""
    if clocks is None:
        clocks = read_clocks(pattern, z)
    pos, dmax = occurrence_layout(pattern)
    p = pattern.n_in
    T = np.full(p * dmax, np.iinfo(np.int64).max // 4, dtype=np.int64)
    T[pos] = clocks
    T = T.reshape(p, dmax)
    valid = np.zeros(p * dmax, dtype=bool)
    valid[pos] = True
    valid = valid.reshape(p, dmax)
    # parent[l, k] = last i < k whose write (visible from T[l,i] + P + 2) the read k sees; -1 for none
    sees = (T[:, None, :] + P + 2 <= T[:, :, None]) & valid[:, None, :]
    idx = np.arange(dmax)
    sees &= idx[None, None, :] < idx[None, :, None]
    parent = np.where(sees.any(axis=2), dmax - 1 - np.argmax(sees[:, :, ::-1], axis=2), -1)
    alive = np.zeros((p, dmax), dtype=bool)
    cur = valid.sum(axis=1) - 1  # each neuron's last read
    rows = np.arange(p)
    while True:
        m = cur >= 0
        if not m.any():
            break
        alive[rows[m], cur[m]] = True
        cur = np.where(m, parent[rows, np.maximum(cur, 0)], -1)
    return alive.reshape(-1)[pos]


def hazard_report(pattern: Pattern, z: int, P: int, stalls: np.ndarray | None = None) -> dict[str, Any]:
    """Lost BP contributions per block of one junction (as if it had BP), and the smallest re-read gap."""
    clocks = read_clocks(pattern, z, stalls)
    surv = hazard_survivors(pattern, z, P, clocks)
    pos, dmax = occurrence_layout(pattern)
    T = np.full(pattern.n_in * dmax, -1, dtype=np.int64)
    T[pos] = clocks
    T = T.reshape(pattern.n_in, dmax)
    gaps = np.diff(T, axis=1)
    gaps = gaps[(T[:, 1:] >= 0) & (T[:, :-1] >= 0)]
    return {
        "contributions": int(pattern.edges),
        "lost": int((~surv).sum()),
        "lost_fraction": float((~surv).mean()) if pattern.edges else 0.0,
        "min_reread_gap": int(gaps.min()) if gaps.size else None,
        "safe_gap": P + 2,
    }


def padding_report(patterns: list[Pattern], live_inputs: int | None, live_outputs: int | None) -> dict[str, Any]:
    """Neurons cut off from the real inputs or outputs.

    Per layer ``k >= 1``: ``no_input`` (no edge in), ``padding_only`` (has inputs, but every path back
    ends in padding inputs or dead neurons). Per layer ``k < L``: ``no_output`` and ``to_padding_only``
    (every path forward ends in padding outputs). ``live_inputs``/``live_outputs`` are the numbers of
    real input features and real classes (``None``: all are real).
    """
    L = len(patterns)
    n0 = patterns[0].n_in
    fwd = np.zeros(n0, dtype=bool)
    fwd[: n0 if live_inputs is None else live_inputs] = True
    layers: list[dict[str, Any]] = [{"layer": 0, "neurons": n0, "padding": int((~fwd).sum())}]
    fwd_all = [fwd]
    for k, pat in enumerate(patterns, start=1):
        has_in = np.bincount(pat.rows, minlength=pat.n_out) > 0
        live = np.bincount(pat.rows, weights=fwd[pat.cols].astype(np.float64), minlength=pat.n_out) > 0
        layers.append(
            {
                "layer": k,
                "neurons": pat.n_out,
                "no_input": np.flatnonzero(~has_in).tolist(),
                "padding_only": np.flatnonzero(has_in & ~live).tolist(),
            }
        )
        fwd = live
        fwd_all.append(fwd)
    nL = patterns[-1].n_out
    bwd = np.zeros(nL, dtype=bool)
    bwd[: nL if live_outputs is None else live_outputs] = True
    layers[L]["padding_outputs"] = int((~bwd).sum())
    for k in range(L, 0, -1):
        pat = patterns[k - 1]
        has_out = np.bincount(pat.cols, minlength=pat.n_in) > 0
        live = np.bincount(pat.cols, weights=bwd[pat.rows].astype(np.float64), minlength=pat.n_in) > 0
        if k - 1 >= 1:
            layers[k - 1]["no_output"] = np.flatnonzero(~has_out).tolist()
            layers[k - 1]["to_padding_only"] = np.flatnonzero(has_out & ~live).tolist()
        bwd = live
    hidden = [d for d in layers[1:L]]
    return {
        "layers": layers,
        "hidden_padding_only": sum(len(d["padding_only"]) for d in hidden),
        "hidden_no_input": sum(len(d["no_input"]) for d in hidden),
        "hidden_to_padding_only": sum(len(d.get("to_padding_only", [])) for d in hidden),
        "hidden_neurons": sum(d["neurons"] for d in hidden),
    }
