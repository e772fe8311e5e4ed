"""Memory estimates checked before any work, so absurd sizes are refused instead of swapping (a leaf module).

The limit is half of the machine's RAM unless ``PREDSPARSE_MEMORY_LIMIT`` (or ``--memory-limit``, on every
command, which sets it) says otherwise (bytes, or a number with a K/M/G/T suffix, e.g. ``64G``; ``0`` or ``none``
switches the check off). It is the only memory limit: patterns, datasets, models (``ModelSpec.validate``) and
the scatter analysis are all checked against it. Estimates are lower bounds of what the work really allocates,
so a refused size would certainly not fit.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from predsparse.errors import InputError

ENV = "PREDSPARSE_MEMORY_LIMIT"
_SUFFIX = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
# bytes per edge of a trained sparse junction: the pattern's generation (below), then float32 weight, gradient
# and two Adam moments
EDGE_BYTES = 40 + 4 * 4
# peak bytes per edge while a pattern is drawn and summarised (int64 indices, permutations, sorting temporaries;
# measured: `pattern show` grows by 40 bytes per edge)
PATTERN_EDGE_BYTES = 40
# peak bytes per edge of the scatter analysis (measured: `pattern scatter` grows by about 175 bytes per edge)
SCATTER_EDGE_BYTES = 180


def physical_memory() -> int | None:
    """Bytes of RAM of this machine (None where the platform does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return None


def parse_size(raw: str, name: str = ENV) -> int | None:
    """Bytes of a size such as ``64G``, ``512M`` or ``1000000``; ``0``/``none``/``off`` give None (no limit).
    ``name`` (the env var or option) is named in the one-line error."""
    raw = str(raw).strip()
    if raw.lower() in ("0", "none", "off"):
        return None
    num, suffix = raw.upper().rstrip("B"), ""
    if num and num[-1] in _SUFFIX:
        num, suffix = num[:-1], num[-1]
    try:
        value = float(num) * _SUFFIX[suffix]
    except ValueError:
        raise InputError(f"{name}={raw!r} is not a size: give bytes or a number with K, M, G or T (e.g. 64G)") from None
    if not value > 0 or value == float("inf"):
        raise InputError(f"{name}={raw!r} must be positive (or 'none' to switch the check off)")
    return int(value)


def memory_limit() -> int | None:
    """The limit in bytes: ``PREDSPARSE_MEMORY_LIMIT`` or half of RAM; None means no limit."""
    raw = os.environ.get(ENV, "").strip()
    if raw:
        return parse_size(raw)
    ram = physical_memory()
    return ram // 2 if ram else None


def human(nbytes: float) -> str:
    """``1.5 GiB`` style text for a byte count."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(nbytes) < 1024 or unit == "PiB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.1f} PiB"  # pragma: no cover


def check_memory(nbytes: float, what: str) -> None:
    """Raise :class:`InputError` when ``what`` needs more than the limit (message: estimate, limit, how to raise it)."""
    limit = memory_limit()
    if limit is not None and nbytes > limit:
        source = f"set by {ENV} or --memory-limit" if os.environ.get(ENV, "").strip() else "half of RAM"
        raise InputError(
            f"{what} needs about {human(nbytes)} of memory, over the limit of {human(limit)} ({source}): "
            f"use smaller sizes, or raise the limit with --memory-limit or {ENV}=<bytes, e.g. 64G>"
        )


def pattern_bytes(n_in: int, n_out: int, edges: int | None = None) -> int:
    """Bytes of one pattern's index arrays (``edges`` defaults to fully connected)."""
    return PATTERN_EDGE_BYTES * (n_in * n_out if edges is None else edges)


def network_edges(layers: Sequence[int], d_out: Sequence[int] | None = None) -> int:
    """Edges of a network: ``sum(n_i * d_out_i)``, or the fully connected count where a degree is None."""
    layers = [int(n) for n in layers]
    degs = list(d_out) if d_out is not None else [None] * (len(layers) - 1)
    return sum(
        n * (n_next if d is None else min(int(d), n_next)) for n, n_next, d in zip(layers[:-1], layers[1:], degs)
    )


def network_bytes(layers: Sequence[int], d_out: Sequence[int] | None = None, *, per_edge: int = EDGE_BYTES) -> int:
    """Bytes to train a sparse network (``per_edge`` bytes per edge, 16 per neuron for biases and their state);
    ``per_edge=SCATTER_EDGE_BYTES`` for the scatter analysis."""
    return per_edge * network_edges(layers, d_out) + 16 * sum(int(n) for n in layers[1:])


def dataset_bytes(samples: int, features: int, itemsize: int = 4) -> int:
    """Bytes of a dataset's features (float32 by default, as training holds them)."""
    return int(samples) * int(features) * itemsize


def check_network(
    layers: Sequence[int], d_out: Sequence[int] | None = None, what: str | None = None, *, per_edge: int = EDGE_BYTES
) -> None:
    """:func:`check_memory` for a network given by its layer sizes and out-degrees (None: fully connected)."""
    edges = network_edges(layers, d_out)
    check_memory(
        network_bytes(layers, d_out, per_edge=per_edge), what or f"a network {list(layers)} with {edges:,} edges"
    )
