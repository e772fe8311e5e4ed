"""A dense convolutional front end with a pre-defined sparse MLP classifier (``SparseCNN``).

The seed's CNN results keep the convolutions dense and make the fully connected classifier above
them sparse, where most of a small CNN's parameters sit. The front end is a stack of blocks
``conv (kernel k, 'same' padding) -> batch norm -> activation -> max pool``, 1-D for inputs shaped
``(C, L)`` (Morse sequences) and 2-D for ``(C, H, W)`` (images); the classifier is a
:class:`~predsparse.nn.SparseMLP` whose first layer is the flattened front-end output.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from predsparse.errors import InputError
from predsparse.nn.layers import ACTIVATIONS, SparseMLP
from predsparse.patterns import Pattern


def input_shape_for(feature_shape: Sequence[int]) -> tuple[int, ...]:
    """The front end's ``(C, L)`` or ``(C, H, W)`` input for a dataset's per-sample feature shape:
    ``(L,)`` and ``(H, W)`` get one channel; ``(C, H, W)`` is kept."""
    shape = tuple(int(s) for s in feature_shape)
    if len(shape) in (1, 2):
        return (1, *shape)
    if len(shape) == 3:
        return shape
    raise InputError(
        f"feature shape {shape} has {len(shape)} dimensions: a CNN front end takes (L,), (H, W) or (C, H, W)"
    )


def _check_shape(input_shape: Sequence[int]) -> tuple[int, ...]:
    shape = tuple(int(s) for s in input_shape)
    if len(shape) not in (2, 3) or min(shape) < 1:
        raise InputError(f"input shape {shape} must be (C, L) or (C, H, W) with positive sizes")
    return shape


def front_end_output_shape(input_shape: Sequence[int], channels: Sequence[int], *, pool: int = 2) -> tuple[int, ...]:
    """Shape ``(C', L')`` or ``(C', H', W')`` after the blocks ('same' convolutions, then pooling by
    ``pool`` with floor division, as ``nn.MaxPool`` does)."""
    shape = _check_shape(input_shape)
    spatial = list(shape[1:])
    for i, c in enumerate(channels):
        if c < 1:
            raise InputError(f"conv layer {i + 1} has {c} channels: need >= 1")
        spatial = [s // pool for s in spatial]
        if min(spatial) < 1:
            raise InputError(
                f"conv layer {i + 1} pools the input {shape} down to nothing: use fewer conv layers or a smaller --pool"
            )
    return (int(channels[-1]) if channels else shape[0], *spatial)


class ConvFrontEnd(nn.Module):
    """Dense conv blocks ``conv -> batch norm -> activation -> max pool`` (1-D or 2-D by the input)."""

    def __init__(
        self,
        input_shape: Sequence[int],
        channels: Sequence[int],
        *,
        kernel_size: int = 3,
        pool: int = 2,
        activation: str = "relu",
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise InputError(f"kernel size {kernel_size} must be odd and >= 1 (so 'same' padding is symmetric)")
        if pool < 1:
            raise InputError(f"pool {pool} must be >= 1")
        if activation not in ACTIVATIONS:
            raise InputError(f"activation {activation!r} is not one of {sorted(ACTIVATIONS)}")
        self.input_shape = _check_shape(input_shape)
        self.output_shape = front_end_output_shape(self.input_shape, channels, pool=pool)
        self.channels = [int(c) for c in channels]
        two_d = len(self.input_shape) == 3
        conv, norm, maxpool = (
            (nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d) if two_d else (nn.Conv1d, nn.BatchNorm1d, nn.MaxPool1d)
        )
        blocks: list[nn.Module] = []
        c_in = self.input_shape[0]
        for c in self.channels:
            blocks.append(conv(c_in, c, kernel_size, padding=kernel_size // 2, bias=not batch_norm))
            if batch_norm:
                blocks.append(norm(c))
            blocks.append(ACTIVATIONS[activation]())
            if pool > 1:
                blocks.append(maxpool(pool))
            c_in = c
        self.blocks = nn.Sequential(*blocks)

    @property
    def out_features(self) -> int:
        return math.prod(self.output_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x.reshape(x.shape[0], *self.input_shape)).flatten(1)


class SparseCNN(nn.Module):
    """A dense :class:`ConvFrontEnd` followed by a pre-defined sparse :class:`SparseMLP` classifier.

    ``classifier_layers`` is the classifier's ``N_net`` starting with the front end's flattened output
    (:func:`front_end_output_shape`); ``patterns`` has one pattern per classifier junction. ``layers``
    (used by the training loop to check the data) is ``[input features, *classifier_layers]``.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        channels: Sequence[int],
        classifier_layers: Sequence[int],
        patterns: Sequence[Pattern],
        *,
        kernel_size: int = 3,
        pool: int = 2,
        activation: str = "relu",
        batch_norm: bool = True,
        dropout: float = 0.0,
        init: str = "glorot",
        backend: str = "auto",
    ) -> None:
        super().__init__()
        self.front = ConvFrontEnd(
            input_shape, channels, kernel_size=kernel_size, pool=pool, activation=activation, batch_norm=batch_norm
        )
        classifier_layers = [int(n) for n in classifier_layers]
        if not classifier_layers or classifier_layers[0] != self.front.out_features:
            got = classifier_layers[0] if classifier_layers else None
            raise InputError(
                f"the classifier's input layer is {got} but the conv front end gives {self.front.out_features} "
                f"features (shape {self.front.output_shape})"
            )
        self.classifier = SparseMLP(
            classifier_layers, patterns, activation=activation, dropout=dropout, init=init, backend=backend
        )
        self.activation = activation
        self.config = {
            "input_shape": list(self.front.input_shape),
            "channels": self.front.channels,
            "kernel_size": kernel_size,
            "pool": pool,
            "batch_norm": batch_norm,
        }
        self.layers = [math.prod(self.front.input_shape), *classifier_layers]

    @property
    def junctions(self) -> nn.ModuleList:
        """The classifier's sparse junctions."""
        return self.classifier.junctions

    @property
    def edges(self) -> int:
        return self.classifier.edges

    @property
    def parameters_count(self) -> int:
        return sum(p.numel() for p in self.parameters())

    @property
    def rho_net(self) -> float:
        """Density of the sparse classifier (the front end is dense)."""
        return self.classifier.rho_net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.front(x))


