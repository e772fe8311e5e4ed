"""Tables (mean +- std over seeds, as in the seed) and plots from the results store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from predsparse.atomic import save_figure
from predsparse.errors import InputError
from predsparse.experiments.store import canonical
from predsparse.experiments.tables import format_table, mean_std


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, list):
        return "(" + ", ".join(_fmt(x) for x in v) + ")"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def group_runs(rows: Sequence[dict[str, Any]], drop: Sequence[str] = ()) -> dict[str, dict[str, Any]]:
    """Group stored runs by their varied settings (seed, and keys in ``drop``, pooled)."""
    groups: dict[str, dict[str, Any]] = {}
    for r in rows:
        res = r["result"]
        varied = {k: v for k, v in res.get("varied", {}).items() if k not in drop}
        g = groups.setdefault(canonical(varied), {"varied": varied, "results": []})
        g["results"].append(res)
    return groups


def summary_table(rows: Sequence[dict[str, Any]], pivot: str | None = None) -> tuple[list[str], list[list[str]]]:
    """One row per setting: varied keys, rho_net %, parameters, test accuracy and validation accuracy
    (mean +- std %, n seeds). With ``pivot`` (e.g. ``network.kind``), that key's values become columns."""
    if not rows:
        raise InputError("no stored runs to report (wrong sweep name or empty results file?)")
    groups = group_runs(rows)
    keys = list(dict.fromkeys(k for g in groups.values() for k in g["varied"]))
    if pivot is not None:
        if pivot not in keys:
            raise InputError(f"--pivot {pivot!r} is not a varied key of this sweep; varied: {keys}")
        rest = [k for k in keys if k != pivot]
        # pivot values may be lists (e.g. network.conv): dedupe by their canonical text, keep the values
        cols = list({canonical(g["varied"][pivot]): g["varied"][pivot] for g in groups.values()}.values())
        table: dict[str, dict[str, Any]] = {}
        for g in groups.values():
            rk = canonical({k: g["varied"].get(k) for k in rest})
            row = table.setdefault(rk, {"varied": {k: g["varied"].get(k) for k in rest}, "rho": [], "cells": {}})
            row["rho"] += [r["rho_net"] for r in g["results"]]
            row["cells"][canonical(g["varied"][pivot])] = [r["test_acc"] for r in g["results"]]
        header = [*rest, "rho_net %", *[_fmt(c) for c in cols]]
        body = []
        for row in sorted(table.values(), key=lambda t: -float(np.mean(t["rho"]))):
            cells = []
            for c in cols:
                accs = row["cells"].get(canonical(c))
                cells.append(_pm(accs) if accs else "-")
            rhos = {round(100 * r, 1) for r in row["rho"]}
            rho = f"{rhos.pop():.1f}" if len(rhos) == 1 else "varies"  # e.g. columns with different input widths
            body.append([*[_fmt(row["varied"][k]) for k in rest], rho, *cells])
        return header, body
    header = [*keys, "rho_net %", "params", "test acc %", "val acc %", "n"]
    body = []
    for g in sorted(groups.values(), key=lambda g: -float(np.mean([r["rho_net"] for r in g["results"]]))):
        res = g["results"]
        body.append(
            [
                *[_fmt(g["varied"].get(k, "-")) for k in keys],
                f"{100 * float(np.mean([r['rho_net'] for r in res])):.1f}",
                str(int(np.mean([r["parameters"] for r in res]))),
                _pm([r["test_acc"] for r in res]),
                _pm([r["best_val_acc"] for r in res]),
                str(len(res)),
            ]
        )
    return header, body


def best_by(rows: Sequence[dict[str, Any]], key: str) -> tuple[list[str], list[list[str]]]:
    """For each setting of the other varied keys, the value of ``key`` with the best mean validation
    accuracy (e.g. the best L2 coefficient per density, chosen on validation data as in the seed)."""
    groups = group_runs(rows)
    keys = list(dict.fromkeys(k for g in groups.values() for k in g["varied"]))
    if key not in keys:
        raise InputError(f"--best-by {key!r} is not a varied key of this sweep; varied: {keys}")
    rest = [k for k in keys if k != key]
    best: dict[str, dict[str, Any]] = {}
    for g in groups.values():
        rk = canonical({k: g["varied"].get(k) for k in rest})
        val = float(np.mean([r["best_val_acc"] for r in g["results"]]))
        if rk not in best or val > best[rk]["val"]:
            best[rk] = {"varied": g["varied"], "val": val, "results": g["results"]}
    header = [*rest, "rho_net %", f"best {key}", "val acc %", "test acc %"]
    body = []
    for b in sorted(best.values(), key=lambda b: -float(np.mean([r["rho_net"] for r in b["results"]]))):
        res = b["results"]
        body.append(
            [
                *[_fmt(b["varied"].get(k)) for k in rest],
                f"{100 * float(np.mean([r['rho_net'] for r in res])):.1f}",
                _fmt(b["varied"][key]),
                _pm([r["best_val_acc"] for r in res]),
                _pm([r["test_acc"] for r in res]),
            ]
        )
    return header, body


