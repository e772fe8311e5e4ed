"""Dataset difficulty metrics computed from the data alone, before any training (Dey, Chugg, Beerel 2018).

For the classes ``m`` present in the data (all splits together), with prior ``P(m)`` (share of the
samples), centroid ``c_m`` (mean sample), ``sigma_m^2`` = the class's per-dimension variance (population,
``ddof=0``) averaged over the ``N_0`` dimensions, so ``sigma_m`` is a standard deviation,
``d(m, j) = ||c_m - c_j||_2``, ``d_min(m) = min_{j != m} d(m, j)`` and ``Q`` the standard Gaussian tail
probability::

    V_lower  = sum_m P(m) Q( sqrt( d_min(m)^2 / (4 sigma_m^2) ) )             lower bound on the error
    V_upper  = sum_m P(m) sum_{j != m} Q( sqrt( d(m, j)^2 / (4 sigma_m^2) ) )  union upper bound on the error
    V_dist   = (1 / N_L) sum_m sigma_m / d_min(m)
    V_thresh = number of unordered class pairs {m, j} with ||c_m - c_j||_1 / N_0 < threshold (0.05)

Edge cases: ``Q(d / (2 sigma))`` is ``Q(0) = 0.5`` when ``d = 0`` and ``0`` when ``d > 0 = sigma``;
``sigma_m / d_min(m)`` is ``inf`` when ``d_min(m) = 0``.

``compat="original"`` reproduces the original public script (``dataset_metrics.py`` of
souryadey/morse-dataset) with its defects, for comparison with published numbers:

* the variance ``sigma_m^2`` is used wherever the formulas need ``sigma_m`` (so ``V_lower`` uses
  ``Q(d_min / (2 sigma_m^2))`` and ``V_dist`` averages ``sigma_m^2 / d_min``);
* the inner sum of ``V_upper`` uses a stale loop index ``c`` (left over from the distance loop,
  ``c = N_L - 2``) instead of ``j``: every one of the ``N_L - 1`` terms is
  ``Q(d(m, N_L - 2) / (2 sigma_m^2))``, and for ``m = N_L - 2`` that is ``Q(0) = 0.5``;
* ``V_thresh`` counts each unordered pair once, like the correct version, but skips pairs whose
  centroids are identical (it only looks at non-zero ``L1`` distances).

``compat="paper"`` is the formulas as printed in the paper/talk: the correct ``sigma`` and ``V_upper``,
but ``V_thresh`` summed over ordered pairs ``(m, j), m != j``, i.e. every pair counted twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.special import ndtr

from predsparse.data.format import KEYS, labels_to_index
from predsparse.errors import InputError

COMPAT_MODES = ("original", "paper")
METRICS = ("V_lower", "V_upper", "V_dist", "V_thresh")


def Q(x: np.ndarray | float) -> np.ndarray:
    """Standard Gaussian tail probability ``P(Z > x)``."""
    return ndtr(-np.asarray(x, dtype=np.float64))


def class_statistics(dataset: Any) -> dict[str, np.ndarray]:
    """Per-class statistics over all splits: ``labels``, ``counts``, ``prior``, ``centroids``, ``var``.

    ``var[m]`` is the per-dimension population variance of class ``m`` averaged over dimensions.
    Only classes with at least one sample appear; features are flattened.
    """
    splits = [_get(dataset, "x" + s) for s in ("tr", "va", "te")]
    labels = [_get(dataset, "y" + s) for s in ("tr", "va", "te")]
    xs, ys = [], []
    n_feat = None
    for name, x, y in zip(("tr", "va", "te"), splits, labels):
        x = np.asarray(x)
        y = labels_to_index(np.asarray(y), "y" + name)
        if x.ndim < 1 or x.shape[0] != y.shape[0]:
            raise InputError(
                f"x{name} has {x.shape[0] if x.ndim else 0} samples but y{name} has {y.shape[0]}: "
                "features and labels of a split must have the same length"
            )
        if x.shape[0] == 0:
            continue
        if not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
            raise InputError(f"x{name} has dtype {x.dtype}: features must be numeric")
        x = x.reshape(x.shape[0], -1)
        if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
            raise InputError(f"x{name} contains NaN or infinite values: features must be finite")
        if n_feat is not None and x.shape[1] != n_feat:
            raise InputError(f"x{name} has {x.shape[1]} features per sample, not {n_feat}: splits must agree")
        n_feat = x.shape[1]
        xs.append(x)
        ys.append(y)
    if not xs or n_feat == 0:
        raise InputError("the dataset has no samples (or no features): metrics need data")
    present = np.unique(np.concatenate(ys))
    if present.size < 2:
        raise InputError(f"the dataset has {present.size} class(es): difficulty metrics need at least 2 classes")

    k = present.size
    # Group each split's rows by class once (stable sort), then work on contiguous slices.
    groups = []
    for x, y in zip(xs, ys):
        order = np.argsort(y, kind="stable")
        bounds = np.searchsorted(y[order], np.concatenate([present, [present[-1] + 1]]))
        groups.append((x, order, bounds))
    counts = np.zeros(k, dtype=np.int64)
    sums = np.zeros((k, n_feat), dtype=np.float64)
    for x, order, b in groups:
        for i in range(k):
            if b[i + 1] > b[i]:
                xm = x[order[b[i] : b[i + 1]]].astype(np.float64)
                counts[i] += xm.shape[0]
                sums[i] += xm.sum(axis=0)
    centroids = sums / counts[:, None]
    sq = np.zeros((k, n_feat), dtype=np.float64)
    for x, order, b in groups:
        for i in range(k):
            if b[i + 1] > b[i]:
                sq[i] += ((x[order[b[i] : b[i + 1]]].astype(np.float64) - centroids[i]) ** 2).sum(axis=0)
    var = (sq / counts[:, None]).mean(axis=1)
    return {
        "labels": present,
        "counts": counts,
        "prior": counts / counts.sum(),
        "centroids": centroids,
        "var": var,
    }


def difficulty(dataset: Any, compat: str | None = None, *, threshold: float = 0.05) -> dict[str, float]:
    """The four difficulty metrics ``V_lower, V_upper, V_dist, V_thresh`` of ``dataset``.

    ``dataset`` is a :class:`predsparse.data.format.Dataset`, a mapping (e.g. an open npz file) or any
    object with ``xtr, ytr, xva, yva, xte, yte``; labels may be integer or one-hot, images are
    flattened.  ``compat`` is ``None`` (the correct formulas), ``"original"`` (the original script, with
    its defects) or ``"paper"`` (ordered pair count for ``V_thresh``); see the module docstring.
    Higher values of every metric mean a harder dataset.
    """
    if compat is not None and compat not in COMPAT_MODES:
        raise InputError(f"compat={compat!r} is not valid: use None or one of {', '.join(COMPAT_MODES)}")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not np.isfinite(threshold):
        raise InputError(f"threshold={threshold!r} is not valid: it must be a finite number")
    st = class_statistics(dataset)
    c = st["centroids"]
    k, n0 = c.shape
    prior = st["prior"]
    d = np.empty((k, k))
    d1 = np.empty((k, k))
    for m in range(k):
        diff = c - c[m]
        d[m] = np.sqrt((diff**2).sum(axis=1))
        d1[m] = np.abs(diff).sum(axis=1) / n0
    d = np.minimum(d, d.T)  # exact symmetry (rounding)
    off = ~np.eye(k, dtype=bool)
    dmin = np.where(off, d, np.inf).min(axis=1)

    # The "spread" used as sigma: the standard deviation, or the variance in the original script.
    s = st["var"] if compat == "original" else np.sqrt(st["var"])

    v_lower = float((prior * _q_ratio(dmin, s)).sum())
    if compat == "original":
        stale = k - 2  # the original's loop index `c` after `for r in range(1, N): for c in range(r)`
        inner = (k - 1) * _q_ratio(d[:, stale], s)
    else:
        inner = np.where(off, _q_ratio(d, s[:, None]), 0.0).sum(axis=1)
    v_upper = float((prior * inner).sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(dmin > 0, s / np.where(dmin > 0, dmin, 1.0), np.inf)
    v_dist = float(ratio.mean())

    iu = np.triu_indices(k, 1)
    pair_d1 = np.minimum(d1, d1.T)[iu]
    if compat == "original":
        v_thresh = int(((pair_d1 > 0) & (pair_d1 < threshold)).sum())
    elif compat == "paper":
        v_thresh = 2 * int((pair_d1 < threshold).sum())
    else:
        v_thresh = int((pair_d1 < threshold).sum())
    return {"V_lower": v_lower, "V_upper": v_upper, "V_dist": v_dist, "V_thresh": v_thresh}


def _q_ratio(dist: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """``Q(dist / (2 spread))`` = ``Q(sqrt(dist^2 / (4 spread^2)))`` with ``Q(0/0) = 0.5`` and ``Q(x/0) = 0``."""
    dist = np.asarray(dist, dtype=np.float64)
    spread = np.broadcast_to(np.asarray(spread, dtype=np.float64), dist.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        arg = np.where(dist == 0, 0.0, np.where(spread > 0, dist / (2 * spread), np.inf))
    return Q(arg)


def _get(dataset: Any, key: str) -> Any:
    if isinstance(dataset, Mapping) or hasattr(dataset, "__getitem__"):
        try:
            return dataset[key]
        except (KeyError, TypeError, IndexError, ValueError):
            pass
    if hasattr(dataset, key):
        return getattr(dataset, key)
    raise InputError(f"the dataset has no {key!r}: a dataset needs all of {list(KEYS)}")
