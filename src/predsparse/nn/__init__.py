"""Truly sparse neural-network modules (PyTorch): only present weights are stored, used and trained.

Layers: modules (:mod:`~predsparse.nn.layers`, :mod:`~predsparse.nn.conv`) -> their functional form
(:mod:`~predsparse.nn.functional`) -> autograd functions (:mod:`~predsparse.nn.autograd`,
:mod:`~predsparse.nn.fused`, :mod:`~predsparse.nn.panels`) -> backends (:mod:`~predsparse.nn.backend`,
:mod:`~predsparse.nn.numba_backend` on :mod:`~predsparse.nn.kernels_cpu`).
"""

from predsparse.nn import numba_backend as _numba_backend  # noqa: F401 - registers the "numba" backend
from predsparse.nn.autograd import sparse_matmul
from predsparse.nn.backend import BACKENDS, register_backend
from predsparse.nn.conv import ConvFrontEnd, SparseCNN, build_cnn, front_end_output_shape, input_shape_for
from predsparse.nn.functional import sparse_linear, sparse_mlp
from predsparse.nn.layers import ACTIVATIONS, SparseLinear, SparseMLP

__all__ = [
    "ACTIVATIONS",
    "BACKENDS",
    "ConvFrontEnd",
    "SparseCNN",
    "SparseLinear",
    "SparseMLP",
    "build_cnn",
    "front_end_output_shape",
    "input_shape_for",
    "register_backend",
    "sparse_linear",
    "sparse_matmul",
    "sparse_mlp",
]
