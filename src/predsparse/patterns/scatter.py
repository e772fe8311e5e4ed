"""Scatter: a cheap predictor of a pattern's trained performance (``docs/design/patterns.md``).

For an ``(n, p)`` matrix ``A`` whose rows are the neurons being scored and whose columns are the
neurons of the other layer, and windows over that other layer, the window-to-neuron matrix is
``M[j, w] = sum_{k in w} A[j, k]`` and the ideal count is ``|w| * d / p``. The scatter of neuron
``j`` is ``mean_w min(M[j, w] / ideal_w, 1)``.

Choices this module makes where the spec leaves room (documented in ``docs/patterns.md``):

* ``d`` is the mean row mass over the scored neurons *that matter*, counting every column (padding
  included); ``p`` is the whole other layer. A neuron that spreads its connections evenly over the
  whole layer then meets the ideal exactly in every window, and connections wasted on neurons that do
  not matter (padding) lower the counts in the windows that do. For fixed-degree junctions ``d`` is
  simply ``d_in`` (or ``d_out`` backwards), as in the spec.
* A junction-direction's scatter is the mean of its neurons' scatter over the neurons that matter.
* The network vector holds, for every junction ``i``, ``J{i}.f`` (right neurons w.r.t. left windows)
  and ``J{i}.b`` (left neurons w.r.t. right windows), and for networks of two or more junctions
  ``net.f`` / ``net.b`` for the input-to-output path-count matrix ``A_L ... A_1``. The network's
  scatter is the minimum of the vector.
* Default windows (:func:`default_windows`): layer ``i`` is cut into ``G_i`` contiguous windows over
  its neurons that matter, ``G_i = floor(m_i * d / N_i)`` with ``d`` the smallest mean degree of the
  junction-directions scored against this layer, so that every ideal is at least one.

Everything is vectorised with :mod:`scipy.sparse`: ``M = A @ B`` with ``B`` the ``(p, G)`` window
membership matrix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from predsparse.errors import InputError
from predsparse.patterns.core import Pattern
from predsparse.patterns.windows import Windows, check_windows, split_windows

MatterSpec = None | int | Sequence[int] | np.ndarray


# --- building blocks ---------------------------------------------------------------------------
def as_sparse(a: Pattern | np.ndarray | sp.spmatrix | sp.sparray) -> sp.csr_matrix:
    """A float64 CSR matrix from a :class:`Pattern` (rows = right neurons), a dense or a sparse matrix."""
    if isinstance(a, Pattern):
        data = np.ones(a.edges, dtype=np.float64)
        return sp.csr_matrix((data, (a.rows, a.cols)), shape=(a.n_out, a.n_in))
    if sp.issparse(a):
        return sp.csr_matrix(a, dtype=np.float64)
    arr = np.asarray(a)
    if arr.ndim != 2:
        raise InputError(f"matrix has shape {arr.shape}: scatter needs a 2-D (scored, other) matrix")
    return sp.csr_matrix(arr.astype(np.float64))


def window_matrix(windows: Windows, layer_size: int) -> sp.csr_matrix:
    """``(layer_size, G)`` 0/1 membership matrix: entry ``(k, w)`` is 1 when neuron ``k`` is in window ``w``."""
    windows = check_windows(windows, layer_size)
    rows = np.concatenate(windows)
    cols = np.repeat(np.arange(len(windows), dtype=np.int64), [w.size for w in windows])
    return sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(layer_size, len(windows)))


def matter_indices(spec: MatterSpec, size: int, name: str = "layer") -> np.ndarray:
    """Indices of the neurons that matter: ``None`` = all, an int ``m`` = the first ``m``, or explicit
    indices / a boolean mask of length ``size``."""
    if spec is None:
        return np.arange(size, dtype=np.int64)
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        if not 1 <= spec <= size:
            raise InputError(f"{name}: {spec} neurons that matter is outside 1..{size}")
        return np.arange(int(spec), dtype=np.int64)
    a = np.asarray(spec)
    if a.dtype == bool:
        if a.shape != (size,):
            raise InputError(f"{name}: boolean mask of neurons that matter has shape {a.shape}, need ({size},)")
        idx = np.flatnonzero(a)
    else:
        if a.ndim != 1 or not np.issubdtype(a.dtype, np.integer):
            raise InputError(f"{name}: neurons that matter must be a count, indices or a boolean mask")
        idx = np.unique(a.astype(np.int64))
        if idx.size and (idx[0] < 0 or idx[-1] >= size):
            raise InputError(f"{name}: a neuron that matters is outside 0..{size - 1}")
    if idx.size == 0:
        raise InputError(f"{name}: no neuron matters; at least one must")
    return idx


def neuron_scatter(
    a: Pattern | np.ndarray | sp.spmatrix,
    windows: Windows,
    *,
    scored: MatterSpec = None,
) -> np.ndarray:
    """Scatter of every scored row of ``a`` (rows: scored neurons, columns: the windowed layer).

    Returns one value in ``[0, 1]`` per neuron in ``scored`` (all rows by default), in index order.
    """
    m = as_sparse(a)
    n, p = m.shape
    rows = matter_indices(scored, n, "scored neurons")
    b = window_matrix(windows, p)
    sub = m[rows]
    counts = np.asarray((sub @ b).todense())  # (scored, G): M[j, w]
    total = float(sub.sum())
    if total == 0:
        return np.zeros(rows.size)
    sizes = np.asarray(b.sum(axis=0)).ravel()
    # M / ideal = M * p * count / (|w| * total): exact for integer counts, so a perfect spread gives 1.0
    ratio = counts * (p * rows.size) / (sizes[None, :] * total)
    return np.minimum(ratio, 1.0).mean(axis=1)


def path_counts(patterns: Sequence[Pattern | np.ndarray | sp.spmatrix]) -> sp.csr_matrix:
    """``A_L ... A_1``: entry ``(j, k)`` counts the paths from input ``k`` to output ``j``."""
    if not patterns:
        raise InputError("path counts need at least one junction")
    mats = [as_sparse(p) for p in patterns]
    for i in range(1, len(mats)):
        if mats[i].shape[1] != mats[i - 1].shape[0]:
            raise InputError(
                f"junction {i + 1} has {mats[i].shape[1]} inputs but junction {i} has {mats[i - 1].shape[0]} outputs"
            )
    # multiply from the output end: the running product keeps only N_L rows (usually the fewest)
    out = mats[-1]
    for m in reversed(mats[:-1]):
        out = (out @ m).tocsr()
    return out


# --- network scatter ---------------------------------------------------------------------------
@dataclass
class ScatterReport:
    """Scatter vector (named entries), its minimum, and per-neuron values for each entry."""

    vector: dict[str, float]
    neurons: dict[str, np.ndarray] = field(repr=False)
    windows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def value(self) -> float:
        """The network's scatter: the minimum of the vector."""
        return min(self.vector.values())

    @property
    def argmin(self) -> str:
        return min(self.vector, key=self.vector.__getitem__)

    def to_dict(self, neurons: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "scatter": self.value,
            "argmin": self.argmin,
            "vector": dict(self.vector),
            "windows": self.windows,
        }
        if neurons:
            out["neurons"] = {k: v.tolist() for k, v in self.neurons.items()}
        return out


