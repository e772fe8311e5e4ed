"""`predsparse morse` commands: generate datasets, compute difficulty metrics, run the difficulty study."""

from __future__ import annotations

import io
import json
import math
import time
from pathlib import Path
from typing import Any

import click
import numpy as np

from predsparse.cli.common import (
    OutputPath,  # checked while parsing, before any work
    emit_json,
    handle_errors,
    json_option,
    name_list,
)
from predsparse.errors import InputError


@click.group("morse")
def morse() -> None:
    """Morse code datasets of tunable difficulty, and dataset difficulty metrics."""


def _whole(text: str | None, name: str, minimum: int = 0) -> int | None:
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        raise InputError(f"--{name} {text!r} is not a whole number") from None
    if value < minimum:
        raise InputError(f"--{name} {value} is not valid: it must be >= {minimum}")
    return value


def _check_target(path: str, option: str) -> Path:
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{option} {path!r} is a directory: give a file name")
    return p


@morse.command("generate")
@click.option("--preset", default="baseline", show_default=True, help="Named parameter set: baseline or difficult.")
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override one generation parameter (repeatable), e.g. --param noise_sd=2 --param leading_spaces=true.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Random seed (same seed and parameters give the same bytes).",
)
@click.option(
    "--out",
    type=OutputPath(parents=True),
    default=None,
    metavar="FILE",
    help="Where to write the .npz (keys xtr..yte plus a JSON 'meta'). Required.",
)
@click.option(
    "--plot",
    type=OutputPath(parents=True),
    default=None,
    metavar="PNG",
    help="Also draw example frames of every class into this PNG.",
)
@json_option
@handle_errors
def generate_cmd(
    preset: str, params: tuple[str, ...], seed: str, out: str | None, plot: str | None, as_json: bool
) -> None:
    """Generate a Morse dataset and save it as an npz file.

    Parameters (defaults = baseline): style (gray|bw), frame_len, dilation, dilation_draw (range|multiply),
    codebook (fixed|original), min/max_len_dot,
    min/max_len_dash, min/max_len_space, leading_spaces, levels, symbol_mean, symbol_sd, noise_mean,
    noise_sd, max_flips, train_per_class, val_per_class, test_per_class, onehot.
    """
    from predsparse.atomic import write_bytes as atomic_write
    from predsparse.morse import generate, parse_overrides

    seed_value = _whole(seed, "seed")
    if out is None:
        raise InputError("--out FILE is required: where to write the dataset")
    out_path = _check_target(out, "--out")
    plot_path = _check_target(plot, "--plot") if plot else None
    overrides = parse_overrides(params)
    t0 = time.perf_counter()
    ds = generate(preset, seed=seed_value, **overrides)
    seconds = time.perf_counter() - t0

    arrays: dict[str, Any] = {}
    for split in ("tr", "va", "te"):
        arrays["x" + split] = getattr(ds, "x" + split)
        arrays["y" + split] = ds.onehot(split) if ds.meta["onehot"] else getattr(ds, "y" + split)
    arrays["meta"] = np.array(json.dumps(ds.meta))
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out_path, buf.getvalue())
    if plot_path is not None:
        from predsparse.morse.plot import examples_png

        plot_path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(plot_path, examples_png(ds))

    summary = {
        **ds.summary(),
        "file": str(out_path),
        "plot": str(plot_path) if plot_path else None,
        "preset": preset,
        "seed": seed_value,
        "params": ds.meta["params"],
        "seconds": round(seconds, 3),
    }
    if as_json:
        emit_json(summary)
        return
    click.echo(
        f"wrote {out_path}: {summary['name']}, {summary['train']}/{summary['val']}/{summary['test']} samples "
        f"(train/val/test), {summary['features']} values per frame, {summary['classes']} classes, seed {seed_value} "
        f"({seconds:.2f} s to generate)"
    )
    if plot_path:
        click.echo(f"wrote {plot_path}")


_METRIC_NOTES = {
    "V_lower": "lower bound on the error",
    "V_upper": "union upper bound on the error",
    "V_dist": "mean sigma / d_min",
    "V_thresh": "class pairs with centroid L1/N0 < threshold",
}


