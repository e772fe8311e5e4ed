"""The model-search space: depth, widths, per-junction densities and kinds, training hyperparameters."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from predsparse.data.augment import AUGMENTATIONS, image_size
from predsparse.errors import InputError
from predsparse.nn.conv import front_end_output_shape
from predsparse.patterns.network import out_degrees_for_density
from predsparse.train.loop import LR_SCHEDULES


class InfeasibleError(InputError):
    """A drawn candidate that cannot be built (the search prunes it and draws again)."""


def conv_parameters(input_shape: tuple[int, ...], channels: list[int], kernel_size: int = 3) -> int:
    """Trainable parameters of a conv front end: kernels (no bias, batch norm follows) and batch norm's
    scale and shift per channel."""
    k = kernel_size ** (len(input_shape) - 1)
    total, c_in = 0, input_shape[0]
    for c in channels:
        total += (c_in * k + 2) * c
        c_in = c
    return total


def budget_densities(
    layers: list[int], shares: list[float], weights: int, caps: list[float] | None = None
) -> list[float]:
    """Junction densities that spend ``weights`` in proportion to ``shares``; a junction that would exceed
    full connection (or its density cap in ``caps``) is capped and its excess goes to the others (water-filling)."""
    full = [a * b for a, b in zip(layers[:-1], layers[1:])]
    if caps is not None:
        full = [min(f, c * f) for f, c in zip(full, caps)]
    target = [0.0] * len(full)
    open_ = set(range(len(full)))
    left = float(weights)
    while open_ and left > 0:
        total = sum(shares[i] for i in open_)
        give = {i: left * shares[i] / total for i in open_}
        capped = {i for i in open_ if target[i] + give[i] >= full[i]}
        if not capped:
            for i in open_:
                target[i] += give[i]
            break
        for i in capped:
            left -= full[i] - target[i]
            target[i] = full[i]
        open_ -= capped
    whole = [a * b for a, b in zip(layers[:-1], layers[1:])]
    return [min(1.0, t / f) for t, f in zip(target, whole)]


def out_degrees_for(layers: list[int], densities: list[float], kind: str) -> list[int]:
    """Out-degrees that do not exceed the target densities (at least 1): any whole number for random
    patterns, for structured and clash-free ones a degree the right layer divides (a fixed in-degree)."""
    if kind in ("random", "local"):
        return [max(1, min(n, int(rho * n + 1e-9))) for rho, n in zip(densities, layers[1:])]
    return out_degrees_for_density(layers, densities)


def candidate_parameters(layers: list[int], d_out: list[int], kind: str, conv_params: int = 0) -> int:
    """Trainable parameters of a sampled candidate: weights that exist, biases, the conv front end's."""
    if kind == "fc":
        weights = sum(a * b for a, b in zip(layers[:-1], layers[1:]))
    else:
        weights = sum(a * d for a, d in zip(layers[:-1], d_out))
    return weights + sum(layers[1:]) + conv_params


