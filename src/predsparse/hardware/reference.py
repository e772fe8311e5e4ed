"""Floating-point software model of the same network, pattern, initial weights and schedule.

``float64`` numpy, per input, on the same edges: ``s = W a + b``, sigmoid (or the hardware's clipped
ReLU, ``a = min(max(s, 0), 1)``, ``a' = [0 < s < 1]``), output error ``a_L - y``, ``delta_{i-1} =
a'_{i-1} (W^T delta_i)``, ``W -= eta delta_i a_{i-1}^T``, ``b -= eta delta_i``: SGD on the cross-entropy
of sigmoid outputs, no momentum, no L2.

The **pipelined** schedule is emulated independently of the block loop of the fixed-point model: each
junction keeps its last ``2(L - i) + 2`` weight versions, and the FF of the ``m``-th input of an epoch in
junction ``i`` uses the version that has seen the updates of inputs ``< m - 2(L - i) - 1`` only, while
BP and UP use the current weights. ``sequential`` is plain SGD.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.special import expit

from predsparse.errors import InputError
from predsparse.hardware.config import SCHEDULES, HwConfig
from predsparse.hardware.simulator import check_patterns, init_weights, top1_accuracy
from predsparse.patterns import Pattern


class FloatReference:
    """The float twin of :class:`~predsparse.hardware.simulator.ArchSimulator` (same seeds, same draw)."""

    def __init__(
        self,
        cfg: HwConfig,
        patterns: Sequence[Pattern] | None = None,
        *,
        schedule: str = "pipelined",
        weights: tuple[Sequence[np.ndarray], Sequence[np.ndarray]] | None = None,
    ) -> None:
        if schedule not in SCHEDULES:
            raise InputError(f"schedule {schedule!r} is not one of {', '.join(SCHEDULES)}")
        self.cfg = cfg
        self.schedule = schedule
        self.patterns = check_patterns(cfg, patterns) if patterns is not None else cfg.build_patterns()
        if weights is None:
            weights = init_weights(cfg, self.patterns)
        self.w = [np.array(w, dtype=np.float64) for w in weights[0]]
        self.b = [np.array(b, dtype=np.float64) for b in weights[1]]
        self.eta = cfg.eta
        self._reg = [p.in_degree if isinstance(p.in_degree, int) else None for p in self.patterns]

    def _act(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.cfg.activation == "sigmoid":
            a = expit(s)
            return a, a * (1.0 - a)
        return np.clip(s, 0.0, 1.0), ((s > 0) & (s < 1)).astype(np.float64)

    def _pre(self, i: int, w: np.ndarray, b: np.ndarray, a: np.ndarray) -> np.ndarray:
        pat = self.patterns[i]
        prod = w * a[..., pat.cols]
        if self._reg[i] is not None:
            s = prod.reshape(*prod.shape[:-1], pat.n_out, self._reg[i]).sum(axis=-1)
        elif pat.edges == 0:
            s = np.zeros((*prod.shape[:-1], pat.n_out))
        else:
            indptr = pat.indptr()
            s = np.add.reduceat(prod, np.minimum(indptr[:-1], pat.edges - 1), axis=-1)
            s[..., indptr[1:] == indptr[:-1]] = 0.0
        return s + b

    def train_samples(
        self, x: np.ndarray, y: np.ndarray, order: np.ndarray | None = None, num_classes: int | None = None
    ) -> dict[str, Any]:
        """Train on float inputs ``x[order]``; returns how many training outputs were right on the way."""
        if order is None:
            order = np.arange(x.shape[0])
        L = self.cfg.L
        K = num_classes or self.cfg.layers[-1]
        lags = [0] * L if self.schedule == "sequential" else [2 * (L - i) + 1 for i in range(1, L + 1)]
        hist = [deque([(self.w[i].copy(), self.b[i].copy())], maxlen=lags[i] + 1) for i in range(L)]
        correct = 0
        for m in range(order.size):
            idx = int(order[m])
            a = [np.asarray(x[idx], dtype=np.float64)]
            ad = [None]
            for i in range(L):
                w_ff, b_ff = hist[i][0]  # the version that has seen inputs < m - lag only
                ai, adi = self._act(self._pre(i, w_ff, b_ff, a[-1]))
                a.append(ai)
                ad.append(adi)
            correct += int(np.argmax(a[L][:K]) == int(y[idx]))
            delta = a[L].copy()
            delta[int(y[idx])] -= 1.0
            for i in range(L - 1, -1, -1):
                pat = self.patterns[i]
                d_r = delta[pat.rows]
                if i >= 1:
                    delta_prev = np.bincount(pat.cols, weights=d_r * self.w[i], minlength=pat.n_in) * ad[i]
                self.w[i] -= self.eta * d_r * a[i][pat.cols]
                self.b[i] -= self.eta * delta
                hist[i].append((self.w[i].copy(), self.b[i].copy()))
                if i >= 1:
                    delta = delta_prev
        return {"samples": int(order.size), "correct": correct}

    def predict(self, x: np.ndarray, chunk: int = 512) -> np.ndarray:
        outs = []
        for s0 in range(0, x.shape[0], chunk):
            a = np.asarray(x[s0 : s0 + chunk], dtype=np.float64)
            for i in range(self.cfg.L):
                a, _ = self._act(self._pre(i, self.w[i], self.b[i], a))
            outs.append(a)
        return np.concatenate(outs) if outs else np.zeros((0, self.cfg.layers[-1]))

    def accuracy(self, x: np.ndarray, y: np.ndarray, num_classes: int | None = None) -> float:
        return top1_accuracy(self.predict, x, y, num_classes)
