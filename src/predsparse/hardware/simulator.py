"""Architecture-level, bit-accurate simulator of fixed-point training on the edge-based design.

One *block* (``C + stalls + 2 + P`` clocks) per input and junction. With the **pipelined** schedule
input ``n`` is loaded in block ``n``, FF of junction ``i`` runs in block ``n + i``, the output error is
formed in block ``n + L`` and BP/UP of junction ``i`` run in block ``n + 2L + 1 - i``; ``2L + 1`` inputs
are in flight. In a block, FF, BP and UP of a junction share the weight word read in that clock and UP
writes it back ``1 + P`` clocks later, i.e. after every read of that block: so the model runs each
block with the weights as they were when it started and applies the block's update at its end. That
is exactly why FF of an input in junction ``i`` misses the updates of the previous ``2(L - i) + 1``
inputs. The **sequential** schedule has one input in flight (``(2L + 1)`` blocks per input): plain SGD.

The pipeline is filled at the start of every epoch and drained at its end (``2L`` extra blocks), so
test accuracy after an epoch sees every update of that epoch.

Work is vectorised over the edges of a junction (numpy ``int64``); weights are kept in edge order, which
*is* the interleaved memory layout (edge ``e = c z + j`` lives in weight memory ``j`` at address ``c``:
``w.reshape(C, z)[c, j]``). BP accumulates each left neuron's contributions in cycle order with a
saturating adder; ``bp_hazard="exact"`` drops the contributions that the released RTL's
read-modify-write loses (see :mod:`predsparse.hardware.timing`), ``"ideal"`` keeps all of them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from predsparse.errors import InputError
from predsparse.hardware.config import SCHEDULES, HwConfig
from predsparse.hardware.fixedpoint import FixedFormat
from predsparse.hardware.tables import ActivationTables
from predsparse.hardware.timing import (
    clash_stalls,
    hazard_report,
    hazard_survivors,
    occurrence_layout,
    padding_report,
    read_clocks,
)
from predsparse.patterns import Pattern

BP_MODES = ("ideal", "exact")


@dataclass
class Junction:
    """Static description of one junction as the simulators use it."""

    index: int
    pattern: Pattern
    z: int
    rows: np.ndarray
    cols: np.ndarray
    n_in: int
    n_out: int
    d_in: int | None  # uniform in-degree, or None
    starts: np.ndarray  # CSR starts per right neuron
    empty: np.ndarray  # right neurons without input
    pos: np.ndarray  # BP layout: left * dmax + occurrence rank
    dmax: int
    stalls: np.ndarray  # stall clocks per cycle
    keep: np.ndarray | None  # BP contributions that survive (exact hazard mode), else None

    @property
    def edges(self) -> int:
        return int(self.rows.size)

    @property
    def cycles(self) -> int:
        return -(-self.edges // self.z)


def top1_accuracy(
    predict: Callable[[np.ndarray], np.ndarray], x: np.ndarray, y: np.ndarray, num_classes: int | None = None
) -> float:
    """Share of inputs whose largest output (first maximum, over the ``num_classes`` real classes) is the label."""
    if x.shape[0] == 0:
        return float("nan")
    out = predict(x)
    if num_classes is not None:
        out = out[:, :num_classes]
    return float((np.argmax(out, axis=1) == y).mean())


def check_patterns(cfg: HwConfig, patterns: Sequence[Pattern]) -> list[Pattern]:
    """Given patterns must fit the configured layers (any kind: clashes are counted, not refused)."""
    patterns = list(patterns)
    if len(patterns) != cfg.L:
        raise InputError(f"{len(patterns)} patterns given for {cfg.L} junctions")
    for i, pat in enumerate(patterns, start=1):
        if not isinstance(pat, Pattern):
            raise InputError(f"junction {i}: expected a Pattern, got {type(pat).__name__}")
        if (pat.n_in, pat.n_out) != (cfg.layers[i - 1], cfg.layers[i]):
            raise InputError(
                f"junction {i}: pattern is {pat.n_in}->{pat.n_out} but the layers say {cfg.layers[i - 1]}->{cfg.layers[i]}"
            )
        if pat.has_duplicates():
            raise InputError(f"junction {i}: pattern repeats a (right, left) edge")
    return patterns


def build_junctions(cfg: HwConfig, patterns: Sequence[Pattern], bp_hazard: str) -> list[Junction]:
    out = []
    for i, pat in enumerate(patterns, start=1):
        z = cfg.z[i - 1]
        d_in = pat.in_degree if isinstance(pat.in_degree, int) else None
        indptr = pat.indptr()
        stalls = clash_stalls(pat, z)
        pos, dmax = occurrence_layout(pat)
        keep = None
        if bp_hazard == "exact" and i >= 2:
            keep = hazard_survivors(pat, z, cfg.P, read_clocks(pat, z, stalls))
        out.append(
            Junction(
                index=i,
                pattern=pat,
                z=z,
                rows=pat.rows,
                cols=pat.cols,
                n_in=pat.n_in,
                n_out=pat.n_out,
                d_in=d_in,
                starts=np.minimum(indptr[:-1], max(pat.edges - 1, 0)),
                empty=indptr[1:] == indptr[:-1],
                pos=pos,
                dmax=dmax,
                stalls=stalls,
                keep=keep,
            )
        )
    return out


def init_weights(cfg: HwConfig, patterns: Sequence[Pattern]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Glorot normal float weights ``N(0, 2 / (d_in + d_out))`` per junction (nominal degrees), zero
    biases; float64, before quantisation (the float reference starts from the same draw)."""
    rng = np.random.default_rng((cfg.seed, 0x1A17))
    ws, bs = [], []
    for pat in patterns:
        d_in = pat.edges / pat.n_out
        d_out = pat.edges / pat.n_in
        ws.append(rng.normal(0.0, np.sqrt(2.0 / (d_in + d_out)), size=pat.edges))
        bs.append(np.zeros(pat.n_out))
    return ws, bs