@morse.command("metrics")
@click.argument("file", metavar="FILE")
@click.option(
    "--compat",
    default=None,
    metavar="MODE",
    help="'original': the original script with its defects (variance for sigma, stale V_upper index); "
    "'paper': V_thresh over ordered pairs. Default: the correct formulas.",
)
@click.option("--threshold", default="0.05", show_default=True, help="L1/N0 threshold of V_thresh.")
@json_option
@handle_errors
def metrics_cmd(file: str, compat: str | None, threshold: str, as_json: bool) -> None:
    """Difficulty metrics (V_lower, V_upper, V_dist, V_thresh) of a dataset npz file (any dataset, images flattened)."""
    from predsparse.morse.metrics import COMPAT_MODES, difficulty

    if compat is not None and compat not in COMPAT_MODES:
        raise InputError(f"--compat {compat!r} is not valid: use one of {', '.join(COMPAT_MODES)} (or leave it out)")
    try:
        thr = float(threshold)
    except ValueError:
        raise InputError(f"--threshold {threshold!r} is not a number") from None
    if not (math.isfinite(thr) and thr > 0):  # 0 would make V_thresh 0 for any data; NaN compares false everywhere
        raise InputError(f"--threshold {threshold!r} must be a finite number > 0 (an L1/N0 distance, e.g. 0.05)")
    ds = _load(file)
    t0 = time.perf_counter()
    values = difficulty(ds, compat=compat, threshold=thr)
    seconds = time.perf_counter() - t0
    info = ds.summary()
    if as_json:
        emit_json(
            {
                "file": file,
                "compat": compat,
                "threshold": thr,
                "dataset": info,
                "metrics": values,
                "seconds": round(seconds, 3),
            }
        )
        return
    click.echo(
        f"{file} ({info['name']}): {info['classes']} classes, {info['features']} features, "
        f"{info['train'] + info['val'] + info['test']} samples" + (f"  [compat={compat}]" if compat else "")
    )
    for k, v in values.items():
        shown = f"{v:d}" if isinstance(v, int) else f"{v:.6g}"
        click.echo(f"  {k:<9} {shown:>12}   {_METRIC_NOTES[k]}")


def _load(path: str) -> Any:
    try:
        from predsparse.data.loaders import load_npz
    except ImportError:  # pragma: no cover - the data package ships load_npz
        load_npz = None
    if load_npz is not None:
        return load_npz(path)
    from predsparse.data.format import Dataset

    p = Path(path)
    if not p.is_file():
        raise InputError(f"{path}: no such dataset file")
    try:
        with np.load(p, allow_pickle=False) as z:
            return Dataset.from_mapping({k: z[k] for k in z.files})
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{path}: not a readable npz file ({type(exc).__name__}: {exc})") from None


TRAINERS = ("auto", "project")


def default_trainer(kind: str = "auto") -> tuple[Any, str]:
    """``(trainer, name)`` for the study: the one run function (``predsparse.train.run`` on a fully
    connected ``SparseMLP``) for ``auto`` and ``project``; ``trainer`` None means the study's default."""
    if kind == "torch":
        raise InputError(
            "--trainer 'torch' is gone: the study trains through predsparse.train.run (use auto or project)"
        )
    if kind not in TRAINERS:
        raise InputError(f"--trainer {kind!r} is not valid: use one of {', '.join(TRAINERS)}")
    return None, "predsparse.train.run (fully connected SparseMLP, Adam)"


@morse.command("study")
@click.option(
    "--full", is_flag=True, help="Full size (5000/1000/1000 samples per class, 30 epochs); default is reduced."
)
@click.option(
    "--out",
    type=OutputPath(directory=True),
    default="runs/morse_study",
    show_default=True,
    metavar="DIR",
    help="Directory for results.db (one row per dataset; reruns resume), table.md and one plot per metric.",
)
@click.option(
    "--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed for data generation and training."
)
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Override the number of training epochs.")
@click.option("--train-per-class", default=None, help="Override the baseline training samples per class.")
@click.option("--hidden", default=None, help="Override the hidden layer width (default 1024).")
@click.option("--knobs", default=None, help="Comma-separated subset of: noise, leading, dash, dilation, size.")
@click.option(
    "--trainer",
    "trainer_kind",
    default="auto",
    show_default=True,
    help="auto or project: the one run function (predsparse.train.run) on a fully connected SparseMLP.",
)
@json_option
@handle_errors
def study_cmd(
    full: bool,
    out: str,
    seed: str,
    epochs: str | None,
    train_per_class: str | None,
    hidden: str | None,
    knobs: str | None,
    trainer_kind: str,
    as_json: bool,
) -> None:
    """Difficulty ladder: vary one knob at a time, train the same network, correlate metrics with accuracy."""
    from predsparse.experiments.morse_study import StudyConfig, format_table, run_study

    kw: dict[str, Any] = {"seed": _whole(seed, "seed")}
    for name, text in (("epochs", epochs), ("train_per_class", train_per_class), ("hidden", hidden)):
        if text is not None:
            kw[name] = _whole(text, name.replace("_", "-"), 1)
    if knobs is not None:
        kw["knobs"] = tuple(name_list(knobs))
    config = StudyConfig.full(**kw) if full else StudyConfig.reduced(**kw)
    trainer, name = default_trainer(trainer_kind)
    command = (
        "predsparse morse study"
        + (" --full" if full else "")
        + f" --out {out} --seed {config.seed}"
        + "".join(
            f" --{opt} {val}"
            for opt, val in (
                ("epochs", epochs),
                ("train-per-class", train_per_class),
                ("hidden", hidden),
                ("knobs", knobs),
            )
            if val is not None
        )
        + (f" --trainer {trainer_kind}" if trainer_kind != "auto" else "")
    )
    result = run_study(config, trainer=trainer, trainer_name=name, out=out, progress=True, command=command)
    if as_json:
        emit_json(result)
        return
    click.echo(format_table(result), nl=False)
    click.echo(
        f"seeds: data {config.seed}, train {config.seed}; trainer {name}; wrote {', '.join(result.get('files', []))}"
    )


COMMANDS: list[click.Command] = [morse]
