"""Morse generator: codebook, frame layout per spec (checked on statistics), noise, errors, reproducibility."""

from __future__ import annotations

import numpy as np
import pytest

from predsparse.data.format import Dataset
from predsparse.errors import InputError
from predsparse.morse import CODEBOOK, DEFAULTS, PRESETS, generate, parse_overrides, resolve_params
from predsparse.morse.generator import symbol_length_range

SMALL = {"train_per_class": 20, "val_per_class": 5, "test_per_class": 5}
INDEX = {s: i for i, (s, _) in enumerate(CODEBOOK)}


def runs(row: np.ndarray) -> list[tuple[bool, int]]:
    """(is_on, length) runs of a frame, on = value > 0."""
    on = row > 0
    out: list[tuple[bool, int]] = []
    for v in on:
        if out and out[-1][0] == bool(v):
            out[-1] = (out[-1][0], out[-1][1] + 1)
        else:
            out.append((bool(v), 1))
    return out


def decode(row: np.ndarray):
    """Leading zeros, mark lengths, space lengths, trailing zeros of a noise-free frame."""
    r = runs(row)
    lead = r[0][1] if not r[0][0] else 0
    if not r[0][0]:
        r = r[1:]
    trail = r[-1][1] if not r[-1][0] else 0
    if not r[-1][0]:
        r = r[:-1]
    marks = [n for on, n in r if on]
    spaces = [n for on, n in r if not on]
    return lead, marks, spaces, trail


# ---------------------------------------------------------------- codebook


def test_codebook_has_64_distinct_codes():
    codes = [c for _, c in CODEBOOK]
    symbols = [s for s, _ in CODEBOOK]
    assert len(CODEBOOK) == 64
    assert len(set(codes)) == 64, "two classes share a code"
    assert len(set(symbols)) == 64
    assert all(set(c) <= {".", "-"} and c for c in codes)


def test_codebook_content_per_spec():
    book = dict(CODEBOOK)
    assert "Ĥ" not in book
    assert book["&"] == ".-..."
    assert book["("] == "-.--."
    assert book["CH"] == "----" and book["Ä"] == ".-.-" and book["Ð"] == "..--."
    assert book["A"] == ".-" and book["0"] == "-----" and book["?"] == "..--.."
    letters = [s for s, _ in CODEBOOK[:26]]
    assert letters == [chr(ord("A") + i) for i in range(26)]
    assert [s for s, _ in CODEBOOK[26:36]] == [str(i) for i in range(10)]


def test_every_code_fits_the_frame_at_longest_lengths():
    p = resolve_params()
    for sym, code in CODEBOOK:
        dots, dashes = code.count("."), code.count("-")
        longest = 3 * dots + 9 * dashes + 3 * (len(code) - 1)  # by hand: max dot 3, dash 9, space 3
        assert symbol_length_range(code, p)[1] == longest
        assert longest <= 64, sym
    # the longest symbols need 57 values: e.g. '0' = 5 dashes of 9 and 4 spaces of 3
    assert max(symbol_length_range(c, p)[1] for _, c in CODEBOOK) == 5 * 9 + 4 * 3


def test_frames_at_longest_lengths_are_complete():
    ds = generate(seed=3, min_len_dot=3, min_len_dash=9, min_len_space=3, **SMALL)
    for x, y in zip(ds.xtr, ds.ytr):
        code = CODEBOOK[y][1]
        lead, marks, spaces, trail = decode(x)
        assert lead == 0
        assert marks == [3 if c == "." else 9 for c in code]
        assert spaces == [3] * (len(code) - 1)
        assert lead + sum(marks) + sum(spaces) + trail == 64


def test_symbol_that_cannot_fit_is_a_clear_error():
    with pytest.raises(InputError) as exc:
        generate(frame_len=56, **SMALL)
    msg = str(exc.value)
    assert "'0'" in msg and "-----" in msg and "57" in msg and "56" in msg
    assert "\n" not in msg
    with pytest.raises(InputError, match="dilation 2"):
        generate(frame_len=40, dilation=2, **SMALL)
    generate(frame_len=57, **SMALL)  # exactly fits


