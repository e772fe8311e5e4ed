"""The real Fashion-MNIST files through the loader: shapes, labels, scaling and seeded subsets."""

from __future__ import annotations

import numpy as np

from predsparse.data import load_dataset


def test_small_subset_shapes_labels_and_scale(fashion_mnist_small):
    ds = fashion_mnist_small
    assert (len(ds.xtr), len(ds.xva), len(ds.xte)) == (3000, 1000, 1000)
    assert ds.num_features == 784 and ds.num_classes == 10 and tuple(ds.feature_shape) == (28, 28)
    for x, y in ((ds.xtr, ds.ytr), (ds.xva, ds.yva), (ds.xte, ds.yte)):
        assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0  # "unit" scaling of 8-bit pixels
        assert set(np.unique(y)) <= set(range(10))
    assert len(np.unique(ds.ytr)) == 10  # a seeded random subset, not the first 3,000 files' order


def test_same_seed_same_subset_other_seed_other_subset(fashion_mnist_small):
    again = load_dataset("fashion-mnist", limit_train=3000, limit_val=1000, limit_test=1000)
    assert np.array_equal(again.xtr, fashion_mnist_small.xtr) and np.array_equal(again.yva, fashion_mnist_small.yva)
    other = load_dataset("fashion-mnist", seed=1, subset_seed=1, limit_train=3000, limit_val=1000, limit_test=1000)
    assert not np.array_equal(other.ytr, fashion_mnist_small.ytr)
