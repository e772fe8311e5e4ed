"""Model search with Optuna: Deep-n-Cheap's penalised objective, or a true multi-objective Pareto search.

Objective (minimised): ``log10(f_p + w_c f_c)`` with ``f_p = 1 - best validation accuracy`` and
``f_c = parameters / parameters of the largest model in the space``. Candidates whose scatter is
below a threshold are re-drawn (new pattern seed) before any training, and unpromising trials are
pruned from their per-epoch validation accuracy. Studies live in Optuna storage (SQLite by default,
a PostgreSQL URL for many workers), so a search resumes with the same command.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from predsparse.claims import display_url
from predsparse.data.format import Dataset
from predsparse.errors import InputError
from predsparse.nn import input_shape_for
from predsparse.search.space import InfeasibleError, SearchSpace, sample
from predsparse.train import TrainConfig
from predsparse.train.run import run
from predsparse.train.spec import ModelSpec, default_z, draw_network

PRUNERS = ("hyperband", "halving", "median")


@dataclass
class SearchSettings:
    """How to search: trials, objective, epochs per candidate, filters, storage.

    ``pruner``: how unpromising candidates stop early (``prune``) on their per-epoch validation accuracy:
    Hyperband (successive halving over several brackets, from 1 epoch to ``epochs``), plain successive
    halving, or the median rule. ``startup_trials``: random candidates before TPE models the results;
    ``population``: NSGA-II's generation size (``multi_objective``), small so it leaves the random first
    generation early."""

    trials: int = 20
    w_c: float = 0.0
    multi_objective: bool = False
    epochs: int = 5
    seed: int = 0
    scatter_threshold: float | None = None
    scatter_redraws: int = 5
    matter_in: int | None = None
    matter_out: int | None = None
    prune: bool = True
    pruner: str = "hyperband"
    startup_trials: int = 10
    population: int = 16
    storage: str = "sqlite:///runs/search.db"
    study_name: str = "predsparse-search"
    timeout: float | None = None
    jobs: int | str = 1
    heartbeat: int = 10
    max_trials: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.trials < 1:
            raise InputError(f"trials {self.trials} must be >= 1")
        if self.epochs < 1:
            raise InputError(f"epochs {self.epochs} must be >= 1")
        if self.heartbeat < 1:
            raise InputError(f"heartbeat {self.heartbeat} must be >= 1 second")
        if self.max_trials is not None and self.max_trials < self.trials:
            raise InputError(f"max_trials {self.max_trials} must be >= trials {self.trials}")
        if not (math.isfinite(self.w_c) and self.w_c >= 0):
            raise InputError(f"w_c {self.w_c} must be a finite number >= 0")
        if self.pruner not in PRUNERS:
            raise InputError(f"pruner {self.pruner!r} is not one of {', '.join(PRUNERS)}")
        if self.startup_trials < 0:
            raise InputError(f"startup trials {self.startup_trials} must be >= 0")
        if self.population < 2:
            raise InputError(f"NSGA-II population {self.population} must be >= 2")
        if self.timeout is not None and not (math.isfinite(self.timeout) and self.timeout > 0):
            raise InputError(f"timeout {self.timeout} must be a positive number of seconds")
        if self.scatter_threshold is not None and not 0 <= self.scatter_threshold <= 1:
            raise InputError(f"scatter threshold {self.scatter_threshold} must lie in [0, 1]")


def _optuna() -> Any:
    import warnings

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # heartbeats and their retry callback are marked experimental; they are what makes killed workers safe
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna


def make_storage(settings: SearchSettings):  # noqa: ANN201 - optuna.storages.RDBStorage
    """The study's storage with heartbeats: a trial whose worker stops beating for ``3 x heartbeat`` seconds
    is failed and queued again with the same parameters (a killed worker's trial is retried)."""
    optuna = _optuna()
    import sqlalchemy as sa
    from optuna.storages import RetryHeartbeatStaleTrialCallback

    url = settings.storage
    if url.startswith("sqlite:///"):
        from pathlib import Path

        try:
            Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"--storage {url!r}: cannot create its directory ({exc.strerror})") from None
    if "://" not in url:
        raise InputError(f"--storage {url!r} is not a database URL (sqlite:///FILE or postgresql://USER@HOST/DB)")
    # timeout: several SQLite writers wait for each other instead of failing with "database is locked"
    kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    try:
        from predsparse.claims import db_url

        return optuna.storages.RDBStorage(
            db_url(url),
            engine_kwargs=kwargs,
            heartbeat_interval=settings.heartbeat,
            grace_period=3 * settings.heartbeat,
            heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=3),
        )
    except ImportError as exc:
        raise InputError(f"--storage {url!r} needs a driver that is not installed ({exc})") from None
    except (sa.exc.SQLAlchemyError, ValueError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise InputError(f"--storage {_safe(url)}: cannot open ({reason})") from None


def _safe(url: str) -> str:
    return display_url(url) if "://" in url else repr(url)


def sampler_seed(seed: int, worker: int) -> int:
    """Worker 0 keeps ``seed`` (a single search repeats earlier results); others get an independent stream."""
    return seed if worker == 0 else int(np.random.SeedSequence([seed, worker]).generate_state(1)[0])


def register_worker(storage, settings: SearchSettings) -> int:  # noqa: ANN001
    """A worker number never handed out before for this study (0 for the first worker, then 1, 2, ...), so
    parallel workers and reruns draw different candidates."""
    from predsparse.claims import Claims, new_owner

    return Claims(storage.engine).register(f"search-worker:{settings.study_name}", new_owner())


def make_study(settings: SearchSettings, *, worker: int = 0, storage=None):  # noqa: ANN001, ANN201 - optuna.Study
    """Create or reopen (resume) the study in its storage, with worker ``worker``'s sampler stream."""
    optuna = _optuna()
    storage = storage or make_storage(settings)
    seed = sampler_seed(settings.seed, worker)
    try:
        if settings.multi_objective:
            return optuna.create_study(
                study_name=settings.study_name,
                storage=storage,
                directions=["maximize", "minimize", "minimize"],
                sampler=optuna.samplers.NSGAIISampler(seed=seed, population_size=settings.population),
                load_if_exists=True,
            )
        return optuna.create_study(
            study_name=settings.study_name,
            storage=storage,
            direction="minimize",
            # constant_liar: running trials of other workers count as bad, so workers spread out;
            # multivariate + group: widths, shares and densities are modelled jointly, per depth
            sampler=optuna.samplers.TPESampler(
                seed=seed,
                constant_liar=True,
                multivariate=True,
                group=True,
                n_startup_trials=settings.startup_trials,
            ),
            pruner=make_pruner(settings),
            load_if_exists=True,
        )
    except ValueError as exc:  # e.g. an existing study with other directions
        raise InputError(f"study {settings.study_name!r} in {settings.storage}: {exc}") from None


def make_pruner(settings: SearchSettings):  # noqa: ANN201 - optuna.pruners.BasePruner
    """The pruner ``settings`` names (epochs are the resource; none when pruning is off)."""
    optuna = _optuna()
    if not settings.prune:
        return optuna.pruners.NopPruner()
    if settings.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=1)
    if settings.pruner == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=settings.epochs, reduction_factor=3)