# ---------------------------------------------------------------- layout statistics


def test_baseline_run_lengths_and_positions():
    ds = generate(seed=1, train_per_class=40, val_per_class=0, test_per_class=0)
    dot_lengths, dash_lengths, space_lengths = [], [], []
    for x, y in zip(ds.xtr, ds.ytr):
        code = CODEBOOK[y][1]
        lead, marks, spaces, trail = decode(x)
        assert lead == 0, "no leading spaces by default"
        assert len(marks) == len(code) and len(spaces) == len(code) - 1
        for c, n in zip(code, marks):
            (dot_lengths if c == "." else dash_lengths).append(n)
        space_lengths += spaces
    for values, lo, hi in ((dot_lengths, 1, 3), (dash_lengths, 4, 9), (space_lengths, 1, 3)):
        values = np.array(values)
        assert values.min() == lo and values.max() == hi
        counts = np.bincount(values)[lo:]
        freq = counts / counts.sum()
        assert np.all(np.abs(freq - 1 / (hi - lo + 1)) < 0.05), freq  # uniform integers


def test_min_dash_length_three_makes_dashes_like_dots():
    ds = generate(
        "difficult", seed=2, noise_sd=0.0, leading_spaces=False, train_per_class=30, val_per_class=0, test_per_class=0
    )
    dash = [n for x, y in zip(ds.xtr, ds.ytr) for c, n in zip(CODEBOOK[y][1], decode(x)[1]) if c == "-"]
    assert min(dash) == 3 and max(dash) == 9


def _dilated_run_lengths(**params):
    """Dot, dash and space run lengths of a noise-free set (decoded from the frames, not from the generator)."""
    ds = generate(seed=4, train_per_class=60, val_per_class=0, test_per_class=0, **params)
    dots, dashes, spaces = [], [], []
    for x, y in zip(ds.xtr, ds.ytr):
        lead, marks, sp, _ = decode(x)
        assert lead == 0
        for c, n in zip(CODEBOOK[y][1], marks):
            (dots if c == "." else dashes).append(n)
        spaces += sp
    return ds, np.array(dots), np.array(dashes), np.array(spaces)


@pytest.mark.parametrize("dilation, min_dash", [(4, 4), (4, 3), (2, 4)])
def test_dilation_draws_every_length_of_the_dilated_range(dilation, min_dash):
    # the original generator multiplies the range bounds, then draws uniformly in between
    ds, dots, dashes, spaces = _dilated_run_lengths(dilation=dilation, min_len_dash=min_dash)
    assert ds.xtr.shape[1] == 64 * dilation
    for values, lo, hi in ((dots, 1, 3), (dashes, min_dash, 9), (spaces, 1, 3)):
        lo, hi = lo * dilation, hi * dilation
        assert set(np.unique(values)) == set(range(lo, hi + 1)), (lo, hi, np.unique(values))
        freq = np.bincount(values)[lo:] / values.size
        assert np.all(np.abs(freq - 1 / (hi - lo + 1)) < 0.35 / (hi - lo + 1)), freq  # uniform


def test_dilation_multiply_option_stretches_undilated_lengths():
    ds, dots, dashes, spaces = _dilated_run_lengths(dilation=4, dilation_draw="multiply")
    assert set(np.unique(dots)) == {4, 8, 12}
    assert set(np.unique(dashes)) == {16, 20, 24, 28, 32, 36}
    assert set(np.unique(spaces)) == {4, 8, 12}
    assert ds.meta["params"]["dilation_draw"] == "multiply"
    with pytest.raises(InputError, match="dilation_draw='stretch' is not valid: use one of range, multiply"):
        generate(dilation_draw="stretch")


