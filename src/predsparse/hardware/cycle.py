"""Cycle-level model: explicit memories, banks and clocks, one clock cycle at a time.

Every variable lives where ``docs/design/hardware.md`` puts it: left neuron ``l`` of junction ``i`` in
memory ``l mod z_i`` at address ``l // z_i``; ``a`` and ``a'`` of layer ``k`` in ``2(L-k)+1`` banks,
``delta`` in 2; weights of junction ``i`` in ``z_i`` memories of depth ``C`` (edge ``c z + j`` in memory
``j``, address ``c``); biases in ``z_i / d_in`` memories. Bank pointers advance once per block (input
``m`` uses bank ``m mod banks``) and every read checks that the bank still holds the input it expects,
which verifies the bank counts.

In each cycle a junction reads ``z`` left neurons (one per memory when clash-free). A cycle whose
busiest memory gets ``k`` reads takes ``k`` clocks (``k - 1`` stall clocks), the reads queued on a
memory being served in lane order; right memories likewise. FF, BP and UP of the cycle share the one
weight word read; UP writes the new weight and bias back ``1 + P`` clocks after the read.

The BP accumulator is a read-modify-write of ``delta`` of the left layer: read at clock ``t``, written
at ``t + 1 + P``, visible from ``t + 2 + P``. ``mode``:

- ``exact``: reads see only writes already visible, as in the released RTL; contributions are lost
  when a neuron is re-read within ``1 + P`` clocks (counted in :attr:`CycleSimulator.lost`);
- ``ideal``: the accumulator always sees the previous contribution;
- ``bypass``: the proposed fix, forwarding of the in-flight partial sum; numerically ``ideal``, and the
  forwarded reads are counted (:attr:`CycleSimulator.forwarded`).

Only the pipelined schedule is modelled, and only power-of-two sizes (the released RTL's addresses are
bit slices). ``engine="fast"`` (default) runs each block's clocks in compiled code
(:mod:`predsparse.hardware.cycle_fast`); ``engine="reference"`` is the numpy loop over clocks, kept
as the reference (tests compare the two bit for bit). The architecture model
(:mod:`predsparse.hardware.simulator`) is faster still and must agree bit for bit.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np

from predsparse.errors import InputError
from predsparse.hardware.config import HwConfig
from predsparse.hardware.simulator import check_patterns, init_weights
from predsparse.hardware.tables import ActivationTables
from predsparse.patterns import Pattern

MODES = ("exact", "ideal", "bypass")


class _Mem:
    """A bank of ``z`` memories of depth ``D`` per bank, with an owner tag per bank."""

    def __init__(self, banks: int, z: int, depth: int, name: str) -> None:
        self.data = np.zeros((banks, z, depth), dtype=np.int64)
        self.tag = np.full(banks, -1, dtype=np.int64)
        self.banks, self.z, self.name = banks, z, name

    def bank(self, sample: int, write: bool = False) -> int:
        b = sample % self.banks
        if write:
            self.tag[b] = sample
        elif self.tag[b] != sample:
            raise AssertionError(f"{self.name}: bank {b} holds input {self.tag[b]}, expected {sample}")
        return b

    def where(self, neuron: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return neuron % self.z, neuron // self.z


class CycleSimulator:
    """Clock-by-clock model of training (pipelined schedule), bit-exact with :class:`ArchSimulator`."""

    def __init__(
        self,
        cfg: HwConfig,
        patterns: Sequence[Pattern] | None = None,
        *,
        mode: str = "ideal",
        weights: tuple[Sequence[np.ndarray], Sequence[np.ndarray]] | None = None,
        engine: str = "fast",
    ) -> None:
        if engine not in ("fast", "reference"):
            raise InputError(f"engine {engine!r} is not one of fast, reference")
        if mode not in MODES:
            raise InputError(f"cycle-model BP mode {mode!r} is not one of {', '.join(MODES)}")
        cfg.validate(level="cycle")
        self.cfg = cfg
        self.fmt = cfg.fmt
        self.mode = mode
        self.patterns = check_patterns(cfg, patterns) if patterns is not None else cfg.build_patterns()
        self.tables = ActivationTables(cfg.fmt, cfg.activation)
        # compiled block body (cycle_fast.py) unless asked for the numpy reference; needs tabulated activations
        self.engine = "fast" if engine == "fast" and self.tables.tabulated else "reference"
        L = cfg.L
        self.L = L
        if weights is None:
            wf, bf = init_weights(cfg, self.patterns)
            wq = [self.fmt.quantize(w) for w in wf]
            bq = [self.fmt.quantize(b) for b in bf]
        else:
            wq = [np.array(w, dtype=np.int64) for w in weights[0]]
            bq = [np.array(b, dtype=np.int64) for b in weights[1]]
        self.z = list(cfg.z)
        self.C = [-(-p.edges // z) for p, z in zip(self.patterns, self.z)]
        self.R = []  # right (bias) memories per junction
        self.WM, self.BM = [], []
        for i, pat in enumerate(self.patterns):
            z, C = self.z[i], self.C[i]
            wm = np.zeros(z * C, dtype=np.int64)
            wm[: pat.edges] = wq[i]
            self.WM.append(wm.reshape(C, z).T.copy())  # memory j, address c
            R = max(1, z // max(1, int(round(pat.edges / pat.n_out))))
            self.R.append(R)
            bm = np.zeros(R * -(-pat.n_out // R), dtype=np.int64)
            bm[: pat.n_out] = bq[i]
            self.BM.append(bm.reshape(-1, R).T.copy())  # memory r % R, address r // R
        # layer memories: layer k < L organised as the left side of junction k+1
        self.A: list[_Mem] = []
        self.AD: list[_Mem | None] = []
        self.DELTA: list[_Mem | None] = []
        for k in range(L):
            z, D = self.z[k], cfg.layers[k] // self.z[k]
            nb = 2 * (L - k) + 1
            self.A.append(_Mem(nb, z, D, f"a[{k}]"))
            self.AD.append(_Mem(nb, z, D, f"a'[{k}]") if k >= 1 else None)
            self.DELTA.append(_Mem(2, z, D, f"delta[{k}]") if k >= 1 else None)
        nL = cfg.layers[L]
        self.A.append(_Mem(3, 1, nL, f"a[{L}]"))  # outputs, kept for the error and the prediction
        self.AD.append(None)
        self.DELTA.append(_Mem(2, 1, nL, f"delta[{L}]"))
        self.label = {}
        # per-edge static tables
        self.last_edge = []  # True where the edge is its right neuron's last one
        for pat in self.patterns:
            le = np.zeros(pat.edges, dtype=bool)
            if pat.edges:
                le[:-1] = pat.rows[1:] != pat.rows[:-1]
                le[-1] = True
            self.last_edge.append(le)
        self._static: list[
            tuple[np.ndarray, np.ndarray, np.ndarray]
        ] = []  # stall per cycle, rank per edge, reads per left
        for i, pat in enumerate(self.patterns):
            z = self.z[i]
            st = np.zeros(self.C[i], np.int64)
            rk = np.zeros(pat.edges, np.int64)
            for c in range(self.C[i]):
                e = np.arange(c * z, min((c + 1) * z, pat.edges))
                st[c], rk[e] = self._cycle_stall(i, pat.cols[e], pat.rows[e])
            self._static.append((st, rk, np.bincount(pat.cols, minlength=pat.n_in).astype(np.int64)))
        # counters
        self.clock = 0
        self.blocks = 0
        self.stalls = [0] * L  # stall clocks per junction (summed over blocks)
        self.block_clocks: list[int] = []
        self.lost = [0] * L  # BP contributions lost (exact mode), per junction
        self.forwarded = [0] * L  # reads served by forwarding (bypass mode)
        self.contributions = [0] * L
        self.correct = 0

    # --- helpers ---------------------------------------------------------------------------------
    def _layer_where(self, k: int, neuron: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if k == self.L:
            return np.zeros_like(neuron), neuron
        return self.A[k].where(neuron)

    @property
    def weights(self) -> list[np.ndarray]:
        """Weights in edge order (memory ``j`` address ``c`` is edge ``c z + j``)."""
        return [wm.T.reshape(-1)[: p.edges].copy() for wm, p in zip(self.WM, self.patterns)]

    @property
    def biases(self) -> list[np.ndarray]:
        return [bm.T.reshape(-1)[: p.n_out].copy() for bm, p in zip(self.BM, self.patterns)]

    # --- one block ---------------------------------------------------------------------------------
    def _cycle_stall(self, i: int, left: np.ndarray, right: np.ndarray) -> tuple[int, np.ndarray]:
        """Stall clocks of a cycle and each lane's queue position on its left memory."""
        z = self.z[i]
        mem = left % z
        hits = np.bincount(mem, minlength=z)
        rmem = np.unique(right) % self.R[i]
        rhits = np.bincount(rmem, minlength=self.R[i])
        rank = np.zeros(left.size, dtype=np.int64)
        seen: dict[int, int] = {}
        if hits.max() > 1:
            for lane, m in enumerate(mem.tolist()):
                rank[lane] = seen.get(m, 0)
                seen[m] = rank[lane] + 1
        return int(max(hits.max(), rhits.max()) - 1), rank

    def _junction_block(self, i: int, t: int, M: int) -> int:
        """Run junction ``i`` (0-based) in block ``t``; returns the clocks its cycles took."""
        if self.engine == "fast":
            return self._junction_block_fast(i, t, M)
        cfg, fmt, L = self.cfg, self.fmt, self.L
        pat = self.patterns[i]
        z, C, P = self.z[i], self.C[i], cfg.P
        nf, nb = t - (i + 1), t - (2 * L - i)
        do_ff, do_bp = 0 <= nf < M, 0 <= nb < M
        if not (do_ff or do_bp):  # pipeline filling or draining: the block still lasts its clocks
            T = 0
            for c in range(C):
                e = np.arange(c * z, min((c + 1) * z, pat.edges))
                T += 1 + self._cycle_stall(i, pat.cols[e], pat.rows[e])[0]
            return T
        A_in, AD_in, D_in = self.A[i], self.AD[i], self.DELTA[i]
        k_out = i + 1
        if do_ff:
            bf = A_in.bank(nf)
            acc = np.zeros(pat.n_out, dtype=np.int64)
            bank_out = self.A[k_out].bank(nf, write=True)
            if k_out < L:
                self.AD[k_out].bank(nf, write=True)
            else:
                bank_dl = self.DELTA[L].bank(nf, write=True)
        if do_bp:
            bb = A_in.bank(nb)
            bank_dr = self.DELTA[k_out].bank(nb)
            if i >= 1:
                AD_in.bank(nb)
                bank_dp = D_in.bank(nb, write=True)
                D_in.data[bank_dp] = 0  # the accumulating bank starts cleared
                count = np.zeros(D_in.data.shape[1:], dtype=np.int64)
                last_read = np.full(D_in.data.shape[1:], -(10**9), dtype=np.int64)
                pending: deque = deque()
        wpending: list = []
        T = 0  # clock within the block
        for c in range(C):
            e = np.arange(c * z, min((c + 1) * z, pat.edges))
            lanes = e - c * z
            left, right = pat.cols[e], pat.rows[e]
            stall, rank = self._cycle_stall(i, left, right)
            self.stalls[i] += stall
            mem, addr = A_in.where(left)
            wv = self.WM[i][lanes, c]  # the one weight word read this cycle, shared by FF/BP/UP
            last = self.last_edge[i][e]
            rlast = right[last]
            rm, ra = rlast % self.R[i], rlast // self.R[i]
            bias = self.BM[i][rm, ra]  # bias words of the right neurons finishing this cycle
            if do_ff:
                af = A_in.data[bf, mem, addr]
                np.add.at(acc, right, fmt.mult(wv, af))
                if rlast.size:
                    s = fmt.sat(acc[rlast] + bias)
                    a, ad = self.tables(s)
                    om, oa = self._layer_where(k_out, rlast)
                    self.A[k_out].data[bank_out, om, oa] = a
                    if k_out < L:
                        self.AD[k_out].data[bank_out, om, oa] = ad
                    else:
                        y = np.where(rlast == self.label[nf], fmt.one, 0)
                        self.DELTA[L].data[bank_dl, om, oa] = fmt.sat(a - y)
            if do_bp:
                dm, da = self._layer_where(k_out, right)
                dr = self.DELTA[k_out].data[bank_dr, dm, da]
                g = fmt.lr_step(dr, cfg.lr_shift, cfg.lr_rounding)
                ab = A_in.data[bb, mem, addr]
                wpending.append((lanes, c, fmt.sat(wv + fmt.mult(g, ab)), T + rank + 1 + P))
                if rlast.size:
                    wpending.append((("b", rm, ra), None, fmt.sat(bias + g[last]), T + 1 + P))
                if i >= 1:
                    adb = AD_in.data[bb, mem, addr]
                    contrib = fmt.mult(fmt.mult(dr, adb), wv)
                    self.contributions[i] += contrib.size
                    for q in range(int(rank.max()) + 1 if rank.size else 0):
                        sel = rank == q
                        tr = T + q
                        m_, a_ = mem[sel], addr[sel]
                        if self.mode == "exact":
                            while pending and pending[0][0] < tr:  # writes visible by now
                                _, pm, pa, pv, pc = pending.popleft()
                                D_in.data[bank_dp, pm, pa] = pv
                                count[pm, pa] = pc
                            old, oc = D_in.data[bank_dp, m_, a_], count[m_, a_]
                            pending.append((tr + 1 + P, m_, a_, fmt.sat(old + contrib[sel]), oc + 1))
                        else:
                            if self.mode == "bypass":
                                self.forwarded[i] += int((tr - last_read[m_, a_] <= 1 + P).sum())
                                last_read[m_, a_] = tr
                            D_in.data[bank_dp, m_, a_] = fmt.sat(D_in.data[bank_dp, m_, a_] + contrib[sel])
                            count[m_, a_] += 1
            T += 1 + stall
        block_len = T + 2 + P
        if do_bp:
            for lanes_or_b, c, val, wc in wpending:
                if np.any(np.asarray(wc) >= block_len):  # pragma: no cover - the schedule forbids it
                    raise AssertionError("a write-back falls outside its block")
                if isinstance(lanes_or_b, tuple):
                    _, rm, ra = lanes_or_b
                    self.BM[i][rm, ra] = val
                else:
                    self.WM[i][lanes_or_b, c] = val
            if i >= 1:
                while pending:
                    _, pm, pa, pv, pc = pending.popleft()
                    D_in.data[bank_dp, pm, pa] = pv
                    count[pm, pa] = pc
                reads = np.bincount(pat.cols, minlength=pat.n_in)
                m_all, a_all = A_in.where(np.arange(pat.n_in))
                self.lost[i] += int((reads - count[m_all, a_all]).sum())
            self.DELTA[k_out].data[bank_dr] = 0  # read, then cleared
        if do_ff and k_out == L:
            K = self.num_classes or self.cfg.layers[-1]
            out = self.A[L].data[bank_out, 0, :K]
            self.correct += int(np.argmax(out) == self.label[nf])
        return T

    def _junction_block_fast(self, i: int, t: int, M: int) -> int:
        """The same block with the bank bookkeeping here and the clocks in :func:`cycle_fast.block`."""
        from predsparse.hardware.cycle_fast import block

        cfg, fmt, L = self.cfg, self.fmt, self.L
        pat = self.patterns[i]
        nf, nb = t - (i + 1), t - (2 * L - i)
        do_ff, do_bp = 0 <= nf < M, 0 <= nb < M
        A_in, AD_in, D_in = self.A[i], self.AD[i], self.DELTA[i]
        k_out = i + 1
        dummy2 = A_in.data[0]
        A_f = A_out = AD_out = DL_out = A_b = AD_b = D_acc = D_r = dummy2
        bank_out = 0
        if do_ff:
            A_f = A_in.data[A_in.bank(nf)]
            bank_out = self.A[k_out].bank(nf, write=True)
            A_out = self.A[k_out].data[bank_out]
            if k_out < L:
                AD_out = self.AD[k_out].data[self.AD[k_out].bank(nf, write=True)]
            else:
                DL_out = self.DELTA[L].data[self.DELTA[L].bank(nf, write=True)]
        if do_bp:
            bb = A_in.bank(nb)
            A_b = A_in.data[bb]
            bank_dr = self.DELTA[k_out].bank(nb)
            D_r = self.DELTA[k_out].data[bank_dr]
            if i >= 1:
                AD_b = AD_in.data[AD_in.bank(nb)]
                D_acc = D_in.data[D_in.bank(nb, write=True)]
        st, rk, reads = self._static[i]
        zo = self.z[k_out] if k_out < L else 1
        mode = MODES.index(self.mode)  # exact 0, ideal 1, bypass 2
        T, stalls, contrib, lost, fwd = block(
            pat.rows,
            pat.cols,
            self.last_edge[i],
            st,
            rk,
            self.z[i],
            self.C[i],
            cfg.P,
            self.R[i],
            zo,
            mode,
            do_ff,
            do_bp,
            i >= 1,
            int(self.label.get(nf, -1)) if do_ff else -1,
            k_out == L,
            A_f,
            A_b,
            AD_b,
            D_acc,
            A_out,
            AD_out,
            DL_out,
            D_r,
            self.WM[i],
            self.BM[i],
            self.tables.act,
            self.tables.der,
            fmt.F,
            fmt.lo,
            fmt.hi,
            fmt.one,
            cfg.lr_shift,
            cfg.lr_rounding == "half-even",
            reads,
        )
        if do_ff or do_bp:
            self.stalls[i] += int(stalls)
        self.contributions[i] += int(contrib)
        self.lost[i] += int(lost)
        self.forwarded[i] += int(fwd)
        if do_bp:
            self.DELTA[k_out].data[bank_dr] = 0  # read, then cleared
        if do_ff and k_out == L:
            K = self.num_classes or self.cfg.layers[-1]
            out = self.A[L].data[bank_out, 0, :K]
            self.correct += int(np.argmax(out) == self.label[nf])
        return int(T)

    def train_samples(
        self, x: np.ndarray, y: np.ndarray, order: np.ndarray | None = None, num_classes: int | None = None
    ) -> dict[str, Any]:
        """Train on ``x[order]`` (raw inputs) clock by clock; the pipeline is filled and drained."""
        if order is None:
            order = np.arange(x.shape[0])
        self.num_classes = num_classes
        L = self.L
        M = int(order.size)
        self.correct = 0
        for t in range(M + 2 * L):
            if t < M:
                idx = int(order[t])
                bk = self.A[0].bank(t, write=True)
                mem, addr = self.A[0].where(np.arange(self.cfg.layers[0]))
                self.A[0].data[bk, mem, addr] = x[idx]
                self.label[t] = int(y[idx])
                self.label.pop(t - 2 * L - 1, None)
            clocks = [self._junction_block(i, t, M) for i in range(L)]
            blk = max(clocks) + 2 + self.cfg.P
            self.block_clocks.append(blk)
            self.clock += blk
            self.blocks += 1
        return {"samples": M, "correct": self.correct, "clocks": self.clock}

    def report(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "blocks": self.blocks,
            "clocks": self.clock,
            "stall_clocks": list(self.stalls),
            "bp_contributions": list(self.contributions),
            "bp_lost": list(self.lost),
            "bp_forwarded": list(self.forwarded),
        }
