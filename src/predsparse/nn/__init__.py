"""Truly sparse neural-network modules (PyTorch): only present weights are stored, used and trained."""

from predsparse.nn.conv import ConvFrontEnd, SparseCNN, build_cnn, front_end_output_shape, input_shape_for
from predsparse.nn.layers import ACTIVATIONS, SparseLinear, SparseMLP
from predsparse.nn.ops import BACKENDS, register_backend, sparse_matmul

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
    "sparse_matmul",
]