def build_cnn(
    input_shape: Sequence[int],
    channels: Sequence[int],
    classifier: Sequence[int],
    out_degrees: Sequence[int] | None,
    kind: str = "structured",
    *,
    z: Sequence[int] | None = None,
    kernel_size: int = 3,
    pool: int = 2,
    activation: str = "relu",
    batch_norm: bool = True,
    dropout: float = 0.0,
    seed: int = 0,
    **pattern_options: Any,
) -> SparseCNN:
    """A :class:`SparseCNN` whose classifier has hidden/output sizes ``classifier`` (without its input,
    which is the front end's output) and patterns of ``kind`` with ``out_degrees`` (``None``: fully
    connected), drawn by :func:`predsparse.patterns.network` with ``seed``; ``seed`` also draws the
    initial weights."""
    from predsparse.patterns import network

    feats = math.prod(front_end_output_shape(input_shape, channels, pool=pool))
    layers = [feats, *[int(n) for n in classifier]]
    if len(layers) < 2:
        raise InputError("the classifier needs at least an output layer (e.g. --layers 10)")
    net = network(layers, None if kind == "fc" else out_degrees, kind, z=z, seed=seed, **pattern_options)
    torch.manual_seed(seed)
    return SparseCNN(
        input_shape,
        channels,
        net.layers,
        net.patterns,
        kernel_size=kernel_size,
        pool=pool,
        activation=activation,
        batch_norm=batch_norm,
        dropout=dropout,
    )
