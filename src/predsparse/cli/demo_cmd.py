"""``predsparse demo``: the main job on embedded data, no download.

Runs the built-in demo sweep (:mod:`predsparse.experiments.demo`: the Morse baseline, the fully
connected 64-1024-64 network and pre-defined sparse networks, clash-free, structured and random, at
several densities) into a results store, prints the seed-style table and saves a plot.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from predsparse.cli.common import (
    EPOCHS_HELP,
    PROGRESS_HELP,
    OutputPath,  # checked while parsing, before any work
    emit_json,
    handle_errors,
    int_list,
    jobs_option,
    json_option,
    name_list,
)


@click.command("demo")
@click.option(
    "--out",
    "out_dir",
    type=OutputPath(directory=True),
    default="runs/demo",
    show_default=True,
    help="Directory for the table, plot and results store (rerunning resumes).",
)
@click.option("--preset", default="baseline", show_default=True, help="Morse preset (baseline or difficult).")
@click.option(
    "--per-class", type=int, default=400, show_default=True, help="Training samples per class (val/test get a quarter)."
)
@click.option("--epochs", type=int, default=10, show_default=True, help=EPOCHS_HELP)
@jobs_option("auto", "Trainings")
@click.option("--seeds", default="0,1", show_default=True, help="Seeds to repeat each network with (mean +- std).")
@click.option(
    "--kinds",
    default="clash-free,structured,random",
    show_default=True,
    help="Pattern kinds to compare, comma-separated (clash-free, structured, random).",
)
@click.option("--progress/--no-progress", default=True, help=PROGRESS_HELP)
@json_option
@handle_errors
def demo(out_dir, preset, per_class, epochs, jobs, seeds, kinds, progress, as_json) -> None:
    """Accuracy vs density on Morse code: FC vs clash-free, structured and random pre-defined sparsity."""
    from predsparse.atomic import write_text
    from predsparse.errors import InputError
    from predsparse.experiments.demo import DEMO_LAYERS, demo_config
    from predsparse.experiments.report import density_table, plot_density
    from predsparse.experiments.store import ResultStore, canonical
    from predsparse.experiments.sweep import _key, expand, run_sweep
    from predsparse.experiments.tables import format_table

    seed_list = int_list(seeds, "seeds")
    kind_list = name_list(kinds)
    if per_class < 1:
        raise InputError(f"--per-class {per_class} must be a whole number >= 1")
    cfg = demo_config(preset=preset, per_class=per_class, epochs=epochs, seeds=seed_list, kinds=kind_list)
    t0 = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    store = ResultStore(out / "results.db")
    counts = run_sweep(cfg, store, progress=progress and not as_json, jobs=jobs)
    wanted = {canonical(_key(r)) for r in expand(cfg)}  # this call's runs only (the store may hold other settings)
    results = [row["result"] for row in store.rows(cfg.name) if canonical(row["key"]) in wanted]
    store.close()
    header, body = density_table(results, kind_list)
    table = format_table(header, body)
    plot_density(results, str(out / "accuracy_vs_density.png"), title=f"Morse {preset}: N_net = {DEMO_LAYERS}")
    write_text(out / "table.md", table + "\n")
    seconds = time.perf_counter() - t0
    ds = results[0]["dataset"]
    if as_json:
        emit_json(
            {
                "sweep": cfg.name,
                "store": str(out / "results.db"),
                **counts,
                "layers": DEMO_LAYERS,
                "seeds": seed_list,
                "train": cfg.base["train"],
                "dataset": cfg.base["dataset"],
                "records": results,
                "table": {"header": header, "rows": body},
                "seconds": seconds,
            }
        )
        return
    click.echo(
        f"Morse '{preset}': {ds['features']} features, {ds['classes']} classes, "
        f"{ds['train']} train / {ds['val']} val / {ds['test']} test samples"
    )
    click.echo(
        f"N_net = {DEMO_LAYERS}, {epochs} epochs, Adam lr 3e-3, batch 128, seeds {seed_list}; test accuracy (%) mean +- std\n"
    )
    click.echo(table)
    click.echo(
        f"\nplot: {out / 'accuracy_vs_density.png'}   results: {out / 'results.db'} "
        f"(predsparse report {out / 'results.db'})   ({seconds:.0f} s, {counts['skipped']} runs already stored)"
    )


COMMANDS: list[click.Command] = [demo]