def plot_runs(
    rows: Sequence[dict[str, Any]], path: str, *, x: str = "rho_net", series: str | None = None, title: str = ""
) -> None:
    """Test accuracy (mean +- std) against ``x`` (``rho_net``, ``parameters`` or a varied key), one curve
    per value of ``series``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = group_runs(rows)
    curves: dict[str, list[tuple[float, float, float]]] = {}
    for g in groups.values():
        res = g["results"]
        if x in ("rho_net", "parameters"):
            xv = float(np.mean([r[x] for r in res])) * (100 if x == "rho_net" else 1)
        else:
            v = g["varied"].get(x)
            if not isinstance(v, (int, float)):
                raise InputError(f"--x {x!r} must be rho_net, parameters or a numeric varied key")
            xv = float(v)
        label = _fmt(g["varied"].get(series)) if series else "runs"
        m, s = mean_std([r["test_acc"] for r in res])
        curves.setdefault(label, []).append((xv, 100 * m, 100 * s))
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, pts in curves.items():
        pts.sort()
        ax.errorbar(
            [p[0] for p in pts], [p[1] for p in pts], yerr=[p[2] for p in pts], marker="o", capsize=3, label=label
        )
    ax.set_xlabel("net density (%)" if x == "rho_net" else x)
    ax.set_ylabel("test accuracy (%)")
    if x in ("rho_net", "parameters"):
        ax.set_xscale("log")
        log_ticks(ax)
    ax.grid(alpha=0.3)
    ax.set_title(title)
    if series:
        ax.legend(title=series)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)


def _pm(values: Sequence[float]) -> str:
    m, s = mean_std(values)
    return f"{100 * m:.2f} +- {100 * s:.2f}"


def log_ticks(ax) -> None:  # noqa: ANN001 - a matplotlib Axes
    """Plain-number labels on a log x axis (matplotlib's default overlaps them on short ranges)."""
    from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())


def _kind(r: dict[str, Any]) -> str:
    return r["spec"]["kind"]


def density_table(
    results: Sequence[dict[str, Any]], kinds: Sequence[str] | None = None
) -> tuple[list[str], list[list[str]]]:
    """The seed's big table from run records (:func:`predsparse.train.run.run`): ``d_out_net | rho_net % |
    d_in_net | z_net | accuracy per kind (mean +- std %)``, the fully connected network as the first row."""
    kinds = list(kinds or dict.fromkeys(_kind(r) for r in results if _kind(r) != "fc"))
    rows_by_dout: dict[tuple[int, ...], dict[str, Any]] = {}
    for r in results:
        if _kind(r) == "fc":
            continue
        row = rows_by_dout.setdefault(tuple(r["spec"]["d_out"]), {"rho": r["rho_net"], "din": r["d_in_net"], "z": None})
        row.setdefault(_kind(r), []).append(r["test_acc"])
        if r["spec"].get("z"):
            row["z"] = r["spec"]["z"]
    header = ["d_out_net", "rho_net %", "d_in_net", "z_net", *kinds]
    body = []
    fc = [r for r in results if _kind(r) == "fc"]
    if fc:
        m, s = mean_std([r["test_acc"] for r in fc])
        body.append(["FC", "100", _tup(fc[0]["d_in_net"]), "-", *[f"{100 * m:.1f} +- {100 * s:.1f}"] * len(kinds)])
    for dout, row in sorted(rows_by_dout.items(), key=lambda kv: -kv[1]["rho"]):
        cells = []
        for k in kinds:
            if k in row:
                m, s = mean_std(row[k])
                cells.append(f"{100 * m:.1f} +- {100 * s:.1f}")
            else:
                cells.append("-")
        body.append(
            [_tup(dout), f"{100 * row['rho']:.1f}", _tup(row["din"]), _tup(row["z"]) if row["z"] else "-", *cells]
        )
    return header, body


def _tup(v: Any) -> str:
    return "(" + ", ".join(str(x) for x in v) + ")" if v is not None else "-"


def plot_density(results: Sequence[dict[str, Any]], path: str, title: str = "") -> None:
    """Test accuracy vs net density per pattern kind (mean with std error bars), FC as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for k in dict.fromkeys(_kind(r) for r in results if _kind(r) != "fc"):
        by_rho: dict[float, list[float]] = {}
        for r in results:
            if _kind(r) == k:
                by_rho.setdefault(round(r["rho_net"], 6), []).append(r["test_acc"])
        xs = sorted(by_rho)
        ms = [mean_std(by_rho[x]) for x in xs]
        ax.errorbar(
            [100 * x for x in xs],
            [100 * m for m, _ in ms],
            yerr=[100 * s for _, s in ms],
            marker="o",
            capsize=3,
            label=k,
        )
    fc = [r["test_acc"] for r in results if _kind(r) == "fc"]
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


__all__ = [
    "best_by",
    "density_table",
    "format_table",
    "group_runs",
    "log_ticks",
    "plot_density",
    "plot_runs",
    "summary_table",
]
