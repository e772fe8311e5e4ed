"""``predsparse reproduce``: run every claim of the seed (or some) and print the verdict table."""

from __future__ import annotations

import time
from pathlib import Path

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
from predsparse.errors import InputError


@click.command("reproduce")
@click.option(
    "--quick", is_flag=True, help="Tiny subsets and 2 epochs (minutes, for CI); the default is the seed's scale."
)
@jobs_option("1", "Runs trained")
@click.option(
    "--store", type=StorePath(), default=None, help="Results database (default runs/reproduce.db; resumable)."
)
@click.option("--claims", "claim_ids", default=None, help="Comma-separated claim ids (default: all); see --list.")
@click.option(
    "--out",
    type=OutputPath(directory=True),
    default=None,
    help="Where the table, verdicts.json and one figure per claim go "
    "(default runs/reproduce, or runs/reproduce-quick).",
)
@click.option("--manifest", default=None, help="The manifest (default configs/reproduce/manifest.toml).")
@click.option("--list", "list_only", is_flag=True, help="List the claims and their configs, run nothing.")
@click.option("--report-only", is_flag=True, help="Compute verdicts from what the store holds, train nothing.")
@click.option(
    "--estimate",
    is_flag=True,
    help="Time one full-scale epoch of 2 runs per config and extrapolate the full mode's wall time (stores nothing).",
)
@click.option("--progress/--no-progress", default=True, help=PROGRESS_HELP)
@json_option
@handle_errors
def reproduce(
    quick, jobs, store, claim_ids, out, manifest, list_only, report_only, estimate, progress, as_json
) -> None:
    """Every quantitative claim of the seed -> our figure (mean +- std over >= 3 seeds), the seed's figure,
    a verdict (holds / partly / does not hold) with its reason, the best-validation epochs, and a figure."""
    from predsparse.experiments import reproduce as R
    from predsparse.experiments.store import ResultStore
    from predsparse.provenance import versions

    claims = R.select(R.load_manifest(manifest), claim_ids)
    if list_only:
        for c in claims:
            click.echo(
                f"{c.id:16s} {', '.join(p.name for p in c.configs) or 'study ' + str(c.study)}  [{c.verdict}]  {c.claim}"
            )
        return
    if estimate:
        est = R.estimate(claims, progress=progress and not as_json)
        if as_json:
            emit_json(est)
            return
        for name, v in est["configs"].items():
            click.echo(
                f"{name:30s} {v['runs']:4d} runs {v['epochs']:6d} epochs  {v['seconds_per_epoch']} s/epoch "
                f"(cpu {v['cpu_seconds_per_epoch']})  data {v['data_seconds']} s  -> {v['estimate_hours']} h "
                f"(cpu {v['cpu_hours']} h)"
            )
        click.echo(
            f"total about {est['total_hours']} h wall at today's load, {est['total_cpu_hours']} h of CPU, "
            "with --jobs 1 (studies not included)"
        )
        return
    out_dir = Path(out or ("runs/reproduce-quick" if quick else "runs/reproduce"))
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--out {str(out_dir)!r} exists and is not a directory")
    db = ResultStore(store or "runs/reproduce.db")
    t0 = time.perf_counter()
    if not report_only:
        R.run_claims(claims, db, quick=quick, jobs=jobs, progress=progress and not as_json, out=out_dir)
    seconds = time.perf_counter() - t0
    records = [R.evaluate(c, db, quick=quick, out=out_dir) for c in claims]
    out_dir.mkdir(parents=True, exist_ok=True)
    for r in records:
        r["figure_file"] = str(out_dir / f"{r['id']}.png") if R.plot(r, out_dir / f"{r['id']}.png") else None
    from predsparse.atomic import write_text
    from predsparse.serialize import write_json

    cost = R.effort(claims, db, quick=quick)
    text = R.table(records) + "\n\n" + R.effort_table(cost)
    summary = {
        "mode": "quick" if quick else "full",
        "seconds": seconds,
        "jobs": jobs,
        "store": str(db.path),
        "versions": versions(),
        "claims": [{k: v for k, v in r.items() if k != "figure"} for r in records],
        "effort": cost,
    }
    write_text(out_dir / "verdicts.md", text)
    write_json(out_dir / "verdicts.json", summary)
    if as_json:
        emit_json(summary)
        return
    click.echo(text)
    click.echo(f"{len(records)} claims, {seconds:.0f} s of training; table, verdicts.json and figures in {out_dir}")


COMMANDS: list[click.Command] = [reproduce]
