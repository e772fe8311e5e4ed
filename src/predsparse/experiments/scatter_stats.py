"""Statistics of the scatter study: correlations of scatter with accuracy, the threshold below which
accuracy drops, and the per-kind summary."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from predsparse.errors import InputError


def correlations(x: Sequence[float], y: Sequence[float]) -> dict[str, Any]:
    """Pearson and Spearman correlation with p-values and the sample size (NaN when undefined)."""
    from scipy import stats

    xa, ya = np.asarray(x, float), np.asarray(y, float)
    n = int(xa.size)
    out: dict[str, Any] = {
        "n": n,
        "pearson": math.nan,
        "pearson_p": math.nan,
        "spearman": math.nan,
        "spearman_p": math.nan,
    }
    if n >= 3 and np.ptp(xa) > 0 and np.ptp(ya) > 0:
        r = stats.pearsonr(xa, ya)
        s = stats.spearmanr(xa, ya)
        out.update(
            pearson=float(r.statistic),
            pearson_p=float(r.pvalue),
            spearman=float(s.statistic),
            spearman_p=float(s.pvalue),
        )
    return out


def threshold_for(records: Sequence[dict[str, Any]], tol: float = 0.02, key: str = "scatter") -> dict[str, Any]:
    """The highest threshold that rejects no pattern that trained well, for one dataset's records.

    "Trained well" means test accuracy at least ``reference - tol``, the reference being the median
    test accuracy of the ordinary kinds. The threshold is the lowest scatter among those patterns
    (rounded down to 0.01), so rejecting below it would have lost none of them; the result also says
    how many of the patterns that trained badly it rejects. ``key`` names the scatter to use: a record
    field (``"scatter"``) or one entry of the vector (``"vector.net.f"``).
    """
    ordinary = [r["test_acc"] for r in records if not r["bad"]]
    if not ordinary:
        raise InputError("no ordinary patterns in the records: the threshold needs a reference accuracy")
    ref = float(np.median(ordinary))
    good = [r for r in records if r["test_acc"] >= ref - tol]
    poor = [r for r in records if r["test_acc"] < ref - tol]
    val = (lambda r: r["vector"][key[7:]]) if key.startswith("vector.") else (lambda r: r[key])
    thr = math.floor(min(val(r) for r in good) * 100) / 100 if good else 0.0
    rejected = [r for r in poor if val(r) < thr]
    return {
        "threshold": thr,
        "reference_acc": ref,
        "tol": tol,
        "good": len(good),
        "poor": len(poor),
        "poor_rejected": len(rejected),
        "good_rejected": 0,
    }


def summarise(records: Sequence[dict[str, Any]], tol: float = 0.02) -> dict[str, Any]:
    """Per dataset: correlations (all patterns and ordinary only, each scatter variant), threshold."""
    out: dict[str, Any] = {}
    for ds in sorted({r["dataset"] for r in records}):
        rs = [r for r in records if r["dataset"] == ds]
        ords = [r for r in rs if not r["bad"]]
        acc = [r["test_acc"] for r in rs]
        entry: dict[str, Any] = {
            "all": correlations([r["scatter"] for r in rs], acc),
            "ordinary_only": correlations([r["scatter"] for r in ords], [r["test_acc"] for r in ords]),
            "threshold": threshold_for(rs, tol),
            "threshold_net_f": threshold_for(rs, tol, key="vector.net.f") if "net.f" in rs[0]["vector"] else None,
            "components": {name: correlations([r["vector"][name] for r in rs], acc) for name in rs[0]["vector"]},
            "by_kind": {
                k: {
                    "n": len(g),
                    "scatter_mean": float(np.mean([r["scatter"] for r in g])),
                    "test_acc_mean": float(np.mean([r["test_acc"] for r in g])),
                    "test_acc_std": float(np.std([r["test_acc"] for r in g])),
                }
                for k in dict.fromkeys(r["kind"] for r in rs)
                for g in [[r for r in rs if r["kind"] == k]]
            },
        }
        if "scatter_image" in rs[0]:
            entry["all_image_windows"] = correlations([r["scatter_image"] for r in rs], acc)
            entry["ordinary_only_image_windows"] = correlations(
                [r["scatter_image"] for r in ords], [r["test_acc"] for r in ords]
            )
        out[ds] = entry
    return out
