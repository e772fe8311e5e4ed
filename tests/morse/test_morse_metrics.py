"""Difficulty metrics against hand-computed values, and the original-script compatibility mode."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from predsparse.data.format import Dataset
from predsparse.errors import InputError
from predsparse.morse import difficulty, generate
from predsparse.morse.metrics import class_statistics


def Q(x: float) -> float:
    return 0.5 * math.erfc(x / math.sqrt(2))


def tiny() -> dict:
    """3 classes, 2 features, 8 samples spread over the three splits.

    class 0: (0,0) (2,0)              centroid (1,0)  per-dim variances (1, 0) -> sigma^2 = 0.5
    class 1: (4,3) (4,5)              centroid (4,4)  per-dim variances (0, 1) -> sigma^2 = 0.5
    class 2: (0,4) (2,4) (0,6) (2,6)  centroid (1,5)  per-dim variances (1, 1) -> sigma^2 = 1
    d(0,1) = |(3,4)| = 5, d(0,2) = |(0,5)| = 5, d(1,2) = |(3,-1)| = sqrt(10)
    priors 2/8, 2/8, 4/8
    """
    return {
        "xtr": np.array([[0, 0], [4, 3], [0, 4], [2, 6]], dtype=np.float32),
        "ytr": np.array([0, 1, 2, 2]),
        "xva": np.array([[2, 0], [2, 4]], dtype=np.float32),
        "yva": np.array([0, 2]),
        "xte": np.array([[4, 5], [0, 6]], dtype=np.float32),
        "yte": np.array([1, 2]),
    }


S10 = math.sqrt(10)


def test_class_statistics_by_hand():
    st = class_statistics(tiny())
    assert st["labels"].tolist() == [0, 1, 2]
    assert st["counts"].tolist() == [2, 2, 4]
    assert np.allclose(st["prior"], [0.25, 0.25, 0.5])
    assert np.allclose(st["centroids"], [[1, 0], [4, 4], [1, 5]])
    assert np.allclose(st["var"], [0.5, 0.5, 1.0])


def test_metrics_by_hand():
    got = difficulty(tiny())
    s0, s1, s2 = math.sqrt(0.5), math.sqrt(0.5), 1.0
    # Q(sqrt(d^2 / (4 sigma^2))) = Q(d / (2 sigma))
    v_lower = 0.25 * Q(5 / (2 * s0)) + 0.25 * Q(S10 / (2 * s1)) + 0.5 * Q(S10 / (2 * s2))
    v_upper = (
        0.25 * (Q(5 / (2 * s0)) + Q(5 / (2 * s0)))
        + 0.25 * (Q(5 / (2 * s1)) + Q(S10 / (2 * s1)))
        + 0.5 * (Q(5 / (2 * s2)) + Q(S10 / (2 * s2)))
    )
    v_dist = (s0 / 5 + s1 / S10 + s2 / S10) / 3
    assert got["V_lower"] == pytest.approx(v_lower, rel=1e-12)
    assert got["V_upper"] == pytest.approx(v_upper, rel=1e-12)
    assert got["V_dist"] == pytest.approx(v_dist, rel=1e-12)
    # numbers, to make the hand computation visible: sqrt(12.5)=3.5355, sqrt(5)=2.2361, sqrt(2.5)=1.5811
    assert got["V_lower"] == pytest.approx(0.25 * 2.0348e-4 + 0.25 * 0.012674 + 0.5 * 0.056923, rel=1e-3)
    # L1 / N0 between centroids: 3.5, 2.5, 2.0 -> none below 0.05
    assert got["V_thresh"] == 0
    assert difficulty(tiny(), threshold=3.0)["V_thresh"] == 2
    assert difficulty(tiny(), threshold=3.6)["V_thresh"] == 3


def test_original_compat_by_hand():
    got = difficulty(tiny(), compat="original")
    v0, v1, v2 = 0.5, 0.5, 1.0  # the original uses the variance where sigma belongs
    v_lower = 0.25 * Q(5 / (2 * v0)) + 0.25 * Q(S10 / (2 * v1)) + 0.5 * Q(S10 / (2 * v2))
    # stale index c = N_L - 2 = 1: each of the N_L - 1 = 2 inner terms is Q(d(m, 1) / (2 v_m)); d(1, 1) = 0
    v_upper = 0.25 * 2 * Q(5 / (2 * v0)) + 0.25 * 2 * Q(0.0) + 0.5 * 2 * Q(S10 / (2 * v2))
    v_dist = (v0 / 5 + v1 / S10 + v2 / S10) / 3
    assert got["V_lower"] == pytest.approx(v_lower, rel=1e-12)
    assert got["V_upper"] == pytest.approx(v_upper, rel=1e-12)
    assert got["V_upper"] == pytest.approx(0.25 + 0.5 * 2.8665e-7 + 2 * 0.056923 / 2 * 1, rel=1e-3)
    assert got["V_dist"] == pytest.approx(v_dist, rel=1e-12)
    assert got["V_thresh"] == 0


def close_pairs() -> dict:
    """Centroids (0,0), (0.06,0), (0,0), (1,1): L1/N0 = 0.03 for 0-1 and 1-2, 0 for 0-2 (identical)."""
    x = np.array([[0, 0.1], [0, -0.1], [0.06, 0.1], [0.06, -0.1], [0, 0.2], [0, -0.2], [1, 1.1], [1, 0.9]])
    y = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    return {"xtr": x, "ytr": y, "xva": x[:0], "yva": y[:0], "xte": x[:0], "yte": y[:0]}


def test_thresh_counts_unordered_pairs_and_compat_modes():
    assert difficulty(close_pairs())["V_thresh"] == 3  # {0,1}, {1,2}, {0,2}
    assert difficulty(close_pairs(), compat="paper")["V_thresh"] == 6  # ordered pairs: every pair twice
    assert difficulty(close_pairs(), compat="original")["V_thresh"] == 2  # skips identical centroids {0,2}


def original_script(xtr, ytr, xva, yva, xte, yte, T_threshold=0.05):
    """Line-by-line port (Python 3) of dataset_metrics() in the original public script, defects included."""
    from scipy.stats import norm

    xdata = np.concatenate((xtr, xva, xte), axis=0)
    ydata = np.concatenate((ytr, yva, yte), axis=0)
    xdata = xdata.reshape(xdata.shape[0], -1)
    numlabels = ydata.shape[1]
    numdims = xdata.shape[1]
    numsamples = ydata.shape[0]
    label_occurrences = np.zeros(numlabels)
    label_dim_totals = np.zeros((numlabels, numdims))
    for x, y in zip(xdata, ydata):
        label = np.flatnonzero(y)[0]
        label_occurrences[label] += 1
        label_dim_totals[label] += x
    label_dim_centroids = label_dim_totals / label_occurrences[:, np.newaxis]
    sq = np.zeros((numlabels, numdims))
    for x, y in zip(xdata, ydata):
        label = np.flatnonzero(y)[0]
        sq[label] += (x - label_dim_centroids[label]) ** 2
    label_coll_variances = np.average(sq / label_occurrences[:, np.newaxis], axis=1)
    label_probs = label_occurrences / float(numsamples)
    label_d = np.zeros((numlabels, numlabels))
    label_d1 = np.zeros((numlabels, numlabels))
    for r in range(1, numlabels):
        for c in range(r):
            label_d[r, c] = np.linalg.norm(label_dim_centroids[r] - label_dim_centroids[c], ord=2)
            label_d1[r, c] = np.linalg.norm(label_dim_centroids[r] - label_dim_centroids[c], ord=1) / float(numdims)
    label_d += label_d.T
    label_d1 = label_d1[np.nonzero(label_d1)]
    T = np.count_nonzero(label_d1 < T_threshold)
    label_dmin = np.partition(label_d, kth=1, axis=1)[:, 1]
    D = np.average(label_coll_variances / label_dmin)
    L = U = 0.0
    for m in range(numlabels):
        L += label_probs[m] * norm.sf(np.sqrt(label_dmin[m] ** 2 / (4 * label_coll_variances[m] ** 2)))
        U_inner = 0.0
        for j in range(numlabels):
            if j == m:
                continue
            U_inner += norm.sf(np.sqrt(label_d[m, c] ** 2 / (4 * label_coll_variances[m] ** 2)))
        U += label_probs[m] * U_inner
    return L, U, D, T


def test_original_compat_matches_a_port_of_the_original_script():
    ds = generate("difficult", seed=5, train_per_class=12, val_per_class=3, test_per_class=3)
    oh = {k: (ds.onehot(k[1:]) if k.startswith("y") else ds[k]) for k in ds.keys()}
    L, U, D, T = original_script(oh["xtr"], oh["ytr"], oh["xva"], oh["yva"], oh["xte"], oh["yte"])
    got = difficulty(oh, compat="original")
    assert got["V_lower"] == pytest.approx(L, rel=1e-9, abs=1e-15)
    assert got["V_upper"] == pytest.approx(U, rel=1e-9)
    assert got["V_dist"] == pytest.approx(D, rel=1e-9)
    assert got["V_thresh"] == T


def test_inputs_of_many_kinds_give_the_same_numbers():
    d = tiny()
    ref = difficulty(d)
    assert difficulty(Dataset.from_mapping(d)) == pytest.approx(ref)
    assert difficulty(SimpleNamespace(**d)) == pytest.approx(ref)
    onehot = dict(d)
    for k in ("ytr", "yva", "yte"):
        onehot[k] = np.eye(3)[d[k]]
    assert difficulty(onehot) == pytest.approx(ref)
    images = {k: (v.reshape(-1, 2, 1) if k.startswith("x") else v) for k, v in d.items()}  # images are flattened
    assert difficulty(images) == pytest.approx(ref)
    perm = np.random.default_rng(0).permutation(4)
    shuffled = dict(d, xtr=d["xtr"][perm], ytr=d["ytr"][perm])
    assert difficulty(shuffled) == pytest.approx(ref)


def test_absent_classes_are_ignored():
    d = tiny()
    shifted = {k: (v + 2 if k.startswith("y") else v) for k, v in d.items()}  # labels 2, 3, 4; 0 and 1 absent
    assert difficulty(shifted) == pytest.approx(difficulty(d))


def test_zero_variance_and_identical_centroids():
    x = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 1.0], [1.0, 1.0]])
    y = np.array([0, 0, 1, 1])
    d = {"xtr": x, "ytr": y, "xva": x[:0], "yva": y[:0], "xte": x[:0], "yte": y[:0]}
    got = difficulty(d)
    assert got == {"V_lower": 0.0, "V_upper": 0.0, "V_dist": 0.0, "V_thresh": 0}
    same = dict(d, xtr=np.array([[0.0, 1.0], [0.0, -1.0], [1.0, 0.0], [-1.0, 0.0]]))  # both centroids at 0
    got = difficulty(same)
    assert got["V_lower"] == pytest.approx(0.5)  # Q(0): a coin toss
    assert got["V_upper"] == pytest.approx(0.5)
    assert got["V_dist"] == math.inf
    assert got["V_thresh"] == 1


def test_harder_morse_sets_score_higher():
    easy = difficulty(generate(seed=1, train_per_class=60, val_per_class=10, test_per_class=10))
    hard = difficulty(generate("difficult", seed=1, train_per_class=60, val_per_class=10, test_per_class=10))
    for k in ("V_lower", "V_upper", "V_dist", "V_thresh"):
        assert hard[k] > easy[k], k


@pytest.mark.parametrize(
    "mutate, fragment",
    [
        (lambda d: d.pop("xva"), "'xva'"),
        (lambda d: d.update(xtr=np.full((4, 2), np.nan)), "NaN"),
        (
            lambda d: d.update(ytr=np.array([0, 0, 0, 0]), yva=np.array([0, 0]), yte=np.array([0, 0])),
            "at least 2 classes",
        ),
        (lambda d: d.update(ytr=np.array([0, 1, 2])), "same length"),
        (lambda d: d.update(ytr=np.array([0.5, 1, 2, 2])), "non-integer"),
        (lambda d: d.update(ytr=np.array([-1, 1, 2, 2])), "label -1"),
        (lambda d: d.update(xva=np.zeros((2, 3), np.float32)), "features per sample"),
    ],
)
def test_bad_datasets_are_one_line_errors(mutate, fragment):
    d = tiny()
    mutate(d)
    with pytest.raises(InputError) as exc:
        difficulty(d)
    assert fragment in str(exc.value) and "\n" not in str(exc.value)


def test_bad_compat_and_threshold():
    with pytest.raises(InputError, match="compat='orig'"):
        difficulty(tiny(), compat="orig")
    with pytest.raises(InputError, match="threshold"):
        difficulty(tiny(), threshold=float("nan"))
