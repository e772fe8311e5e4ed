"""Windows cover the layer as documented; windowed patterns spread (or, deliberately, do not)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from predsparse.errors import InputError
from predsparse.patterns.scatter import window_matrix
from predsparse.patterns.windows import (
    coverage,
    describe,
    image_windows,
    parse_window_spec,
    split_windows,
    windowed,
    windows_1d,
    windows_2d,
    windows_3d,
)


def no_warning(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fn(*args, **kwargs)


def test_1d_tiles_exactly():
    w = no_warning(windows_1d, 16, 4)
    assert [x.tolist() for x in w] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11], [12, 13, 14, 15]]
    assert (coverage(w, 16) == 1).all()


def test_1d_stride_that_does_not_tile_warns_and_leaves_the_tail():
    with pytest.warns(UserWarning, match="does not tile"):
        w = windows_1d(10, 3)
    assert [x.tolist() for x in w] == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert coverage(w, 10).tolist() == [1] * 9 + [0]


def test_1d_overlap_and_gaps():
    w = no_warning(windows_1d, 8, 4, 2)  # (8-4) % 2 == 0: tiles, overlapping
    assert coverage(w, 8).tolist() == [1, 1, 2, 2, 2, 2, 1, 1]
    with pytest.warns(UserWarning, match="exceeds window"):
        w = windows_1d(8, 2, 3)  # (8-2) % 3 == 0 but gaps between windows
    assert coverage(w, 8).tolist() == [1, 1, 0, 1, 1, 0, 1, 1]


def test_1d_offset_inside_a_bigger_layer():
    w = no_warning(windows_1d, 6, 3, start=10, layer_size=16)
    assert [x.tolist() for x in w] == [[10, 11, 12], [13, 14, 15]]
    with pytest.raises(InputError, match="outside the layer"):
        windows_1d(6, 3, start=11, layer_size=16)


def test_2d_image_padded_at_the_end():
    w = no_warning(windows_2d, 28, 28, 7, 7, layer_size=1024)
    assert len(w) == 16
    assert w[0].tolist() == [r * 28 + c for r in range(7) for c in range(7)]
    assert w[1][0] == 7 and w[4][0] == 7 * 28  # row-major order of windows
    cov = coverage(w, 1024)
    assert (cov[:784] == 1).all() and (cov[784:] == 0).all()
    assert describe(w, 1024) == {
        "windows": 16,
        "size_min": 49,
        "size_max": 49,
        "covered": 784,
        "uncovered": 240,
        "overlapping": 0,
    }


def test_2d_image_centred_in_a_bigger_one():
    w = no_warning(windows_2d, 28, 28, 14, 14, row_length=32, offset=2 * 32 + 2, layer_size=1024)
    cov = coverage(w, 1024).reshape(32, 32)
    inside = np.zeros((32, 32), dtype=bool)
    inside[2:30, 2:30] = True
    assert (cov[inside] == 1).all() and (cov[~inside] == 0).all()


def test_2d_stride_warning_per_axis():
    with pytest.warns(UserWarning, match="2-D rows"):
        windows_2d(10, 8, 4, 4)


def test_3d_feature_maps():
    w = no_warning(windows_3d, 2, 4, 4, 1, 2, 2)
    assert len(w) == 8
    assert w[0].tolist() == [0, 1, 4, 5]
    assert w[4].tolist() == [16, 17, 20, 21]  # channel 1 starts at H*W = 16
    assert (coverage(w, 32) == 1).all()
    w = no_warning(windows_3d, 4, 4, 4, 2, 4, 4)  # two channels per window
    assert [x.size for x in w] == [32, 32]


def test_split_windows_near_equal():
    w = split_windows(10, 3)
    assert [x.tolist() for x in w] == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]
    w = split_windows(np.array([5, 7, 9, 11]), 2)
    assert [x.tolist() for x in w] == [[5, 7], [9, 11]]
    with pytest.raises(InputError):
        split_windows(3, 4)


def test_image_windows_keep_ideal_at_least_one():
    w = image_windows(28, 28, 16, 1024)  # ideal = |w| * 16 / 1024 >= 1 needs |w| >= 64
    assert min(x.size for x in w) >= 64
    assert len(w) == 8  # 7x14 tiles: the finest tiling by divisors of 28 with >= 64 pixels


def test_parse_window_spec():
    assert len(parse_window_spec("n:4", 64)) == 4
    assert len(parse_window_spec("1d:8", 64)) == 8
    assert len(parse_window_spec("1d:8,4", 64)) == 15
    assert len(parse_window_spec("2d:28,28,7,7", 1024)) == 16
    assert len(parse_window_spec("3d:2,4,4,1,2,2", 32)) == 8
    for bad in ("2d:28,28,7", "xx:3", "1d:a", "n:0"):
        with pytest.raises(InputError):
            parse_window_spec(bad, 64)


def test_window_errors():
    with pytest.raises(InputError, match="exceeds the extent"):
        windows_1d(4, 5)
    with pytest.raises(InputError):
        windows_1d(4, 0)


def _counts(pattern, windows):
    return np.asarray((window_matrix(windows, pattern.n_in).T @ pattern.to_dense().T).T)


def test_windowed_spread_is_even():
    wins = windows_2d(28, 28, 7, 7, layer_size=1024)
    pat = windowed(1024, 64, 1, wins, seed=3)  # d_in = 16 over 16 equal windows: one from each
    assert pat.in_degree == 16 and not pat.has_duplicates()
    assert (_counts(pat, wins) == 1).all()
    assert (pat.out_degrees[784:] == 0).all()  # padding is in no window
    real = pat.out_degrees[:784]
    assert real.max() - real.min() <= 1  # handed out in shuffled passes: as even as possible
    assert windowed(1024, 64, 1, wins, seed=3) == pat


def test_windowed_spread_with_remainders():
    wins = split_windows(60, 7)  # sizes 9,9,9,9,8,8,8
    pat = windowed(60, 30, 4, wins, seed=0)  # d_in = 8 < 7 windows * ... : quotas just above 1
    m = _counts(pat, wins)
    assert (m.sum(axis=1) == 8).all()
    assert m.min() >= 1 and m.max() <= 2  # every window at least its floor, at most one extra


def test_windowed_single_takes_one_window():
    wins = split_windows(64, 4)
    pat = windowed(64, 32, 4, wins, mode="single", seed=1)  # d_in = 8 from one window of 16
    m = _counts(pat, wins)
    assert ((m > 0).sum(axis=1) == 1).all()
    assert (m.max(axis=1) == 8).all()
    with pytest.raises(InputError, match="at least d_in"):
        windowed(64, 4, 2, split_windows(64, 8), mode="single")


def test_windowed_rejects_bad_input():
    with pytest.raises(InputError, match="exceeds the"):
        windowed(64, 2, 2, [np.arange(10)])
    with pytest.raises(InputError, match="mode"):
        windowed(64, 32, 4, split_windows(64, 4), mode="bogus")
    with pytest.raises(InputError, match="outside"):
        windowed(64, 32, 4, [np.arange(60, 70)])
