"""Morse code datasets of tunable difficulty (Dey, Chugg, Beerel, ICCCNT 2018), vectorised and seeded.

Each sample is one Morse symbol drawn as a 1-D frame; the label is the class index of the symbol in
:data:`predsparse.morse.codebook.CODEBOOK`.  A frame is: leading zeros, the symbol (runs of "on"
values for dots and dashes, separated by runs of zeros, no space after the last), trailing zeros;
then noise; then, for the gray style, clip to ``[0, levels]``, divide by ``levels`` and round to 3
decimals.

``dilation`` multiplies the frame length and the bounds of every length range (dot, dash,
intra-symbol space).  By default (``dilation_draw="range"``, as the original generator does) each length
is then drawn uniformly in the dilated range: at dilation 4 dots are 4-12 values, dashes 16-36 (12-36
with ``min_len_dash=3``), spaces 4-12, every whole number in between.  ``dilation_draw="multiply"``
instead draws from the undilated range and multiplies (dots 4, 8 or 12), i.e. a baseline symbol
stretched; it was this project's behaviour before and trains markedly worse (fewer distinct lengths).
With ``leading_spaces`` the number of leading zeros is uniform over every position where the symbol
still fits the (dilated) frame, so it is not a multiple of the dilation.

``codebook`` picks :data:`~predsparse.morse.codebook.CODEBOOK` (``"fixed"``, 64 distinct codes, the
default) or :data:`~predsparse.morse.codebook.ORIGINAL_CODEBOOK` (``"original"``, with its one
duplicated code, accuracy ceiling 63/64) for comparisons with published numbers.  Symbol values (gray) and noise are drawn independently for every value of the frame.

Everything is drawn with ``numpy.random.default_rng`` streams spawned from one ``SeedSequence(seed)``:
one stream per class and one for shuffling the splits, so the same parameters and seed give the same
bytes.  Work is vectorised over all samples of a class (one Python iteration per class).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from predsparse.data.format import Dataset
from predsparse.errors import InputError
from predsparse.morse.codebook import CODEBOOKS

#: Every generation parameter with its default (the "baseline" dataset) and meaning.
DEFAULTS: dict[str, Any] = {
    "style": "gray",  # "gray": Gaussian levels + additive Gaussian noise; "bw": 0/1 values + bit flips
    "frame_len": 64,  # values per sample before dilation
    "dilation": 1,  # multiplies frame_len and the bounds of every length range below
    "dilation_draw": "range",  # "range": uniform in the dilated range (original); "multiply": draw, then multiply
    "codebook": "fixed",  # "fixed": 64 distinct codes; "original": the published one, '(' and 'Ĥ' share -.--.
    "min_len_dot": 1,
    "max_len_dot": 3,
    "min_len_dash": 4,  # 3 makes dashes confusable with dots
    "max_len_dash": 9,
    "min_len_space": 1,  # zeros between consecutive dots/dashes of a symbol
    "max_len_space": 3,
    "leading_spaces": False,  # True: uniform random number of leading zeros (the rest trail)
    "levels": 16,  # gray: values clipped to [0, levels] then divided by levels
    "symbol_mean": 12.0,  # gray: level of dot/dash values
    "symbol_sd": 1.34,
    "noise_mean": 0.0,  # gray: additive noise on every value of the frame
    "noise_sd": 0.0,
    "max_flips": 0,  # bw: uniform 0..max_flips bits flipped per frame
    "train_per_class": 5000,
    "val_per_class": 1000,
    "test_per_class": 1000,
    "onehot": False,  # labels saved as one-hot (the returned Dataset always holds integer labels)
}

_KINDS: dict[str, str] = {
    "style": "choice",
    "frame_len": "int",
    "dilation": "int",
    "dilation_draw": "choice",
    "codebook": "choice",
    "min_len_dot": "int",
    "max_len_dot": "int",
    "min_len_dash": "int",
    "max_len_dash": "int",
    "min_len_space": "int",
    "max_len_space": "int",
    "leading_spaces": "bool",
    "levels": "float",
    "symbol_mean": "float",
    "symbol_sd": "float",
    "noise_mean": "float",
    "noise_sd": "float",
    "max_flips": "int",
    "train_per_class": "int",
    "val_per_class": "int",
    "test_per_class": "int",
    "onehot": "bool",
}

STYLES = ("gray", "bw")
DILATION_DRAWS = ("range", "multiply")
#: Valid values of each "choice" parameter.
CHOICES: dict[str, tuple[str, ...]] = {"style": STYLES, "dilation_draw": DILATION_DRAWS, "codebook": tuple(CODEBOOKS)}

#: Named parameter sets: overrides of :data:`DEFAULTS`.
PRESETS: dict[str, dict[str, Any]] = {
    "baseline": {},
    "difficult": {"noise_sd": 4.0, "leading_spaces": True, "min_len_dash": 3},
}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def parse_param(key: str, text: str) -> Any:
    """Convert the text ``value`` of a ``key=value`` override into the parameter's type (for the CLI)."""
    _check_key(key)
    kind = _KINDS[key]
    t = text.strip()
    if kind == "choice":
        return _coerce(key, t)
    if kind == "bool":
        if t.lower() in _TRUE:
            return True
        if t.lower() in _FALSE:
            return False
        raise InputError(f"{key}={text!r} is not a boolean: use true/false (or 1/0, yes/no, on/off)")
    if kind == "int":
        try:
            return int(t)
        except ValueError:
            raise InputError(f"{key}={text!r} is not a whole number") from None
    try:
        return float(t)
    except ValueError:
        raise InputError(f"{key}={text!r} is not a number") from None


