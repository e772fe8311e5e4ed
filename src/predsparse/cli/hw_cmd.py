"""``predsparse hw``: the bit-accurate hardware model (simulate, cost, export, sweep, hazard, pipeline-study)."""

from __future__ import annotations

import json
from typing import Any

import click

from predsparse.cli.common import (  # checked while parsing, before any work
    CLASH_TYPE_HELP,
    D_OUT_HELP,
    EPOCHS_HELP,
    LIMIT_HELP,
    POSITIVE_INT,
    PROGRESS_HELP,
    OutputPath,
    deprecated_alias,
    emit_json,
    handle_errors,
    int_list,
    json_option,
)
from predsparse.errors import InputError


def network_options(f):  # noqa: ANN201 - click decorator
    """Options that describe the modelled network and hardware (shared by every ``hw`` command)."""
    opts = [
        click.option(
            "--preset",
            type=click.Choice(["fpga", "none"]),
            default="none",
            show_default=True,
            help="fpga: N=(1024,64,32), d_out=(4,16), z=(128,32), (1,2,7), sigmoid, eta=1/8, P=2, 15 MHz, "
            "zero seed vectors in junction 1. Other options override it.",
        ),
        click.option("--layers", default=None, help="N_net, e.g. 1024,64,32."),
        click.option("--d-out", "out_degree", default=None, help=D_OUT_HELP.replace("20,10", "4,16")),
        deprecated_alias("--out-degree", "--d-out", "out_degree"),
        click.option("--z", default=None, help="Edges per clock per junction, e.g. 128,32."),
        click.option("--format", "fmt", default=None, help="Fixed point S,I,F (default 1,3,8; the FPGA used 1,2,7)."),
        click.option("--activation", type=click.Choice(["sigmoid", "relu"]), default=None, help="Default sigmoid."),
        click.option("--lr-shift", type=int, default=None, help="Learning rate eta = 2^-k (default 3)."),
        click.option(
            "--pipeline-depth", "-P", "P", type=int, default=None, help="Processor pipeline depth P (default 2)."
        ),
        click.option(
            "--kind",
            "pattern",
            type=click.Choice(["clash-free", "structured", "random"]),
            default=None,
            help="Pattern kind of every junction (default clash-free).",
        ),
        deprecated_alias("--pattern", "--kind", "pattern"),
        click.option("--clash-type", type=click.IntRange(1, 3), default=None, help=CLASH_TYPE_HELP + " Default 2."),
        click.option("--dither/--no-dither", default=None, help="Clash-free memory dither."),
        click.option(
            "--seed-vectors",
            default=None,
            help="Per junction (or one for all): random, zero (released FPGA) or safe (no BP hazard, needs D >= P+2).",
        ),
        click.option("--seed", type=int, default=None, help="Seeds patterns, weights and input order (default 0)."),
        click.option("--clock-mhz", type=float, default=None, help="Clock for the speed figures (default 15)."),
        click.option(
            "--lr-rounding",
            type=click.Choice(["half-up", "half-even"]),
            default=None,
            help="Rounding of the learning-rate shift: half-up (the RTL, default) or half-even (experiment).",
        ),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def build_config(
    preset: str,
    layers: str | None,
    out_degree: str | None,
    z: str | None,
    fmt: str | None,
    activation: str | None,
    lr_shift: int | None,
    P: int | None,
    pattern: str | None,
    clash_type: int | None,
    dither: bool | None,
    seed_vectors: str | None,
    seed: int | None,
    clock_mhz: float | None,
    lr_rounding: str | None = None,
) -> Any:
    from predsparse.hardware.config import HwConfig, fpga_reference, parse_seed_vectors

    fields: dict[str, Any] = {}
    if layers is not None:
        fields["layers"] = tuple(int_list(layers, "layers") or ())
    if out_degree is not None:
        fields["out_degrees"] = tuple(int_list(out_degree, "d-out") or ())
    if z is not None:
        fields["z"] = tuple(int_list(z, "z") or ())
    if fmt is not None:
        fields["fmt"] = fmt
    for k, v in (
        ("activation", activation),
        ("lr_shift", lr_shift),
        ("P", P),
        ("pattern", pattern),
        ("clash_type", clash_type),
        ("dither", dither),
        ("seed", seed),
        ("lr_rounding", lr_rounding),
    ):
        if v is not None:
            fields[k] = v
    if clock_mhz is not None:
        fields["clock_hz"] = clock_mhz * 1e6
    n_j = len(fields.get("layers", (1024, 64, 32) if preset == "fpga" else ())) - 1
    if fields.get("layers") and fields.get("out_degrees"):  # absurd sizes refused before any pattern is drawn
        from predsparse.limits import PATTERN_EDGE_BYTES, check_network

        check_network(fields["layers"], fields["out_degrees"], per_edge=PATTERN_EDGE_BYTES)
    if seed_vectors is not None:
        fields["seed_vectors"] = parse_seed_vectors(seed_vectors, max(n_j, 1))
    if preset == "fpga":
        if "layers" in fields and "seed_vectors" not in fields:
            fields["seed_vectors"] = None
        return fpga_reference(**fields)
    missing = [o for o, k in (("--layers", "layers"), ("--d-out", "out_degrees"), ("--z", "z")) if k not in fields]
    if missing:
        raise InputError(f"missing {', '.join(missing)}: describe the network or use --preset fpga")
    return HwConfig(**fields)


def _progress(enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return lambda total, desc: tqdm(total=total, desc=desc, unit="input", leave=False, mininterval=0.5)


def _prepare(cfg: Any, dataset: str, train_limit: int | None, test_limit: int | None, seed: int):
    from predsparse.hardware.data import load, prepare

    ds = load(dataset, seed=seed)
    return ds, (lambda c: prepare(ds, c, train_limit=train_limit, test_limit=test_limit, seed=seed))


def _write_json(path: str, obj: Any) -> None:
    """The result as indented JSON, written atomically (``predsparse.atomic``)."""
    from predsparse.atomic import write_text

    write_text(path, json.dumps(obj, indent=2, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.2f}"


SCHEDULE_HELP = (
    "pipelined: forward, backward and update of consecutive inputs overlap (the hardware); sequential: one at a time."
)


@click.group("hw")
def hw() -> None:
    """Bit-accurate model of the edge-based, clash-free, pipelined training hardware."""


data_opts = [
    click.option(
        "--dataset", required=True, help="fashion-mnist (padded to N_0), mnist, morse[:preset], or an .npz file."
    ),
    click.option("--epochs", type=POSITIVE_INT, default=1, show_default=True, help=EPOCHS_HELP),
    click.option(
        "--limit-train", "train_limit", type=POSITIVE_INT, default=None, help=LIMIT_HELP.format(split="training")
    ),
    deprecated_alias("--train-limit", "--limit-train", "train_limit"),
    click.option("--limit-test", "test_limit", type=POSITIVE_INT, default=None, help=LIMIT_HELP.format(split="test")),
    deprecated_alias("--test-limit", "--limit-test", "test_limit"),
    click.option("--progress/--no-progress", default=True, help=PROGRESS_HELP),
]


def data_options(f):  # noqa: ANN201
    for o in reversed(data_opts):
        f = o(f)
    return f


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
    preset,
    layers,
    out_degree,
    z,
    fmt,
    activation,
    lr_shift,
    P,
    pattern,
    clash_type,
    dither,
    seed_vectors,
    seed,
    clock_mhz,
    lr_rounding,
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

    cfg = build_config(
        preset,
        layers,
        out_degree,
        z,
        fmt,
        activation,
        lr_shift,
        P,
        pattern,
        clash_type,
        dither,
        seed_vectors,
        seed,
        clock_mhz,
        lr_rounding,
    )
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


@hw.command("cost")
@network_options
@click.option(
    "--device", default=None, help="Check the fit on this FPGA (xc7a35t, xc7a50t, xc7a75t, xc7a100t, xc7a200t)."
)
@json_option
@handle_errors
def cost_cmd(
    preset,
    layers,
    out_degree,
    z,
    fmt,
    activation,
    lr_shift,
    P,
    pattern,
    clash_type,
    dither,
    seed_vectors,
    seed,
    clock_mhz,
    lr_rounding,
    device,
    as_json,
) -> None:
    """Cost sheet: DSP/LUT multipliers, adders, comparators, LUT/FF/BRAM, memory bits, speed, device fit."""
    from predsparse.hardware.cost import cost_report, hazard_fixes

    cfg = build_config(
        preset,
        layers,
        out_degree,
        z,
        fmt,
        activation,
        lr_shift,
        P,
        pattern,
        clash_type,
        dither,
        seed_vectors,
        seed,
        clock_mhz,
        lr_rounding,
    )
    rep = cost_report(cfg, device=device)
    rep["hazard_fixes"] = hazard_fixes(cfg)
    if as_json:
        emit_json(rep)
        return
    for name in ("sparse", "fc"):
        _print_cost(name, rep[name])
    click.echo(f"  fc rules: {rep['fc']['architecture_rules']}")
    click.echo("BP hazard and fixes:")
    for h in rep["hazard_fixes"]:
        click.echo(
            f"  {h['design']:>19}: lost {h['lost_per_input']}/{h['contributions_per_input']} per input, "
            f"{h['clocks_per_input']} clocks/input, {h['multipliers']} mult, z={h['z_net']} d_out={h['d_out_net']} P={h['P']}"
            + (
                f", +{h['comparators']} comparators, +{h['extra_register_bits']} register bits, +{h['muxes']} muxes"
                if "comparators" in h
                else ""
            )
        )


def _print_cost(name: str, r: dict[str, Any]) -> None:
    t, sh = r["totals"], r["sheet"]
    m = sh["multipliers"]
    click.echo(
        f"[{name}] N={r['N_net']} d_out={r['d_out_net']} z={r['z_net']} W={r['width']} P={r['P']}  rho_net={100 * t['rho_net']:.2f}%"
    )
    click.echo(f"  {'junction':>8} {'d_in':>6} {'D':>5} {'C':>5} {'mult':>6} {'add':>6} {'tables':>6} {'W+b bits':>9}")
    for j in r["junctions"]:
        click.echo(
            f"  {j['junction']:>8} {j['d_in']:>6} {j['D']:>5} {j['C']:>5} {j['multipliers']['total']:>6} "
            f"{j['adders']['total']:>6} {j['table_pairs']:>6} {j['weight_bits'] + j['bias_bits']:>9}"
        )
    for lr in r["layers"]:
        click.echo(
            f"  layer {lr['layer']}: a {lr['a_bits']} + a' {lr['a_prime_bits']} + delta {lr['delta_bits']} = {lr['bits']} bits"
        )
    click.echo(
        f"  multipliers: {m['total']} = {m['dsp']} on DSP48E1 (FF {m['ff_dsp']} + BP {m['bp_dsp']}; {sh['dsp_slices']} DSP slices) "
        f"+ {m['up_lut']} in LUTs (UP)"
    )
    parts = ", ".join(
        f"{a['what']} j{a['junction']} {a['count']}"
        for a in sh["adders"]
        if a["count"] and "comparator" not in a["what"]
    )
    click.echo(f"  adders/subtractors: {sh['adder_count']} ({parts}); comparators: {sh['comparator_count']} (arg-max)")
    lu = sh["luts"]
    click.echo(
        f"  estimates: {lu['total']} LUTs (LUT multipliers {lu['lut_multipliers']}, round/saturate {lu['round_saturate']}, "
        f"adders {lu['adders_comparators']}, addresses {lu['address_generation']}, distributed RAM {lu['lutram']}), "
        f"{sh['flip_flops']} flip-flops, {sh['bram18']} BRAM18"
    )
    click.echo(
        f"  total: {t['multipliers']} multipliers, {sh['adder_count']} adders + {sh['comparator_count']} comparators, {t['table_pairs']} table pairs, "
        f"{t['memory_bits']} memory bits (words stored), parallelism {t['parallelism']}"
    )
    click.echo(
        f"  {r['clocks_per_input']} clocks/input = {r['us_per_input']:.3g} us at {r['clock_hz'] / 1e6:g} MHz "
        f"({r['inputs_per_s']:.0f} inputs/s)"
    )
    if "device" in r:
        d = r["device"]
        use = ", ".join(
            f"{u['resource']} {u['used']}/{u['available']} ({100 * u['utilisation']:.1f} %)" for u in d["rows"]
        )
        verdict = "fits" if d["fits"] else f"does NOT fit ({', '.join(d['over'])} over)"
        click.echo(f"  {d['device']}: {use}")
        click.echo(f"  {d['device']}: {verdict}; limited by {d['limited_by']} ({100 * d['limit_utilisation']:.1f} %)")


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
    preset,
    layers,
    out_degree,
    z,
    fmt,
    activation,
    lr_shift,
    P,
    pattern,
    clash_type,
    dither,
    seed_vectors,
    seed,
    clock_mhz,
    lr_rounding,
    out_dir,
    as_json,
) -> None:
    """Write the initial memories (weights, biases, seed vectors, tables) as hex, one word per line."""
    from predsparse.hardware.export import export_memories
    from predsparse.hardware.simulator import ArchSimulator

    cfg = build_config(
        preset,
        layers,
        out_degree,
        z,
        fmt,
        activation,
        lr_shift,
        P,
        pattern,
        clash_type,
        dither,
        seed_vectors,
        seed,
        clock_mhz,
        lr_rounding,
    )
    sim = ArchSimulator(cfg)
    man = export_memories(out_dir, cfg, sim.patterns, sim.w, sim.b, extra={"trained_epochs": 0})
    if as_json:
        emit_json(man)
        return
    click.echo(f"wrote {len(man['files'])} memory groups to {out_dir} (manifest.json lists them)")


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
    preset,
    layers,
    out_degree,
    z,
    fmt,
    activation,
    lr_shift,
    P,
    pattern,
    clash_type,
    dither,
    seed_vectors,
    seed,
    clock_mhz,
    lr_rounding,
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

    cfg = build_config(
        preset,
        layers,
        out_degree,
        z,
        fmt,
        activation,
        lr_shift,
        P,
        pattern,
        clash_type,
        dither,
        seed_vectors,
        seed,
        clock_mhz,
        lr_rounding,
    )
    fmts = [FixedFormat.parse(f) for f in formats.split(";") if f.strip()]
    acts = [a.strip() for a in activations.split(",") if a.strip()]
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
    preset,
    layers,
    out_degree,
    z,
    fmt,
    activation,
    lr_shift,
    P,
    pattern,
    clash_type,
    dither,
    seed_vectors,
    seed,
    clock_mhz,
    lr_rounding,
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

    cfg = build_config(
        preset,
        layers,
        out_degree,
        z,
        fmt,
        activation,
        lr_shift,
        P,
        pattern,
        clash_type,
        dither,
        seed_vectors,
        seed,
        clock_mhz,
        lr_rounding,
    )
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


from predsparse.cli.hw_pipeline_cmd import register as _register_pipeline  # noqa: E402 - needs the helpers above

_register_pipeline(hw, network_options, build_config, _write_json)
