"""``predsparse sweep CONFIG`` and ``predsparse report RESULTS``."""

from __future__ import annotations

import click

from predsparse.cli.common import (  # checked while parsing, before any work
    PROGRESS_HELP,
    OutputPath,
    StorePath,
    emit_json,
    handle_errors,
    jobs_option,
    json_option,
)


@click.command("sweep")
@click.argument("config", type=click.Path(dir_okay=False))
@click.option(
    "--store",
    type=StorePath(),
    default="runs/results.db",
    show_default=True,
    help="Results store: a SQLite file (created if absent) or a postgresql://USER@HOST/DB URL shared by many workers.",
)
@jobs_option("1", "Runs trained")
@click.option(
    "--lease",
    type=click.FloatRange(1, None),
    default=60.0,
    show_default=True,
    help="Seconds after which a run claimed by a worker that stopped renewing (killed, lost) is redone by another.",
)
@click.option("--dry-run", is_flag=True, help="Only validate the config and list the runs.")
@click.option("--progress/--no-progress", default=True, help=PROGRESS_HELP)
@json_option
@handle_errors
def sweep(config, store, jobs, lease, dry_run, progress, as_json) -> None:
    """Run a sweep (resumable: runs already in the store are skipped), then print its table.

    Start the same command on several machines (or several times) with one --store postgresql:// URL:
    the workers share the runs, each run is trained once."""
    from predsparse.experiments.report import summary_table
    from predsparse.experiments.store import ResultStore
    from predsparse.experiments.sweep import expand, load_config, run_sweep, validate_runs
    from predsparse.experiments.tables import format_table

    cfg = load_config(config)
    runs = expand(cfg)
    # every grid point's model and training settings, as a real run checks them, before the store is created
    # (a bad config leaves no empty results file behind)
    validate_runs(runs, {}, cfg.name)
    if dry_run:
        if as_json:
            emit_json({"name": cfg.name, "runs": runs})
        else:
            click.echo(
                f"{cfg.name}: {len(runs)} runs ({len(runs) // len(cfg.seeds)} settings x {len(cfg.seeds)} seeds)"
            )
            for r in runs:
                click.echo(f"  seed {r['seed']}: {r['varied']}")
        return
    from predsparse.claims import display_url

    st = ResultStore(store)
    store = display_url(store)  # printed below: never the password
    counts = run_sweep(cfg, st, progress=progress and not as_json, jobs=jobs, lease=lease, validated=True)
    rows = ordered(st.rows(cfg.name))
    if as_json:
        emit_json({"name": cfg.name, **counts, "store": store, "rows": rows})
        return
    jobs_note = f" ({counts['jobs']} jobs)" if counts["jobs"] > 1 else ""
    click.echo(f"{cfg.name}: {counts['ran']} runs done{jobs_note}, {counts['skipped']} already stored in {store}")
    click.echo(format_table(*summary_table(rows)))
    diverged = [r for r in rows if r["result"].get("diverged")]
    if diverged:  # trained on, flagged: their accuracies above are those of a diverged network
        click.echo(f"\n{len(diverged)} of {len(rows)} runs diverged (flagged in their stored rows as 'diverged'):")
        for r in diverged:
            label = " ".join(f"{k.split('.')[-1]}={v}" for k, v in r["result"].get("varied", {}).items())
            click.echo(f"  {label} seed={r['result'].get('seed')}: {r['result']['diverged']}")


@click.command("report")
@click.argument("results")
@click.option("--sweep", "name", default=None, help="Which sweep in the store (default: all, one table each).")
@click.option("--pivot", default=None, help="Varied key whose values become columns, e.g. network.kind.")
@click.option("--best-by", default=None, help="Varied key to choose on validation accuracy, e.g. train.l2.")
@click.option(
    "--plot", "plot_path", type=OutputPath(), default=None, help="Save accuracy vs --x (one curve per --series)."
)
@click.option(
    "--x",
    "x_axis",
    default="rho_net",
    show_default=True,
    help="Record key on the plot's x axis, e.g. rho_net or parameters.",
)
@click.option("--series", default=None, help="Varied key with one curve per value, e.g. network.kind.")
@json_option
@handle_errors
def report(results, name, pivot, best_by, plot_path, x_axis, series, as_json) -> None:
    """Seed-style tables (mean +- std over seeds) from a results store."""
    from pathlib import Path

    from predsparse.errors import InputError
    from predsparse.experiments import report as R
    from predsparse.experiments.store import ResultStore
    from predsparse.experiments.tables import format_table

    if "://" not in results and not Path(results).is_file():
        raise InputError(f"{results}: no such results file")
    st = ResultStore(results, readonly=True)  # never changes its input, refuses what is not a results store
    names = [name] if name else st.sweeps()
    out = {}
    for n in names:
        rows = ordered(st.rows(n))
        if not rows:
            raise InputError(f"sweep {n!r} has no runs in {results}; stored sweeps: {st.sweeps()}")
        header, body = R.best_by(rows, best_by) if best_by else R.summary_table(rows, pivot=pivot)
        out[n] = {"header": header, "rows": body}
        if plot_path:
            p = plot_path if len(names) == 1 else str(Path(plot_path).with_stem(f"{Path(plot_path).stem}_{n}"))
            R.plot_runs(rows, p, x=x_axis, series=series, title=n)
        if not as_json:
            click.echo(f"\n## {n}\n")
            click.echo(format_table(header, body))
    if as_json:
        emit_json(out)


def ordered(rows) -> list:
    """Rows in their config order (run_index), whichever worker stored them first."""
    return sorted(rows, key=lambda r: r["result"].get("run_index", float("inf")))


COMMANDS: list[click.Command] = [sweep, report]
