"""``predsparse search``: find low-complexity sparse networks that are good enough."""

from __future__ import annotations

from pathlib import Path

import click

from predsparse.cli.common import (  # checked while parsing, before any work
    PROGRESS_HELP,
    SEED_HELP,
    OutputPath,
    StorePath,
    emit_json,
    handle_errors,
    jobs_option,
    json_option,
)
from predsparse.cli.train_cmd import dataset_options, load_from_options
from predsparse.errors import InputError


@click.command("search")
@dataset_options
@click.option(
    "--trials",
    type=int,
    default=20,
    show_default=True,
    help="Complete trials the study should hold, whoever ran them (a rerun tops up to this number).",
)
@click.option(
    "--max-trials",
    type=int,
    default=None,
    help="Stop once the study holds this many finished trials, complete or not [default: 4 x --trials].",
)
@jobs_option("1", "Candidates trained")
@click.option(
    "--heartbeat",
    type=int,
    default=10,
    show_default=True,
    help="Seconds between a running trial's heartbeats; a trial silent for 3x this (killed worker) is failed and retried.",
)
@click.option(
    "--wc",
    "w_c",
    type=float,
    default=0.0,
    show_default=True,
    help="Complexity weight w_c (0: accuracy only; 10: cheap).",
)
@click.option(
    "--multi", is_flag=True, help="Multi-objective (accuracy, parameters, time/epoch): NSGA-II, Pareto front."
)
@click.option("--epochs", type=int, default=5, show_default=True, help="Training epochs per candidate.")
@click.option(
    "--min-hidden",
    type=click.IntRange(0, None),
    default=0,
    show_default=True,
    help="Fewest hidden layers a candidate may have (e.g. 2 with --max-hidden 2: depth fixed).",
)
@click.option("--max-hidden", type=int, default=2, show_default=True, help="Most hidden layers a candidate may have.")
@click.option("--min-width", type=int, default=16, show_default=True, help="Narrowest hidden layer.")
@click.option("--max-width", type=int, default=1024, show_default=True, help="Widest hidden layer.")
@click.option("--min-density", type=float, default=0.01, show_default=True, help="Lowest junction density rho tried.")
@click.option(
    "--kinds",
    default="clash-free,structured,random",
    show_default=True,
    help="Pattern kinds to search, comma-separated (clash-free, structured, random, local, fc; local: a "
    "receptive-field first junction over the input image, random above, needs image data and no conv blocks).",
)
@click.option(
    "--max-conv",
    type=click.IntRange(0, None),
    default=0,
    show_default=True,
    help="Also search a dense CNN front end of 0..N conv blocks under the sparse classifier.",
)
@click.option("--conv-channels", default="8,16,32", show_default=True, help="Channel choices per conv block.")
@click.option(
    "--scatter-threshold", type=float, default=None, help="Re-draw (then reject) patterns with lower scatter."
)
@click.option("--no-prune", is_flag=True, help="Train every candidate to the end.")
@click.option(
    "--pruner",
    type=click.Choice(["hyperband", "halving", "median"]),
    default="hyperband",
    show_default=True,
    help="How unpromising candidates stop early on their per-epoch validation accuracy (single objective).",
)
@click.option(
    "--startup-trials",
    type=click.IntRange(0, None),
    default=10,
    show_default=True,
    help="Random candidates before TPE starts modelling the results.",
)
@click.option(
    "--population",
    type=click.IntRange(2, None),
    default=16,
    show_default=True,
    help="NSGA-II generation size (--multi); small leaves the random first generation early.",
)
@click.option(
    "--max-params",
    default=None,
    help="Parameter budgets, comma-separated (e.g. 150000,25000,4000): one study per budget (STUDY-BUDGET), "
    "each candidate spending its budget; one front over all.",
)
@click.option(
    "--lr-schedules",
    default="cosine",
    show_default=True,
    help="Learning-rate schedules to search, comma-separated (constant, cosine).",
)
@click.option("--max-dropout", type=float, default=0.3, show_default=True, help="Largest dropout probability tried.")
@click.option(
    "--windows",
    default="5,7,9",
    show_default=True,
    help="Patch sides searched for kind local, comma-separated.",
)
@click.option(
    "--augments",
    default="none",
    show_default=True,
    help="Training-batch augmentations to search, comma-separated (none, flip, shift, flip-shift; images only).",
)
@click.option(
    "--max-label-smoothing",
    type=float,
    default=0.0,
    show_default=True,
    help="Largest label smoothing tried (uniform from 0); 0 leaves it out of the search.",
)
@click.option(
    "--timeout",
    type=float,
    default=None,
    help="Minutes per study after which workers start no new trial (the running ones finish).",
)
@click.option(
    "--retrain-front",
    is_flag=True,
    help="Retrain every Pareto-front point (--retrain-epochs, --retrain-seeds seeds) and write the table and "
    "a plot against Deep-n-Cheap's networks.",
)
@click.option("--retrain-epochs", type=click.IntRange(1, None), default=None, help="[default: 3 x --epochs]")
@click.option("--retrain-seeds", type=click.IntRange(1, None), default=3, show_default=True, help="Seeds per point.")
@click.option(
    "--retrain-points",
    type=click.IntRange(1, None),
    default=None,
    help="Retrain at most this many front points: the most accurate within each budget, then spread evenly "
    "[default: all].",
)
@click.option(
    "--retrain-pick",
    type=click.Choice(["spread", "best"]),
    default="spread",
    show_default=True,
    help="Which points --retrain-points keeps: 'spread' (the best within each budget, then spread over the "
    "front) or 'best' (the most accurate: a focused retraining near a budget).",
)
@click.option(
    "--storage",
    type=StorePath(),
    default="sqlite:///runs/search.db",
    show_default=True,
    help="Optuna storage URL (SQLite or PostgreSQL).",
)
@click.option(
    "--study", "study_name", default="predsparse-search", show_default=True, help="Study name (same name resumes)."
)
@click.option("--seed", type=int, default=0, show_default=True, help=SEED_HELP)
@click.option(
    "--out",
    "out_dir",
    type=OutputPath(directory=True),
    default="runs/search",
    show_default=True,
    help="Where the summary and Pareto plot go.",
)
@click.option("--progress/--no-progress", default=True, help=PROGRESS_HELP)
@json_option
@handle_errors
def search(
    dataset,
    normalize,
    pca_k,
    pad_to,
    limit_train,
    limit_val,
    limit_test,
    data_seed,
    trials,
    max_trials,
    jobs,
    heartbeat,
    w_c,
    multi,
    epochs,
    min_hidden,
    max_hidden,
    min_width,
    max_width,
    min_density,
    kinds,
    max_conv,
    conv_channels,
    scatter_threshold,
    no_prune,
    pruner,
    startup_trials,
    population,
    max_params,
    lr_schedules,
    max_dropout,
    windows,
    augments,
    max_label_smoothing,
    timeout,
    retrain_front,
    retrain_epochs,
    retrain_seeds,
    retrain_points,
    retrain_pick,
    storage,
    study_name,
    seed,
    out_dir,
    progress,
    as_json,
) -> None:
    """Search depth, widths, per-junction densities, pattern kind, conv blocks and training settings."""
    from predsparse.cli.common import int_list, name_list
    from predsparse.provenance import versions
    from predsparse.search import SearchSettings, SearchSpace, plot_front, retrain_command, run_search
    from predsparse.search.front import budget_ladder
    from predsparse.search.runner import make_storage
    from predsparse.serialize import write_json

    space = SearchSpace(
        min_hidden=min_hidden,
        max_hidden=max_hidden,
        min_width=min_width,
        max_width=max_width,
        min_density=min_density,
        kinds=name_list(kinds),
        max_conv=max_conv,
        conv_channels=int_list(conv_channels, "conv-channels") or [],
        lr_schedules=name_list(lr_schedules),
        max_dropout=max_dropout,
        windows=int_list(windows, "windows") or [],
        augments=name_list(augments),
        max_label_smoothing=max_label_smoothing,
    )
    budgets = int_list(max_params, "max-params") if max_params else None
    if budgets and min(budgets) < 1:
        raise InputError(f"--max-params {max_params}: every budget must be >= 1")
    settings = SearchSettings(
        trials=trials,
        w_c=w_c,
        multi_objective=multi,
        epochs=epochs,
        seed=seed,
        scatter_threshold=scatter_threshold,
        prune=not no_prune,
        pruner=pruner,
        startup_trials=startup_trials,
        population=population,
        timeout=None if timeout is None else 60 * timeout,
        storage=storage,
        study_name=study_name,
        jobs=jobs,
        heartbeat=heartbeat,
        max_trials=max_trials,
    )
    if not storage.startswith("sqlite"):  # a server URL is connected to (one line if it fails) before the data loads
        make_storage(settings)
    # a SQLite --storage (its path checked while parsing) is created only once the data has loaded: a bad
    # --dataset leaves no empty study file behind
    ds = load_from_options(dataset, data_seed, normalize, pca_k, pad_to, limit_train, limit_val, limit_test)
    space.check_data(ds.feature_shape)  # before the study file is created
    if budgets:
        summary = budget_ladder(ds, space, settings, budgets, progress=progress and not as_json)
    else:
        summary = run_search(ds, space, settings, progress=progress and not as_json)
    best = summary["best"][0] if summary["best"] else None
    opts = " ".join(
        f"--{k.replace('_', '-')} {v}"
        for k, v in (
            ("limit_train", limit_train),
            ("limit_val", limit_val),
            ("limit_test", limit_test),
            ("pca", pca_k),
            ("pad_to", pad_to),
        )
        if v
    )
    summary["retrain"] = (
        (retrain_command(best, dataset, retrain_epochs or 3 * epochs) + (" " + opts if opts else "")) if best else None
    )
    summary["space"] = space.to_dict()
    summary["versions"] = versions()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = summary["pareto_front"]
    if retrain_front and rows:
        from predsparse.search.front import choose_points, dataset_section, plot_front_vs_dnc, retrain_front_points

        params = click.get_current_context().meta.get("dataset_params", ())
        if params:  # generator parameters (morse only: load_from_options has refused them for anything else)
            from predsparse.morse import parse_overrides
        section = dataset_section(
            dataset,
            data_seed,
            generator=parse_overrides(params) if params else None,
            normalize=normalize,
            pca_k=pca_k,
            pad_to=pad_to,
            limit_train=limit_train,
            limit_val=limit_val,
            limit_test=limit_test,
        )
        r_epochs = retrain_epochs or 3 * epochs
        summary["retrained"] = retrain_front_points(
            choose_points(rows, budgets or [], retrain_points, retrain_pick),
            section,
            epochs=r_epochs,
            seeds=retrain_seeds,
            store_path=str(out / f"{study_name}-retrain.db"),
            name=f"{study_name}-retrain-{r_epochs}ep",
            jobs=jobs,
            progress=progress and not as_json,
        )
        plot_front_vs_dnc(summary["retrained"], summary["candidates"], str(out / f"{study_name}_vs_dnc.png"))
    write_json(out / f"{study_name}.json", summary)
    if rows:
        plot_front(summary["candidates"], rows, str(out / f"{study_name}_pareto.png"))
    if as_json:
        emit_json(summary)
        return
    print_summary(summary, study_name)


