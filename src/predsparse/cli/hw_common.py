"""Shared pieces of the ``predsparse hw`` commands: the group, network and data options, configs."""

from __future__ import annotations

import functools
from typing import Any

import click

from predsparse.cli.common import (  # checked while parsing, before any work
    CLASH_TYPE_HELP,
    D_OUT_HELP,
    EPOCHS_HELP,
    LIMIT_HELP,
    POSITIVE_INT,
    PROGRESS_HELP,
    deprecated_alias,
    int_list,
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
    names = (
        "preset",
        "layers",
        "out_degree",
        "z",
        "fmt",
        "activation",
        "lr_shift",
        "P",
        "pattern",
        "clash_type",
        "dither",
        "seed_vectors",
        "seed",
        "clock_mhz",
        "lr_rounding",
    )

    @functools.wraps(f)  # copies click's collected options too
    def collect(*args: Any, **kwargs: Any) -> Any:
        # the network options reach the command as one dict, `net`, for build_config(**net)
        return f(*args, net={k: kwargs.pop(k) for k in names}, **kwargs)

    for o in reversed(opts):
        collect = o(collect)
    return collect


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
