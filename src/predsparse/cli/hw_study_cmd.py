"""``predsparse hw sweep`` and ``hw hazard``: bit-width sweeps and the BP hazard designs side by side."""

from __future__ import annotations

import click

from predsparse.cli.common import (  # checked while parsing, before any work
    EPOCHS_HELP,
    LIMIT_HELP,
    POSITIVE_INT,
    PROGRESS_HELP,
    OutputPath,
    deprecated_alias,
    emit_json,
    handle_errors,
    json_option,
    name_list,
)
from predsparse.cli.hw_common import (
    SCHEDULE_HELP,
    _pct,
    _prepare,
    _progress,
    build_config,
    data_options,
    hw,
    network_options,
)
from predsparse.errors import InputError
from predsparse.serialize import write_json as _write_json


@hw.command("sweep")
@network_options
@data_options
@click.option(
    "--formats", default="1,2,5;1,3,6;1,3,8;1,4,9;1,5,10", show_default=True, help="Fixed-point formats, ';'-separated."
)
@click.option("--activations", default="sigmoid,relu", show_default=True, help="Activations to try, comma-separated.")
@click.option(
    "--schedule",
    type=click.Choice(["pipelined", "sequential"]),
    default="pipelined",
    show_default=True,
    help=SCHEDULE_HELP,
)
@click.option("--reference/--no-reference", default=True, help="Also train the floating-point twin.")
@click.option("--out", "out_path", type=OutputPath(), default=None, help="Write the rows as JSON (atomically).")
@json_option
@handle_errors
def sweep_cmd(
    net,
    dataset,
    epochs,
    train_limit,
    test_limit,
    progress,
    formats,
    activations,
    schedule,
    reference,
    out_path,
    as_json,
) -> None:
    """Bit-width and activation sweep: where does fixed-point accuracy fall?"""
    from predsparse.hardware.fixedpoint import FixedFormat
    from predsparse.hardware.run import precision_sweep, versions

    cfg = build_config(**net)
    fmts = [FixedFormat.parse(f) for f in formats.split(";") if f.strip()]
    acts = name_list(activations)
    for a in acts:
        if a not in ("sigmoid", "relu"):
            raise InputError(f"activation {a!r} is not one of sigmoid, relu")
    _, prep = _prepare(cfg, dataset, train_limit, test_limit, cfg.seed)
    data = prep(cfg)
    rows = precision_sweep(
        cfg,
        data,
        fmts,
        acts,
        epochs=epochs,
        schedule=schedule,
        reference=reference,
        progress=_progress(progress and not as_json),
        prepare=prep,
    )
    out = {
        "config": cfg.summary(),
        "data": data.summary(),
        "epochs": epochs,
        "schedule": schedule,
        "rows": rows,
        "versions": versions(),
    }
    if out_path:
        _write_json(out_path, out)
    if as_json:
        emit_json(out)
        return
    click.echo(f"{'activation':>10} {'format':>9} {'W':>3} {'test%':>7} {'train%':>7} {'float test%':>11}")
    for r in rows:
        click.echo(
            f"{r['activation']:>10} {r['format']:>9} {r['width']:>3} {_pct(r['test_acc']):>7} "
            f"{_pct(r['train_acc_online']):>7} {_pct(r.get('float_test_acc')):>11}"
        )


@hw.command("hazard")
@network_options
@click.option("--dataset", default=None, help="Also train each design and report test accuracy.")
@click.option("--epochs", type=POSITIVE_INT, default=1, show_default=True, help=EPOCHS_HELP)
@click.option("--limit-train", "train_limit", type=POSITIVE_INT, default=None, help=LIMIT_HELP.format(split="training"))
@deprecated_alias("--train-limit", "--limit-train", "train_limit")
@click.option("--limit-test", "test_limit", type=POSITIVE_INT, default=None, help=LIMIT_HELP.format(split="test"))
@deprecated_alias("--test-limit", "--limit-test", "test_limit")
@click.option("--progress/--no-progress", default=True, help=PROGRESS_HELP)
@click.option("--out", "out_path", type=OutputPath(), default=None, help="Write the rows as JSON (atomically).")
@json_option
@handle_errors
def hazard_cmd(
    net,
    dataset,
    epochs,
    train_limit,
    test_limit,
    progress,
    out_path,
    as_json,
) -> None:
    """The BP read-modify-write hazard: lost contributions, fixes, their cost (and accuracy with --dataset)."""
    from predsparse.hardware.cost import hazard_fixes
    from predsparse.hardware.run import hazard_study, versions

    cfg = build_config(**net)
    if dataset is None:
        rows = hazard_fixes(cfg)
    else:
        _, prep = _prepare(cfg, dataset, train_limit, test_limit, cfg.seed)
        rows = hazard_study(cfg, prep(cfg), epochs=epochs, progress=_progress(progress and not as_json))
    out = {"config": cfg.summary(), "rows": rows, "versions": versions()}
    if out_path:
        _write_json(out_path, out)
    if as_json:
        emit_json(out)
        return
    for r in rows:
        acc = f", test {_pct(r['test_acc'])}%" if "test_acc" in r else ""
        click.echo(
            f"{r['design']:>19}: lost {r['lost_per_input']}/{r['contributions_per_input']} per input, "
            f"{r['clocks_per_input']} clocks/input, z={r['z_net']} d_out={r['d_out_net']} P={r['P']}{acc}"
        )


COMMANDS: list[click.Command] = [hw]
