"""Pictures of connection patterns: biadjacency matrices, window-to-neuron matrices, scatter per neuron.

Figures are built on :class:`matplotlib.figure.Figure` with the Agg canvas (no pyplot, no display, no
global state) and written atomically; the format follows the file suffix (PNG, PDF, SVG, ...).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from predsparse.atomic import save_figure
from predsparse.errors import InputError
from predsparse.patterns.core import Pattern
from predsparse.patterns.scatter import ScatterReport, as_sparse, window_matrix
from predsparse.patterns.windows import Windows

_SWEEP_COLOURS = [
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
]
_DENSE_LIMIT = 4_000_000  # above this many matrix entries, draw edges as points instead of an image


def _figure(w: float = 6.0, h: float = 5.0) -> Figure:
    fig = Figure(figsize=(w, h), constrained_layout=True)
    FigureCanvasAgg(fig)
    return fig


def _check_path(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.suffix:
        raise InputError(f"picture path {str(path)!r} has no suffix: use .png, .pdf or .svg")
    if path.suffix.lower().lstrip(".") not in Figure().canvas.get_supported_filetypes():
        raise InputError(f"picture format {path.suffix!r} is not supported by matplotlib (use .png, .pdf or .svg)")
    return path


def sweep_of_edges(pattern: Pattern) -> np.ndarray | None:
    """Sweep of every edge of a clash-free pattern (``floor(e / n_in)``), else ``None``."""
    if pattern.kind != "clash_free":
        return None
    return np.arange(pattern.edges, dtype=np.int64) // pattern.n_in


def plot_biadjacency(
    pattern: Pattern,
    path: str | os.PathLike | None = None,
    *,
    memory_order: bool | None = None,
    title: str | None = None,
) -> Figure:
    """The ``(n_out, n_in)`` biadjacency matrix; returns the figure and saves it when ``path`` is given.

    Clash-free patterns show their hardware structure: edges coloured by sweep, a line where each
    sweep's right neurons end, and (``memory_order``, default on for clash-free) left neurons grouped
    by memory (``l mod z``, then address ``l // z``) with a line at every memory boundary.
    """
    out_path = _check_path(path) if path is not None else None
    n, p = pattern.n_out, pattern.n_in
    sweeps = sweep_of_edges(pattern)
    z = int(pattern.params.get("z", 0)) if pattern.kind == "clash_free" else 0
    memory_order = (z > 1) if memory_order is None else (memory_order and z > 1)
    cols = pattern.cols
    if memory_order:
        depth = p // z
        cols = (cols % z) * depth + cols // z  # position of left neuron in memory order
    fig = _figure(min(12.0, max(6.0, 3.0 + p / 60)), min(10.0, max(3.0, 2.5 + n / 60)))
    ax = fig.add_subplot(1, 1, 1)
    colour = (sweeps % len(_SWEEP_COLOURS)) + 1 if sweeps is not None else np.ones(pattern.edges, dtype=np.int64)
    if n * p <= _DENSE_LIMIT:
        img = np.zeros((n, p), dtype=np.int64)
        img[pattern.rows, cols] = colour
        cmap = ListedColormap(["white"] + (_SWEEP_COLOURS if sweeps is not None else ["black"]))
        ax.imshow(img, cmap=cmap, vmin=0, vmax=cmap.N - 1, interpolation="nearest", aspect="auto")
    else:
        palette = np.array(_SWEEP_COLOURS if sweeps is not None else ["black"])
        ax.scatter(cols, pattern.rows, s=0.2, c=palette[colour - 1], marker="s", linewidths=0)
        ax.set_xlim(-0.5, p - 0.5)
        ax.set_ylim(n - 0.5, -0.5)
    if sweeps is not None:
        d_in = pattern.edges // n if pattern.edges % n == 0 else None
        n_sweeps = int(sweeps.max()) + 1 if sweeps.size else 0
        if d_in:
            for s in range(1, n_sweeps):
                ax.axhline(s * p / d_in - 0.5, color="0.3", lw=0.8, ls="--")
        handles = [
            ax.scatter([], [], color=_SWEEP_COLOURS[s % len(_SWEEP_COLOURS)], marker="s", label=f"sweep {s}")
            for s in range(min(n_sweeps, len(_SWEEP_COLOURS)))
        ]
        if handles:
            ax.legend(handles=handles, loc="upper right", fontsize=7, framealpha=0.8)
    if memory_order:
        depth = p // z
        if z <= 64:
            for m in range(1, z):
                ax.axvline(m * depth - 0.5, color="0.5", lw=0.5)
        ax.set_xlabel(f"left neuron, grouped by memory (l mod z, z = {z}; {depth} addresses each)")
    else:
        ax.set_xlabel("left neuron")
    ax.set_ylabel("right neuron")
    desc = f"{pattern.kind} {n}x{p}, |W| = {pattern.edges}, density {pattern.density:.4g}"
    if pattern.kind == "clash_free":
        desc += f", type {pattern.params.get('type')}, z = {z}" + (", dither" if pattern.params.get("dither") else "")
    ax.set_title(title or desc, fontsize=9)
    if out_path is not None:
        save_figure(fig, out_path, dpi=150)
    return fig


def plot_window_matrix(
    pattern: Pattern,
    windows: Windows,
    path: str | os.PathLike | None = None,
    *,
    title: str | None = None,
) -> Figure:
    """The window-to-neuron matrix ``M[j, w]`` (right neurons against windows over the left layer),
    coloured relative to the ideal count ``|w| d_in / p``."""
    out_path = _check_path(path) if path is not None else None
    a = as_sparse(pattern)
    b = window_matrix(windows, pattern.n_in)
    m = np.asarray((a @ b).todense())
    sizes = np.asarray(b.sum(axis=0)).ravel()
    ideal = sizes * (a.sum() / pattern.n_out) / pattern.n_in
    fig = _figure(min(12.0, 3.5 + len(windows) / 8), min(10.0, 2.5 + pattern.n_out / 40))
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(
        m / ideal[None, :],
        cmap="viridis",
        vmin=0,
        vmax=max(2.0, float((m / ideal).max())),
        interpolation="nearest",
        aspect="auto",
    )
    fig.colorbar(im, ax=ax, label="M[j, w] / ideal")
    ax.set_xlabel(f"window over the left layer ({len(windows)} windows)")
    ax.set_ylabel("right neuron")
    ax.set_title(title or f"window-to-neuron matrix, ideal = |w| d_in / p (mean {ideal.mean():.3g})", fontsize=9)
    if out_path is not None:
        save_figure(fig, out_path, dpi=150)
    return fig


def plot_neuron_scatter(
    report: ScatterReport, path: str | os.PathLike | None = None, *, title: str | None = None
) -> Figure:
    """Scatter of every neuron, one panel per entry of the scatter vector (mean as a line)."""
    out_path = _check_path(path) if path is not None else None
    names = list(report.vector)
    cols = 2 if len(names) > 1 else 1
    rows = (len(names) + cols - 1) // cols
    fig = _figure(4.2 * cols, 2.2 * rows + 0.6)
    for i, name in enumerate(names):
        ax = fig.add_subplot(rows, cols, i + 1)
        vals = report.neurons[name]
        ax.plot(np.arange(vals.size), vals, ".", ms=2 if vals.size > 200 else 4)
        ax.axhline(report.vector[name], color="C3", lw=1, label=f"mean {report.vector[name]:.3f}")
        ax.set_ylim(-0.03, 1.05)
        ax.set_title(name + ("  (minimum)" if name == report.argmin else ""), fontsize=8)
        ax.set_xlabel("scored neuron (those that matter)", fontsize=7)
        ax.legend(fontsize=7, loc="lower right")
    fig.suptitle(title or f"scatter per neuron; network scatter = {report.value:.3f}", fontsize=9)
    if out_path is not None:
        save_figure(fig, out_path, dpi=150)
    return fig


def plot_scatter_vs_accuracy(
    panels: Sequence[dict[str, Any]],
    path: str | os.PathLike | None = None,
    *,
    threshold: float | None = None,
) -> Figure:
    """Scatter before training against test accuracy after, one panel per dataset.

    Each panel: ``{"title", "points": [(scatter, accuracy, group), ...], "pearson", "spearman", "n"}``.
    """
    out_path = _check_path(path) if path is not None else None
    fig = _figure(5.0 * max(1, len(panels)), 4.2)
    for i, panel in enumerate(panels):
        ax = fig.add_subplot(1, max(1, len(panels)), i + 1)
        groups: dict[str, list[tuple[float, float]]] = {}
        for s, acc, g in panel["points"]:
            groups.setdefault(g, []).append((s, acc))
        for j, (g, pts) in enumerate(sorted(groups.items())):
            arr = np.array(pts)
            ax.scatter(arr[:, 0], 100 * arr[:, 1], s=16, label=g, color=f"C{j % 10}", alpha=0.8)
        if threshold is not None:
            ax.axvline(threshold, color="0.3", ls="--", lw=1, label=f"threshold {threshold:.3g}")
        ax.set_xlabel("network scatter (min of vector), before training")
        ax.set_ylabel("test accuracy (%) after training")
        ax.set_title(
            f"{panel['title']}: Pearson {panel['pearson']:.2f}, Spearman {panel['spearman']:.2f}, n = {panel['n']}",
            fontsize=8,
        )
        ax.legend(fontsize=6, loc="best")
    if out_path is not None:
        save_figure(fig, out_path, dpi=150)
    return fig
