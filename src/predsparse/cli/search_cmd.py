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
@click.option("--max-hidden", type=int, default=2, show_default=True, help="Most hidden layers a candidate may have.")
@click.option("--min-width", type=int, default=16, show_default=True, help="Narrowest hidden layer.")
@click.option("--max-width", type=int, default=1024, show_default=True, help="Widest hidden layer.")
@click.option("--min-density", type=float, default=0.01, show_default=True, help="Lowest junction density rho tried.")
@click.option(
    "--kinds",
    default="clash-free,structured,random",
    show_default=True,
    help="Pattern kinds to search, comma-separated (clash-free, structured, random, fc).",
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
    max_hidden,
    min_width,
    max_width,
    min_density,
    kinds,
    max_conv,
    conv_channels,
    scatter_threshold,
    no_prune,
    storage,
    study_name,
    seed,
    out_dir,
    progress,
    as_json,
) -> None:
    """Search depth, widths, per-junction densities, pattern kind, conv blocks and training settings."""
    from predsparse.cli.common import int_list
    from predsparse.experiments.tables import format_table
    from predsparse.provenance import versions
    from predsparse.search import SearchSettings, SearchSpace, plot_front, retrain_command, run_search
    from predsparse.search.runner import make_storage
    from predsparse.serialize import write_json

    space = SearchSpace(
        max_hidden=max_hidden,
        min_width=min_width,
        max_width=max_width,
        min_density=min_density,
        kinds=[k.strip() for k in kinds.split(",") if k.strip()],
        max_conv=max_conv,
        conv_channels=int_list(conv_channels, "conv-channels") or [],
    )
    settings = SearchSettings(
        trials=trials,
        w_c=w_c,
        multi_objective=multi,
        epochs=epochs,
        seed=seed,
        scatter_threshold=scatter_threshold,
        prune=not no_prune,
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
        (retrain_command(best, dataset, max(epochs, 10)) + (" " + opts if opts else "")) if best else None
    )
    summary["space"] = space.to_dict()
    summary["versions"] = versions()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / f"{study_name}.json", summary)
    rows = summary["pareto_front"]
    if rows:
        plot_front(summary["candidates"], rows, str(out / f"{study_name}_pareto.png"))
    if as_json:
        emit_json(summary)
        return
    jobs_note = f", {summary['jobs']} jobs" if summary["jobs"] > 1 else ""
    click.echo(
        f"study {study_name} ({summary['storage']}{jobs_note}): {summary['trials']} trials, {summary['complete']} complete, "
        f"{summary['pruned']} pruned ({summary['filtered_by_scatter']} by scatter), "
        f"{summary['epochs_saved_by_pruning']} epochs saved, {summary['wall_seconds_this_call']:.0f} s"
    )
    header = ["conv", "layers", "d_out_net", "kind", "rho_net %", "params", "val acc %", "test acc %"]
    body = [
        [
            ",".join(map(str, r.get("conv") or [])) or "-",
            ",".join(map(str, r["layers"])),
            ",".join(map(str, r.get("d_out", r.get("out_degrees", [])))),
            r["kind"],
            f"{100 * r['rho_net']:.1f}",
            str(r["parameters"]),
            f"{100 * r['val_acc']:.2f}",
            f"{100 * r['test_acc']:.2f}",
        ]
        for r in rows
    ]
    click.echo("\nPareto front (validation accuracy vs parameters):")
    click.echo(format_table(header, body))
    if best:
        conv = f"conv {best['conv']} + " if best.get("conv") else ""
        click.echo(
            f"\nbest by objective: {conv}{best['layers']} {best['kind']} d_out {best.get('d_out', best.get('out_degrees'))}, "
            f"{best['parameters']} parameters, val {100 * best['val_acc']:.2f} %"
        )
        click.echo(f"retrain: {summary['retrain']}")


COMMANDS: list[click.Command] = [search]
