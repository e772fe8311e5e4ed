"""Statistics of the scatter study: correlations of scatter with accuracy, the threshold below which
accuracy drops, and the per-kind summary."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from predsparse.errors import InputError

#: Thresholds measured by the reduced study (``docs/patterns.md``), used when no study results are given:
#: on the network scatter (minimum of the vector, the spec's summary) and on its ``net.f`` entry (output
#: neurons against input windows through the path product), the better predictor in that study.
DEFAULT_THRESHOLD = 0.08
DEFAULT_THRESHOLD_NET_F = 0.51


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


def recommended_threshold(
    results: str | Path | dict[str, Any] | None = None, *, tol: float | None = None, entry: str = "min"
) -> float:
    """The scatter below which a search may reject a pattern before training.

    ``results``: a study result (dict) or its JSON file (``scatter_study.json`` or ``threshold.json``);
    ``None`` gives the defaults measured by the reduced study. With several datasets the lowest (most
    permissive) per-dataset threshold is returned. ``tol`` re-derives it from the records.
    ``entry="min"`` thresholds the network scatter (minimum of the vector); ``entry="net.f"`` the
    vector's ``net.f`` entry (compare it with ``network_scatter(...).vector["net.f"]``).
    """
    if entry not in ("min", "net.f"):
        raise InputError(f"threshold entry {entry!r} is not 'min' or 'net.f'")
    if results is None:
        return DEFAULT_THRESHOLD if entry == "min" else DEFAULT_THRESHOLD_NET_F
    if not isinstance(results, dict):
        path = Path(results)
        if not path.is_file():
            raise InputError(f"{path}: no such study result file")
        try:
            results = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: not valid JSON ({exc})") from None
    assert isinstance(results, dict)
    field_name = "threshold" if entry == "min" else "threshold_net_f"
    if isinstance(results.get("threshold"), (int, float)):  # threshold.json: the thresholds at top level
        results = {"threshold": results}
    stored = results.get("threshold")
    if tol is not None or not isinstance(stored, dict) or stored.get(field_name) is None:
        recs = results.get("records")
        if not recs:
            raise InputError(f"study result has neither a {field_name} nor records to derive one from")
        tol = results.get("config", {}).get("tol", 0.02) if tol is None else tol
        key = "scatter" if entry == "min" else "vector.net.f"
        per = [
            threshold_for([r for r in recs if r["dataset"] == d], tol, key)["threshold"]
            for d in {r["dataset"] for r in recs}
        ]
        return float(min(per))
    return float(stored[field_name])
