"""Datasets as the hardware sees them: inputs in fixed point, padded to ``N_0``; labels padded to ``N_L``.

Images (``uint8`` pixels, or floats that are exactly ``pixel / 255``) are placed at the top of the
fraction (``(1,3,8)``: ``pix / 256``; ``(1,2,7)``: ``floor(pix / 2) / 128``), and the float reference
gets ``pix / 256``. Other features (Morse, any npz) are quantised to the nearest raw value, saturated,
and the float reference gets them unchanged. Missing features are zero padding (MNIST's 784 pixels in
1024 input neurons); classes beyond the dataset's are padding outputs with target 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from predsparse.data import Dataset, load_dataset
from predsparse.errors import InputError
from predsparse.hardware.config import HwConfig


@dataclass
class HwData:
    xtr: np.ndarray  # raw fixed point (int32), (M, N_0)
    ytr: np.ndarray
    xte: np.ndarray
    yte: np.ndarray
    ftr: np.ndarray  # float32 inputs for the reference, (M, N_0)
    fte: np.ndarray
    features: int  # real input features (the rest of N_0 is padding)
    num_classes: int
    pixels: bool
    name: str

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "train": int(self.xtr.shape[0]),
            "test": int(self.xte.shape[0]),
            "features": self.features,
            "input_neurons": int(self.xtr.shape[1]),
            "classes": self.num_classes,
            "pixels": self.pixels,
        }


def load(name_or_path: str, *, seed: int = 0) -> Dataset:
    """``fashion-mnist``, ``mnist``, ``morse[:preset]`` or an npz path (the project's loader)."""
    return load_dataset(name_or_path, seed=seed)


def _as_pixels(x: np.ndarray) -> np.ndarray | None:
    if x.dtype == np.uint8:
        return x.astype(np.int64)
    if np.issubdtype(x.dtype, np.floating) and x.size and x.min() >= 0 and x.max() <= 1:
        p = np.rint(x.astype(np.float64) * 255.0)
        if np.abs(p - x * 255.0).max() < 1e-3:
            return p.astype(np.int64)
    return None


def prepare(
    ds: Dataset, cfg: HwConfig, *, train_limit: int | None = None, test_limit: int | None = None, seed: int = 0
) -> HwData:
    """Inputs in ``cfg.fmt`` padded to ``N_0``, labels checked against ``N_L``; optional seeded subsets."""
    n0, nL = cfg.layers[0], cfg.layers[-1]
    feats = ds.num_features
    if feats > n0:
        raise InputError(
            f"dataset has {feats} features but the input layer has N_0 = {n0} neurons: N_0 must be >= {feats}"
        )
    if ds.num_classes > nL:
        raise InputError(
            f"dataset has {ds.num_classes} classes but the output layer has N_L = {nL} neurons: N_L must be >= {ds.num_classes}"
        )
    xtr = ds.xtr.reshape(len(ds.xtr), -1) if ds.xtr.dtype == np.uint8 else ds.flat("tr")
    xte = ds.xte.reshape(len(ds.xte), -1) if ds.xte.dtype == np.uint8 else ds.flat("te")
    ytr, yte = ds.ytr, ds.yte
    rng = np.random.default_rng((seed, 0x5B5))
    if train_limit is not None:
        if train_limit <= 0:
            raise InputError(f"train limit {train_limit}: must be a positive number of samples")
        if train_limit < len(xtr):
            keep = np.sort(rng.permutation(len(xtr))[:train_limit])
            xtr, ytr = xtr[keep], ytr[keep]
    if test_limit is not None and 0 < test_limit < len(xte):
        keep = np.sort(rng.permutation(len(xte))[:test_limit])
        xte, yte = xte[keep], yte[keep]
    ptr, pte = _as_pixels(xtr), _as_pixels(xte)
    pixels = ptr is not None and (pte is not None or len(xte) == 0)
    fmt = cfg.fmt

    def conv(x: np.ndarray, p: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        if pixels:
            raw, flt = fmt.from_pixels(p), p / 256.0
        else:
            raw, flt = fmt.quantize(x), x.astype(np.float64)
        pad = ((0, 0), (0, n0 - feats))  # int32 holds any W <= 32 word; float32 holds pix/256 exactly
        return np.pad(raw.astype(np.int32), pad), np.pad(flt.astype(np.float32), pad)

    rtr, ftr = conv(xtr, ptr)
    rte, fte = conv(xte, pte if len(xte) else np.zeros((0, feats), np.int64))
    return HwData(
        rtr,
        ytr.astype(np.int64),
        rte,
        yte.astype(np.int64),
        ftr,
        fte,
        feats,
        ds.num_classes,
        pixels,
        str(ds.meta.get("name", "dataset")),
    )