def test_original_codebook_has_exactly_one_duplicated_code():
    from collections import Counter

    from predsparse.morse.codebook import ACCURACY_CEILING, ORIGINAL_CODEBOOK

    counts = Counter(c for _, c in ORIGINAL_CODEBOOK)
    dup = [c for c, n in counts.items() if n > 1]
    assert dup == ["-.--."] and counts["-.--."] == 2
    assert sorted(s for s, c in ORIGINAL_CODEBOOK if c == "-.--.") == ["(", "Ĥ"]
    assert len(ORIGINAL_CODEBOOK) == 64 and len({s for s, _ in ORIGINAL_CODEBOOK}) == 64
    assert ACCURACY_CEILING == {"fixed": 1.0, "original": 63 / 64}
    # the generated data: '(' and 'Ĥ' frames come from the same distribution, all other classes as in "fixed"
    ds = generate(codebook="original", noise_sd=0.0, **SMALL)
    assert ds.meta["codes"].count("-.--.") == 2 and "Ĥ" in ds.meta["symbols"]
    assert ds.num_classes == 64
    fixed = generate(**SMALL)
    same = [i for i in range(64) if CODEBOOK[i] == ORIGINAL_CODEBOOK[i]]
    assert len(same) == 63
    for i in same:  # same per-class stream, same code: identical frames before shuffling
        assert np.array_equal(np.sort(ds.xtr[ds.ytr == i], axis=0), np.sort(fixed.xtr[fixed.ytr == i], axis=0))
    assert parse_overrides(["codebook=Original"]) == {"codebook": "original"}


def test_generate_without_preset():
    ds = generate(None, seed=3, noise_sd=1.0, **SMALL)
    assert ds.meta["preset"] is None and ds.meta["name"] == "morse"
    assert ds.meta["params"] == resolve_params(None, noise_sd=1.0, **SMALL)
    assert ds.xtr.tobytes() == generate("baseline", seed=3, noise_sd=1.0, **SMALL).xtr.tobytes()
    assert generate(preset=None, seed=3, **SMALL).xtr.shape == (64 * 20, 64)


def test_train_command_takes_morse_params(tmp_path):
    import json

    from click.testing import CliRunner

    from predsparse.cli import main

    args = [
        "train",
        "--dataset",
        "morse",
        "--param",
        "train_per_class=12",
        "--param",
        "val_per_class=3",
        "--param",
        "test_per_class=3",
        "--param",
        "dilation=2",
        "--layers",
        "128,64",
        "--kind",
        "fc",
        "--epochs",
        "1",
        "--json",
        "--no-progress",
    ]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["dataset"]["features"] == 128 and out["dataset"]["train"] == 64 * 12
    bad = CliRunner().invoke(main, args[:3] + ["--param", "noise=1"] + args[5:])
    assert bad.exit_code == 2 and "unknown Morse parameter 'noise'" in bad.output
    other = CliRunner().invoke(
        main, ["train", "--dataset", "fashion-mnist", "--param", "noise_sd=1", "--layers", "784,10", "--kind", "fc"]
    )
    assert other.exit_code == 2 and "--param" in other.output


def test_leading_spaces_place_the_symbol_anywhere():
    # fixed lengths: 'E' (one dot of 2) occupies 2 values, so the lead is uniform on 0..62
    ds = generate(
        seed=5,
        leading_spaces=True,
        min_len_dot=2,
        max_len_dot=2,
        train_per_class=2000,
        val_per_class=0,
        test_per_class=0,
    )
    leads = np.array([decode(x)[0] for x, y in zip(ds.xtr, ds.ytr) if y == INDEX["E"]])
    assert leads.size == 2000
    assert leads.min() == 0 and leads.max() == 62
    assert abs(leads.mean() - 31.0) < 1.5  # mean of uniform 0..62
    assert abs(leads.var() - (63**2 - 1) / 12) < 40  # variance of uniform 0..62 is 330.67
    # every symbol still fits: lead + symbol <= frame
    ds = generate(seed=6, leading_spaces=True, **SMALL)
    for x in ds.xtr:
        lead, marks, spaces, trail = decode(x)
        assert trail >= 0 and lead + sum(marks) + sum(spaces) + trail == 64
    assert len({decode(x)[0] for x in ds.xtr}) > 20