@dataclass
class SearchSpace:
    """Bounds of every searched quantity (all configurable).

    Densities are sampled log-uniformly per junction and turned into the nearest valid out-degree. With a
    parameter budget ``max_params`` (weights that exist plus biases, the front end's included) the search
    spends the budget instead: it draws each junction's share of the weights, so every candidate has about
    ``max_params`` parameters and the search learns how to split them between width and density (large-sparse
    against small-dense) and between junctions.
    ``l2`` is log-uniform on ``[l2_min, l2_max]`` except that its lowest decade maps to 0, so "no L2"
    stays reachable. ``augments`` and ``max_label_smoothing`` add the training recipe to the search (an
    augmentation from the list, label smoothing uniform on ``[0, max]``). ``later_denser`` applies the seed's
    prior: a junction is never sparser than the one before it. ``activation`` is used by every candidate.
    ``max_conv > 0`` adds a dense CNN front end of 0..``max_conv`` conv blocks (channels from
    ``conv_channels``, kernel 3, pooling 2) under the sparse classifier, for image or sequence data.
    """

    min_hidden: int = 0
    max_hidden: int = 2
    min_width: int = 16
    max_width: int = 1024
    min_density: float = 0.01
    max_density: float = 1.0
    kinds: list[str] = field(default_factory=lambda: ["clash-free", "structured", "random"])
    lr: tuple[float, float] = (1e-4, 1e-2)
    l2: tuple[float, float] = (1e-7, 1e-3)
    batch_sizes: list[int] = field(default_factory=lambda: [64, 128, 256, 512])
    max_dropout: float = 0.3
    later_denser: bool = True
    max_conv: int = 0
    conv_channels: list[int] = field(default_factory=lambda: [8, 16, 32])
    activation: str = "relu"
    max_params: int | None = None
    lr_schedules: list[str] = field(default_factory=lambda: ["cosine"])
    windows: list[int] = field(default_factory=lambda: [5, 7, 9])
    augments: list[str] = field(default_factory=lambda: ["none"])
    max_label_smoothing: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.min_hidden <= self.max_hidden:
            raise InputError(f"hidden layers range {self.min_hidden}..{self.max_hidden} is empty or negative")
        if not 1 <= self.min_width <= self.max_width:
            raise InputError(f"width range {self.min_width}..{self.max_width} is empty")
        if not 0 < self.min_density <= self.max_density <= 1:
            raise InputError(f"density range {self.min_density}..{self.max_density} must lie in (0, 1]")
        bad = [k for k in self.kinds if k not in ("clash-free", "structured", "random", "local", "fc")]
        if bad or not self.kinds:
            raise InputError(
                f"pattern kinds {self.kinds} must be a non-empty subset of clash-free, structured, random, local, fc"
            )
        if "local" in self.kinds and self.max_conv:
            raise InputError(
                "pattern kind local draws its patches on the input image: it cannot sit above conv blocks "
                f"(max conv layers {self.max_conv}); drop local from the kinds or the conv blocks"
            )
        if not self.windows or min(self.windows) < 1:
            raise InputError(f"window choices {self.windows} must be a non-empty list of numbers >= 1")
        if self.activation not in ("relu", "sigmoid", "tanh"):
            raise InputError(f"activation {self.activation!r} is not one of relu, sigmoid, tanh")
        if self.max_conv < 0:
            raise InputError(f"max conv layers {self.max_conv} must be >= 0")
        # checked even without conv blocks: a 0 among the choices is a mistake, not "ignored"
        if (self.max_conv and not self.conv_channels) or (self.conv_channels and min(self.conv_channels) < 1):
            raise InputError(f"conv channel choices {self.conv_channels} must be a non-empty list of numbers >= 1")
        if not (math.isfinite(self.max_dropout) and 0 <= self.max_dropout < 1):
            raise InputError(f"largest dropout {self.max_dropout} must lie in [0, 1)")
        if self.max_params is not None and self.max_params < 1:
            raise InputError(f"parameter budget {self.max_params} must be >= 1")
        bad = [s for s in self.lr_schedules if s not in LR_SCHEDULES]
        if bad or not self.lr_schedules:
            raise InputError(
                f"learning-rate schedules {self.lr_schedules} must be a non-empty subset of {LR_SCHEDULES}"
            )
        bad = [a for a in self.augments if a not in AUGMENTATIONS]
        if bad or not self.augments:
            raise InputError(f"augmentations {self.augments} must be a non-empty subset of {AUGMENTATIONS}")
        if not (math.isfinite(self.max_label_smoothing) and 0 <= self.max_label_smoothing < 1):
            raise InputError(f"largest label smoothing {self.max_label_smoothing} must lie in [0, 1)")

    def check_data(self, feature_shape: tuple[int, ...]) -> None:
        """Refuse, in one line, data this space cannot train on: augmentations and the local kind need images,
        and every window must fit inside them."""
        used = sorted(set(self.augments) - {"none"})
        if used:
            image_size(feature_shape, "augmentation " + ",".join(used))
        if "local" in self.kinds:
            _, h, w = image_size(feature_shape, "pattern kind local")
            if max(self.windows) > min(h, w):
                raise InputError(f"window {max(self.windows)} of {self.windows} exceeds the {h}x{w} image")

    def max_parameters(self, n_in: int, n_out: int, input_shape: tuple[int, ...] | None = None) -> int:
        """Parameters of the largest model in the space (deepest, widest, fully connected; with conv
        blocks, the largest over every conv depth with the most channels)."""

        def mlp(first: int) -> int:
            layers = [first] + [self.max_width] * self.max_hidden + [n_out]
            return sum(a * b for a, b in zip(layers[:-1], layers[1:])) + sum(layers[1:])

        best = mlp(n_in)
        if self.max_conv and input_shape is not None:
            c = max(self.conv_channels)
            for depth in range(1, self.max_conv + 1):
                try:
                    shape = front_end_output_shape(input_shape, [c] * depth)
                except InputError:
                    break
                best = max(best, conv_parameters(input_shape, [c] * depth) + mlp(math.prod(shape)))
        if self.max_params is not None:
            best = min(best, self.max_params)
        return best

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sample(
    trial: Any, space: SearchSpace, n_in: int, n_out: int, input_shape: tuple[int, ...] | None = None
) -> dict[str, Any]:
    """Draw one candidate from an Optuna trial: conv blocks (if the space has them), layers, out-degrees,
    kinds and training settings. With conv blocks, ``layers[0]`` is the front end's output size."""
    conv: list[int] = []
    if space.max_conv and input_shape is not None:
        n_conv = trial.suggest_int("conv_layers", 0, space.max_conv)
        conv = [int(trial.suggest_categorical(f"channels_{i}", space.conv_channels)) for i in range(n_conv)]
        n_in = math.prod(front_end_output_shape(input_shape, conv))  # InputError if pooled to nothing
    conv_params = conv_parameters(input_shape, conv) if conv and input_shape is not None else 0
    depth = trial.suggest_int("hidden_layers", space.min_hidden, space.max_hidden)
    widths = [trial.suggest_int(f"width_{i}", space.min_width, space.max_width, log=True) for i in range(depth)]
    layers = [n_in, *widths, n_out]
    densities = []
    if space.max_params is not None:
        # the budget decides the densities: each junction gets a drawn share of the weights left after biases
        shares = [trial.suggest_float(f"share_{i}", 0.02, 1.0, log=True) for i in range(len(layers) - 1)]
        weights = space.max_params - conv_params - sum(layers[1:])
        if weights < sum(max(a, b) for a, b in zip(layers[:-1], layers[1:])):
            raise InputError(
                f"layers {layers} need more than the budget of {space.max_params} parameters at one edge per neuron"
            )
        densities = budget_densities(layers, shares, weights)
    else:
        floor = space.min_density
        for i in range(len(layers) - 1):
            rho = trial.suggest_float(f"density_{i}", space.min_density, space.max_density, log=True)
            if space.later_denser:
                rho = max(rho, floor)
                floor = rho
            densities.append(rho)
    # drawn after the densities, as before the local kind existed: a seed still gives the same candidates
    kind = trial.suggest_categorical("kind", space.kinds) if len(space.kinds) > 1 else space.kinds[0]
    window = None
    if kind == "local":  # every first-layer neuron reads one window x window patch (check_data: it fits)
        window = int(trial.suggest_categorical("window", space.windows))
        # cap the first junction at one patch per neuron; the rest of a budget goes to the junctions above
        caps = [min(1.0, input_shape[0] * window * window / n_in)] + [1.0] * (len(layers) - 2)
        if space.max_params is not None:
            densities = budget_densities(layers, shares, weights, caps)
        densities = [min(rho, cap) for rho, cap in zip(densities, caps)]
    if space.max_params is not None:
        densities = [max(rho, space.min_density) for rho in densities]
    lr = trial.suggest_float("lr", *space.lr, log=True)
    l2_raw = trial.suggest_float("l2", space.l2[0], space.l2[1], log=True)
    l2 = 0.0 if l2_raw < space.l2[0] * 10 else l2_raw
    batch = trial.suggest_categorical("batch_size", space.batch_sizes)
    dropout = trial.suggest_float("dropout", 0.0, space.max_dropout) if space.max_dropout > 0 else 0.0
    schedule = (
        trial.suggest_categorical("lr_schedule", space.lr_schedules)
        if len(space.lr_schedules) > 1
        else space.lr_schedules[0]
    )
    augment = trial.suggest_categorical("augment", space.augments) if len(space.augments) > 1 else space.augments[0]
    smoothing = (
        trial.suggest_float("label_smoothing", 0.0, space.max_label_smoothing) if space.max_label_smoothing > 0 else 0.0
    )
    out_degrees = out_degrees_for(layers, densities, kind)
    if window is not None and n_in * out_degrees[0] > layers[1] * input_shape[0] * window * window:
        raise InfeasibleError(
            f"kind local: {layers[1]} first-layer neurons x {window}x{window} patches hold fewer than the "
            f"{n_in * out_degrees[0]} edges of out-degree {out_degrees[0]}"
        )
    all_full = all(d == n for d, n in zip(out_degrees, layers[1:]))
    params = candidate_parameters(layers, out_degrees, "fc" if all_full else kind, conv_params)
    if space.max_params is not None and params > space.max_params:
        raise InputError(
            f"candidate {layers} d_out {out_degrees} has {params} parameters, over the budget {space.max_params}"
        )
    return {
        "conv": conv,
        "layers": layers,
        "d_out": out_degrees,
        "kind": "fc" if all_full else kind,
        "window": window,
        "lr": lr,
        "l2": l2,
        "batch_size": batch,
        "dropout": round(dropout, 3),
        "lr_schedule": schedule,
        "augment": augment,
        "label_smoothing": round(smoothing, 3),
        "target_densities": densities,
        "parameters": params,
    }