def run_search(
    dataset: Dataset, space: SearchSpace, settings: SearchSettings, *, progress: bool = True, emit: Any = None
) -> dict[str, Any]:
    """Run (or continue) the search until the study holds ``settings.trials`` complete trials; returns best
    candidates, Pareto front and the search's cost. ``settings.jobs`` workers run here (1) or in processes.

    (With ``emit`` set this call is one worker: it runs trials and returns its counters.)"""
    from predsparse.patterns.scatter import scatter

    optuna = _optuna()
    space.check_data(dataset.feature_shape)
    n_in, n_out = dataset.num_features, dataset.num_classes
    # the image's shape, for conv front ends and local first junctions
    input_shape = input_shape_for(dataset.feature_shape) if space.max_conv or "local" in space.kinds else None
    max_params = space.max_parameters(n_in, n_out, input_shape)
    if emit is None:  # the caller's process: run the workers here or in --jobs processes, then summarise
        return run_workers_and_summarise(dataset, space, settings, max_params, progress=progress)
    storage = make_storage(settings)
    worker = register_worker(storage, settings)
    study = make_study(settings, worker=worker, storage=storage)
    stats = {"filtered": 0, "redraws": 0, "infeasible": 0}

    def objective(trial):  # noqa: ANN001, ANN202
        try:
            cand = sample(trial, space, n_in, n_out, input_shape)
        except InputError as exc:
            if space.max_params is None and not isinstance(exc, InfeasibleError):
                raise
            # a draw the budget cannot pay for: pruned (TPE learns to avoid it), the slot stays free
            trial.set_user_attr("infeasible", str(exc))
            stats["infeasible"] += 1
            raise optuna.TrialPruned(str(exc)) from None
        matter = [settings.matter_in] + [None] * (len(cand["layers"]) - 2) + [settings.matter_out]
        spec, net, sc = None, None, None
        for attempt in range(settings.scatter_redraws + 1):
            # one seed per candidate draws its patterns, weights and batches, so `predsparse train --seed` repeats it
            run_seed = settings.seed * 100_003 + 1000 * trial.number + attempt
            spec = candidate_spec(cand, space, run_seed)
            net = draw_network(spec, dataset.feature_shape)
            if settings.scatter_threshold is None:
                break
            sc = scatter(net, matter=matter)
            if sc >= settings.scatter_threshold:
                break
            stats["redraws"] += 1
        else:
            stats["filtered"] += 1
            trial.set_user_attr("filtered", True)
            raise optuna.TrialPruned(f"scatter {sc:.3f} below {settings.scatter_threshold} after redraws")
        cfg = TrainConfig(
            epochs=settings.epochs,
            batch_size=cand["batch_size"],
            lr=cand["lr"],
            l2=cand["l2"],
            lr_schedule=cand["lr_schedule"],
            augment=cand["augment"],
            label_smoothing=cand["label_smoothing"],
            seed=spec.seed,
        )
        kept: dict[str, Any] = {}

        def report(rec):  # noqa: ANN001, ANN202
            if settings.multi_objective or not settings.prune:
                return
            params = sum(p.numel() for p in kept["model"].parameters())
            f_p = 1 - rec["val_acc"]
            trial.report(math.log10(f_p + settings.w_c * params / max_params + 1e-12), rec["epoch"])
            # never after the last epoch: the candidate is fully trained by then, its result is worth keeping
            if rec["epoch"] < settings.epochs and trial.should_prune():
                trial.set_user_attr("epochs_run", rec["epoch"])
                raise optuna.TrialPruned()

        res = run(spec, cfg, dataset, on_epoch=report, network=net, keep=kept)
        params = res["parameters"]
        per_epoch = float(np.mean([h["seconds"] for h in res["history"]]))
        info = {
            "conv": cand["conv"],
            "layers": net.layers,
            "d_out": cand["d_out"],
            "kind": cand["kind"],
            "window": cand["window"],
            "rho_net": net.rho_net,
            "junction_densities": net.densities,
            "parameters": params,
            "lr": cand["lr"],
            "l2": cand["l2"],
            "batch_size": cand["batch_size"],
            "dropout": cand["dropout"],
            "lr_schedule": cand["lr_schedule"],
            "augment": cand["augment"],
            "label_smoothing": cand["label_smoothing"],
            "epochs": settings.epochs,
            "best_epoch": res["best_epoch"],
            "activation": space.activation,
            "val_acc": res["best_val_acc"],
            "test_acc": res["test_acc"],
            "seconds_per_epoch": per_epoch,
            "scatter": sc,
            "seed": spec.seed,
            "epochs_run": len(res["history"]),
        }
        for k, v in info.items():
            trial.set_user_attr(k, v)
        if settings.multi_objective:
            return res["best_val_acc"], params, per_epoch
        return math.log10((1 - res["best_val_acc"]) + settings.w_c * params / max_params + 1e-12)

    from predsparse.search.workers import study_loop

    study_loop(study, objective, settings, worker=worker, emit=emit, engine=storage.engine)
    return stats


