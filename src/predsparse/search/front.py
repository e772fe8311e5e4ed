"""Budget ladders and the retrained Pareto front, compared with Deep-n-Cheap's published networks.

A *budget ladder* is one study per parameter budget (``<study>-<budget>``), each spending its budget
(:class:`~predsparse.search.space.SearchSpace` ``max_params``); their candidates together give one Pareto
front. *Retraining the front* trains every front point again with more epochs and several seeds through
the sweep engine (stored, resumable, shared by ``--jobs`` workers), so the table reports mean +- std of
validation and test accuracy instead of one search-time number.
"""

from __future__ import annotations

import statistics
from dataclasses import replace
from typing import Any

from predsparse.data.format import Dataset
from predsparse.errors import InputError
from predsparse.search.runner import SearchSettings, pareto_front, run_search
from predsparse.search.space import SearchSpace

# Deep-n-Cheap (Dey, Kanala, Chugg, Beerel; arXiv 2004.00974), Fashion-MNIST MLPs found by its search, as
# quoted in issue 14: (label, trainable parameters, accuracy %, which accuracy). None of them is sparse.
DEEP_N_CHEAP = [
    ("DnC w_c=0", 317_000, 90.53, "best val"),
    ("DnC w_c=0.1", 50_000, 89.35, "test (89.1-89.6)"),
    ("DnC w_c=1,10", 7_900, 86.06, "best val"),
    ("DnC w_c=1,10", 7_900, 84.9, "test"),
]
# issue 14's goals: (parameter budget, validation accuracy to reach)
GOALS = [(150_000, 0.905), (25_000, 0.895), (4_000, 0.86)]


def budget_ladder(
    dataset: Dataset, space: SearchSpace, settings: SearchSettings, budgets: list[int], *, progress: bool = True
) -> dict[str, Any]:
    """Run (or resume) one study per budget, then one summary over all their candidates."""
    if not budgets or any(b < 1 for b in budgets):
        raise InputError(f"parameter budgets {budgets} must be a non-empty list of numbers >= 1")
    parts = []
    for b in budgets:
        s = run_search(
            dataset,
            replace(space, max_params=b),
            replace(settings, study_name=f"{settings.study_name}-{b}"),
            progress=progress,
        )
        for row in s["candidates"]:
            row["study"] = s["study"]
        parts.append(s)
    rows = [r for s in parts for r in s["candidates"]]
    front = pareto_front(rows)
    counters = ("trials", "complete", "pruned", "filtered_by_scatter", "over_budget", "epochs_saved_by_pruning")
    out: dict[str, Any] = {k: sum(s[k] for s in parts) for k in counters}
    out.update(
        study=settings.study_name,
        studies=[s["study"] for s in parts],
        budgets=budgets,
        storage=parts[0]["storage"],
        objective=parts[0]["objective"],
        max_parameters=max(budgets),
        scatter_redraws=sum(s["scatter_redraws"] for s in parts),
        wall_seconds_this_call=sum(s["wall_seconds_this_call"] for s in parts),
        jobs=max(s["jobs"] for s in parts),
        best=[min(s["best"], key=lambda r: r["value"]) for s in parts if s["best"]],
        pareto_front=front,
        candidates=rows,
    )
    return out


def dataset_section(
    name: str, data_seed: int, generator: dict[str, Any] | None = None, **options: Any
) -> dict[str, Any]:
    """The sweep ``dataset`` section that loads what the search's dataset options loaded; ``generator``: a
    synthetic dataset's parameters (``--param``)."""
    section = {"name": name, "seed": data_seed, **{k: v for k, v in options.items() if v is not None}}
    if generator:
        section[name.lower().partition(":")[0]] = generator
    return section


PICKS = ("spread", "best")


def choose_points(
    front: list[dict[str, Any]], budgets: list[int], limit: int | None, pick: str = "spread"
) -> list[dict[str, Any]]:
    """At most ``limit`` front points (all when None), in order of parameters. ``pick="spread"``: the most
    accurate one within each budget first, then points spread evenly over the rest of the front;
    ``"best"``: the ``limit`` points of highest validation accuracy (a focused retraining near a budget)."""
    if pick not in PICKS:
        raise InputError(f"retrain pick {pick!r} is not one of {', '.join(PICKS)}")
    if limit is None or limit >= len(front):
        return list(front)
    if pick == "best":
        top = sorted(range(len(front)), key=lambda i: -front[i]["val_acc"])[:limit]
        return [front[i] for i in sorted(top)]
    chosen: list[int] = []
    for b in sorted(budgets, reverse=True):
        within = [i for i, r in enumerate(front) if r["parameters"] <= b]
        if within:
            chosen.append(max(within, key=lambda i: front[i]["val_acc"]))
    step = (len(front) - 1) / max(1, limit - 1)
    for k in range(limit):
        chosen.append(round(k * step))
    keep = list(dict.fromkeys(chosen))[:limit]
    return [front[i] for i in sorted(keep)]


