"""Small data makers shared by several test modules."""

from __future__ import annotations

import numpy as np


def toy(n: int = 200, d: int = 6, k: int = 3, seed: int = 0) -> dict[str, np.ndarray]:
    """``k`` Gaussian clusters in ``d`` dimensions, split 120 / 40 / rest into train / validation / test."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (k, d))
    y = rng.integers(0, k, n)
    x = centres[y] + rng.normal(0, 1, (n, d))
    return {"xtr": x[:120], "ytr": y[:120], "xva": x[120:160], "yva": y[120:160], "xte": x[160:], "yte": y[160:]}


def sleeping_worker(*, emit, worker_index: int) -> None:
    """A ``run_workers`` target that reports its process id and then waits (until it is stopped)."""
    import os
    import time

    emit("start", str(os.getpid()))
    time.sleep(600)


class StopTraining(Exception):
    """Raised by :func:`stop_at` to interrupt ``fit`` as a crash would, after a checkpoint was written."""


def stop_at(epoch: int):
    """An ``on_epoch`` callback that stops training after ``epoch``."""

    def callback(rec) -> None:
        if rec["epoch"] == epoch:
            raise StopTraining

    return callback


def bright_rows(n: int = 120, side: int = 4, seed: int = 0) -> dict[str, np.ndarray]:
    """``side x side`` images of 3 classes, class ``c`` a bright row ``c * (side // 3)`` over weak noise (it
    survives a left-right flip); split 60 / 20 / 20 %."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.random((n, side, side)).astype(np.float32) * 0.3
    x[np.arange(n), y * (side // 3), :] += 1.0
    a, b = int(n * 0.6), int(n * 0.8)
    return {"xtr": x[:a], "ytr": y[:a], "xva": x[a:b], "yva": y[a:b], "xte": x[b:], "yte": y[b:]}
