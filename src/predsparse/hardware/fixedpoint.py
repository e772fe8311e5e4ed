"""Two's complement fixed point ``(1, I, F)`` exactly as the RTL computes it (``docs/design/hardware.md``).

Values are raw integers (``value = raw / 2**F``) held in numpy ``int64`` arrays; every operation is
vectorised. The rules:

- multiplier: exact product, arithmetic shift right by ``F`` (floor), saturate to
  ``[-2**(W-1), 2**(W-1)-1]``, then round half up: add 1 when bit ``F-1`` of the exact product is 1
  and the saturated result is not already the positive maximum (so a product that saturates
  negatively with that bit set gives ``min + 1``, as the spec's rule says);
- adders saturate, no rounding;
- the learning rate ``eta = 2**-k`` is an arithmetic shift with round half up;
- 8-bit pixels are placed at the top of the fraction (``floor(pix * 2**F / 256)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from predsparse.errors import InputError

MAX_WIDTH = 32  # products of two 32-bit words and sums of up to 2**30 of them still fit in int64


@dataclass(frozen=True)
class FixedFormat:
    """``(1, I, F)``: a sign bit, ``I`` integer bits, ``F`` fraction bits; width ``W = 1 + I + F``."""

    I: int
    F: int

    def __post_init__(self) -> None:
        for name, v in (("I", self.I), ("F", self.F)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                raise InputError(f"fixed-point format {name} = {v!r}: must be a whole number >= 0")
        if self.F < 2:
            raise InputError(
                f"fixed-point format (1,{self.I},{self.F}): F = {self.F} < 2; the derivative table's cap 2^(F-2)-1 needs F >= 2"
            )
        if self.width > MAX_WIDTH:
            raise InputError(
                f"fixed-point format (1,{self.I},{self.F}) is {self.width} bits: at most {MAX_WIDTH} bits are supported"
            )

    @cached_property
    def width(self) -> int:
        """``W = 1 + I + F`` bits."""
        return 1 + self.I + self.F

    @cached_property
    def lo(self) -> int:
        """Most negative raw value ``-2**(W-1)``."""
        return -(1 << (self.width - 1))

    @cached_property
    def hi(self) -> int:
        """Most positive raw value ``2**(W-1) - 1``."""
        return (1 << (self.width - 1)) - 1

    @cached_property
    def one(self) -> int:
        """Raw value of 1.0 (``2**F``; may lie above ``hi`` when ``I = 0``)."""
        return 1 << self.F

    @property
    def lsb(self) -> float:
        return 2.0**-self.F

    def __str__(self) -> str:
        return f"(1,{self.I},{self.F})"

    @classmethod
    def parse(cls, text: str | tuple | list | FixedFormat) -> FixedFormat:
        """``"1,3,8"`` (or ``"(1,3,8)"``, or a 3-tuple) to a format; the sign field must be 1."""
        if isinstance(text, FixedFormat):
            return text
        if isinstance(text, str):
            parts = text.strip().strip("()").split(",")
            try:
                vals = [int(p) for p in parts]
            except ValueError:
                raise InputError(
                    f"fixed-point format {text!r} is not three whole numbers 'S,I,F' such as 1,3,8"
                ) from None
        else:
            vals = list(text)
        if len(vals) != 3:
            raise InputError(f"fixed-point format {text!r} needs three fields (sign, integer, fraction), e.g. 1,3,8")
        if vals[0] != 1:
            raise InputError(f"fixed-point format {text!r}: the sign field must be 1 (two's complement)")
        return cls(int(vals[1]), int(vals[2]))

    # --- conversions ------------------------------------------------------------------------------
    def quantize(self, x: np.ndarray | float) -> np.ndarray:
        """Nearest raw value (round half up), saturated: floats to raw ``int64``."""
        x = np.asarray(x, dtype=np.float64)
        if not np.isfinite(x).all():
            raise InputError("cannot quantise NaN or infinite values to fixed point")
        r = np.floor(x * float(self.one) + 0.5)
        return np.clip(r, self.lo, self.hi).astype(np.int64)

    def to_float(self, raw: np.ndarray | int) -> np.ndarray:
        return np.asarray(raw, dtype=np.float64) / float(self.one)

    def from_pixels(self, pix: np.ndarray) -> np.ndarray:
        """8-bit pixels placed at the top of the fraction: ``floor(pix * 2**F / 256)``."""
        p = np.asarray(pix, dtype=np.int64)
        if self.F >= 8:
            return p << (self.F - 8)
        return p >> (8 - self.F)

    def to_hex(self, raw: np.ndarray | int) -> list[str]:
        """Raw values as ``W``-bit two's complement hex words (upper case, zero padded)."""
        digits = (self.width + 3) // 4
        mask = (1 << self.width) - 1
        return [format(int(v) & mask, f"0{digits}X") for v in np.ravel(np.asarray(raw, dtype=np.int64))]

    def from_hex(self, words: list[str] | str) -> np.ndarray:
        """Inverse of :meth:`to_hex` (sign-extends ``W``-bit words)."""
        if isinstance(words, str):
            words = [words]
        out = []
        for w in words:
            v = int(w, 16) & ((1 << self.width) - 1)
            out.append(v - (1 << self.width) if v >> (self.width - 1) else v)
        return np.asarray(out, dtype=np.int64)

    # --- arithmetic ---------------------------------------------------------------------------------
    def sat(self, x: np.ndarray) -> np.ndarray:
        """Saturate wide integers to the format's range."""
        return np.minimum(np.maximum(x, self.lo), self.hi)

    def sat_(self, x: np.ndarray) -> np.ndarray:
        """:meth:`sat` in place (``x`` must be an ``int64`` array the caller owns)."""
        np.maximum(x, self.lo, out=x)
        return np.minimum(x, self.hi, out=x)

    def add(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Saturating adder."""
        return self.sat(np.asarray(a, dtype=np.int64) + b)

    def mult(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """The RTL multiplier (floor shift, saturate, round half up; see the module docstring)."""
        return self.round_product(np.multiply(a, b, dtype=np.int64))

    def round_product(self, prod: np.ndarray) -> np.ndarray:
        """Multiplier output from the exact product ``prod`` (``int64``; overwritten when it is an array).

        ``sat(prod >> F) + r`` unless that is the maximum, ``r`` = bit ``F-1`` of ``prod``. Written as
        ``t = (prod + 2**(F-1)) >> F`` (that is ``(prod >> F) + r``), then ``max(min(t, hi), lo + r)``,
        which is the same function; when every ``t`` lies in ``(lo, hi]`` it is ``t`` itself.
        """
        f = self.F
        if not isinstance(prod, np.ndarray) or prod.ndim == 0:
            prod = np.asarray(prod, dtype=np.int64)
            t = (prod + (1 << (f - 1))) >> f
            return np.maximum(np.minimum(t, self.hi), self.lo + ((prod >> (f - 1)) & 1))
        low = prod >> (f - 1)
        low &= 1
        prod += 1 << (f - 1)
        prod >>= f
        if prod.size and prod.min() > self.lo and prod.max() <= self.hi:
            return prod
        low += self.lo
        np.minimum(prod, self.hi, out=prod)
        return np.maximum(prod, low, out=prod)

    def lr_step(self, delta: np.ndarray, shift: int, rounding: str = "half-up") -> np.ndarray:
        """``g = round(-eta * delta)`` with ``eta = 2**-shift``: arithmetic shift, round half up, saturate.

        ``rounding="half-even"`` is *not* the RTL: an experiment (ties to even) that removes the upward
        bias round-half-up gives the many tied updates (see ``docs/hardware.md``)."""
        neg = -np.asarray(delta, dtype=np.int64)
        if shift == 0:
            return self.sat(neg)
        if rounding == "half-even":
            q = neg >> shift
            r = neg - (q << shift)
            half = 1 << (shift - 1)
            return self.sat(q + ((r > half) | ((r == half) & ((q & 1) == 1))))
        return self.sat((neg + (1 << (shift - 1))) >> shift)


def parse_format(text: str | FixedFormat) -> FixedFormat:
    return FixedFormat.parse(text)
