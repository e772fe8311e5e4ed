"""Verdict functions of ``predsparse reproduce``: stored runs of a claim -> our figure, verdict, reason, figure.

Each takes the claim's rows (stored results merged with their run keys) and the manifest's ``params``
and returns ``{"ours", "verdict", "reason", "figure"}``; ``verdict`` is ``holds``, ``partly`` or ``does
not hold``; ``figure`` is ``{"series": {name: [(x, mean, std), ...]}, "x", "y", ...}``.  Accuracies are
in %, mean +- sample std over seeds.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from predsparse.experiments.store import canonical

# ---------------------------------------------------------------------------------------------------
# statistics and grouping


def ms(values: list[float], scale: float = 100.0) -> tuple[float, float]:
    """Mean and sample std (0 for one value) of ``values`` times ``scale``."""
    a = np.asarray(values, dtype=float) * scale
    return float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else 0.0


def fmt(m: tuple[float, float]) -> str:
    return f"{m[0]:.2f} +- {m[1]:.2f}"


def group(rows: list[dict[str, Any]], key: Any) -> dict[Any, list[dict[str, Any]]]:
    out: dict[Any, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(key(r), []).append(r)
    return out


def _rho1(r: dict[str, Any]) -> float:
    """Junction 1's density: from the record when it has it, else from the configured degrees."""
    if r.get("junction_densities"):
        return float(r["junction_densities"][0])
    net = r["network"]
    if net.get("kind") == "fc" or (net.get("d_out") is None and net.get("density") is None):
        return 1.0
    if net.get("d_out") is not None:
        return net["d_out"][0] / (r.get("layers") or net["layers"])[1]
    return float(net["density"][0] if isinstance(net["density"], list) else net["density"])


def _dout(r: dict[str, Any]) -> tuple[int, ...] | None:
    """The run's configured d_out_net (random patterns store per-neuron degrees, so not the result's)."""
    if r["network"].get("kind") == "fc" or r["network"].get("d_out") is None:
        return None
    return tuple(r["network"]["d_out"])


# ---------------------------------------------------------------------------------------------------
# verdicts: (rows, params) -> {"ours", "verdict", "reason", "figure"}; figure = {"series": {name: [(x, mean, std)]}, ...}


