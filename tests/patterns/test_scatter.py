"""Scatter: fully connected gives 1, hand-built patterns give hand-computed numbers, bad patterns score low."""

from __future__ import annotations

import numpy as np
import pytest

from predsparse import patterns as P
from predsparse.errors import InputError
from predsparse.patterns.scatter import (
    default_windows,
    junction_scatter,
    network_scatter,
    neuron_scatter,
    path_counts,
    scatter,
)
from predsparse.patterns.windows import split_windows, windowed, windows_2d

# A1 (2 x 4): right 0 <- left {0, 1}; right 1 <- left {0, 2}. A2 (1 x 2): the output <- both hidden.
A1 = np.array([[1, 1, 0, 0], [1, 0, 1, 0]])
A2 = np.array([[1, 1]])
W0 = [np.array([0, 1]), np.array([2, 3])]
W1 = [np.array([0]), np.array([1])]
W2 = [np.array([0])]


def test_hand_junction():
    # forward: d = 2, ideal = 2 * 2 / 4 = 1 per left window.
    #   right 0: M = [2, 0] -> [1, 0] -> 0.5;  right 1: M = [1, 1] -> 1.0;  mean 0.75
    # backward: column sums 2, 1, 1, 0 so d = 1, ideal = 1 * 1 / 2 = 0.5 per right window.
    #   left 0: M = [1, 1] -> 1;  left 1: [1, 0] -> 0.5;  left 2: [0, 1] -> 0.5;  left 3: 0;  mean 0.5
    pat = P.from_dense(A1)
    assert neuron_scatter(pat, W0).tolist() == [0.5, 1.0]
    assert neuron_scatter(A1.T, W1).tolist() == [1.0, 0.5, 0.5, 0.0]
    assert junction_scatter(pat, W0, W1) == (0.75, 0.5)


def test_hand_network_with_paths():
    # paths A2 A1 = [[2, 1, 1, 0]].
    # net.f: d = 4, ideal = 2 * 4 / 4 = 2: M = [3, 1] -> [1, 0.5] -> 0.75
    # net.b: inputs against the one output window: d = 1, ideal = 1: [2, 1, 1, 0] -> [1, 1, 1, 0] -> 0.75
    # J2.f: [1, 1] against ideal 1 -> 1;  J2.b: each hidden has one edge, ideal 1 -> 1
    assert path_counts([A1, A2]).toarray().tolist() == [[2, 1, 1, 0]]
    rep = network_scatter([P.from_dense(A1), P.from_dense(A2)], windows=[W0, W1, W2])
    assert rep.vector == {"J1.f": 0.75, "J1.b": 0.5, "J2.f": 1.0, "J2.b": 1.0, "net.f": 0.75, "net.b": 0.75}
    assert rep.value == 0.5 and rep.argmin == "J1.b"
    assert rep.neurons["net.b"].tolist() == [1.0, 1.0, 1.0, 0.0]


def test_hand_neurons_that_matter():
    # only inputs 0..2 matter (3 is padding); the input windows are {0, 1} and {2}.
    # J1.f: d = 2 (padding columns count), p = 4: ideals 2*2/4 = 1 and 1*2/4 = 0.5.
    #   right 0: M = [2, 0] -> 0.5;  right 1: M = [1, 1] -> [1, min(2, 1)] -> 1;  mean 0.75
    # J1.b: scored inputs 0..2, d = (2 + 1 + 1) / 3 = 4/3, ideal = 1 * (4/3) / 2 = 2/3.
    #   left 0: [1, 1] -> 1;  left 1: [1, 0] -> 0.5;  left 2: [0, 1] -> 0.5;  mean 2/3
    rep = network_scatter([P.from_dense(A1)], windows=[[np.array([0, 1]), np.array([2])], W1], matter=[3, None])
    assert rep.vector["J1.f"] == 0.75
    assert rep.vector["J1.b"] == pytest.approx(2 / 3)
    assert rep.neurons["J1.b"].size == 3
    assert "net.f" not in rep.vector  # one junction: the path matrix is the junction itself


@pytest.mark.parametrize("layers", [[16, 8, 4], [1024, 64, 16], [64, 128, 64, 32]])
def test_fully_connected_scores_one_everywhere(layers):
    net = P.network(layers, None, "fc")
    rep = network_scatter(net)
    assert all(v == 1.0 for v in rep.vector.values())
    assert all((v == 1.0).all() for v in rep.neurons.values())


def test_fully_connected_with_matter_and_image_windows():
    net = P.network([1024, 64, 16], None, "fc")
    rep = network_scatter(net, windows={0: windows_2d(28, 28, 4, 4, layer_size=1024)}, matter=[784, 64, 10])
    assert rep.value == 1.0


def test_default_windows_keep_ideal_at_least_one():
    net = P.network([1024, 64, 16], [4, 8], "structured", seed=0)
    wins = default_windows(net.patterns, [784, 64, 10])
    # layer 0: d_in = 1024 * 4 / 64 = 64, 784 matter -> floor(784 * 64 / 1024) = 49 windows of 16: ideal exactly 1
    assert len(wins[0]) == 49 and {w.size for w in wins[0]} == {16}
    # layer 1: d_out of J1 = 4, d_in of J2 = 32 -> 4 windows; layer 2: d_out of J2 = 8, 10 of 16 matter -> 5
    assert len(wins[1]) == 4 and len(wins[2]) == 5
    assert np.concatenate(wins[0]).max() < 784  # padding is in no window


def test_windowed_pattern_with_matching_windows_scores_one():
    wins = split_windows(32, 4)
    pat = windowed(32, 16, 2, wins, seed=0)  # d_in = 4: one from each window of 8, ideal 8 * 4 / 32 = 1
    assert neuron_scatter(pat, wins).tolist() == [1.0] * 16


def test_bad_patterns_score_low():
    # all-zero seed vectors, input padded 784 -> 1024: hidden neurons 49..63 read only padding
    zero = P.clash_free(1024, 64, 1, 64, type=2, seeds=[[0] * 64])
    wins = windows_2d(28, 28, 7, 7, layer_size=1024)
    s = neuron_scatter(zero, wins)
    assert (s[49:] == 0).all()
    # ideal = 49 * 16 / 1024 < 1, so each window hit counts 1: 16 consecutive pixels span at most two image
    # rows and two window columns, so at most 4 of the 16 windows
    assert s.max() <= 4 / 16
    good = P.clash_free(1024, 64, 1, 64, type=1, dither=True, seed=0)
    assert neuron_scatter(good, wins).mean() > 3 * s.mean()


def test_scatter_is_fast_enough_to_vectorise_a_big_junction():
    # not a timing test: checks the big case runs and stays in [0, 1]
    pat = P.structured(1024, 1024, 64, seed=0)
    f, b = junction_scatter(pat, split_windows(1024, 64), split_windows(1024, 64))
    assert 0 < f <= 1 and 0 < b <= 1


def test_scatter_errors():
    pat = P.from_dense(A1)
    with pytest.raises(InputError, match="outside"):
        neuron_scatter(pat, [np.array([0, 9])])
    with pytest.raises(InputError, match="one entry per layer"):
        network_scatter([pat], matter=[4])
    with pytest.raises(InputError, match="matter"):
        network_scatter([pat], matter=[5, None])
    with pytest.raises(InputError, match="inputs"):
        network_scatter([pat, pat])
    with pytest.raises(InputError, match="layer"):
        network_scatter([pat], windows={3: W0})
    assert scatter([pat], windows=[W0, W1]) == 0.5