def print_summary(summary: dict, study_name: str) -> None:
    """The search's counters, its Pareto front, and the retrained front with the goals when there is one."""
    from predsparse.experiments.tables import format_table

    jobs_note = f", {summary['jobs']} jobs" if summary["jobs"] > 1 else ""
    studies = f" = {', '.join(summary['studies'])}" if summary.get("studies") else ""
    click.echo(
        f"study {study_name}{studies} ({summary['storage']}{jobs_note}): {summary['trials']} trials, "
        f"{summary['complete']} complete, {summary['pruned']} pruned ({summary['filtered_by_scatter']} by scatter, "
        f"{summary.get('over_budget', 0)} over budget), "
        f"{summary['epochs_saved_by_pruning']} epochs saved, {summary['wall_seconds_this_call']:.0f} s"
    )
    header = ["conv", "layers", "d_out_net", "kind", "rho_net %", "params", "val acc %", "test acc %"]
    click.echo("\nPareto front (validation accuracy vs parameters):")
    click.echo(
        format_table(header, [_cells(r) + [_pct(r["val_acc"]), _pct(r["test_acc"])] for r in summary["pareto_front"]])
    )
    best = summary["best"][0] if summary["best"] else None
    if best:
        conv = f"conv {best['conv']} + " if best.get("conv") else ""
        click.echo(
            f"\nbest by objective: {conv}{best['layers']} {best['kind']} d_out {best.get('d_out', best.get('out_degrees'))}, "
            f"{best['parameters']} parameters, val {100 * best['val_acc']:.2f} %"
        )
        click.echo(f"retrain: {summary['retrain']}")
    retrained = summary.get("retrained")
    if retrained:
        from predsparse.search.front import goals_met

        r0 = retrained[0]
        click.echo(
            f"\nretrained front ({r0['retrain_epochs']} epochs, {len(r0['retrain_seeds'])} seeds each; "
            "mean +- std; 'improving': runs whose best epoch was the last):"
        )
        header2 = header[:6] + ["lr sched", "val acc %", "test acc %", "improving"]
        click.echo(
            format_table(
                header2,
                [
                    _cells(r)
                    + [
                        r.get("lr_schedule", "constant"),
                        f"{100 * r['retrain_val_mean']:.2f} +- {100 * r['retrain_val_std']:.2f}",
                        f"{100 * r['retrain_test_mean']:.2f} +- {100 * r['retrain_test_std']:.2f}",
                        f"{r['still_improving']}/{len(r['retrain_seeds'])}",
                    ]
                    for r in retrained
                ],
            )
        )
        for g in goals_met(retrained):
            p = g["point"]
            got = f"{p['parameters']} parameters, val {_pct(p['retrain_val_mean'])} %" if p else "no point"
            click.echo(
                f"goal >= {_pct(g['accuracy'])} % val with <= {g['budget']} parameters: "
                f"{'met' if g['met'] else 'NOT met'} ({got})"
            )


def _pct(x: float) -> str:
    return f"{100 * x:.2f}"


def _cells(r: dict) -> list[str]:
    return [
        ",".join(map(str, r.get("conv") or [])) or "-",
        ",".join(map(str, r["layers"])),
        ",".join(map(str, r.get("d_out", r.get("out_degrees", [])))),
        f"local {r['window']}x{r['window']}" if r["kind"] == "local" else r["kind"],
        f"{100 * r['rho_net']:.1f}",
        str(r["parameters"]),
    ]


COMMANDS: list[click.Command] = [search]
