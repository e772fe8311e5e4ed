"""``predsparse pattern count | scatter | study``: counting clash-free patterns, scatter, and the
scatter-vs-accuracy study. :func:`register` adds the commands to the ``pattern`` group."""

from __future__ import annotations

import math

import click

from predsparse.cli.common import (  # checked while parsing, before any work
    CLASH_TYPE_HELP,
    D_OUT_HELP,
    DITHER_HELP,
    KIND_CHOICES,
    KIND_HELP,
    PROGRESS_HELP,
    SEED_HELP,
    FiniteFloat,
    OutputPath,
    deprecated_alias,
    emit_json,
    handle_errors,
    int_list,
    jobs_option,
    json_option,
    removed_option,
)
from predsparse.errors import InputError


@click.command("count")
@removed_option("--in", "--n-in", " (the left layer size)")
@removed_option("--out", "--n-out", " (the right layer size; --out names output paths)")
@click.option("--n-in", "n_in", type=int, required=True, help="Left layer size p.")
@click.option("--n-out", "n_out", type=int, required=True, help="Right layer size n.")
@click.option(
    "--d-out", "out_degree", type=int, required=True, help="d_out: edges per left neuron (= number of sweeps)."
)
@deprecated_alias("--out-degree", "--d-out", "out_degree")
@click.option("--z", type=int, required=True, help="Edges per clock (parallelism); must divide --n-in.")
@click.option(
    "--clash-type", "clash_type", type=click.IntRange(1, 3), default=2, show_default=True, help=CLASH_TYPE_HELP
)
@deprecated_alias("--type", "--clash-type")
@click.option("--dither/--no-dither", default=False, help=DITHER_HELP)
@click.option(
    "--enumerate", "do_enum", is_flag=True, help="Also build every pattern and count distinct matrices (small cases)."
)
@click.option("--limit", type=int, default=200_000, show_default=True, help="Most patterns --enumerate may build.")
@json_option
@handle_errors
def count_cmd(n_in, n_out, out_degree, z, clash_type, dither, do_enum, limit, as_json) -> None:
    """Number of distinct clash-free patterns (closed form; exact big integers), optionally checked by enumeration."""
    from predsparse.patterns import counting as C

    cfg = C.configurations(n_in, n_out, out_degree, z, type=clash_type, dither=dither)
    try:
        terms = C.count_terms(n_in, n_out, out_degree, z, type=clash_type, dither=dither)
        formula_error = None
    except InputError as exc:
        if not do_enum:
            raise
        terms, formula_error = None, str(exc)
    spec = C.spec_formula(n_in, n_out, out_degree, z, type=clash_type, dither=dither)
    enum = (
        C.enumerate_clash_free(n_in, n_out, out_degree, z, type=clash_type, dither=dither, limit=limit)
        if do_enum
        else None
    )
    count = terms["count"] if terms else None
    out = {
        "n_in": n_in,
        "n_out": n_out,
        "d_out": out_degree,
        "z": z,
        "clash_type": clash_type,
        "dither": dither,
        "d_in": n_in * out_degree // n_out,
        "D": n_in // z,
        "count": count,
        "log10_count": math.log10(count) if count else None,
        "terms": terms,
        "formula_error": formula_error,
        "spec_formula": spec,
        "spec_formula_agrees": None if spec is None or count is None else spec == count,
        "seed_configurations": cfg,
        "enumeration": enum,
    }
    if as_json:
        emit_json(out)
        return
    if count is not None:
        click.echo(f"distinct patterns   {_short(count)}  ({terms['method']})")
        click.echo(
            f"terms               k = {_short(terms['k'])}, addresses = {_short(terms['addresses'])}, exponent = {terms['exponent']}"
        )
    else:
        click.echo(f"closed form         none: {formula_error}")
    click.echo(f"seed choices        {_short(cfg)}")
    if spec is not None and count is not None and spec != count:
        click.echo(f"spec formula        {_short(spec)}  (differs: see predsparse.patterns.counting)")
    if enum is not None:
        ok = (
            ""
            if count is None
            else ("  (agrees)" if enum["distinct"] == count else "  (DISAGREES with the closed form)")
        )
        click.echo(
            f"enumeration         {enum['distinct']} distinct of {enum['built']} built, {enum['rejected']} rejected{ok}"
        )


def _short(v: int) -> str:
    """Exact up to 40 digits, else leading digits and the number of digits."""
    t = str(v)
    return t if len(t) <= 40 else f"{t[:12]}... ({len(t)} digits, 10^{math.log10(v):.2f})"


