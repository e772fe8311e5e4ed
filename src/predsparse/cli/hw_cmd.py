"""``predsparse hw``: the bit-accurate hardware model (simulate, cost, export, sweep, hazard, pipeline-study).

The group and its shared options live in :mod:`predsparse.cli.hw_common`; ``cost``, ``sweep``/``hazard`` and
``pipeline-study`` in their own modules, attached to the group when this module is imported."""

from __future__ import annotations

import click

from predsparse.cli.common import (  # checked while parsing, before any work
    OutputPath,
    emit_json,
    handle_errors,
    json_option,
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


@hw.command("simulate")
@network_options
@data_options
@click.option(
    "--schedule",
    type=click.Choice(["pipelined", "sequential"]),
    default="pipelined",
    show_default=True,
    help=SCHEDULE_HELP,
)
@click.option(
    "--bp-hazard",
    type=click.Choice(["ideal", "exact", "bypass"]),
    default="ideal",
    show_default=True,
    help="exact: reproduce the released RTL's BP read-modify-write hazard; bypass: the forwarding fix (= ideal).",
)
@click.option(
    "--level",
    type=click.Choice(["arch", "cycle"]),
    default="arch",
    show_default=True,
    help="cycle: clock-by-clock model with explicit memories (slow; small networks).",
)
@click.option("--reference/--no-reference", default=True, help="Also train the floating-point twin.")
@click.option(
    "--export",
    "export_dir",
    type=OutputPath(directory=True),
    default=None,
    help="Write the trained memories (hex) into this directory.",
)
@click.option("--out", "out_path", type=OutputPath(), default=None, help="Write the full result as JSON (atomically).")
@json_option
@handle_errors
def simulate_cmd(
    net,
    dataset,
    epochs,
    train_limit,
    test_limit,
    progress,
    schedule,
    bp_hazard,
    level,
    reference,
    export_dir,
    out_path,
    as_json,
) -> None:
    """Train in fixed point on a dataset; accuracy per epoch next to the float reference."""
    from predsparse.hardware.run import simulate

    cfg = build_config(**net)
    if level == "cycle":
        cfg.validate(level="cycle")
    if export_dir:  # refused before the simulation, not after it
        from predsparse.hardware.export import TABLE_MAX_WIDTH

        if cfg.fmt.width > TABLE_MAX_WIDTH:
            raise InputError(
                f"--export: format {cfg.fmt} is {cfg.fmt.width} bits: memory files (full tables) need "
                f"W <= {TABLE_MAX_WIDTH}"
            )
    _, prep = _prepare(cfg, dataset, train_limit, test_limit, cfg.seed)
    data = prep(cfg)
    res = simulate(
        cfg,
        data,
        epochs=epochs,
        schedule=schedule,
        bp_hazard=bp_hazard,
        level=level,
        reference=reference,
        progress=_progress(progress and not as_json),
    )
    sim = res.pop("_sim")
    if export_dir:
        from predsparse.hardware.export import export_memories

        export_memories(
            export_dir, cfg, sim.patterns, sim.w, sim.b, extra={"trained_epochs": epochs, "dataset": dataset}
        )
        res["export"] = export_dir
    if out_path:
        _write_json(out_path, res)
    if as_json:
        emit_json(res)
        return
    c, hwr, d = res["config"], res["hardware"], res["data"]
    click.echo(
        f"network N={c['N_net']} d_out={c['d_out_net']} z={c['z_net']} format {c['format']} {c['activation']} "
        f"eta=2^-{c['lr_shift']} P={c['P']} rho_net={100 * c['rho_net']:.2f}% seed={c['seed']}"
    )
    click.echo(
        f"data {d['name']}: {d['train']} train, {d['test']} test, {d['features']} features in {d['input_neurons']} inputs, "
        f"{d['classes']} classes; schedule {schedule}, BP {bp_hazard}, level {level}"
    )
    click.echo(f"{'epoch':>5} {'train%':>7} {'test%':>7} {'float train%':>12} {'float test%':>11} {'sim inputs/s':>12}")
    for e in res["epochs"]:
        click.echo(
            f"{e['epoch']:>5} {_pct(e['train_acc_online']):>7} {_pct(e['test_acc']):>7} "
            f"{_pct(e.get('float_train_acc_online')):>12} {_pct(e.get('float_test_acc')):>11} {e['sim_inputs_per_s']:>12.0f}"
        )
    click.echo(
        f"hardware: {hwr['clocks_per_input']} clocks/input = {hwr['us_per_input_at_clock']:.3g} us at "
        f"{hwr['clock_hz'] / 1e6:g} MHz ({hwr['inputs_per_s_at_clock']:.0f} inputs/s), stalls/block {hwr['stall_cycles_per_block']}"
    )
    nr = hwr["neurons"]
    click.echo(
        f"hidden neurons seeing only padding: {nr['hidden_padding_only']}/{nr['hidden_neurons']}, without input: "
        f"{nr['hidden_no_input']}, feeding only padding outputs: {nr['hidden_to_padding_only']}"
    )
    if "cycle" in res:
        click.echo(f"cycle model: {res['cycle']}")
    for note in res["notes"]:
        click.echo(("WARNING " if note.startswith("accuracy collapse") else "") + note)


@hw.command("export")
@network_options
@click.option(
    "--out",
    "out_dir",
    type=OutputPath(directory=True),
    required=True,
    help="Directory for the hex memory files (created; files replaced atomically).",
)
@json_option
@handle_errors
def export_cmd(
    net,
    out_dir,
    as_json,
) -> None:
    """Write the initial memories (weights, biases, seed vectors, tables) as hex, one word per line."""
    from predsparse.hardware.export import export_memories
    from predsparse.hardware.simulator import ArchSimulator

    cfg = build_config(**net)
    sim = ArchSimulator(cfg)
    man = export_memories(out_dir, cfg, sim.patterns, sim.w, sim.b, extra={"trained_epochs": 0})
    if as_json:
        emit_json(man)
        return
    click.echo(f"wrote {len(man['files'])} memory groups to {out_dir} (manifest.json lists them)")


# the other hw commands attach themselves to the group
from predsparse.cli import hw_cost_cmd, hw_study_cmd  # noqa: E402, F401
from predsparse.cli.hw_pipeline_cmd import register as _register_pipeline  # noqa: E402

_register_pipeline(hw, network_options, build_config, _write_json)

COMMANDS: list[click.Command] = [hw]
