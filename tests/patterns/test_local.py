"""The local (receptive-field) kind: every first-layer neuron reads one image patch; checked by brute force over
the patch positions, in networks, in model specs and on the command line."""

from __future__ import annotations

import numpy as np
import pytest

from bad_input import assert_refused, run, save_npz
from predsparse import patterns as P
from predsparse.errors import InputError
from predsparse.patterns.windows import local
from predsparse.train.spec import ModelSpec, build


def _patch_of(cols: np.ndarray, shape: tuple[int, int, int], window: int) -> list[tuple[int, int]]:
    """Every stride-1 patch position (brute force) that holds all of ``cols``."""
    c, h, w = shape
    ys, xs = (cols % (h * w)) // w, cols % w
    return [
        (y, x)
        for y in range(h - window + 1)
        for x in range(w - window + 1)
        if ys.min() >= y and ys.max() < y + window and xs.min() >= x and xs.max() < x + window
    ]


@pytest.mark.parametrize("shape", [(10, 12), (2, 6, 7)])
def test_every_neuron_reads_one_patch_and_edges_match_a_random_pattern(shape):
    full = (1, *shape) if len(shape) == 2 else shape
    n_in = int(np.prod(full))
    n_out, d_out, window = 50, 3, 4
    pat = local(n_in, n_out, d_out, shape, window, seed=5)
    assert pat.kind == "local" and pat.edges == n_in * d_out  # the edge count of a random pattern
    d_in = np.bincount(pat.rows, minlength=n_out)
    assert d_in.max() - d_in.min() <= 1  # in-degrees as even as the edge count allows
    used = []
    for j in range(n_out):
        cols = pat.cols[pat.rows == j]
        assert len(np.unique(cols)) == len(cols)  # no repeated edge
        fits = _patch_of(cols, full, window)
        assert fits, f"neuron {j}'s inputs {cols} fit in no {window}x{window} patch"
        used.append(fits)
    assert np.array_equal(pat.to_dense(), local(n_in, n_out, d_out, shape, window, seed=5).to_dense())
    assert not np.array_equal(pat.to_dense(), local(n_in, n_out, d_out, shape, window, seed=6).to_dense())


def test_patch_positions_are_shared_out_evenly():
    # a 4x4 image with 2x2 patches has 9 positions, 27 neurons use each 3 times; out-degree 6 gives 96 edges,
    # in-degrees 3 or 4: a neuron with all 4 pixels of its patch names its position, none may exceed 3
    pat = local(16, 27, 6, (4, 4), 2, seed=0)
    full = pat.to_dense()
    positions = {}
    for j in range(27):
        cols = np.flatnonzero(full[j])
        if len(cols) == 4:  # a full patch identifies its position exactly
            (pos,) = _patch_of(cols, (1, 4, 4), 2)
            positions[pos] = positions.get(pos, 0) + 1
    assert max(positions.values()) <= 3 and sum(positions.values()) == 96 - 27 * 3


def test_local_refusals_name_the_value_and_the_rule():
    with pytest.raises(InputError, match="window 9 exceeds the image's 8x8"):
        local(64, 10, 2, (8, 8), 9)
    with pytest.raises(InputError, match="more than 10 right neurons x 4 pixels"):
        local(64, 10, 1, (8, 8), 2)
    with pytest.raises(InputError, match="has 64 pixels but the left layer has 63"):
        local(63, 10, 2, (8, 8), 3)
    with pytest.raises(InputError, match=r"shape \(64,\)"):
        local(64, 10, 2, (64,), 3)


def test_network_of_kind_local_is_local_below_and_random_above():
    net = P.network([64, 30, 12, 4], [3, 4, 4], "local", image_shape=(8, 8), window=3, seed=1)
    assert [p.kind for p in net.patterns] == ["local", "random", "random"]
    assert net.patterns[1].edges == 30 * 4
    with pytest.raises(InputError, match="image shape and a window"):
        P.network([64, 30, 4], [3, 4], "local", seed=1)


def test_model_spec_local_checks_the_data_and_builds_the_drawn_network():
    spec = ModelSpec(layers=(64, 30, 4), d_out=(3, 4), kind="local", window=3, seed=2)
    model, net = build(spec, (8, 8))
    assert [p.kind for p in net.patterns] == ["local", "random"]
    assert sum(p.numel() for p in model.parameters()) == 64 * 3 + 30 * 4 + 30 + 4
    with pytest.raises(InputError, match=r"image samples .* shape \(64,\)"):
        spec.validate((64,))
    with pytest.raises(InputError, match="window 9 exceeds the 8x8 image"):
        ModelSpec(layers=(64, 30, 4), d_out=(3, 4), kind="local", window=9).validate((8, 8))
    with pytest.raises(InputError, match="cannot sit above a conv front end"):
        ModelSpec(layers=("auto", 4), d_out=(4,), kind="local", conv=(4,)).validate((8, 8))
    with pytest.raises(InputError, match="out-degree 20 needs 1280 edges"):
        ModelSpec(layers=(64, 30, 4), d_out=(20, 4), kind="local", window=2).validate((8, 8))


def test_train_cli_local_on_data_that_are_not_images_is_refused(tmp_path):
    data = save_npz(tmp_path / "toy.npz")  # samples of shape (6,)
    args = ["train", "--dataset", data, "--layers", "6,4,3", "--d-out", "2,3", "--kind", "local", "--epochs", "1"]
    assert_refused(run([*args, "--no-progress"]), "image samples", "(6,)")
    assert_refused(run([*args, "--conv", "4"]), "--kind local", "--conv 4")
