"""Datasets in one format (``xtr, ytr, xva, yva, xte, yte``), loaders and redundancy transforms."""

from predsparse.data.format import KEYS, Dataset
from predsparse.data.loaders import fashion_mnist_dir, load_dataset, load_idx_dir, load_npz, read_idx
from predsparse.data.transforms import apply_transforms, normalise, pad, pca, subset

__all__ = [
    "KEYS",
    "Dataset",
    "apply_transforms",
    "fashion_mnist_dir",
    "load_dataset",
    "load_idx_dir",
    "load_npz",
    "normalise",
    "pad",
    "pca",
    "read_idx",
    "subset",
]