def _parse_windows(specs: tuple[str, ...], layers: list[int]) -> dict[int, list]:
    """``LAYER:SPEC`` texts to window sets; tiling warnings become one ``warning:`` line each."""
    import warnings

    from predsparse.patterns.windows import parse_window_spec

    out: dict[int, list] = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for text in specs:
            layer, sep, rest = text.partition(":")
            if not sep or not layer.strip().isdigit():
                raise InputError(f"--window {text!r}: write LAYER:SPEC, e.g. 0:2d:28,28,4,4 or 1:n:8")
            i = int(layer)
            if not 0 <= i < len(layers):
                raise InputError(f"--window {text!r}: layer {i} is outside 0..{len(layers) - 1}")
            if i in out:
                raise InputError(f"--window given twice for layer {i}")
            out[i] = parse_window_spec(rest, layers[i])
    for w in caught:
        click.echo(f"warning: {w.message}", err=True)
    return out


@click.command("scatter")
@click.option("--layers", required=True, help="N_net, e.g. 1024,64,16.")
@click.option("--d-out", "out_degree", default=None, help=D_OUT_HELP)
@deprecated_alias("--out-degree", "--d-out", "out_degree")
@click.option(
    "--kind", "kind", type=click.Choice(KIND_CHOICES), default="structured", show_default=True, help=KIND_HELP
)
@deprecated_alias("--pattern", "--kind")
@click.option("--z", default=None, help="Clash-free: z per junction, e.g. 128,32.")
@click.option(
    "--clash-type", "clash_type", type=click.IntRange(1, 3), default=2, show_default=True, help=CLASH_TYPE_HELP
)
@deprecated_alias("--type", "--clash-type")
@click.option("--dither/--no-dither", default=False, help=DITHER_HELP)
@click.option("--seed", type=int, default=0, show_default=True, help=SEED_HELP)
@click.option("--matter", default=None, help="Neurons that matter per layer (the first m of each), e.g. 784,64,10.")
@click.option(
    "--window",
    "windows",
    multiple=True,
    metavar="LAYER:SPEC",
    help="Windows of one layer (repeatable): LAYER:n:G, LAYER:1d:SIZE[,STRIDE], LAYER:2d:H,W,h,w[,sh,sw], "
    "LAYER:3d:C,H,W,c,h,w[,sc,sh,sw]. Other layers get the default windows.",
)
@click.option(
    "--plot", "plot_path", type=OutputPath(), default=None, help="Save a picture of the scatter of every neuron."
)
@click.option(
    "--threshold",
    type=FiniteFloat(),
    default=None,
    help="Reject below this scatter (default: the study's recommended threshold).",
)
@json_option
@handle_errors
def scatter_cmd(
    layers, out_degree, kind, z, clash_type, dither, seed, matter, windows, plot_path, threshold, as_json
) -> None:
    """Scatter of a network's pattern: the vector (both directions of every junction and the input-to-output
    paths) and its minimum, the network's scatter."""
    from predsparse.experiments.scatter_study import recommended_threshold
    from predsparse.patterns import network
    from predsparse.patterns.scatter import network_scatter

    lay = int_list(layers, "layers")
    assert lay is not None
    dout = int_list(out_degree, "d-out")
    zs = int_list(z, "z")
    mt = int_list(matter, "matter")
    if mt is not None and len(mt) != len(lay):
        raise InputError(f"--matter {matter!r} has {len(mt)} entries: need one per layer ({len(lay)})")
    if kind != "fc" and dout is None:
        raise InputError(f"--kind {kind} needs --d-out (one per junction)")
    wins = _parse_windows(windows, lay)
    from predsparse.limits import SCATTER_EDGE_BYTES, check_network

    check_network(lay, dout if kind != "fc" else None, per_edge=SCATTER_EDGE_BYTES)  # absurd sizes: refuse first
    if plot_path:
        from predsparse.patterns.plots import _check_path

        _check_path(plot_path)
    net = network(lay, dout if kind != "fc" else None, kind, z=zs, seed=seed, clash_type=clash_type, dither=dither)
    rep = network_scatter(net, windows=wins, matter=mt)
    thr = recommended_threshold() if threshold is None else threshold
    thr_f = recommended_threshold(entry="net.f")
    net_f = rep.vector.get("net.f")
    if plot_path:
        from predsparse.patterns.plots import plot_neuron_scatter

        plot_neuron_scatter(rep, plot_path)
    out = rep.to_dict() | {
        "threshold": thr,
        "passes": rep.value >= thr,
        "threshold_net_f": thr_f,
        "passes_net_f": None if net_f is None else net_f >= thr_f,
        "network": net.summary(),
    }
    if as_json:
        emit_json(out)
        return
    click.echo(f"scatter             {rep.value:.4f}  (minimum, at {rep.argmin})")
    for name, v in rep.vector.items():
        click.echo(f"  {name:17s} {v:.4f}")
    click.echo(
        f"threshold           {thr:.3g} on the minimum: {'passes' if rep.value >= thr else 'REJECT before training'}"
    )
    if net_f is not None:
        click.echo(
            f"threshold net.f     {thr_f:.3g} on net.f: {'passes' if net_f >= thr_f else 'REJECT before training'}"
        )
    for w in rep.windows:
        click.echo(
            f"layer {w['layer']} windows     {w['windows']} of {w['size_min']}-{w['size_max']} neurons over {w['matter']} that matter"
        )
    if plot_path:
        click.echo(f"picture             {plot_path}")


