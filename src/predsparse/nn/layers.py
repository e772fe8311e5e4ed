"""Truly sparse PyTorch modules: only the ``|W|`` present weights are stored and trained."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from predsparse.errors import InputError
from predsparse.nn import functional as SF
from predsparse.nn import inference
from predsparse.nn.autograd import panel_linear
from predsparse.nn.kernels_cpu import EPILOGUE
from predsparse.patterns import Pattern

ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}
INITS = ("glorot", "torch")


class SparseLinear(nn.Module):
    """A linear junction whose weights exist only on the edges of ``pattern``.

    ``weight`` is a ``(|W|,)`` parameter in (right neuron, left neuron) order; the index structure is
    kept as buffers, so ``.to(device)`` moves everything and optimisers (Adam's moments included) only
    ever see ``|W|`` numbers. Forward, input gradient and weight gradient touch present edges only.
    The transposed structure (``t_perm``, ``t_crow``, ``t_rows``) is built once: the pattern never
    changes, so the input gradient is a conflict-free gather like the forward pass.

    ``backend``: ``"auto"`` (numba kernels on CPU for float32/float64, torch's CSR kernels otherwise,
    e.g. on CUDA), ``"numba"`` or ``"torch"`` (see :mod:`predsparse.nn.backend`). ``forward`` is
    :func:`predsparse.nn.functional.sparse_linear`.

    ``init="glorot"`` draws ``N(0, 2 / (d_in + d_out))`` with the junction's own degrees (as the
    research code did); ``init="torch"`` matches ``torch.nn.Linear`` (``U(+-1/sqrt(d_in))``).
    """

    def __init__(self, pattern: Pattern, bias: bool = True, *, init: str = "glorot", backend: str = "auto") -> None:
        super().__init__()
        if not isinstance(pattern, Pattern):
            raise InputError(f"SparseLinear needs a predsparse Pattern, got {type(pattern).__name__}")
        if init not in INITS:
            raise InputError(f"init {init!r} is not one of {INITS}")
        self.n_in, self.n_out = pattern.n_in, pattern.n_out
        self.kind = pattern.kind
        self.backend = backend
        # storage order: by (right neuron, left neuron); generators usually emit it already (O(|W|) check)
        key = pattern.rows * self.n_in + pattern.cols
        if key.size < 2 or bool(np.all(key[1:] > key[:-1])):
            order = np.arange(key.size)
        else:
            order = np.argsort(key, kind="stable")
            sk = key[order]
            if bool(np.any(sk[1:] == sk[:-1])):
                raise InputError("pattern has a repeated (right, left) edge: each pair may appear at most once")
        rows, cols = pattern.rows[order], pattern.cols[order]
        # transposed order (by left neuron, then right neuron), built once: the pattern never changes
        t_perm = np.argsort(cols * self.n_out + rows, kind="stable")
        in_deg = np.bincount(rows, minlength=self.n_out)
        out_deg = np.bincount(cols, minlength=self.n_in)
        self.in_degree = int(in_deg[0]) if (in_deg == in_deg[0]).all() else 0
        self.register_buffer("rows", torch.from_numpy(rows), persistent=False)
        self.register_buffer("cols", torch.from_numpy(cols), persistent=False)
        self.register_buffer("crow", torch.from_numpy(np.concatenate([[0], np.cumsum(in_deg)])), persistent=False)
        self.register_buffer("t_perm", torch.from_numpy(t_perm), persistent=False)
        self.register_buffer("t_crow", torch.from_numpy(np.concatenate([[0], np.cumsum(out_deg)])), persistent=False)
        self.register_buffer("t_rows", torch.from_numpy(rows[t_perm]), persistent=False)
        # pattern edge e is stored at position edge_position[e] (hardware order -> storage order)
        self.register_buffer("edge_position", torch.from_numpy(np.argsort(order)), persistent=False)
        self.weight = nn.Parameter(torch.empty(rows.size))
        self.bias = nn.Parameter(torch.empty(self.n_out)) if bias else None
        self._in_deg, self._out_deg = in_deg, out_deg
        self.init = init
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        d_in = torch.from_numpy(np.maximum(self._in_deg, 1)).to(self.weight)[self.rows]
        if self.init == "glorot":
            d_out = torch.from_numpy(self._out_deg).to(self.weight)[self.cols]
            self.weight.copy_(torch.randn_like(self.weight) * torch.sqrt(2.0 / (d_in + d_out)))
            if self.bias is not None:
                self.bias.zero_()
        else:
            bound = 1.0 / torch.sqrt(d_in)
            self.weight.copy_((torch.rand_like(self.weight) * 2 - 1) * bound)
            if self.bias is not None:
                b = 1.0 / math.sqrt(max(float(self._in_deg.mean()), 1.0))
                self.bias.uniform_(-b, b)

    @property
    def edges(self) -> int:
        return int(self.weight.numel())

    @property
    def density(self) -> float:
        return self.edges / (self.n_in * self.n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return SF.sparse_linear(x, self, self.weight, self.bias, self.backend)

    def uses_panels(self, x: torch.Tensor) -> bool:
        """True when this call runs on the panel-layout (numba) kernels rather than a batch-major backend."""
        return SF.uses_panels(self, x, self.backend)

    def forward_panels(self, xp: torch.Tensor) -> torch.Tensor:
        """The junction on feature-major panels ``(P, n_in, bc)`` -> ``(P, n_out, bc)`` (bias included)."""
        if xp.dim() != 3 or xp.shape[1] != self.n_in:
            raise InputError(f"panels have shape {tuple(xp.shape)}: SparseLinear expects (P, {self.n_in}, bc)")
        return panel_linear(xp, self.weight, self.bias, self)

    def dense_weight(self) -> torch.Tensor:
        """The ``(n_out, n_in)`` weight matrix with zeros where there is no edge (for checks and export)."""
        w = torch.zeros(self.n_out, self.n_in, dtype=self.weight.dtype, device=self.weight.device)
        w[self.rows, self.cols] = self.weight.detach()
        return w

    def mask(self) -> torch.Tensor:
        """The 0/1 biadjacency matrix as a tensor."""
        m = torch.zeros(self.n_out, self.n_in, dtype=self.weight.dtype, device=self.weight.device)
        m[self.rows, self.cols] = 1
        return m

    @torch.no_grad()
    def load_dense(self, w: torch.Tensor) -> None:
        """Set the present weights from a dense ``(n_out, n_in)`` matrix (absent entries ignored)."""
        if tuple(w.shape) != (self.n_out, self.n_in):
            raise InputError(f"dense weight has shape {tuple(w.shape)}: expected {(self.n_out, self.n_in)}")
        self.weight.copy_(w.to(self.weight)[self.rows, self.cols])

    def extra_repr(self) -> str:
        return f"n_in={self.n_in}, n_out={self.n_out}, edges={self.edges}, density={self.density:.4f}, kind={self.kind}"


class SparseMLP(nn.Module):
    """An MLP of :class:`SparseLinear` junctions; returns logits (softmax cross-entropy is the loss).

    ``layers`` is ``N_net``; ``patterns`` has one :class:`Pattern` per junction, matching the sizes.
    """

    def __init__(
        self,
        layers: Sequence[int],
        patterns: Sequence[Pattern],
        *,
        activation: str = "relu",
        dropout: float = 0.0,
        init: str = "glorot",
        backend: str = "auto",
    ) -> None:
        super().__init__()
        layers = [int(n) for n in layers]
        if len(patterns) != len(layers) - 1:
            raise InputError(f"{len(patterns)} patterns for {len(layers) - 1} junctions: need one per junction")
        for i, p in enumerate(patterns):
            if (p.n_in, p.n_out) != (layers[i], layers[i + 1]):
                raise InputError(
                    f"junction {i + 1} pattern is {p.n_in}->{p.n_out} but layers say {layers[i]}->{layers[i + 1]}"
                )
        if activation not in ACTIVATIONS:
            raise InputError(f"activation {activation!r} is not one of {sorted(ACTIVATIONS)}")
        if not 0 <= dropout < 1:
            raise InputError(f"dropout {dropout} is outside [0, 1)")
        self.layers = layers
        self.activation = activation
        self.junctions = nn.ModuleList(SparseLinear(p, init=init, backend=backend) for p in patterns)
        self.act = ACTIVATIONS[activation]()  # printed in the repr; forward applies the functional form
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    takes_rows = True
    """``forward(x, rows=r)`` computes the logits of ``x[r]``: a training loop passes its whole data matrix
    and the batch's row numbers (:func:`predsparse.train.loop.train_step` looks for this attribute)."""

    def forward(self, x: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
        """Logits for the batch ``x`` (``(batch, *features)``), or with ``rows`` (a 1-D integer tensor) for
        the batch ``x[rows]`` (:func:`predsparse.nn.functional.sparse_mlp`; on the numba kernels the gather
        happens in the same pass as the change to panel layout)."""
        drop = self.drop if isinstance(self.drop, nn.Dropout) else 0.0  # a module: tests may swap in their own
        one = rows is None and x.shape[0] == 1 and not (self.training and drop)
        if one:
            # on-line inference: straight to the one-call batch-1 path (None: it does not apply), ~20 us
            # of Python less than through sparse_mlp, which is a third of the whole pass
            y = inference.try_forward(x, self.junctions, EPILOGUE[self.activation])
            if y is not None:
                return y
        return SF.sparse_mlp(
            x, self.junctions, self.activation, dropout=drop, training=self.training, rows=rows, batch_one=not one
        )

    def train(self, mode: bool = True) -> SparseMLP:
        """As :meth:`nn.Module.train`; also drops the batch-1 path's weight copy (:func:`inference.forget`), so
        that weights written through ``.data`` (which torch's version counter does not see) count after it."""
        inference.forget(self.junctions)
        return super().train(mode)

    @property
    def edges(self) -> int:
        return sum(j.edges for j in self.junctions)

    @property
    def parameters_count(self) -> int:
        return sum(p.numel() for p in self.parameters())

    @property
    def rho_net(self) -> float:
        return self.edges / sum(a * b for a, b in zip(self.layers[:-1], self.layers[1:]))


_check_rows = SF.check_rows  # the former name
