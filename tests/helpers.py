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
