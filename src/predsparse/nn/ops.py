"""The former single module of the sparse operations, kept so that existing imports work.

It was split (issue 10): :mod:`predsparse.nn.backend` (protocol, registry, torch CSR backend),
:mod:`predsparse.nn.numba_backend` (numba kernels on panels), :mod:`predsparse.nn.autograd` (autograd
functions of one junction), :mod:`predsparse.nn.panels` (the panel layout), :mod:`predsparse.nn.fused`
(the one-node MLP) and :mod:`predsparse.nn.functional` (what the modules' ``forward`` calls).
"""

from predsparse.nn.autograd import SparseMatmul, panel_linear, sparse_matmul
from predsparse.nn.backend import AUTO_ORDER, BACKENDS, Backend, SparseIndex, TorchCSR, register_backend, select_backend
from predsparse.nn.fused import panel_mlp
from predsparse.nn.numba_backend import NumbaCPU, _arrays, _sync_threads, _tls
from predsparse.nn.panels import from_panels, to_panels

__all__ = [
    "AUTO_ORDER",
    "BACKENDS",
    "Backend",
    "NumbaCPU",
    "SparseIndex",
    "SparseMatmul",
    "TorchCSR",
    "_arrays",
    "_sync_threads",
    "_tls",
    "from_panels",
    "panel_linear",
    "panel_mlp",
    "register_backend",
    "select_backend",
    "sparse_matmul",
    "to_panels",
]
