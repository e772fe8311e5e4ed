"""Windows over a layer, and windowed connection patterns (``docs/design/patterns.md``, kind 4).

A *window* is a 1-D ``int64`` array of neuron indices of one layer; a window set is a list of them.
Windows feed the scatter measure (:mod:`predsparse.patterns.scatter`) and the windowed pattern
generator :func:`windowed`.

Coverage rules (the same for every generator here):

* Windows are placed at ``start, start + stride, start + 2 stride, ...`` along each axis, and only
  **whole** windows are kept: a window never sticks out of the region. When the stride does not
  tile the region (``(extent - size) % stride != 0``) the last ``(extent - size) % stride`` positions
  along that axis are in no window and a :class:`UserWarning` says so. ``stride < size`` gives
  overlapping windows (a neuron in several windows); ``stride > size`` leaves gaps, also warned.
* Neurons outside the region (for example the zero padding of a 28x28 image inside a 1024-neuron
  layer) are in no window. :func:`coverage` counts, per neuron, how many windows hold it.
* Index layouts: 1-D ``start + i``; 2-D image stored row by row, ``offset + y * row_length + x``
  (``row_length`` defaults to the image width, so a 28x28 image padded at the end to 1024 uses
  ``offset = 0``; a 28x28 image centred in a 32x32 one uses ``row_length = 32, offset = 2*32 + 2``);
  3-D feature maps stored channel by channel, ``offset + c * H * W + y * W + x``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from predsparse.errors import InputError
from predsparse.patterns.core import Pattern, check_size
from predsparse.patterns.generators import in_degree_for

Windows = list[np.ndarray]


# --- generators --------------------------------------------------------------------------------
def _positions(extent: int, size: int, stride: int, axis: str) -> np.ndarray:
    """Start positions of whole windows along one axis; warn when the stride leaves neurons out."""
    check_size(extent, f"{axis} extent")
    check_size(size, f"{axis} window size")
    check_size(stride, f"{axis} stride")
    if size > extent:
        raise InputError(f"{axis} window size {size} exceeds the extent {extent}: a window must fit inside the region")
    starts = np.arange(0, extent - size + 1, stride, dtype=np.int64)
    left = extent - (int(starts[-1]) + size)
    if left:
        warnings.warn(
            f"{axis}: stride {stride} with window {size} does not tile extent {extent}: "
            f"the last {left} position(s) are in no window",
            UserWarning,
            stacklevel=3,
        )
    elif stride > size:
        warnings.warn(
            f"{axis}: stride {stride} exceeds window {size}: {stride - size} position(s) between windows are in no window",
            UserWarning,
            stacklevel=3,
        )
    return starts


def _check_layer(windows: Windows, layer_size: int | None) -> Windows:
    if layer_size is not None:
        check_size(layer_size, "layer_size")
        top = max(int(w.max()) for w in windows)
        if top >= layer_size:
            raise InputError(f"window index {top} is outside the layer of {layer_size} neurons (0..{layer_size - 1})")
    return windows


def windows_1d(
    n: int, size: int, stride: int | None = None, *, start: int = 0, layer_size: int | None = None
) -> Windows:
    """Windows of ``size`` consecutive neurons over ``start .. start + n - 1``, every ``stride`` (default ``size``)."""
    stride = size if stride is None else stride
    starts = _positions(n, size, stride, "1-D")
    base = np.arange(size, dtype=np.int64)
    return _check_layer([start + s + base for s in starts], layer_size)


def windows_2d(
    height: int,
    width: int,
    win_h: int,
    win_w: int,
    stride_h: int | None = None,
    stride_w: int | None = None,
    *,
    row_length: int | None = None,
    offset: int = 0,
    layer_size: int | None = None,
) -> Windows:
    """``win_h x win_w`` windows over a ``height x width`` image stored row by row (row-major windows).

    Neuron of pixel ``(y, x)``: ``offset + y * row_length + x``. Example: Fashion-MNIST padded to 1024
    at the end: ``windows_2d(28, 28, 7, 7, layer_size=1024)`` gives 16 windows of 49 pixels; the 240
    padding neurons are in none.
    """
    row_length = width if row_length is None else row_length
    check_size(row_length, "row_length")
    if row_length < width:
        raise InputError(f"row_length {row_length} is smaller than the image width {width}")
    ys = _positions(height, win_h, win_h if stride_h is None else stride_h, "2-D rows")
    xs = _positions(width, win_w, win_w if stride_w is None else stride_w, "2-D columns")
    patch = (np.arange(win_h, dtype=np.int64)[:, None] * row_length + np.arange(win_w, dtype=np.int64)[None, :]).ravel()
    out = [offset + y * row_length + x + patch for y in ys for x in xs]
    return _check_layer(out, layer_size)


def windows_3d(
    channels: int,
    height: int,
    width: int,
    win_c: int,
    win_h: int,
    win_w: int,
    stride_c: int | None = None,
    stride_h: int | None = None,
    stride_w: int | None = None,
    *,
    offset: int = 0,
    layer_size: int | None = None,
) -> Windows:
    """``win_c x win_h x win_w`` windows over ``(C, H, W)`` feature maps stored channel by channel."""
    cs = _positions(channels, win_c, win_c if stride_c is None else stride_c, "3-D channels")
    ys = _positions(height, win_h, win_h if stride_h is None else stride_h, "3-D rows")
    xs = _positions(width, win_w, win_w if stride_w is None else stride_w, "3-D columns")
    hw = height * width
    patch = (
        np.arange(win_c, dtype=np.int64)[:, None, None] * hw
        + np.arange(win_h, dtype=np.int64)[None, :, None] * width
        + np.arange(win_w, dtype=np.int64)[None, None, :]
    ).ravel()
    out = [offset + c * hw + y * width + x + patch for c in cs for y in ys for x in xs]
    return _check_layer(out, layer_size)


def split_windows(indices: Sequence[int] | np.ndarray | int, count: int) -> Windows:
    """``count`` contiguous, non-overlapping windows of near-equal size covering ``indices`` exactly.

    ``indices`` may be an int ``m`` (meaning ``0..m-1``). Sizes differ by at most one (the first
    windows are the larger); every index is in exactly one window.
    """
    idx = (
        np.arange(indices, dtype=np.int64) if isinstance(indices, (int, np.integer)) else np.asarray(indices, np.int64)
    )
    check_size(count, "window count")
    if idx.size == 0:
        raise InputError("no neurons to split into windows")
    if count > idx.size:
        raise InputError(f"window count {count} exceeds the {idx.size} neurons to cover")
    return [w.copy() for w in np.array_split(idx, count)]


def image_windows(
    height: int, width: int, degree: float, layer_size: int, *, row_length: int | None = None, offset: int = 0
) -> Windows:
    """The finest non-overlapping tiling of an image whose windows all have scatter ideal >= 1.

    The ideal count of a window is ``|window| * degree / layer_size``; with an ideal below one even a
    perfectly spread neuron cannot reach scatter 1. Tile sides are divisors of the image sides; among
    the tilings with the most windows the squarest is chosen.
    """
    best: tuple[int, int, int] | None = None
    for th in (d for d in range(1, height + 1) if height % d == 0):
        for tw in (d for d in range(1, width + 1) if width % d == 0):
            if th * tw * degree / layer_size < 1 - 1e-12:
                continue
            key = ((height // th) * (width // tw), -abs(th - tw))
            if best is None or key > (best[0], -abs(best[1] - best[2])):
                best = (key[0], th, tw)
    if best is None:
        return [offset + (np.arange(height)[:, None] * (row_length or width) + np.arange(width)[None, :]).ravel()]
    return windows_2d(height, width, best[1], best[2], row_length=row_length, offset=offset, layer_size=layer_size)


# --- inspection --------------------------------------------------------------------------------
def check_windows(windows: Windows | Sequence[Sequence[int]], layer_size: int) -> Windows:
    """Validate and normalise a window set: non-empty int arrays inside ``0..layer_size-1``, no repeats inside one."""
    check_size(layer_size, "layer_size")
    out: Windows = []
    if len(windows) == 0:
        raise InputError("a window set needs at least one window")
    for i, w in enumerate(windows):
        a = np.asarray(w)
        if a.ndim != 1 or a.size == 0:
            raise InputError(f"window {i} must be a non-empty 1-D list of neuron indices")
        if not np.issubdtype(a.dtype, np.integer):
            raise InputError(f"window {i} holds non-integer indices ({a.dtype})")
        a = a.astype(np.int64)
        if a.min() < 0 or a.max() >= layer_size:
            raise InputError(
                f"window {i} has index {int(a.max() if a.max() >= layer_size else a.min())} outside 0..{layer_size - 1}"
            )
        if np.unique(a).size != a.size:
            raise InputError(f"window {i} lists a neuron twice")
        out.append(a)
    return out


def coverage(windows: Windows, layer_size: int) -> np.ndarray:
    """How many windows hold each neuron, shape ``(layer_size,)`` (0 = in no window)."""
    windows = check_windows(windows, layer_size)
    return np.bincount(np.concatenate(windows), minlength=layer_size)


def describe(windows: Windows, layer_size: int) -> dict[str, Any]:
    """Counts for reports: windows, sizes, neurons covered once / several times / never."""
    cov = coverage(windows, layer_size)
    sizes = [int(w.size) for w in windows]
    return {
        "windows": len(windows),
        "size_min": min(sizes),
        "size_max": max(sizes),
        "covered": int((cov > 0).sum()),
        "uncovered": int((cov == 0).sum()),
        "overlapping": int((cov > 1).sum()),
    }


def parse_window_spec(text: str, layer_size: int) -> Windows:
    """Windows from a short text form (for the command line).

    * ``n:G`` - ``G`` contiguous windows of near-equal size over the whole layer;
    * ``1d:SIZE[,STRIDE]`` - 1-D windows over the whole layer;
    * ``2d:H,W,h,w[,sh,sw]`` - image ``HxW`` stored row by row from neuron 0, windows ``hxw``;
    * ``3d:C,H,W,c,h,w[,sc,sh,sw]`` - feature maps, windows ``cxhxw``.
    """
    kind, _, rest = text.partition(":")
    try:
        nums = [int(v) for v in rest.split(",")] if rest else []
    except ValueError:
        raise InputError(f"window spec {text!r}: the numbers after ':' must be whole numbers") from None
    kind = kind.strip().lower()
    if kind == "n" and len(nums) == 1:
        return split_windows(layer_size, nums[0])
    if kind == "1d" and len(nums) in (1, 2):
        return windows_1d(layer_size, *nums, layer_size=layer_size)
    if kind == "2d" and len(nums) in (4, 6):
        return windows_2d(*nums, layer_size=layer_size)
    if kind == "3d" and len(nums) in (6, 9):
        return windows_3d(*nums, layer_size=layer_size)
    raise InputError(
        f"window spec {text!r} is not one of n:G, 1d:SIZE[,STRIDE], 2d:H,W,h,w[,sh,sw], 3d:C,H,W,c,h,w[,sc,sh,sw]"
    )


# --- windowed patterns -------------------------------------------------------------------------
class _Stream:
    """Members of one window handed out in shuffled passes, so left out-degrees stay even."""

    def __init__(self, members: np.ndarray, rng: np.random.Generator) -> None:
        self.members, self.rng = members, rng
        self.set = set(members.tolist())
        self.queue: list[int] = []

    def free(self, taken: set[int]) -> int:
        return len(self.set) - sum(1 for t in taken if t in self.set)

    def take(self, count: int, taken: set[int]) -> list[int]:
        """``count`` members not in ``taken`` (the caller checked that enough are free)."""
        got: list[int] = []
        skipped: list[int] = []
        while len(got) < count:
            if not self.queue:
                self.queue = self.rng.permutation(self.members).tolist()
            m = self.queue.pop()
            if m in taken or m in got:
                skipped.append(m)
                continue
            got.append(m)
        self.queue.extend(reversed(skipped))  # skipped members come first in the next draw
        return got


def windowed(
    n_in: int,
    n_out: int,
    out_degree: int,
    windows: Windows,
    *,
    mode: str = "spread",
    seed: int = 0,
) -> Pattern:
    """A windowed pattern with ``|W| = n_in * d_out`` edges, ``d_in = n_in d_out / n_out`` per right neuron.

    ``mode="spread"``: each right neuron draws its ``d_in`` inputs from all windows, in proportion to
    window size (the remainders rotate between right neurons, so over the layer every window gets its
    share). ``mode="single"``: the deliberately bad construction, every input of a right neuron from
    one window (windows serve equally many right neurons, in a seeded random order; needs windows of
    at least ``d_in`` neurons).

    Inside a window, left neurons are handed out in shuffled passes, so left out-degrees are as even as
    the windows allow; left neurons in no window get no edge. Seeded and reproducible.
    """
    d_in = in_degree_for(n_in, n_out, out_degree)
    windows = check_windows(windows, n_in)
    if mode not in ("spread", "single"):
        raise InputError(f"windowed mode {mode!r} is not 'spread' or 'single'")
    rng = np.random.default_rng(seed)
    g = len(windows)
    sizes = np.array([w.size for w in windows], dtype=np.int64)
    covered = np.unique(np.concatenate(windows)).size
    if d_in > covered:
        raise InputError(
            f"d_in = {d_in} exceeds the {covered} left neurons in windows: a right neuron cannot get {d_in} distinct inputs"
        )
    streams = [_Stream(w, rng) for w in windows]
    cols_all: list[np.ndarray] = []
    if mode == "single":
        if sizes.min() < d_in:
            raise InputError(
                f"mode 'single' needs windows of at least d_in = {d_in} neurons; the smallest has {int(sizes.min())}"
            )
        owner = rng.permutation(n_out) % g  # every window serves n_out / G right neurons, in random order
        for j in range(n_out):
            cols_all.append(np.sort(np.array(streams[owner[j]].take(d_in, set()), dtype=np.int64)))
    else:
        quota = d_in * sizes / sizes.sum()
        base = np.floor(quota).astype(np.int64)
        frac = quota - base  # each < 1, summing to the number of extra inputs
        n_extra = int(round(frac.sum()))
        cum = np.cumsum(frac)
        u0 = float(rng.random())
        for j in range(n_out):
            want = base.copy()
            if n_extra:
                # systematic sampling: points u, u+1, ... over the cumulative remainders hit n_extra
                # distinct windows (each remainder < 1); u walks with the golden ratio, so over the
                # right neurons each window gets its extra input in proportion to its remainder
                u = (u0 + j * 0.6180339887498949) % 1.0
                pick = np.searchsorted(cum, u + np.arange(n_extra), side="right")
                want[np.minimum(pick, g - 1)] += 1
            taken: set[int] = set()
            deficit = 0
            order = rng.permutation(g)
            for w in order:
                k = min(int(want[w]), streams[w].free(taken))
                deficit += int(want[w]) - k
                taken.update(streams[w].take(k, taken))
            for w in order:  # overlapping or small windows: move the shortfall to windows with room
                if not deficit:
                    break
                k = min(deficit, streams[w].free(taken))
                if k:
                    taken.update(streams[w].take(k, taken))
                    deficit -= k
            cols_all.append(np.array(sorted(taken), dtype=np.int64))
    cols = np.concatenate(cols_all)
    rows = np.repeat(np.arange(n_out, dtype=np.int64), d_in)
    params = {
        "out_degree": out_degree,
        "mode": mode,
        "seed": seed,
        "windows": g,
        "window_sizes": [int(sizes.min()), int(sizes.max())],
    }
    return Pattern(n_in, n_out, rows, cols, kind="windowed", params=params)


def local(
    n_in: int,
    n_out: int,
    out_degree: int,
    image_shape: Sequence[int],
    window: int,
    *,
    seed: int = 0,
) -> Pattern:
    """A receptive-field pattern over an image layer: every right neuron takes all its inputs from one
    ``window x window`` patch (all channels), as a neuron of a locally connected layer does.

    ``image_shape`` is ``(H, W)`` or ``(C, H, W)``, stored channel by channel and row by row (``n_in = C H W``).
    The ``(H - window + 1)(W - window + 1)`` patch positions (stride 1) are shared out as evenly as possible:
    each is used ``n_out // positions`` times, and a seeded random choice of the others one time more. The
    ``n_in * out_degree`` edges (as for a random pattern of that out-degree) are spread so in-degrees differ by at
    most one, each right neuron's inputs drawn without replacement from its patch. Left out-degrees vary: border
    pixels lie in fewer patches.
    """
    check_size(n_in, "n_in")
    check_size(n_out, "n_out")
    check_size(out_degree, "out_degree")
    check_size(window, "window")
    shape = tuple(int(s) for s in image_shape)
    if len(shape) not in (2, 3) or min(shape) < 1:
        raise InputError(
            f"a local pattern needs an image layer of shape (H, W) or (C, H, W); this one has shape {shape}"
        )
    c, h, w = (1, *shape) if len(shape) == 2 else shape
    if c * h * w != n_in:
        raise InputError(f"image shape {shape} has {c * h * w} pixels but the left layer has {n_in} neurons")
    if window > min(h, w):
        raise InputError(f"window {window} exceeds the image's {h}x{w}: a patch must fit inside the image")
    edges = n_in * out_degree
    area = c * window * window
    if edges > n_out * area:
        raise InputError(
            f"out_degree {out_degree} needs {edges} edges, more than {n_out} right neurons x {area} pixels per "
            f"{window}x{window} patch = {n_out * area}: lower the out-degree or widen the window"
        )
    rng = np.random.default_rng(seed)
    ys, xs = np.arange(h - window + 1), np.arange(w - window + 1)
    positions = len(ys) * len(xs)
    reps, rest = divmod(n_out, positions)
    owner = np.concatenate([np.tile(np.arange(positions), reps), rng.choice(positions, rest, replace=False)])
    owner = rng.permutation(owner)
    d_in = np.full(n_out, edges // n_out, dtype=np.int64)
    d_in[rng.choice(n_out, edges % n_out, replace=False)] += 1
    patch = (
        np.arange(c)[:, None, None] * h * w + np.arange(window)[None, :, None] * w + np.arange(window)[None, None, :]
    ).ravel()
    rows, cols = [], []
    for j in range(n_out):
        y, x = divmod(int(owner[j]), len(xs))
        pick = rng.choice(patch + y * w + x, size=int(d_in[j]), replace=False)
        rows.append(np.full(len(pick), j, dtype=np.int64))
        cols.append(np.sort(pick))
    params = {"out_degree": out_degree, "image_shape": list(shape), "window": window, "seed": seed}
    return Pattern(n_in, n_out, np.concatenate(rows), np.concatenate(cols), kind="local", params=params)
