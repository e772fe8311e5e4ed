"""``predsparse pattern``: make, inspect, picture, count and score connection patterns."""

from __future__ import annotations

import click

from predsparse.cli import pattern_analysis_cmd
from predsparse.cli.common import (
    CLASH_TYPE_HELP,
    DITHER_HELP,
    KIND_CHOICES,
    KIND_HELP,
    POSITIVE_INT,
    SEED_HELP,
    FiniteFloat,
    OutputPath,
    deprecated_alias,
    emit_json,
    handle_errors,
    json_option,
    removed_option,
)
from predsparse.errors import InputError
from predsparse.limits import check_memory, pattern_bytes


@click.group("pattern")
def pattern() -> None:
    """Connection patterns: show, count, scatter, study."""


@pattern.command("show")
@click.option("--file", "path", default=None, help="A saved pattern (.npz or compact .json) instead of generating one.")
@click.option("--n-in", "n_in", type=POSITIVE_INT, default=None, help="Left layer size p.")
@click.option("--n-out", "n_out", type=POSITIVE_INT, default=None, help="Right layer size n.")
@removed_option("--in", "--n-in", " (the left layer size)")
@removed_option("--out", "--n-out", " (the right layer size; --out names output paths)")
@click.option("--d-out", "out_degree", type=POSITIVE_INT, default=None, help="d_out: edges per left neuron.")
@deprecated_alias("--out-degree", "--d-out", "out_degree")
@click.option(
    "--density",
    type=FiniteFloat(min=0, max=1, min_open=True),
    default=None,
    help="Random patterns: density instead of --d-out.",
)
@click.option(
    "--kind", "kind", type=click.Choice(KIND_CHOICES), default="structured", show_default=True, help=KIND_HELP
)
@deprecated_alias("--pattern", "--kind")
@click.option("--z", type=POSITIVE_INT, default=None, help="Clash-free: edges per clock.")
@click.option(
    "--clash-type", "clash_type", type=click.IntRange(1, 3), default=2, show_default=True, help=CLASH_TYPE_HELP
)
@deprecated_alias("--type", "--clash-type")
@click.option("--dither/--no-dither", default=False, help=DITHER_HELP)
@click.option("--seed", type=int, default=0, show_default=True, help=SEED_HELP)
@click.option(
    "--save",
    "save_path",
    type=OutputPath(),
    default=None,
    help="Write the pattern (.npz, or .json compact form for clash-free).",
)
@click.option(
    "--plot",
    "plot_path",
    type=OutputPath(),
    default=None,
    help="Save a picture of the biadjacency matrix (PNG/PDF/SVG).",
)
@json_option
@handle_errors
def show(
    path, n_in, n_out, out_degree, density, kind, z, clash_type, dither, seed, save_path, plot_path, as_json
) -> None:
    """Print a pattern's summary (degrees, density, dead neurons) and optionally save or picture it."""
    from predsparse import patterns as P

    if path:
        try:
            pat = P.load(path)
        except InputError:
            raise
        except Exception as exc:
            why = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
            raise InputError(f"{path}: not a readable pattern file ({type(exc).__name__}: {why})") from None
    else:
        if n_in is None or n_out is None:
            raise InputError("give --n-in and --n-out (layer sizes), or --file")
        edges = n_in * n_out if kind == "fc" or (kind == "random" and density is not None) else n_in * (out_degree or 0)
        check_memory(pattern_bytes(n_in, n_out, edges), f"a {n_in}x{n_out} pattern with {edges:,} edges")
        if kind == "random" and density is not None:
            pat = P.random(n_in, n_out, density=density, seed=seed)
        elif kind == "fc":
            pat = P.fully_connected(n_in, n_out)
        else:
            if out_degree is None:
                raise InputError(f"--kind {kind} needs --d-out")
            pat = P.make(kind, n_in, n_out, out_degree, z=z, seed=seed, clash_type=clash_type, dither=dither)
    if save_path:
        P.save(pat, save_path)
    if plot_path:
        from predsparse.patterns.plots import plot_biadjacency

        plot_biadjacency(pat, plot_path)
    summary = pat.summary()
    if as_json:
        emit_json(summary)
        return
    for k, v in summary.items():
        if k == "params":
            v = {a: b for a, b in v.items() if a not in ("seeds", "perms")} | (
                {"seeds": "(stored; --save to write)"} if "seeds" in v else {}
            )
        click.echo(f"{k:22s} {v}")
    if plot_path:
        click.echo(f"{'picture':22s} {plot_path}")


# the analysis commands (count, scatter, study) live in their own module
pattern_analysis_cmd.register(pattern)

COMMANDS: list[click.Command] = [pattern]