@click.command("study")
@click.option(
    "--full", is_flag=True, help="Whole datasets, longer training, more seeds (hours); default: reduced (minutes)."
)
@click.option(
    "--out",
    "out_dir",
    type=OutputPath(directory=True),
    default="runs/scatter_study",
    show_default=True,
    help="Output directory (resumes if it holds the same study).",
)
@click.option("--seed", type=int, default=0, show_default=True, help=SEED_HELP)
@click.option("--replicates", type=int, default=None, help="Patterns per kind and dataset (default 4 reduced, 8 full).")
@click.option(
    "--dataset",
    "datasets",
    multiple=True,
    type=click.Choice(["morse", "fashion-mnist"]),
    help="Only these datasets (repeatable).",
)
@jobs_option("1", "Trainings run")
@click.option("--progress/--no-progress", default=True, show_default=True, help=PROGRESS_HELP)
@json_option
@handle_errors
def study_cmd(full, out_dir, seed, replicates, datasets, jobs, progress, as_json) -> None:
    """Scatter before training vs test accuracy after, over many patterns at equal density (Morse baseline and
    Fashion-MNIST); writes scatter_study.json, threshold.json and scatter_vs_accuracy.png."""
    from predsparse.experiments import scatter_study as S

    cfg = S.full_config(seed) if full else S.reduced_config(seed)
    if replicates is not None:
        if replicates < 1:
            raise InputError(f"--replicates {replicates} must be at least 1")
        cfg.replicates = replicates
    if datasets:
        cfg.setups = [s for s in cfg.setups if s.name in datasets]
    import torch

    cfg.threads = torch.get_num_threads()  # the global --threads / PREDSPARSE_THREADS (default: all cores)
    res = S.run_study(cfg, out_dir, progress=progress and not as_json, jobs=jobs)
    if as_json:
        emit_json({k: res[k] for k in ("summary", "threshold", "versions", "seconds", "config")})
        return
    for ds, s in res["summary"].items():
        a, o = s["all"], s["ordinary_only"]
        click.echo(
            f"{ds:14s} all kinds: Pearson {a['pearson']:+.3f} (p={a['pearson_p']:.2g}), Spearman {a['spearman']:+.3f} "
            f"(p={a['spearman_p']:.2g}), n={a['n']}; ordinary kinds only: Pearson {o['pearson']:+.3f}, "
            f"Spearman {o['spearman']:+.3f}, n={o['n']}"
        )
        t = s["threshold"]
        click.echo(
            f"{'':14s} threshold {t['threshold']:.2f}: rejects {t['poor_rejected']} of {t['poor']} patterns more than "
            f"{t['tol']:g} below the ordinary median ({t['reference_acc']:.4f}), none of the {t['good']} others"
        )
    click.echo(f"recommended threshold {res['threshold']['threshold']:.2f} (lowest over datasets)")
    click.echo(f"written to {out_dir}/ (scatter_study.json, threshold.json, scatter_vs_accuracy.png)")


ANALYSIS_COMMANDS = [count_cmd, scatter_cmd, study_cmd]


def register(group: click.Group) -> None:
    """Add ``count``, ``scatter`` and ``study`` to the ``pattern`` group."""
    for cmd in ANALYSIS_COMMANDS:
        group.add_command(cmd)
