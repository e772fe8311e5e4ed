"""Sparse backends: the protocol a backend implements, the registry and the choice per call.

For a junction with edges ``(rows[e], cols[e])`` (sorted by right neuron, then left neuron) and
weights ``w[e]`` a backend computes the three training operations over present edges only:

- forward  ``y[b, j]  = sum_{e: rows[e]=j} w[e] x[b, cols[e]]``        (FF)
- grad_input ``gx[b, k] = sum_{e: cols[e]=k} w[e] g[b, rows[e]]``      (BP)
- grad_weight ``gw[e] = sum_b g[b, rows[e]] x[b, cols[e]]``            (UP)

Each costs ``2 * batch * |W|`` FLOPs and memory proportional to ``|W|``; the dense ``(n, p)``
matrix is never formed. :class:`TorchCSR` (``"torch"``) uses torch's CSR kernels (CPU and CUDA, any
float dtype): the portable fallback. The numba backend (``"numba"``,
:mod:`predsparse.nn.numba_backend`) registers itself in front of it for ``"auto"``.
Backends register in :data:`BACKENDS` and are picked by :func:`select_backend`.
"""

from __future__ import annotations

import warnings
from typing import Protocol

import torch

warnings.filterwarnings("ignore", message=".*Sparse CSR tensor support is in beta.*")
warnings.filterwarnings("ignore", message=".*Sparse invariant checks are implicitly disabled.*")


class SparseIndex(Protocol):
    """What a backend needs from a layer: its index buffers (on the layer's device)."""

    n_in: int
    n_out: int
    rows: torch.Tensor  # (|W|,) right neuron per edge
    cols: torch.Tensor  # (|W|,) left neuron per edge
    crow: torch.Tensor  # (n_out + 1,) CSR row pointer
    t_perm: torch.Tensor  # (|W|,) edge order sorted by left neuron
    t_crow: torch.Tensor  # (n_in + 1,) CSR row pointer of the transpose
    t_rows: torch.Tensor  # (|W|,) right neuron per edge in transposed order (rows[t_perm])
    in_degree: int  # fixed in-degree, or 0 when degrees vary


class Backend(Protocol):
    name: str
    layout: str  # "batch": tensors (B, n); "panel": also offers the panel methods of NumbaCPU

    def supports(self, idx: SparseIndex, x: torch.Tensor) -> bool: ...
    def forward(self, idx: SparseIndex, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor: ...
    def grad_input(self, idx: SparseIndex, g: torch.Tensor, w: torch.Tensor) -> torch.Tensor: ...
    def grad_weight(self, idx: SparseIndex, g: torch.Tensor, x: torch.Tensor) -> torch.Tensor: ...


class TorchCSR:
    """torch's CSR SpMM and ``sampled_addmm``: portable (CPU and CUDA), the reference fallback."""

    name = "torch-csr"
    layout = "batch"

    def supports(self, idx: SparseIndex, x: torch.Tensor) -> bool:
        return True

    def forward(self, idx: SparseIndex, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        a = torch.sparse_csr_tensor(idx.crow, idx.cols, w, (idx.n_out, idx.n_in))
        return (a @ x.t()).t()

    def grad_input(self, idx: SparseIndex, g: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        at = torch.sparse_csr_tensor(
            idx.t_crow, idx.t_rows, torch.index_select(w, 0, idx.t_perm), (idx.n_in, idx.n_out)
        )
        return (at @ g.t()).t()

    def grad_weight(self, idx: SparseIndex, g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        a = torch.sparse_csr_tensor(
            idx.crow, idx.cols, torch.zeros(idx.cols.numel(), dtype=g.dtype, device=g.device), (idx.n_out, idx.n_in)
        )
        return torch.sparse.sampled_addmm(a, g.t().contiguous(), x.contiguous(), beta=0.0).values()


BACKENDS: dict[str, Backend] = {"torch": TorchCSR()}
# Order in which "auto" tries backends; faster ones insert themselves at the front.
AUTO_ORDER: list[str] = ["torch"]


def register_backend(key: str, backend: Backend, *, prefer: bool = True) -> None:
    """Make ``backend`` available as ``key``; ``prefer`` puts it first for ``backend="auto"``."""
    BACKENDS[key] = backend
    if key in AUTO_ORDER:
        AUTO_ORDER.remove(key)
    AUTO_ORDER.insert(0 if prefer else len(AUTO_ORDER), key)


def select_backend(name: str, idx: SparseIndex, x: torch.Tensor) -> Backend:
    """The backend called ``name``, or for ``"auto"`` the first in :data:`AUTO_ORDER` that supports the call."""
    if name != "auto":
        try:
            b = BACKENDS[name]
        except KeyError:
            from predsparse.errors import InputError

            raise InputError(f"sparse backend {name!r} is not one of {['auto', *BACKENDS]}") from None
        if b.supports(idx, x):
            return b
        return BACKENDS["torch"]
    for key in AUTO_ORDER:
        if BACKENDS[key].supports(idx, x):
            return BACKENDS[key]
    return BACKENDS["torch"]
