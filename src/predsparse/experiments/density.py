"""Accuracy vs density for each pattern kind, with the fully connected network as the reference row.

This is the seed's big table: rows are ``d_out_net`` (density), columns the pattern kinds, cells
test accuracy mean +- std over seeds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from predsparse.atomic import save_figure
from predsparse.data.format import Dataset
from predsparse.errors import InputError
from predsparse.patterns import network
from predsparse.train import TrainConfig, build_model, fit


@dataclass
class DensitySweep:
    """What to run: one network shape, several ``d_out_net`` rows, several pattern kinds and seeds."""

    layers: list[int]
    out_degrees: list[list[int]]
    kinds: list[str] = field(default_factory=lambda: ["clash-free", "structured", "random"])
    z: list[int] | None = None
    seeds: list[int] = field(default_factory=lambda: [0, 1])
    activation: str = "relu"
    train: TrainConfig = field(default_factory=TrainConfig)
    include_fc: bool = True


def default_z(layers: Sequence[int], depth: int = 4) -> list[int]:
    """A ``z`` per junction with memory depth ``depth`` where possible (``z = N_{i-1} / depth``)."""
    out = []
    for p in layers[:-1]:
        d = depth if p % depth == 0 else 1
        out.append(p // d)
    return out


def run_density_sweep(
    dataset: Dataset,
    sweep: DensitySweep,
    *,
    progress: bool = True,
    done: Callable[[dict[str, Any]], bool] | None = None,
    record: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Train every (row, kind, seed); returns one record per run. ``done(key)`` lets a caller skip runs
    already stored (resume) and ``record(rec)`` stores each result as soon as it exists."""
    z = sweep.z or default_z(sweep.layers)
    jobs: list[tuple[str, list[int], int]] = []
    if sweep.include_fc:
        jobs += [("fc", list(sweep.layers[1:]), s) for s in sweep.seeds]
    for dout in sweep.out_degrees:
        if len(dout) != len(sweep.layers) - 1:
            raise InputError(f"out-degrees {dout} need one entry per junction ({len(sweep.layers) - 1})")
        # validate every row and kind before training anything
        for kind in sweep.kinds:
            network(sweep.layers, dout, kind, z=z, seed=0)
        jobs += [(kind, list(dout), s) for kind in sweep.kinds for s in sweep.seeds]
    results = []
    bar = tqdm(jobs, desc="density sweep", disable=not progress, dynamic_ncols=True)
    for kind, dout, seed in bar:
        key = {"kind": kind, "out_degrees": dout, "seed": seed}
        if done is not None and done(key):
            continue
        bar.set_postfix(kind=kind, d_out=",".join(map(str, dout)), seed=seed)
        net = network(sweep.layers, None if kind == "fc" else dout, kind, z=z, seed=seed)
        model = build_model(net.layers, net.patterns, activation=sweep.activation, seed=seed)
        res = fit(model, dataset, replace(sweep.train, seed=seed), progress=False)
        rec = {
            **key,
            "layers": sweep.layers,
            "z": z if kind == "clash-free" else None,
            "in_degrees": net.d_in_net,
            "rho_net": net.rho_net,
            "junction_densities": net.densities,
            "parameters": net.parameters,
            "test_acc": res.test_acc,
            "best_val_acc": res.best_val_acc,
            "best_epoch": res.best_epoch,
            "seconds": res.seconds,
        }
        results.append(rec)
        if record is not None:
            record(rec)
    return results


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    a = np.asarray(values, dtype=float)
    return float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else 0.0


def density_table(records: Sequence[dict[str, Any]], kinds: Sequence[str] | None = None) -> tuple[list[str], list[list[str]]]:
    """The seed-style table: ``d_out_net | rho_net % | d_in_net | z_net | accuracy per kind (mean +- std %)``."""
    kinds = list(kinds or dict.fromkeys(r["kind"] for r in records if r["kind"] != "fc"))
    rows_by_dout: dict[tuple[int, ...], dict[str, Any]] = {}
    for r in records:
        if r["kind"] == "fc":
            continue
        row = rows_by_dout.setdefault(tuple(r["out_degrees"]), {"rho": r["rho_net"], "din": r["in_degrees"], "z": None})
        row.setdefault(r["kind"], []).append(r["test_acc"])
        if r.get("z"):
            row["z"] = r["z"]
    header = ["d_out_net", "rho_net %", "d_in_net", "z_net", *kinds]
    body = []
    fc = [r["test_acc"] for r in records if r["kind"] == "fc"]
    if fc:
        m, s = mean_std(fc)
        d_in_fc = next(r["in_degrees"] for r in records if r["kind"] == "fc")
        body.append(["FC", "100", _tup(d_in_fc), "-", *[f"{100 * m:.1f} +- {100 * s:.1f}"] * len(kinds)])
    for dout, row in sorted(rows_by_dout.items(), key=lambda kv: -kv[1]["rho"]):
        cells = []
        for k in kinds:
            if k in row:
                m, s = mean_std(row[k])
                cells.append(f"{100 * m:.1f} +- {100 * s:.1f}")
            else:
                cells.append("-")
        body.append([_tup(dout), f"{100 * row['rho']:.1f}", _tup(row["din"]), _tup(row["z"]) if row["z"] else "-", *cells])
    return header, body


def _tup(v: Any) -> str:
    return "(" + ", ".join(str(x) for x in v) + ")" if v is not None else "-"


def format_table(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    """A plain-text (and Markdown-compatible) table."""
    widths = [max(len(str(c)) for c in col) for col in zip(header, *body)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, body)])


def log_ticks(ax) -> None:  # noqa: ANN001 - a matplotlib Axes
    """Plain-number labels on a log x axis (matplotlib's default overlaps them on short ranges)."""
    from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())


def plot_density(records: Sequence[dict[str, Any]], path: str, title: str = "") -> None:
    """Test accuracy vs net density per pattern kind (mean with std error bars), FC as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    kinds = list(dict.fromkeys(r["kind"] for r in records if r["kind"] != "fc"))
    for k in kinds:
        by_rho: dict[float, list[float]] = {}
        for r in records:
            if r["kind"] == k:
                by_rho.setdefault(round(r["rho_net"], 6), []).append(r["test_acc"])
        xs = sorted(by_rho)
        ms = [mean_std(by_rho[x]) for x in xs]
        ax.errorbar([100 * x for x in xs], [100 * m for m, _ in ms], yerr=[100 * s for _, s in ms], marker="o", capsize=3, label=k)
    fc = [r["test_acc"] for r in records if r["kind"] == "fc"]
    if fc:
        ax.axhline(100 * float(np.mean(fc)), color="k", ls="--", label="fully connected")
    ax.set_xscale("log")
    log_ticks(ax)
    ax.set_xlabel("net density rho_net (%)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)
