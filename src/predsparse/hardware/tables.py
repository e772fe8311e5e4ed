"""Activation lookup tables addressed by all ``W`` bits of the pre-activation ``s``.

Sigmoid: entry for value ``x`` is ``min(round(sigma(x) 2^F), 2^F - 1)``; derivative
``min(round(sigma(x)(1 - sigma(x)) 2^F), 2^(F-2) - 1)`` (round half up). ReLU (clipped, as the RTL
option): ``a = 1 LSB`` for ``s <= 0``, ``1 - 2^-F`` for ``s >= 1``, else ``s``; ``a' = 1 LSB`` outside
``(0, 1)``, else ``1 - 2^-F``.

For widths up to :data:`TABLE_MAX_WIDTH` bits the full tables are built once and looked up; wider
formats (used only to check fixed point against floating point) compute the same entries directly.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from predsparse.errors import InputError
from predsparse.hardware.fixedpoint import FixedFormat

ACTIVATIONS = ("sigmoid", "relu")
TABLE_MAX_WIDTH = 20


def _entries(fmt: FixedFormat, s: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Activation and derivative raw values for raw pre-activations ``s`` (the table formula)."""
    s = np.asarray(s, dtype=np.int64)
    one = fmt.one
    if kind == "sigmoid":
        sig = expit(s.astype(np.float64) / one)
        a = np.minimum(np.floor(sig * one + 0.5), one - 1)
        d = np.minimum(np.floor(sig * (1.0 - sig) * one + 0.5), (one >> 2) - 1)
        return a.astype(np.int64), d.astype(np.int64)
    if kind == "relu":
        a = np.where(s <= 0, 1, np.where(s >= one, one - 1, s))
        d = np.where((s <= 0) | (s >= one), 1, one - 1)
        return a.astype(np.int64), d.astype(np.int64)
    raise InputError(f"activation {kind!r} is not one of {', '.join(ACTIVATIONS)}")


class ActivationTables:
    """The activation/derivative table pair of one format and activation function."""

    def __init__(self, fmt: FixedFormat, kind: str = "sigmoid") -> None:
        if kind not in ACTIVATIONS:
            raise InputError(f"activation {kind!r} is not one of {', '.join(ACTIVATIONS)}")
        self.fmt = fmt
        self.kind = kind
        self.tabulated = fmt.width <= TABLE_MAX_WIDTH
        if self.tabulated:
            s = np.arange(fmt.lo, fmt.hi + 1, dtype=np.int64)
            self.act, self.der = _entries(fmt, s, kind)

    def __call__(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(a, a')`` for saturated raw ``s``."""
        if self.tabulated:
            idx = np.asarray(s) - self.fmt.lo
            return self.act[idx], self.der[idx]
        return _entries(self.fmt, s, self.kind)

    def table(self) -> tuple[np.ndarray, np.ndarray]:
        """Both full tables in address order (address = ``s`` as an unsigned ``W``-bit word)."""
        fmt = self.fmt
        if fmt.width > TABLE_MAX_WIDTH:
            raise InputError(f"format {fmt} is {fmt.width} bits: full tables are built up to {TABLE_MAX_WIDTH} bits")
        addr = np.arange(1 << fmt.width, dtype=np.int64)
        s = np.where(addr >= (1 << (fmt.width - 1)), addr - (1 << fmt.width), addr)
        return self(s)