def _layers_of(patterns: Sequence[Pattern]) -> list[int]:
    if not patterns:
        raise InputError("a network needs at least one junction")
    layers = [patterns[0].n_in]
    for i, p in enumerate(patterns, start=1):
        if p.n_in != layers[-1]:
            raise InputError(f"junction {i} has {p.n_in} inputs but layer {i - 1} has {layers[-1]} neurons")
        layers.append(p.n_out)
    return layers


def default_windows(patterns: Sequence[Pattern], matter: Sequence[MatterSpec] | None = None) -> list[Windows]:
    """One window set per layer (see the module notes): contiguous windows over the neurons that matter,
    as many as keep every ideal count at least one."""
    layers = _layers_of(patterns)
    mats = [as_sparse(p) for p in patterns]
    mt = _matter_all(layers, matter)
    out: list[Windows] = []
    for i, size in enumerate(layers):
        degrees = []
        if i < len(mats):  # scored: right neurons of junction i+1 (rows) against layer i
            r = mats[i][mt[i + 1]]
            degrees.append(r.sum() / max(mt[i + 1].size, 1))
        if i > 0:  # scored: left neurons of junction i (columns) against layer i
            c = mats[i - 1][:, mt[i - 1]]
            degrees.append(c.sum() / max(mt[i - 1].size, 1))
        d = min(degrees)
        g = int(np.clip(np.floor(mt[i].size * d / size + 1e-9), 1, mt[i].size))
        out.append(split_windows(mt[i], g))
    return out