def test_gray_values_normalised_and_rounded():
    ds = generate(seed=7, noise_sd=4.0, **SMALL)
    x = ds.xtr.astype(np.float64)
    assert x.min() >= 0.0 and x.max() <= 1.0
    assert np.allclose(x * 1000, np.round(x * 1000), atol=1e-3)
    assert ds.xtr.dtype == np.float32
    clean = generate(seed=7, **SMALL).xtr
    on = clean[clean > 0].astype(np.float64) * 16  # back to levels
    assert abs(on.mean() - 12.0) < 0.1 and abs(on.std() - 1.34) < 0.1


def test_gray_noise_has_the_requested_mean_and_variance():
    # Large level range and an offset so nothing is clipped: value*1000 = 500 + N(0, 4^2) (+ rounding).
    ds = generate(
        seed=8, levels=1000, noise_mean=500.0, noise_sd=4.0, train_per_class=400, val_per_class=0, test_per_class=0
    )
    e = ds.xtr[ds.ytr == INDEX["E"]].astype(np.float64) * 1000
    tail = e[:, 3:]  # 'E' is one dot of at most 3: the rest of the frame is noise only
    noise = tail - 500.0
    assert abs(noise.mean()) < 0.1
    assert abs(noise.var() - (16.0 + 1 / 12)) < 0.5  # sd^2 + rounding variance
    # no noise: the space is exactly zero
    clean = generate(seed=8, train_per_class=50, val_per_class=0, test_per_class=0)
    assert (clean.xtr[clean.ytr == INDEX["E"]][:, 3:] == 0).all()


def test_bw_style_and_bit_flips():
    base = generate(seed=9, style="bw", train_per_class=300, val_per_class=0, test_per_class=0)
    assert set(np.unique(base.xtr)) <= {0.0, 1.0}
    lead, marks, spaces, _ = decode(base.xtr[0])
    code = CODEBOOK[base.ytr[0]][1]
    assert len(marks) == len(code)
    flipped = generate(seed=9, style="bw", max_flips=5, train_per_class=300, val_per_class=0, test_per_class=0)
    assert (flipped.ytr == base.ytr).all()
    # frames are drawn before the flips from the same per-class stream: the difference is the flips alone
    hamming = (flipped.xtr != base.xtr).sum(axis=1)
    assert hamming.min() == 0 and hamming.max() == 5
    counts = np.bincount(hamming, minlength=6) / hamming.size
    assert np.all(np.abs(counts - 1 / 6) < 0.03), counts  # uniform 0..5 flips


# ---------------------------------------------------------------- splits, labels, presets


def test_splits_sizes_labels_and_shuffle():
    ds = generate(seed=10, train_per_class=7, val_per_class=3, test_per_class=2)
    assert isinstance(ds, Dataset)
    assert ds.xtr.shape == (64 * 7, 64) and ds.xva.shape == (64 * 3, 64) and ds.xte.shape == (64 * 2, 64)
    for y, n in ((ds.ytr, 7), (ds.yva, 3), (ds.yte, 2)):
        assert y.dtype == np.int64
        assert (np.bincount(y, minlength=64) == n).all()
    assert not (np.diff(ds.ytr) >= 0).all(), "training split is shuffled"
    assert ds.num_classes == 64
    assert ds.meta["seed"] == 10 and ds.meta["preset"] == "baseline"
    assert ds.meta["codes"][0] == ".-"
    empty = generate(seed=10, train_per_class=2, val_per_class=0, test_per_class=0)
    assert empty.xva.shape == (0, 64) and empty.yte.shape == (0,)


