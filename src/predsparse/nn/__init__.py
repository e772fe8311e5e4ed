"""Truly sparse neural-network modules (PyTorch): only present weights are stored, used and trained."""

from predsparse.nn.layers import ACTIVATIONS, SparseLinear, SparseMLP
from predsparse.nn.ops import BACKENDS, register_backend, sparse_matmul

__all__ = ["ACTIVATIONS", "BACKENDS", "SparseLinear", "SparseMLP", "register_backend", "sparse_matmul"]