def retrain_sweep(rows: list[dict[str, Any]], dataset: dict[str, Any], epochs: int, seeds: int, name: str):  # noqa: ANN201
    """A sweep config with one variant per front point: its network and training settings, ``epochs``
    epochs, seeds ``seed, seed + 1, ...`` (the first repeats the search's own run of the candidate)."""
    from predsparse.experiments.sweep import SweepConfig

    variants = []
    for r in rows:
        fc = r["kind"] == "fc"
        variants.append(
            {
                "network.layers": list(r["layers"]),
                "network.d_out": None if fc else list(r["d_out"]),
                "network.kind": r["kind"],
                **({"network.window": r["window"]} if r["kind"] == "local" else {}),
                "network.conv": list(r.get("conv") or []),
                "network.activation": r.get("activation", "relu"),
                "network.dropout": r["dropout"],
                "train.epochs": epochs,
                "train.batch_size": r["batch_size"],
                "train.lr": r["lr"],
                "train.l2": r["l2"],
                "train.lr_schedule": r.get("lr_schedule", "constant"),
                # only when used, so retraining stores written before these options existed still match
                **({"train.augment": r["augment"]} if r.get("augment", "none") != "none" else {}),
                **({"train.label_smoothing": r["label_smoothing"]} if r.get("label_smoothing", 0) else {}),
                "seeds": [int(r["seed"]) + k for k in range(seeds)],
            }
        )
    return SweepConfig(name=name, base={"dataset": dataset, "network": {}, "train": {}}, variants=variants)


def retrain_front_points(
    rows: list[dict[str, Any]],
    dataset: dict[str, Any],
    *,
    epochs: int,
    seeds: int,
    store_path: str,
    name: str,
    jobs: int | str = 1,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Retrain ``rows`` (front points) ``seeds`` times for ``epochs`` epochs, stored in ``store_path``
    (a rerun resumes); returns one row per point with mean and std of its accuracies."""
    from predsparse.experiments.store import ResultStore, canonical
    from predsparse.experiments.sweep import DEFAULTS, expand, run_sweep

    if epochs < 1 or seeds < 1:
        raise InputError(f"retrain epochs {epochs} and seeds {seeds} must both be >= 1")
    cfg = retrain_sweep(rows, dataset, epochs, seeds, name)
    store = ResultStore(store_path)
    try:
        run_sweep(cfg, store, progress=progress, jobs=jobs)
        wanted = {canonical(r["varied"]) for r in expand(cfg)}
        by_point: dict[str, list[dict[str, Any]]] = {}
        for row in store.rows(name):
            rec = row["result"]
            k = canonical(rec["varied"])
            if k in wanted:
                by_point.setdefault(k, []).append(rec)
    finally:
        store.close()
    out = []
    for r, variant in zip(rows, cfg.variants):
        # the run's record names every key some variant sets, with the default where this one does not (expand)
        key = canonical({k: variant.get(k, DEFAULTS.get(k)) for k in cfg.varied})
        recs = by_point.get(key, [])
        out.append({**r, **aggregate(recs, epochs)})
    return out


def _mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def aggregate(recs: list[dict[str, Any]], epochs: int) -> dict[str, Any]:
    """Mean and std of a point's retrained runs, and how many were still improving at the last epoch."""
    val_mean, val_std = _mean_std([r["best_val_acc"] for r in recs])
    test_mean, test_std = _mean_std([r["test_acc"] for r in recs])
    return {
        "retrain_epochs": epochs,
        "retrain_seeds": sorted(r["seed"] for r in recs),
        "retrain_val_mean": val_mean,
        "retrain_val_std": val_std,
        "retrain_test_mean": test_mean,
        "retrain_test_std": test_std,
        "retrain_best_epochs": [r["best_epoch"] for r in recs],
        "still_improving": sum(1 for r in recs if r["best_epoch"] == epochs),
    }


def goals_met(rows: list[dict[str, Any]], key: str = "retrain_val_mean") -> list[dict[str, Any]]:
    """For each goal of issue 14: the cheapest point within the budget that reaches the accuracy, if any."""
    out = []
    for budget, acc in GOALS:
        fits = [r for r in rows if r["parameters"] <= budget and r.get(key, -1) >= acc]
        best = min(fits, key=lambda r: r["parameters"]) if fits else None
        within = [r for r in rows if r["parameters"] <= budget and key in r]
        top = max(within, key=lambda r: r[key]) if within else None
        out.append({"budget": budget, "accuracy": acc, "met": best is not None, "point": best or top})
    return out


def plot_front_vs_dnc(rows: list[dict[str, Any]], candidates: list[dict[str, Any]], path: str) -> None:
    """Accuracy against parameters: every candidate (search-time validation), the retrained front (test and
    validation, mean +- std) and Deep-n-Cheap's networks."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from predsparse.atomic import save_figure

    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.scatter(
        [c["parameters"] for c in candidates],
        [100 * c["val_acc"] for c in candidates],
        s=8,
        color="0.75",
        label="search candidates (val)",
    )
    done = [r for r in rows if "retrain_val_mean" in r]
    for key, fmt, label in (("val", "o-", "retrained front, val"), ("test", "s-", "retrained front, test")):
        ax.errorbar(
            [r["parameters"] for r in done],
            [100 * r[f"retrain_{key}_mean"] for r in done],
            yerr=[100 * r[f"retrain_{key}_std"] for r in done],
            fmt=fmt,
            capsize=3,
            label=label,
        )
    for label, params, acc, which in DEEP_N_CHEAP:
        ax.scatter([params], [acc], marker="*", s=140, color="k", zorder=5)
        ax.annotate(f"{label}\n({which})", (params, acc), fontsize=7, xytext=(4, -12), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("trainable parameters (weights that exist + biases)")
    ax.set_ylabel("accuracy (%)")
    lo = min([100 * c["val_acc"] for c in candidates if c["val_acc"] > 0.8] + [84.0])
    # CNN front ends pass 92 %: the top follows the best candidate or retrained point
    tops = [100 * c["val_acc"] for c in candidates] + [
        100 * (r["retrain_val_mean"] + r["retrain_val_std"]) for r in done
    ]
    ax.set_ylim(lo - 0.5, max([92.0] + [t + 0.5 for t in tops]))
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)