def test_onehot_option():
    ds = generate(seed=11, onehot=True, **SMALL)
    assert ds.meta["onehot"] is True
    oh = ds.onehot("tr")
    assert oh.shape == (64 * 20, 64) and (oh.argmax(1) == ds.ytr).all()


def test_presets_and_defaults():
    assert set(PRESETS) == {"baseline", "difficult"}
    d = resolve_params("difficult")
    assert d["noise_sd"] == 4.0 and d["leading_spaces"] is True and d["min_len_dash"] == 3
    b = resolve_params("baseline")
    assert b == DEFAULTS
    assert (b["frame_len"], b["dilation"], b["levels"], b["symbol_mean"], b["symbol_sd"]) == (64, 1, 16, 12.0, 1.34)
    assert (b["train_per_class"], b["val_per_class"], b["test_per_class"]) == (5000, 1000, 1000)
    assert generate("difficult", seed=0, **SMALL).meta["params"]["noise_sd"] == 4.0


def test_same_seed_same_bytes_different_seed_differs():
    a = generate("difficult", seed=123, **SMALL)
    b = generate("difficult", seed=123, **SMALL)
    c = generate("difficult", seed=124, **SMALL)
    for k in ("xtr", "ytr", "xva", "yva", "xte", "yte"):
        assert a[k].tobytes() == b[k].tobytes()
    assert a.xtr.tobytes() != c.xtr.tobytes()
    assert a.ytr.tobytes() != c.ytr.tobytes()


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"noise_sigma": 1}, "unknown Morse parameter 'noise_sigma'"),
        ({"style": "color"}, "style='color'"),
        ({"min_len_dot": 4, "max_len_dot": 3}, "max_len_dot=3 is less than min_len_dot=4"),
        ({"min_len_space": 0}, "min_len_space=0"),
        ({"noise_sd": -1.0}, "noise_sd=-1.0"),
        ({"noise_sd": float("nan")}, "not finite"),
        ({"max_flips": 2}, "style 'bw' only"),
        ({"style": "bw", "noise_sd": 1.0}, "style 'gray' only"),
        ({"style": "bw", "max_flips": 65}, "max_flips=65"),
        ({"frame_len": 2.5}, "frame_len=2.5 is not a whole number"),
        ({"dilation": 0}, "dilation=0"),
        ({"train_per_class": 0}, "train_per_class=0"),
        ({"leading_spaces": "yes"}, "not a boolean"),
        ({"levels": 0}, "levels="),
    ],
)
def test_bad_parameters_are_one_line_errors(kwargs, fragment):
    with pytest.raises(InputError) as exc:
        generate(**kwargs)
    assert fragment in str(exc.value)
    assert "\n" not in str(exc.value)


def test_unknown_override_lists_valid_names():
    with pytest.raises(InputError) as exc:
        generate(noise=3)
    msg = str(exc.value)
    assert "'noise'" in msg
    for key in DEFAULTS:
        assert key in msg


def test_bad_preset_and_seed():
    with pytest.raises(InputError, match="unknown preset 'hard'.*baseline, difficult"):
        generate("hard")
    with pytest.raises(InputError, match="seed"):
        generate(seed=-1)
    with pytest.raises(InputError, match="seed"):
        generate(seed=1.5)


def test_parse_overrides():
    got = parse_overrides(["noise_sd=2", "leading_spaces=yes", "dilation=4", "style=BW"])
    assert got == {"noise_sd": 2.0, "leading_spaces": True, "dilation": 4, "style": "bw"}
    with pytest.raises(InputError, match="key=value"):
        parse_overrides(["noise_sd"])
    with pytest.raises(InputError, match="frame_len='abc' is not a whole number"):
        parse_overrides(["frame_len=abc"])
    with pytest.raises(InputError, match="unknown Morse parameter 'x'"):
        parse_overrides(["x=1"])
