"""The project's one dataset format: six arrays ``xtr, ytr, xva, yva, xte, yte``.

Features may have any shape per sample (flattened for MLPs); labels are integers ``0..K-1`` or one-hot.
Everything is validated up front with one clear message naming the value and the rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from predsparse.errors import InputError

SPLITS = ("tr", "va", "te")
MAX_CLASSES = 100_000  # beyond this the labels are ids or values, not class indices (one-hot would not fit)
KEYS = ("xtr", "ytr", "xva", "yva", "xte", "yte")


@dataclass
class Dataset:
    """Train/validation/test arrays plus free-form metadata (name, generator parameters, seed).

    Labels are stored as integer class indices (``int64``); one-hot input is converted on construction.
    Supports ``ds["xtr"]`` as well as ``ds.xtr`` so that plain dicts and datasets are interchangeable.
    """

    xtr: np.ndarray
    ytr: np.ndarray
    xva: np.ndarray
    yva: np.ndarray
    xte: np.ndarray
    yte: np.ndarray
    num_classes: int = 0
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        labels = {}
        for s in SPLITS:
            x = np.asarray(getattr(self, "x" + s))
            y = np.asarray(getattr(self, "y" + s))
            if x.ndim < 1 or x.shape[0] != y.shape[0]:
                raise InputError(
                    f"x{s} has {x.shape[0] if x.ndim else 0} samples but y{s} has {y.shape[0] if y.ndim else 0}: "
                    "features and labels of a split must have the same length"
                )
            if np.iscomplexobj(x):
                raise InputError(
                    f"x{s} has complex dtype {x.dtype}: features must be real (split real and "
                    "imaginary parts into separate features yourself)"
                )
            if not np.issubdtype(x.dtype, np.number) and x.dtype != np.bool_:
                raise InputError(f"x{s} has dtype {x.dtype}: features must be numeric")
            if x.size and np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
                bad = int((~np.isfinite(x)).sum())
                raise InputError(f"x{s} contains {bad} NaN or infinite values: features must be finite")
            setattr(self, "x" + s, x)
            labels[s] = y
        widths = {labels[s].shape[1] for s in SPLITS if labels[s].ndim == 2}
        k_onehot = widths.pop() if len(widths) == 1 else None
        if len(widths) > 0:
            raise InputError("one-hot label arrays of different widths across splits: all splits need the same classes")
        for s in SPLITS:
            setattr(self, "y" + s, labels_to_index(labels[s], "y" + s))
        feat = {tuple(getattr(self, "x" + s).shape[1:]) for s in SPLITS if getattr(self, "x" + s).shape[0] > 0}
        if len(feat) > 1:
            raise InputError(f"feature shapes differ across splits {sorted(feat)}: all splits need the same shape")
        observed = max(
            (int(getattr(self, "y" + s).max()) + 1 for s in SPLITS if getattr(self, "y" + s).size), default=0
        )
        k = self.num_classes or k_onehot or observed
        if k > MAX_CLASSES:
            raise InputError(
                f"labels imply {k} classes: at most {MAX_CLASSES} are supported "
                "(labels must be class indices 0..K-1, not raw values or ids)"
            )
        if observed > k:
            raise InputError(f"label {observed - 1} is out of range for {k} classes: labels must be in 0..{k - 1}")
        self.num_classes = int(k)
        if self.xtr.shape[0] == 0:
            raise InputError("xtr is empty: a dataset needs training samples")

    def __getitem__(self, key: str) -> Any:
        if key not in KEYS:
            raise KeyError(key)
        return getattr(self, key)

    def keys(self) -> tuple[str, ...]:
        return KEYS

    @property
    def num_features(self) -> int:
        """Number of features per sample once flattened."""
        return int(np.prod(self.xtr.shape[1:], dtype=np.int64))

    @property
    def feature_shape(self) -> tuple[int, ...]:
        return tuple(self.xtr.shape[1:])

    def flat(self, split: str) -> np.ndarray:
        """Features of ``split`` ('tr', 'va' or 'te') as a float32 ``(samples, features)`` array."""
        x = getattr(self, "x" + split)
        return np.ascontiguousarray(x.reshape(x.shape[0], -1), dtype=np.float32)

    def onehot(self, split: str) -> np.ndarray:
        """Labels of ``split`` as a float32 one-hot array."""
        y = getattr(self, "y" + split)
        out = np.zeros((y.shape[0], self.num_classes), dtype=np.float32)
        out[np.arange(y.shape[0]), y] = 1.0
        return out

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.meta.get("name", "dataset"),
            "features": self.num_features,
            "feature_shape": list(self.feature_shape),
            "classes": self.num_classes,
            "train": int(self.xtr.shape[0]),
            "val": int(self.xva.shape[0]),
            "test": int(self.xte.shape[0]),
        }

    @classmethod
    def from_mapping(cls, arrays: Mapping[str, Any], *, num_classes: int = 0, meta: dict | None = None) -> Dataset:
        """Build from any mapping with the six keys (e.g. an open npz file); missing keys are an error."""
        missing = [k for k in KEYS if k not in arrays]
        if missing:
            raise InputError(f"missing keys {missing}: a dataset needs all of {list(KEYS)}")
        return cls(*(np.asarray(arrays[k]) for k in KEYS), num_classes=num_classes, meta=dict(meta or {}))


def labels_to_index(y: np.ndarray, name: str) -> np.ndarray:
    """Integer labels from integer or one-hot labels, with clear errors for anything else."""
    if y.ndim == 2:
        if y.shape[0] and not (np.isin(y, (0, 1)).all() and (y.sum(axis=1) == 1).all()):
            raise InputError(f"{name} is 2-D but not one-hot: each row must hold a single 1 and zeros")
        return y.argmax(axis=1).astype(np.int64) if y.shape[0] else np.zeros(0, np.int64)
    if y.ndim != 1:
        raise InputError(f"{name} has shape {y.shape}: labels must be 1-D integers or 2-D one-hot")
    if y.size and np.issubdtype(y.dtype, np.floating):
        if not np.isfinite(y).all() or not (y == np.round(y)).all():
            raise InputError(f"{name} holds non-integer values: labels must be whole class indices")
        if np.abs(y).max() > 2**53:
            raise InputError(f"{name} holds label {float(np.abs(y).max()):.3g}: labels must be class indices 0..K-1")
    elif y.size and np.iscomplexobj(y):
        raise InputError(f"{name} has complex dtype {y.dtype}: labels must be integers")
    elif y.size and not np.issubdtype(y.dtype, np.integer) and y.dtype != np.bool_:
        raise InputError(f"{name} has dtype {y.dtype}: labels must be integers")
    if y.size and np.issubdtype(y.dtype, np.unsignedinteger) and int(y.max()) > 2**62:
        raise InputError(f"{name} holds label {int(y.max())}: labels must be class indices 0..K-1")
    y = y.astype(np.int64)
    if y.size and y.min() < 0:
        raise InputError(f"{name} contains label {int(y.min())}: labels must be >= 0")
    return y