def run_workers_and_summarise(
    dataset: Dataset, space: SearchSpace, settings: SearchSettings, max_params: int, *, progress: bool
) -> dict[str, Any]:
    """Run the study's workers (in this process or ``jobs`` processes), then summarise the whole study."""
    from predsparse.search.workers import run_workers_for

    t_start = time.perf_counter()
    stats, jobs = run_workers_for(dataset, space, settings, max_params, progress=progress)
    study = make_study(settings)
    out = summarise(study, settings, stats, time.perf_counter() - t_start, max_params)
    out["jobs"] = jobs
    if out["complete"] == 0:
        raise InputError(
            f"no trial of study {settings.study_name!r} completed ({out['trials']} trials); "
            f"first failure: {first_failure(study)}"
        )
    return out


def first_failure(study) -> str:  # noqa: ANN001
    """The reason recorded for the study's first trial that did not complete."""
    for t in study.trials:
        reason = t.user_attrs.get("reason") or t.system_attrs.get("fail_reason")
        if t.state.name in ("FAIL", "PRUNED") and reason:
            return f"trial {t.number} {t.state.name.lower()}: {reason}"
    return "no reason recorded"


def candidate_spec(cand: dict[str, Any], space: SearchSpace, seed: int) -> ModelSpec:
    """The model of a sampled candidate (``layers[0]`` is the data's features or the conv front end's output)."""
    return ModelSpec(
        layers=tuple(cand["layers"]),
        d_out=None if cand["kind"] == "fc" else tuple(cand["d_out"]),
        kind=cand["kind"],
        conv=tuple(cand["conv"]),
        activation=space.activation,
        dropout=cand["dropout"],
        seed=seed,
        **({"window": cand["window"]} if cand.get("window") else {}),
    )


