"""Dataset transforms: subsetting, normalisation, PCA (less redundancy), zero-padding (hardware widths).

All statistics (scale, mean, PCA basis) are fitted on the training split only and applied to all.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from predsparse.data.format import SPLITS, Dataset
from predsparse.errors import InputError
from predsparse.limits import check_memory, dataset_bytes

NORMALISATIONS = ("none", "unit", "standard")


def subset(
    ds: Dataset, *, train: int | None = None, val: int | None = None, test: int | None = None, seed: int = 0
) -> Dataset:
    """Keep a seeded random subset of each split (``None`` keeps the split whole)."""
    rng = np.random.default_rng(seed)
    out = {}
    for s, n in zip(SPLITS, (train, val, test)):
        x, y = getattr(ds, "x" + s), getattr(ds, "y" + s)
        if n is not None:
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
                raise InputError(
                    f"subset size {n!r} for split '{s}' (limit_{ {'tr': 'train', 'va': 'val', 'te': 'test'}[s] }) "
                    "must be a whole number >= 1"
                )
            if n < len(x):
                idx = np.sort(rng.choice(len(x), size=n, replace=False))
                x, y = x[idx], y[idx]
        out["x" + s], out["y" + s] = x, y
    meta = dict(ds.meta, subset={"train": train, "val": val, "test": test, "seed": seed})
    return replace(ds, **out, meta=meta)


def normalise(ds: Dataset, how: str = "unit") -> Dataset:
    """``unit``: divide by the training maximum absolute value (pixels 0..255 -> 0..1);
    ``standard``: zero mean, unit variance per feature (training statistics); ``none``: float32 as is."""
    if how not in NORMALISATIONS:
        raise InputError(f"normalisation {how!r} is not one of {NORMALISATIONS}")
    xs = {s: ds.flat(s) for s in SPLITS}
    if how == "unit":
        scale = float(np.abs(xs["tr"]).max()) or 1.0
        xs = {s: x / scale for s, x in xs.items()}
    elif how == "standard":
        mu, sd = xs["tr"].mean(axis=0), xs["tr"].std(axis=0)
        sd[sd == 0] = 1.0
        xs = {s: (x - mu) / sd for s, x in xs.items()}
    shape = ds.feature_shape
    out = {"x" + s: xs[s].astype(np.float32).reshape((-1, *shape)) for s in SPLITS}
    return replace(ds, **out, meta=dict(ds.meta, normalise=how))


def pca(ds: Dataset, k: int) -> Dataset:
    """Project flattened features onto the top ``k`` principal components of the training split."""
    n_feat = ds.num_features
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 < k <= n_feat:
        raise InputError(f"pca_k {k!r}: PCA needs a whole number of components in 1..{n_feat}")
    # centred float64 copy + economy SVD factors of the training split
    check_memory(8 * (2 * len(ds.xtr) + n_feat) * n_feat, f"PCA of {len(ds.xtr)}x{n_feat} training features")
    xtr = ds.flat("tr").astype(np.float64)
    mu = xtr.mean(axis=0)
    # economy SVD of the centred training data; rows of vt are the principal directions
    _, _, vt = np.linalg.svd(xtr - mu, full_matrices=False)
    basis = vt[:k].T
    out = {"x" + s: ((ds.flat(s) - mu) @ basis).astype(np.float32) for s in SPLITS}
    return replace(ds, **out, meta=dict(ds.meta, pca=k))


def pad(ds: Dataset, width: int) -> Dataset:
    """Zero-pad flattened features to ``width`` (e.g. 784 pixels -> 1024 input neurons, as the hardware)."""
    n_feat = ds.num_features
    if isinstance(width, bool) or not isinstance(width, (int, np.integer)):
        raise InputError(f"pad_to {width!r} must be a whole number")
    if width < n_feat:
        raise InputError(f"pad_to {width} is smaller than the {n_feat} features: padding can only widen")
    samples = sum(len(getattr(ds, "x" + s)) for s in SPLITS)
    check_memory(dataset_bytes(samples, width), f"padding {samples} samples to {width} features")
    out = {}
    for s in SPLITS:
        x = ds.flat(s)
        out["x" + s] = np.concatenate([x, np.zeros((x.shape[0], width - n_feat), np.float32)], axis=1)
    return replace(ds, **out, meta=dict(ds.meta, pad_to=width, real_features=n_feat))


def apply_transforms(
    ds: Dataset,
    *,
    normalize: str | None = "unit",
    pca_k: int | None = None,
    pad_to: int | None = None,
    limit_train: int | None = None,
    limit_val: int | None = None,
    limit_test: int | None = None,
    subset_seed: int = 0,
    **unknown: Any,
) -> Dataset:
    """Subset, then normalise, then PCA, then pad: the usual order for the seed's experiments."""
    if unknown:
        raise InputError(
            f"unknown dataset option(s) {sorted(unknown)}: valid are normalize, pca_k, pad_to, limit_train, limit_val, limit_test, subset_seed"
        )
    # None means "not given"; 0 is a value like any other and is refused by subset/pad (never silently ignored)
    if limit_train is not None or limit_val is not None or limit_test is not None:
        ds = subset(ds, train=limit_train, val=limit_val, test=limit_test, seed=subset_seed)
    if normalize:
        ds = normalise(ds, normalize)
    if pca_k is not None and pca_k != 0:  # 0 is the sweep configs' "raw features" value
        ds = pca(ds, pca_k)
    if pad_to is not None:
        ds = pad(ds, pad_to)
    return ds