def density_table(rows: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
    """Accuracy vs rho_net per kind; holds when accuracy falls with density and clash-free keeps up with structured."""
    fc = ms([r["test_acc"] for r in rows if r["network"].get("kind") == "fc"])
    by = group([r for r in rows if r["network"].get("kind") != "fc"], lambda r: (r["network"]["kind"], _dout(r)))
    series: dict[str, list[tuple[float, float, float]]] = {}
    for (kind, _), rs in sorted(by.items(), key=lambda kv: -kv[1][0]["rho_net"]):
        series.setdefault(kind, []).append((100 * rs[0]["rho_net"], *ms([r["test_acc"] for r in rs])))
    from scipy.stats import spearmanr

    mono = {k: float(spearmanr([p[0] for p in s], [p[1] for p in s])[0]) for k, s in series.items() if len(s) > 2}
    cf, st = series.get("clash-free", []), series.get("structured", [])
    gaps = [a[1] - b[1] for a, b in zip(cf, st)]
    keeps = all(g > -max(0.5, 2 * b[2]) for g, b in zip(gaps, st))
    falls = all(v > 0.7 for v in mono.values())
    lowest = min((s[-1] for s in series.values()), key=lambda p: p[0], default=(0, 0, 0))
    ours = f"FC {fmt(fc)}; lowest rho {lowest[0]:.1f} %: " + ", ".join(f"{k} {s[-1][1]:.2f}" for k, s in series.items())
    verdict = "holds" if falls and keeps else "partly" if falls or keeps else "does not hold"
    reason = (
        f"accuracy {'falls' if falls else 'does not fall steadily'} with density (Spearman "
        + ", ".join(f"{k} {v:.2f}" for k, v in mono.items())
        + f"); clash-free minus structured "
        f"{min(gaps, default=0):+.2f}..{max(gaps, default=0):+.2f} points"
    )
    if params.get("rows"):
        seed_fc = params["fc"]
        ours_drop = [fc[0] - p[1] for p in st]
        seed_drop = [seed_fc - r[3] for r in params["rows"]]
        reason += (
            "; drop from FC (structured): ours "
            + "/".join(f"{d:.1f}" for d in ours_drop)
            + ", seed "
            + "/".join(f"{d:.1f}" for d in seed_drop)
        )
        series["seed structured (MNIST)"] = [(r[1], r[3] - seed_fc + fc[0], 0.0) for r in params["rows"]]
    return {
        "ours": ours,
        "verdict": verdict,
        "reason": reason,
        "figure": {"series": series, "hline": fc[0], "x": "rho_net %", "y": "test accuracy %", "logx": True},
    }


def twenty_percent(rows: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
    """FC accuracy minus the accuracy of the sparse network nearest ``target`` density, per sweep."""
    target, limit = params.get("target", 0.2), params.get("max_drop", 1.0)
    parts, drops, series = [], [], {}
    for sweep, rs in group(rows, lambda r: r["sweep"]).items():
        fc = ms([r["test_acc"] for r in rs if r["network"].get("kind") == "fc"])
        sparse = [r for r in rs if r["network"].get("kind") != "fc"]
        near = min(sparse, key=lambda r: abs(r["rho_net"] - target))
        best = max(
            (
                ms([r["test_acc"] for r in g])
                for k, g in group(
                    [r for r in sparse if _dout(r) == _dout(near)], lambda r: r["network"]["kind"]
                ).items()
            )
        )
        drops.append(fc[0] - best[0])
        parts.append(
            f"{sweep}: FC {fc[0]:.2f} vs {best[0]:.2f} at {100 * near['rho_net']:.1f} % (drop {fc[0] - best[0]:.2f})"
        )
        series[sweep] = [(100 * near["rho_net"], *best), (100.0, *fc)]
    ok = [d < limit for d in drops]
    verdict = "holds" if all(ok) else "partly" if any(ok) else "does not hold"
    return {
        "ours": "; ".join(parts),
        "verdict": verdict,
        "reason": f"drop {'<' if all(ok) else '>='} {limit} point in {sum(ok)} of {len(ok)} networks (best kind at ~{100 * target:.0f} %)",
        "figure": {"series": series, "x": "rho_net %", "y": "test accuracy %"},
    }


def later_junctions(rows: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
    """Equal-weight pairs: does the network with the later junctions denser win?"""
    by = group(rows, _dout)
    wins, parts, series = 0, [], {"later denser": [], "first denser": []}
    for late, early in params["pairs"]:
        a, b = ms([r["test_acc"] for r in by[tuple(late)]]), ms([r["test_acc"] for r in by[tuple(early)]])
        rho = 100 * by[tuple(late)][0]["rho_net"]
        wins += a[0] > b[0]
        parts.append(f"{tuple(late)} {a[0]:.2f} vs {tuple(early)} {b[0]:.2f}")
        series["later denser"].append((rho, *a))
        series["first denser"].append((100 * by[tuple(early)][0]["rho_net"], *b))
    n = len(params["pairs"])
    verdict = "holds" if wins == n else "partly" if wins else "does not hold"
    return {
        "ours": "; ".join(parts),
        "verdict": verdict,
        "reason": f"later-denser wins {wins} of {n} equal-weight pairs",
        "figure": {"series": series, "x": "rho_net %", "y": "test accuracy %", "logx": True, "points": True},
    }


def large_sparse(rows: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
    """Accuracy vs hidden width at equal parameters; the critical density is where wider stops helping."""
    by = sorted(group(rows, lambda r: r["network"]["layers"][1]).items())
    pts = [(h, ms([r["test_acc"] for r in rs]), _rho1(rs[0]), rs[0]["parameters"]) for h, rs in by]
    small = pts[0][1][0]
    peak = max(pts, key=lambda p: p[1][0])
    beats = [p for p in pts[1:] if p[1][0] > small]
    after = [p for p in pts if p[0] > peak[0]]
    falls = bool(after) and after[-1][1][0] < peak[1][0] - peak[1][1]
    ours = ", ".join(f"H={h}: {m[0]:.2f} ({100 * d:.1f} %)" for h, m, d, _ in pts)
    if peak is pts[0]:
        crit = "the small dense network is the best of all"
    elif falls:
        crit = f"critical density about {100 * peak[2]:.1f} % (peak at H={peak[0]}, lower density loses)"
    else:
        crit = f"no critical density down to {100 * pts[-1][2]:.2f} %"
    verdict = "holds" if beats and falls else "partly" if beats else "does not hold"
    return {
        "ours": ours,
        "verdict": verdict,
        "parameters": [p[3] for p in pts],
        "reason": f"{len(beats)} of {len(pts) - 1} wider sparse nets beat the small dense one ({small:.2f}); {crit}",
        "figure": {
            "series": {"equal parameters": [(h, *m) for h, m, _, _ in pts]},
            "hline": small,
            "x": "hidden width H",
            "y": "test accuracy %",
            "logx": True,
        },
    }


def l2_falls(rows: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
    """Per density, the L2 with the best mean validation accuracy; holds if it falls (weakly) with density."""
    by = group(rows, lambda r: round(r["rho_net"], 3))
    chosen, series = [], {}
    for rho, rs in sorted(by.items(), reverse=True):
        per = {
            l2: ms([r["best_val_acc"] for r in g]) for l2, g in group(rs, lambda r: r["train"].get("l2", 0.0)).items()
        }
        best = max(per, key=lambda k: per[k][0])
        spread = max(v[0] for v in per.values()) - min(v[0] for v in per.values())
        chosen.append((rho, best, spread, per[best][1]))
        series[f"rho {100 * rho:.0f} %"] = [(max(l2, 1e-6), *m) for l2, m in sorted(per.items())]
    l2s = [c[1] for c in chosen]
    weakly = all(a >= b for a, b in itertools.pairwise(l2s))
    resolved = all(c[2] > 2 * c[3] for c in chosen)
    verdict = (
        "holds"
        if weakly and l2s[0] > l2s[-1] and resolved
        else "partly"
        if weakly and l2s[0] > l2s[-1]
        else "does not hold"
    )
    return {
        "ours": ", ".join(f"{100 * r:.0f} %: {l2:g}" for r, l2, _, _ in chosen),
        "verdict": verdict,
        "reason": f"chosen L2 {'falls' if weakly and l2s[0] > l2s[-1] else 'does not fall'} with density; validation "
        f"spread across L2 {', '.join(f'{c[2]:.2f}' for c in chosen)} points vs std over seeds {', '.join(f'{c[3]:.2f}' for c in chosen)}",
        "figure": {"series": series, "x": "L2 (0 drawn at 1e-6)", "y": "validation accuracy %", "logx": True},
    }


def redundancy(rows: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
    """Drop from each input's own FC accuracy vs junction-1 density; the knee is the highest density losing > ``drop``."""
    key = params["group"]
    sec, _, sub = key.partition(".")
    series, knee, mean_drop = {}, {}, {}
    for g, rs in group(rows, lambda r: canonical(r[sec].get(sub) or 0)).items():
        pts = sorted(
            ((_rho1(r2[0]), ms([r["test_acc"] for r in r2])) for r2 in group(rs, _rho1).values()), reverse=True
        )
        fc = pts[0][1][0]
        series[g] = [(100 * d, *m) for d, m in pts]
        knee[g] = max([d for d, m in pts if fc - m[0] > params.get("drop", 1.0)], default=0.0)
        mean_drop[g] = float(np.mean([fc - m[0] for _, m in pts[1:]]))
    red, less = canonical(params["redundant"]), canonical(params["less_redundant"])
    earlier = knee[less] >= knee[red] and mean_drop[less] > mean_drop[red]
    verdict = (
        "holds"
        if earlier and knee[less] > knee[red]
        else "partly"
        if earlier or knee[less] > knee[red]
        else "does not hold"
    )

    def where(g: str) -> str:
        return (
            f"first loses > {params.get('drop', 1.0)} point at {100 * knee[g]:.1f} %"
            if knee[g]
            else f"never loses > {params.get('drop', 1.0)} point"
        )

    return {
        "ours": "; ".join(f"{g}: {where(g)}, mean drop {mean_drop[g]:.2f}" for g in (red, less)),
        "verdict": verdict,
        "reason": f"less redundant input ({less}) {where(less)}, {red} {where(red)}; "
        f"{less} loses {mean_drop[less] - mean_drop[red]:+.2f} points more on average",
        "figure": {"series": series, "x": "junction-1 density %", "y": "test accuracy %", "logx": True},
    }


def random_behind(rows: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
    """Random minus the better of structured/clash-free, at the lowest and the highest density."""
    by = group([r for r in rows if r["network"].get("kind") != "fc"], lambda r: round(r["rho_net"], 4))
    gaps = []
    for rho, rs in sorted(by.items()):
        k = {kind: ms([r["test_acc"] for r in g]) for kind, g in group(rs, lambda r: r["network"]["kind"]).items()}
        other = max((v for n, v in k.items() if n != "random"), key=lambda v: v[0])
        gaps.append((100 * rho, k["random"][0] - other[0], math.hypot(k["random"][1], other[1])))
    low, high = gaps[0], gaps[-1]
    behind = low[1] < -low[2] and low[1] < high[1]
    verdict = "holds" if behind else "partly" if low[1] < 0 and low[1] < high[1] else "does not hold"
    return {
        "ours": f"random - best other: {low[1]:+.2f} at {low[0]:.1f} %, {high[1]:+.2f} at {high[0]:.1f} %",
        "verdict": verdict,
        "reason": f"at the lowest density random is {abs(low[1]):.2f} points {'behind' if low[1] < 0 else 'ahead'} "
        f"(combined std {low[2]:.2f}); seed: 1.1 to 1.3 behind at 2.2 %",
        "figure": {
            "series": {"random - best other": [(g[0], g[1], g[2]) for g in gaps]},
            "hline": 0.0,
            "x": "rho_net %",
            "y": "accuracy difference (points)",
            "logx": True,
        },
    }


def morse_ladder(rows: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
    """Accuracy per Morse variant and the Pearson r of each difficulty metric with it (correct and original formulas)."""
    from scipy.stats import pearsonr

    from predsparse.morse import difficulty, generate

    labels = params["labels"]
    by = group(rows, lambda r: canonical(r["dataset"]["morse"]))
    variants = sorted(by, key=lambda k: min(r["order"] for r in by[k]))
    accs, metrics = [], {"": [], "original": []}
    for k in variants:
        ds = generate(None, seed=0, **by[k][0]["dataset"]["morse"])  # the data every run of this variant saw
        metrics[""].append(difficulty(ds))
        metrics["original"].append(difficulty(ds, compat="original"))
        accs.append(ms([r["test_acc"] for r in by[k]]))
    mean = [a[0] for a in accs]
    r = {
        f"{m}{' (original)' if mode else ''}": float(pearsonr([x[m] for x in metrics[mode]], mean)[0])
        for mode in metrics
        for m in params["published_r"]
    }
    tol = params.get("tolerance", 0.1)
    close = [abs(r[m] - p) <= tol for m, p in params["published_r"].items()]
    close_orig = [abs(r[m + " (original)"] - p) <= tol for m, p in params["published_r"].items()]
    neg = all(v < 0 for v in r.values())
    verdict = "holds" if (all(close) or all(close_orig)) else "partly" if neg else "does not hold"
    per = {labels[i] if i < len(labels) else str(i): a for i, a in enumerate(accs)}
    ref = "; ".join(f"{k}: ours {per[k][0]:.2f} vs {v}" for k, v in params.get("published_acc", {}).items() if k in per)
    return {
        "ours": ", ".join(f"{k} {v[0]:.1f}" for k, v in per.items())
        + "; r "
        + ", ".join(f"{k} {v:.2f}" for k, v in r.items()),
        "verdict": verdict,
        "correlations": r,
        "accuracy": per,
        "metrics": {  # per variant, the four metrics with the correct formulas and the original script's
            label: {
                **{m: float(metrics[""][i][m]) for m in params["published_r"]},
                **{f"{m} (original)": float(metrics["original"][i][m]) for m in params["published_r"]},
            }
            for i, label in enumerate(per)
        },
        "reason": f"r within {tol} of published for {sum(close)}/4 (correct) and {sum(close_orig)}/4 (original formulas); {ref}",
        "figure": {
            "series": {"test accuracy": [(i, *a) for i, a in enumerate(accs)]},
            "x": "Morse variant (1.0 .. 4.4)",
            "y": "test accuracy %",
            "points": True,
        },
    }


def scatter(result: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """Pearson r of network scatter with accuracy per dataset of the scatter study."""
    summ = result.get("summary", {})
    if not summ:
        return {"ours": "-", "verdict": "not run", "reason": "the scatter study has no records", "figure": None}
    r = {ds: v["all"]["pearson"] for ds, v in summ.items()}
    pos = [v is not None and v > 0.3 for v in r.values()]
    # one point per dataset and kind: mean scatter before training, test accuracy after (mean +- std)
    series: dict[str, list[tuple[float, float, float]]] = {}
    for (ds, _kind), rs in sorted(group(result.get("records", []), lambda x: (x["dataset"], x["kind"])).items()):
        series.setdefault(ds, []).append((float(np.mean([x["scatter"] for x in rs])), *ms([x["test_acc"] for x in rs])))
    verdict = "holds" if all(pos) else "partly" if any(pos) else "does not hold"
    return {
        "ours": ", ".join(
            f"{ds}: r {v if v is None else round(v, 2)} (n {summ[ds]['all']['n']})" for ds, v in r.items()
        ),
        "verdict": verdict,
        "reason": f"scatter correlates positively (r > 0.3) on {sum(pos)} of {len(pos)} datasets; "
        f"filter threshold {result['threshold']['threshold']:.2f}",
        "figure": {"series": series, "x": "network scatter (before training)", "y": "test accuracy %", "points": True}
        if series
        else None,
    }


VERDICTS = {
    f.__name__: f
    for f in (
        density_table,
        twenty_percent,
        later_junctions,
        large_sparse,
        l2_falls,
        redundancy,
        random_behind,
        morse_ladder,
        scatter,
    )
}