def summarise(study, settings: SearchSettings, stats: dict[str, int], wall: float, max_params: int) -> dict[str, Any]:  # noqa: ANN001
    """Best trials, Pareto front (accuracy vs parameters) and cost, from every finished trial."""
    optuna = _optuna()
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    rows = [
        dict(t.user_attrs, number=t.number, value=(t.values if settings.multi_objective else t.value)) for t in done
    ]
    trained = [t for t in pruned if not (t.user_attrs.get("filtered") or t.user_attrs.get("infeasible"))]
    epochs_saved = sum(settings.epochs - int(t.user_attrs.get("epochs_run", 0)) for t in trained)
    front = pareto_front(rows)
    best = sorted(rows, key=lambda r: r["value"])[:5] if not settings.multi_objective else front
    return {
        "study": settings.study_name,
        "storage": display_url(settings.storage),
        "objective": "pareto(val_acc, parameters, seconds/epoch)"
        if settings.multi_objective
        else f"log10(f_p + {settings.w_c} f_c)",
        "max_parameters": max_params,
        "trials": len(study.trials),
        "complete": len(done),
        "pruned": len(pruned),
        "filtered_by_scatter": sum(1 for t in pruned if t.user_attrs.get("filtered")),
        "over_budget": sum(1 for t in pruned if t.user_attrs.get("infeasible")),
        "scatter_redraws": stats["redraws"],
        "epochs_saved_by_pruning": epochs_saved,
        "wall_seconds_this_call": wall,
        "best": best,
        "pareto_front": front,
        "candidates": rows,
    }


def pareto_front(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Candidates not dominated in (higher validation accuracy, fewer parameters); of several with the same
    accuracy and parameter count (one network drawn by two budget studies) the first is kept."""
    out = []
    seen: set[tuple[float, int]] = set()
    for r in rows:
        point = (r["val_acc"], r["parameters"])
        if point in seen:
            continue
        dominated = any(
            o["val_acc"] >= r["val_acc"]
            and o["parameters"] <= r["parameters"]
            and (o["val_acc"] > r["val_acc"] or o["parameters"] < r["parameters"])
            for o in rows
        )
        if not dominated:
            out.append(r)
            seen.add(point)
    return sorted(out, key=lambda r: r["parameters"])


def retrain_command(best: dict[str, Any], dataset: str, epochs: int) -> str:
    """The ``predsparse train`` command that retrains a chosen candidate."""
    conv = best.get("conv") or []
    # with a conv front end, --layers lists the classifier above the conv features
    layers = best["layers"][1:] if conv else best["layers"]
    parts = ["predsparse train", f"--dataset {dataset}"]
    if conv:
        parts.append("--conv " + ",".join(map(str, conv)))
    parts += ["--layers " + ",".join(map(str, layers)), f"--kind {best['kind']}"]
    if best["kind"] != "fc":
        parts.append(
            "--d-out " + ",".join(map(str, best.get("d_out", best.get("out_degrees"))))
        )  # out_degrees: studies stored before the rename
    if best["kind"] == "clash-free":
        parts.append("--z " + ",".join(map(str, default_z(best["layers"]))))
    if best["kind"] == "local":
        parts.append(f"--window {best['window']}")
    if best.get("activation", "relu") != "relu":
        parts.append(f"--activation {best['activation']}")
    parts += [
        # the shortest text that reads back as the same float: the command repeats the stored run exactly
        f"--lr {float(best['lr'])!r}",
        f"--l2 {float(best['l2'])!r}",
        f"--batch-size {best['batch_size']}",
        f"--dropout {best['dropout']}",
        *([f"--lr-schedule {best['lr_schedule']}"] if best.get("lr_schedule", "constant") != "constant" else []),
        *([f"--augment {best['augment']}"] if best.get("augment", "none") != "none" else []),
        *([f"--label-smoothing {best['label_smoothing']}"] if best.get("label_smoothing", 0) else []),
        f"--epochs {epochs}",
        f"--seed {best.get('seed', 0)}",
    ]
    return " ".join(parts)


def plot_front(rows: list[dict[str, Any]], front: list[dict[str, Any]], path: str) -> None:
    """Validation accuracy vs parameters of every candidate, with the Pareto front drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from predsparse.atomic import save_figure

    fig, ax = plt.subplots(figsize=(6, 4))
    kinds = sorted({r["kind"] for r in rows})
    for k in kinds:
        pts = [r for r in rows if r["kind"] == k]
        ax.scatter([r["parameters"] for r in pts], [100 * r["val_acc"] for r in pts], label=k, alpha=0.7)
    ax.plot([r["parameters"] for r in front], [100 * r["val_acc"] for r in front], "k--", label="Pareto front")
    ax.set_xscale("log")
    ax.set_xlabel("trainable parameters")
    ax.set_ylabel("validation accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)