def parse_overrides(items: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Parse ``["noise_sd=2", "leading_spaces=true"]`` into typed overrides."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InputError(f"--param {item!r} is not of the form key=value")
        out[key] = parse_param(key, value)
    return out


def resolve_params(preset: str | None = "baseline", **overrides: Any) -> dict[str, Any]:
    """Full, validated parameter dict for ``preset`` (``None``: the defaults) with ``overrides`` applied."""
    if preset is not None and (not isinstance(preset, str) or preset not in PRESETS):
        raise InputError(f"unknown preset {preset!r}: valid presets are {', '.join(PRESETS)} (or None)")
    params = dict(DEFAULTS)
    params.update(PRESETS[preset or "baseline"])
    for key, value in overrides.items():
        _check_key(key)
        params[key] = _coerce(key, value)
    _validate(params)
    return params


def generate(preset: str | None = "baseline", *, seed: int = 0, **overrides: Any) -> Dataset:
    """Generate a Morse dataset: ``preset`` ("baseline", "difficult" or ``None`` for the defaults) with
    parameter ``overrides``.

    Returns a :class:`predsparse.data.format.Dataset` with float32 features of shape
    ``(samples, frame_len * dilation)``, integer labels ``0..63``, and ``meta`` holding the preset,
    seed, full parameters and codebook.  With ``onehot=True`` the labels are still stored as integers
    (the project's format) and ``meta["onehot"]`` asks writers to save them one-hot.
    Unknown parameter names, bad values and symbols that cannot fit the frame raise
    :class:`~predsparse.errors.InputError` before any work.
    """
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise InputError(f"seed {seed!r} is not valid: the seed must be a whole number >= 0")
    params = resolve_params(preset, **overrides)
    _check_fit(params)
    _check_size(params)

    n_tr, n_va, n_te = params["train_per_class"], params["val_per_class"], params["test_per_class"]
    width = params["frame_len"] * params["dilation"]
    book = CODEBOOKS[params["codebook"]]
    streams = np.random.SeedSequence(int(seed)).spawn(len(book) + 1)

    parts: dict[str, list[np.ndarray]] = {"tr": [], "va": [], "te": []}
    for label, (_, code) in enumerate(book):
        x = _class_frames(code, n_tr + n_va + n_te, params, np.random.default_rng(streams[label]))
        parts["tr"].append(x[:n_tr])
        parts["va"].append(x[n_tr : n_tr + n_va])
        parts["te"].append(x[n_tr + n_va :])

    shuffle = np.random.default_rng(streams[-1])
    arrays: dict[str, np.ndarray] = {}
    for split, per_class in (("tr", n_tr), ("va", n_va), ("te", n_te)):
        x = np.concatenate(parts[split], axis=0) if per_class else np.zeros((0, width), np.float32)
        y = np.repeat(np.arange(len(book), dtype=np.int64), per_class)
        order = shuffle.permutation(y.shape[0])
        arrays["x" + split] = np.ascontiguousarray(x[order])
        arrays["y" + split] = y[order]
        parts[split] = []  # free memory early

    meta = {
        "name": f"morse-{preset}" if preset else "morse",
        "generator": "predsparse.morse",
        "preset": preset,
        "seed": int(seed),
        "params": params,
        "overrides": {k: params[k] for k in overrides},
        "onehot": bool(params["onehot"]),
        "symbols": [s for s, _ in book],
        "codes": [c for _, c in book],
    }
    return Dataset(**arrays, num_classes=len(book), meta=meta)


def check_params(preset: str | None = "baseline", **overrides: Any) -> dict[str, Any]:
    """Everything :func:`generate` checks before drawing (values, symbols fit the frame, memory), without
    drawing; returns the resolved parameters. Lets a study refuse its last dataset before making its first."""
    params = resolve_params(preset, **overrides)
    _check_fit(params)
    _check_size(params)
    return params


def symbol_length_range(code: str, params: dict[str, Any]) -> tuple[int, int]:
    """Shortest and longest number of values ``code`` can occupy (dilation included)."""
    dots = code.count(".")
    dashes = code.count("-")
    gaps = len(code) - 1
    lo = dots * params["min_len_dot"] + dashes * params["min_len_dash"] + gaps * params["min_len_space"]
    hi = dots * params["max_len_dot"] + dashes * params["max_len_dash"] + gaps * params["max_len_space"]
    return lo * params["dilation"], hi * params["dilation"]


# ----------------------------------------------------------------------------------------------------
# internals


def _check_key(key: str) -> None:
    if key not in DEFAULTS:
        raise InputError(f"unknown Morse parameter {key!r}: valid parameters are {', '.join(DEFAULTS)}")


def _coerce(key: str, value: Any) -> Any:
    kind = _KINDS[key]
    if kind == "choice":
        if not isinstance(value, str) or value.lower() not in CHOICES[key]:
            raise InputError(f"{key}={value!r} is not valid: use one of {', '.join(CHOICES[key])}")
        return value.lower()
    if kind == "bool":
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        if isinstance(value, numbers.Integral) and value in (0, 1):
            return bool(value)
        raise InputError(f"{key}={value!r} is not a boolean: use True or False")
    if kind == "int":
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
            if isinstance(value, numbers.Real) and float(value).is_integer():
                return int(value)
            raise InputError(f"{key}={value!r} is not a whole number")
        return int(value)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise InputError(f"{key}={value!r} is not a number")
    value = float(value)
    if not math.isfinite(value):
        raise InputError(f"{key}={value!r} is not finite: use a finite number")
    return value


def _validate(p: dict[str, Any]) -> None:
    if p["style"] not in STYLES:
        raise InputError(f"style={p['style']!r} is not valid: use one of {', '.join(STYLES)}")
    for key in ("frame_len", "dilation"):
        if p[key] < 1:
            raise InputError(f"{key}={p[key]} is not valid: it must be >= 1")
    for what in ("dot", "dash", "space"):
        lo, hi = p[f"min_len_{what}"], p[f"max_len_{what}"]
        if lo < 1:
            raise InputError(f"min_len_{what}={lo} is not valid: lengths must be >= 1")
        if hi < lo:
            raise InputError(f"max_len_{what}={hi} is less than min_len_{what}={lo}: need min <= max")
    if p["levels"] <= 0:
        raise InputError(f"levels={p['levels']} is not valid: levels must be > 0")
    for key in ("symbol_sd", "noise_sd"):
        if p[key] < 0:
            raise InputError(f"{key}={p[key]} is not valid: a standard deviation must be >= 0")
    width = p["frame_len"] * p["dilation"]
    if not 0 <= p["max_flips"] <= width:
        raise InputError(f"max_flips={p['max_flips']} is not valid: it must be in 0..{width} (the frame length)")
    if p["style"] == "gray" and p["max_flips"]:
        raise InputError(f"max_flips={p['max_flips']} applies to style 'bw' only: for 'gray' use noise_sd")
    if p["style"] == "bw" and (p["noise_sd"] or p["noise_mean"]):
        raise InputError(
            f"noise_sd={p['noise_sd']}, noise_mean={p['noise_mean']} apply to style 'gray' only: "
            "for 'bw' set them to 0 and use max_flips"
        )
    if p["train_per_class"] < 1:
        raise InputError(f"train_per_class={p['train_per_class']} is not valid: it must be >= 1")
    for key in ("val_per_class", "test_per_class"):
        if p[key] < 0:
            raise InputError(f"{key}={p[key]} is not valid: it must be >= 0")


def _check_size(p: dict[str, Any]) -> None:
    """Refuse, before drawing anything, a dataset that would not fit in memory (the estimate and the limit in the
    line): float32 frames held twice at the peak (per-class parts, then the concatenated, shuffled splits)."""
    from predsparse.limits import check_memory, dataset_bytes

    samples = len(CODEBOOKS[p["codebook"]]) * (p["train_per_class"] + p["val_per_class"] + p["test_per_class"])
    width = p["frame_len"] * p["dilation"]
    check_memory(2 * dataset_bytes(samples, width), f"a Morse dataset of {samples:,} samples x {width:,} values")


def _check_fit(p: dict[str, Any]) -> None:
    """Every symbol must fit the frame even at its longest lengths."""
    width = p["frame_len"] * p["dilation"]
    book = CODEBOOKS[p["codebook"]]
    worst = max(book, key=lambda sc: symbol_length_range(sc[1], p)[1])
    need = symbol_length_range(worst[1], p)[1]
    if need > width:
        bad = [s for s, c in book if symbol_length_range(c, p)[1] > width]
        dil = f" x dilation {p['dilation']}" if p["dilation"] != 1 else ""
        raise InputError(
            f"symbol {worst[0]!r} ({worst[1]}) needs up to {need} values (dot {p['min_len_dot']}-{p['max_len_dot']}, "
            f"dash {p['min_len_dash']}-{p['max_len_dash']}, space {p['min_len_space']}-{p['max_len_space']}{dil}) "
            f"but the frame has {width} ({len(bad)} symbols do not fit): a symbol must fit the frame; "
            "lengthen frame_len or shorten the lengths"
        )


def _class_frames(code: str, n: int, p: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
    """``n`` frames of one symbol, float32 ``(n, frame_len * dilation)``; vectorised over samples."""
    width = p["frame_len"] * p["dilation"]
    dil = p["dilation"]
    k = len(code)
    is_dash = np.array([c == "-" for c in code])
    lo = np.where(is_dash, p["min_len_dash"], p["min_len_dot"])
    hi = np.where(is_dash, p["max_len_dash"], p["max_len_dot"])
    if p["dilation_draw"] == "range":  # the original generator: uniform over the dilated range
        marks = rng.integers(lo * dil, hi * dil + 1, size=(n, k))
        spaces = rng.integers(p["min_len_space"] * dil, p["max_len_space"] * dil + 1, size=(n, k - 1))
    else:  # "multiply": an undilated length stretched, so every run is a multiple of the dilation
        marks = rng.integers(lo, hi + 1, size=(n, k)) * dil
        spaces = rng.integers(p["min_len_space"], p["max_len_space"] + 1, size=(n, k - 1)) * dil
    total = marks.sum(axis=1) + spaces.sum(axis=1)
    if p["leading_spaces"]:
        lead = rng.integers(0, width - total + 1)
    else:
        lead = np.zeros(n, dtype=np.int64)
    starts = lead[:, None] + np.concatenate(
        [np.zeros((n, 1), np.int64), np.cumsum(marks[:, :-1] + spaces, axis=1)], axis=1
    )
    ends = starts + marks
    # +1 at each run start, -1 at each run end, running sum > 0 inside runs (starts/ends of a row are distinct).
    edges = np.zeros((n, width + 1), dtype=np.int8)
    rows = np.arange(n)[:, None]
    edges[rows, starts] = 1
    edges[rows, ends] = -1
    on = np.cumsum(edges[:, :width], axis=1, dtype=np.int8) > 0

    if p["style"] == "bw":
        x = on.astype(np.float32)
        m = p["max_flips"]
        if m:
            flips = rng.integers(0, m + 1, size=n)
            cand = np.argsort(rng.random((n, width)), axis=1)[:, :m]  # m distinct random positions per row
            sel = np.arange(m)[None, :] < flips[:, None]
            r = np.broadcast_to(rows, (n, m))[sel]
            c = cand[sel]
            x[r, c] = 1.0 - x[r, c]
        return x

    x = np.where(on, p["symbol_mean"] + p["symbol_sd"] * rng.standard_normal((n, width)), 0.0)
    if p["noise_sd"]:
        x += p["noise_mean"] + p["noise_sd"] * rng.standard_normal((n, width))
    elif p["noise_mean"]:
        x += p["noise_mean"]
    levels = float(p["levels"])
    np.clip(x, 0.0, levels, out=x)
    x /= levels
    return np.round(x, 3).astype(np.float32)