def segment_sum(v: np.ndarray, j: Junction) -> np.ndarray:
    """Sum over each right neuron's edges along the last axis (exact, wide)."""
    if j.d_in is not None:
        return v.reshape(*v.shape[:-1], j.n_out, j.d_in).sum(axis=-1)
    if v.shape[-1] == 0:
        return np.zeros((*v.shape[:-1], j.n_out), dtype=np.int64)
    out = np.add.reduceat(v, j.starts, axis=-1)
    out[..., j.empty] = 0
    return out


class _Slot:
    """Per-input state while it is in flight (one bank of every layer's memories)."""

    __slots__ = ("a", "ad", "delta", "label", "index")

    def __init__(self, L: int) -> None:
        self.a: list[Any] = [None] * (L + 1)
        self.ad: list[Any] = [None] * (L + 1)
        self.delta: list[Any] = [None] * (L + 1)
        self.label = 0
        self.index = 0


class ArchSimulator:
    """Bit-accurate fixed-point training of one network (see the module docstring).

    ``patterns`` overrides the configured pattern kinds (any kind; clashes are counted as stalls).
    State: ``w[i]`` (edge order, raw ``int64``) and ``b[i]`` for junction ``i = 0..L-1``.
    """

    def __init__(
        self,
        cfg: HwConfig,
        patterns: Sequence[Pattern] | None = None,
        *,
        schedule: str = "pipelined",
        bp_hazard: str = "ideal",
        weights: tuple[Sequence[np.ndarray], Sequence[np.ndarray]] | None = None,
    ) -> None:
        if schedule not in SCHEDULES:
            raise InputError(f"schedule {schedule!r} is not one of {', '.join(SCHEDULES)}")
        if bp_hazard not in BP_MODES:
            raise InputError(f"BP hazard mode {bp_hazard!r} is not one of {', '.join(BP_MODES)}")
        self.cfg = cfg
        self.fmt: FixedFormat = cfg.fmt
        self.schedule = schedule
        self.bp_hazard = bp_hazard
        self.patterns = check_patterns(cfg, patterns) if patterns is not None else cfg.build_patterns()
        self.junctions = build_junctions(cfg, self.patterns, bp_hazard)
        self.tables = ActivationTables(self.fmt, cfg.activation)
        if weights is None:
            wf, bf = init_weights(cfg, self.patterns)
            self.w = [self.fmt.quantize(w) for w in wf]
            self.b = [self.fmt.quantize(b) for b in bf]
        else:
            self.w = [np.array(w, dtype=np.int64) for w in weights[0]]
            self.b = [np.array(b, dtype=np.int64) for b in weights[1]]
        self.blocks = 0  # blocks run so far (hardware time = blocks * clocks per block)

    # --- hardware figures -----------------------------------------------------------------------
    @property
    def stall_cycles(self) -> list[int]:
        """Stall clocks per block of each junction."""
        return [int(j.stalls.sum()) for j in self.junctions]

    @property
    def clocks_per_block(self) -> int:
        """``max_i(C_i + stalls_i) + 2 + P``: one block, i.e. clocks per input when pipelined."""
        return max(j.cycles + int(j.stalls.sum()) for j in self.junctions) + 2 + self.cfg.P

    @property
    def clocks_per_input(self) -> int:
        L = self.cfg.L
        return self.clocks_per_block * (1 if self.schedule == "pipelined" else 2 * L + 1)

    def lost_contributions(self) -> list[dict[str, Any]]:
        """BP hazard per junction >= 2 (what the released RTL would lose per input), in any mode."""
        return [
            {"junction": j.index, **hazard_report(j.pattern, j.z, self.cfg.P, j.stalls)} for j in self.junctions[1:]
        ]

    def hardware_report(self, live_inputs: int | None = None, live_outputs: int | None = None) -> dict[str, Any]:
        cfg = self.cfg
        cpi = self.clocks_per_input
        return {
            "schedule": self.schedule,
            "bp_hazard": self.bp_hazard,
            "clocks_per_block": self.clocks_per_block,
            "clocks_per_input": cpi,
            "inputs_per_s_at_clock": cfg.clock_hz / cpi,
            "us_per_input_at_clock": 1e6 * cpi / cfg.clock_hz,
            "clock_hz": cfg.clock_hz,
            "inputs_in_flight": 2 * cfg.L + 1 if self.schedule == "pipelined" else 1,
            "stall_cycles_per_block": self.stall_cycles,
            "bp_lost_contributions_per_input": self.lost_contributions(),
            "neurons": padding_report(self.patterns, live_inputs, live_outputs),
        }

    # --- one junction, one input -----------------------------------------------------------------
    def _ff(self, i: int, a_prev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        j = self.junctions[i]
        fmt = self.fmt
        m = fmt.round_product(self.w[i] * a_prev[j.cols])
        s = segment_sum(m, j)
        s += self.b[i]
        return self.tables(fmt.sat_(s))

    def _bp(self, i: int, delta_r: np.ndarray, ad_prev: np.ndarray) -> np.ndarray:
        """``partial_l = sat(partial_l + mult(mult(delta_r, a'_l), w))`` in cycle order, from 0."""
        j = self.junctions[i]
        fmt = self.fmt
        c = fmt.round_product(fmt.round_product(delta_r[j.rows] * ad_prev[j.cols]) * self.w[i])
        if j.keep is not None:
            c = np.where(j.keep, c, 0)
        grid = np.zeros(j.n_in * j.dmax, dtype=np.int64)
        grid[j.pos] = c
        grid = grid.reshape(j.n_in, j.dmax)
        cs = np.cumsum(grid, axis=1)
        if cs.max() <= fmt.hi and cs.min() >= fmt.lo:  # no partial sum saturates: plain sum is exact
            return cs[:, -1]
        part = np.zeros(j.n_in, dtype=np.int64)
        for k in range(j.dmax):
            part += grid[:, k]
            fmt.sat_(part)
        return part

    def _up(self, i: int, delta_r: np.ndarray, a_prev: np.ndarray) -> None:
        j = self.junctions[i]
        fmt = self.fmt
        g = fmt.lr_step(delta_r, self.cfg.lr_shift, self.cfg.lr_rounding)
        b = self.b[i] + g
        self.b[i] = fmt.sat_(b)
        w = fmt.round_product(g[j.rows] * a_prev[j.cols])
        w += self.w[i]
        self.w[i] = fmt.sat_(w)

    def _bpup(self, i: int, slot: _Slot) -> None:
        """BP (junction >= 2) then UP of junction ``i + 1`` for one input, both with the weights read."""
        delta_r = slot.delta[i + 1]
        if i >= 1:
            slot.delta[i] = self._bp(i, delta_r, slot.ad[i])
        self._up(i, delta_r, slot.a[i])

    def _ff_step(self, i: int, slot: _Slot) -> None:
        a, ad = self._ff(i, slot.a[i])
        slot.a[i + 1] = a
        slot.ad[i + 1] = ad
        if i == self.cfg.L - 1:  # output error formed as the last junction's FF finishes
            y = np.zeros(a.size, dtype=np.int64)
            y[slot.label] = self.fmt.one
            slot.delta[i + 1] = self.fmt.sat(a - y)

    # --- training ------------------------------------------------------------------------------------
    def train_samples(
        self,
        x: np.ndarray,
        y: np.ndarray,
        order: np.ndarray | None = None,
        progress: Callable[[int], None] | None = None,
        num_classes: int | None = None,
        engine: str = "fast",
    ) -> dict[str, Any]:
        """Train on ``x[order]`` (raw inputs ``(M, N_0)``) with the configured schedule; returns the
        number of inputs whose output during training (the hardware's own FF, first maximum over the
        real classes) was right. ``engine``: ``fast`` (compiled, :mod:`predsparse.hardware.fast`; the
        reference is used where it does not apply) or ``reference`` (this numpy loop); same bits."""
        if engine not in ("fast", "reference"):
            raise InputError(f"engine {engine!r} is not one of fast, reference")
        if order is None:
            order = np.arange(x.shape[0])
        L = self.cfg.L
        M = int(order.size)
        correct = 0
        K = num_classes or self.cfg.layers[-1]
        t0 = time.perf_counter()
        from predsparse.hardware import fast

        if engine == "fast" and fast.supported(self):
            correct = fast.train(self, x, y, np.asarray(order), K, progress)
            self.blocks += M + 2 * L if self.schedule == "pipelined" else M * (2 * L + 1)
            return {"samples": M, "correct": correct, "wall_s": time.perf_counter() - t0}
        if self.schedule == "sequential":
            slot = _Slot(L)
            for n in range(M):
                idx = int(order[n])
                slot.a[0] = x[idx]
                slot.label = int(y[idx])
                for i in range(L):
                    self._ff_step(i, slot)
                correct += int(np.argmax(slot.a[L][:K]) == slot.label)
                for i in range(L - 1, -1, -1):
                    self._bpup(i, slot)
                if progress is not None and (n + 1) % 256 == 0:
                    progress(256)
            self.blocks += M * (2 * L + 1)
        else:
            R = 2 * L + 1
            ring = [_Slot(L) for _ in range(R)]
            done = 0
            for t in range(M + 2 * L):
                if t < M:  # load input t
                    s = ring[t % R]
                    idx = int(order[t])
                    s.a[0] = x[idx]
                    s.label = int(y[idx])
                    s.index = t
                for i in range(L):  # junction i+1: FF of input t-(i+1), BP/UP of input t-(2L-i)
                    nf = t - (i + 1)
                    nb = t - (2 * L - i)
                    jf = 0 <= nf < M
                    jb = 0 <= nb < M
                    # both use the weights as they are at the start of the block; UP comes last
                    if jf:
                        self._ff_step(i, ring[nf % R])
                        if i == L - 1:
                            sl = ring[nf % R]
                            correct += int(np.argmax(sl.a[L][:K]) == sl.label)
                    if jb:
                        self._bpup(i, ring[nb % R])
                        if i == 0:
                            done += 1
                            if progress is not None and done % 256 == 0:
                                progress(256)
            self.blocks += M + 2 * L
        if progress is not None:
            progress(M % 256)
        wall = time.perf_counter() - t0
        return {"samples": M, "correct": correct, "wall_s": wall}

    def predict(self, x: np.ndarray, chunk: int = 256) -> np.ndarray:
        """Output activations ``a_L`` (raw) of FF only, for raw inputs ``(M, N_0)``, with the current weights."""
        outs = []
        fmt = self.fmt
        for s0 in range(0, x.shape[0], chunk):
            a = np.asarray(x[s0 : s0 + chunk], dtype=np.int64)
            for i, j in enumerate(self.junctions):
                m = fmt.round_product(self.w[i][None, :] * a[:, j.cols])
                s = segment_sum(m, j) + self.b[i]
                a, _ = self.tables(fmt.sat_(s))
            outs.append(a)
        return np.concatenate(outs) if outs else np.zeros((0, self.cfg.layers[-1]), np.int64)

    def accuracy(self, x: np.ndarray, y: np.ndarray, num_classes: int | None = None) -> float:
        """Share of inputs whose largest output (first maximum, over the real classes) is the label."""
        return top1_accuracy(self.predict, x, y, num_classes)

    def weight_stats(self) -> list[dict[str, float]]:
        """Per junction: share of weights and biases at the format's limits, mean and mean |w| (floats)."""
        out = []
        for w, b in zip(self.w, self.b):
            wf = self.fmt.to_float(w)
            out.append(
                {
                    "w_saturated": float(((w == self.fmt.hi) | (w == self.fmt.lo)).mean()),
                    "w_mean": float(wf.mean()),
                    "w_abs_mean": float(np.abs(wf).mean()),
                    "b_saturated": float(((b == self.fmt.hi) | (b == self.fmt.lo)).mean()),
                    "b_mean": float(self.fmt.to_float(b).mean()),
                }
            )
        return out

    def state(self) -> dict[str, Any]:
        return {"w": [w.copy() for w in self.w], "b": [b.copy() for b in self.b]}
