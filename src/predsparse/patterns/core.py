"""The :class:`Pattern` type: one junction's biadjacency structure, stored as its edge list.

A junction joins ``n_in = p`` left neurons to ``n_out = n`` right neurons. Edge ``e`` connects right
neuron ``rows[e]`` to left neuron ``cols[e]``; edges are kept in right-neuron order (the order the
hardware processes them), so ``rows`` is non-decreasing. Nothing here ever builds the dense
``(n, p)`` matrix unless :meth:`Pattern.to_dense` is called. Files: :mod:`predsparse.patterns.io`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from predsparse.errors import InputError


@dataclass(eq=False)
class Pattern:
    """Edges of one junction plus how they were made (kind and generator parameters, seeds included)."""

    n_in: int
    n_out: int
    rows: np.ndarray
    cols: np.ndarray
    kind: str = "custom"
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rows = np.ascontiguousarray(self.rows, dtype=np.int64)
        self.cols = np.ascontiguousarray(self.cols, dtype=np.int64)
        if self.rows.shape != self.cols.shape or self.rows.ndim != 1:
            raise InputError(f"rows {self.rows.shape} and cols {self.cols.shape} must be 1-D arrays of equal length")
        check_size(self.n_in, "n_in")
        check_size(self.n_out, "n_out")
        if self.rows.size:
            if self.rows.min() < 0 or self.rows.max() >= self.n_out:
                raise InputError(f"a right-neuron index is outside 0..{self.n_out - 1}")
            if self.cols.min() < 0 or self.cols.max() >= self.n_in:
                raise InputError(f"a left-neuron index is outside 0..{self.n_in - 1}")
            if np.any(np.diff(self.rows) < 0):
                raise InputError("edges must be listed in right-neuron order (rows non-decreasing)")

    # --- sizes and degrees -------------------------------------------------------------------
    @property
    def edges(self) -> int:
        """Number of edges ``|W|`` (= trainable weights)."""
        return int(self.rows.size)

    @property
    def density(self) -> float:
        """``|W| / (n_in * n_out)``."""
        return self.edges / (self.n_in * self.n_out)

    @property
    def in_degrees(self) -> np.ndarray:
        """In-degree of every right neuron, shape ``(n_out,)``."""
        return np.bincount(self.rows, minlength=self.n_out)

    @property
    def out_degrees(self) -> np.ndarray:
        """Out-degree of every left neuron, shape ``(n_in,)``."""
        return np.bincount(self.cols, minlength=self.n_in)

    @property
    def in_degree(self) -> int | np.ndarray:
        """``d_in`` as an int when every right neuron has the same in-degree, else the per-neuron array."""
        return _uniform(self.in_degrees)

    @property
    def out_degree(self) -> int | np.ndarray:
        """``d_out`` as an int when every left neuron has the same out-degree, else the per-neuron array."""
        return _uniform(self.out_degrees)

    # the seed's spellings (``out_degree``/``in_degree`` above are the design's fixed names, kept)
    @property
    def d_out(self) -> int | np.ndarray:
        """Same as :attr:`out_degree`: ``d_out``, an int for a regular pattern, else per left neuron."""
        return self.out_degree

    @property
    def d_in(self) -> int | np.ndarray:
        """Same as :attr:`in_degree`: ``d_in``, an int for a regular pattern, else per right neuron."""
        return self.in_degree

    @property
    def is_regular(self) -> bool:
        """True when every right neuron has the same in-degree (the fast fixed-degree kernels apply)."""
        return isinstance(self.in_degree, int)

    # --- views --------------------------------------------------------------------------------
    def to_dense(self) -> np.ndarray:
        """The ``(n_out, n_in)`` 0/1 biadjacency matrix (uint8). Only for sizes where that fits."""
        a = np.zeros((self.n_out, self.n_in), dtype=np.uint8)
        a[self.rows, self.cols] = 1
        return a

    def ell(self) -> np.ndarray:
        """Left indices as an ``(n_out, d_in)`` array (fixed in-degree only), in edge order."""
        d = self.in_degree
        if not isinstance(d, int):
            raise InputError("this pattern has varying in-degrees: the fixed-degree (ELL) layout needs one d_in")
        return self.cols.reshape(self.n_out, d)

    def indptr(self) -> np.ndarray:
        """CSR row pointer over right neurons, shape ``(n_out + 1,)``."""
        return np.concatenate([[0], np.cumsum(self.in_degrees)]).astype(np.int64)

    def has_duplicates(self) -> bool:
        """True when some (right, left) pair appears twice."""
        key = self.rows * self.n_in + self.cols
        return np.unique(key).size != key.size

    def dead_neurons(self) -> dict[str, list[int]]:
        """Right neurons with no input and left neurons with no output."""
        return {
            "no_input": np.flatnonzero(self.in_degrees == 0).tolist(),
            "no_output": np.flatnonzero(self.out_degrees == 0).tolist(),
        }

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly description: shape, kind, degrees, density, dead neurons."""
        d_in, d_out = self.in_degree, self.out_degree
        dead = self.dead_neurons()
        return {
            "kind": self.kind,
            "n_in": self.n_in,
            "n_out": self.n_out,
            "edges": self.edges,
            "density": self.density,
            "d_in": d_in if isinstance(d_in, int) else {"min": int(d_in.min()), "max": int(d_in.max())},
            "d_out": d_out if isinstance(d_out, int) else {"min": int(d_out.min()), "max": int(d_out.max())},
            "right_without_input": len(dead["no_input"]),
            "left_without_output": len(dead["no_output"]),
            "params": self.params,
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Pattern):
            return NotImplemented
        return (
            self.n_in == other.n_in
            and self.n_out == other.n_out
            and np.array_equal(self.rows, other.rows)
            and np.array_equal(self.cols, other.cols)
        )

    def same_matrix(self, other: Pattern) -> bool:
        """True when both have the same set of edges, whatever their order."""
        if (self.n_in, self.n_out, self.edges) != (other.n_in, other.n_out, other.edges):
            return False
        a = np.sort(self.rows * self.n_in + self.cols)
        b = np.sort(other.rows * other.n_in + other.cols)
        return bool(np.array_equal(a, b))


def from_dense(a: np.ndarray, kind: str = "custom") -> Pattern:
    """A pattern from a 0/1 ``(n_out, n_in)`` matrix (edges in row-major order)."""
    a = np.asarray(a)
    if a.ndim != 2:
        raise InputError(f"biadjacency matrix has shape {a.shape}: it must be 2-D (n_out, n_in)")
    if not np.isin(a, (0, 1)).all():
        raise InputError("biadjacency matrix must contain only 0 and 1")
    rows, cols = np.nonzero(a)
    return Pattern(a.shape[1], a.shape[0], rows, cols, kind=kind)


def check_size(value: Any, name: str) -> int:
    """A layer size or count must be a positive whole number."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise InputError(f"{name} = {value!r}: must be a positive whole number")
    return int(value)


def _uniform(deg: np.ndarray) -> int | np.ndarray:
    if deg.size and (deg == deg[0]).all():
        return int(deg[0])
    return deg