def _matter_all(layers: list[int], matter: Sequence[MatterSpec] | None) -> list[np.ndarray]:
    if matter is None:
        matter = [None] * len(layers)
    matter = list(matter)
    if len(matter) != len(layers):
        raise InputError(
            f"neurons that matter given for {len(matter)} layers: need one entry per layer ({len(layers)})"
        )
    return [matter_indices(m, n, f"layer {i}") for i, (m, n) in enumerate(zip(matter, layers))]


def network_scatter(
    patterns: Sequence[Pattern] | Any,
    windows: Sequence[Windows | None] | Mapping[int, Windows] | None = None,
    matter: Sequence[MatterSpec] | None = None,
) -> ScatterReport:
    """The scatter vector of a network (``patterns`` one per junction, or a ``NetworkPatterns``).

    ``windows``: one window set per layer (``None`` entries, or layers missing from a mapping, get the
    default); ``matter``: per layer, the neurons that matter (``None`` = all, an int = the first ``m``).
    """
    patterns = list(getattr(patterns, "patterns", patterns))
    layers = _layers_of(patterns)
    mt = _matter_all(layers, matter)
    given: list[Windows | None]
    if windows is None:
        given = [None] * len(layers)
    elif isinstance(windows, Mapping):
        bad = [k for k in windows if not (isinstance(k, int) and 0 <= k < len(layers))]
        if bad:
            raise InputError(f"windows given for layer {bad[0]!r}: layers are 0..{len(layers) - 1}")
        given = [windows.get(i) for i in range(len(layers))]
    else:
        given = list(windows)
        if len(given) != len(layers):
            raise InputError(f"window sets given for {len(given)} layers: need one per layer ({len(layers)})")
    if any(w is None for w in given):
        dflt = default_windows(patterns, matter)
        given = [dflt[i] if w is None else w for i, w in enumerate(given)]
    wins = [check_windows(w, n) for w, n in zip(given, layers)]
    mats = [as_sparse(p) for p in patterns]
    vector: dict[str, float] = {}
    neurons: dict[str, np.ndarray] = {}

    def put(name: str, a: sp.csr_matrix, w: Windows, scored: np.ndarray) -> None:
        s = neuron_scatter(a, w, scored=scored)
        neurons[name] = s
        vector[name] = float(s.mean())

    for i, a in enumerate(mats, start=1):
        put(f"J{i}.f", a, wins[i - 1], mt[i])
        put(f"J{i}.b", a.T.tocsr(), wins[i], mt[i - 1])
    if len(mats) > 1:
        pc = path_counts(mats)
        put("net.f", pc, wins[0], mt[-1])
        put("net.b", pc.T.tocsr(), wins[-1], mt[0])
    info = [
        {
            "layer": i,
            "windows": len(w),
            "size_min": min(x.size for x in w),
            "size_max": max(x.size for x in w),
            "matter": int(m.size),
        }
        for i, (w, m) in enumerate(zip(wins, mt))
    ]
    return ScatterReport(vector, neurons, info)


def junction_scatter(
    pattern: Pattern,
    left_windows: Windows,
    right_windows: Windows,
    *,
    left_matter: MatterSpec = None,
    right_matter: MatterSpec = None,
) -> tuple[float, float]:
    """``(forward, backward)`` scatter of one junction: right neurons w.r.t. left windows, and back."""
    a = as_sparse(pattern)
    f = neuron_scatter(a, left_windows, scored=right_matter).mean()
    b = neuron_scatter(a.T.tocsr(), right_windows, scored=left_matter).mean()
    return float(f), float(b)


def scatter(patterns: Sequence[Pattern] | Any, windows: Any = None, matter: Any = None) -> float:
    """The network's scatter (minimum of :func:`network_scatter`'s vector)."""
    return network_scatter(patterns, windows, matter).value
