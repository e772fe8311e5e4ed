"""One description of a model (:class:`ModelSpec`) and the one factory that builds it (:func:`build`).

The ``train`` command, sweeps, the model search, the demo and the studies all describe their models
with a :class:`ModelSpec` and build them here, so a model described the same way is the same model
(same patterns, same initial weights for the same seed) whichever command trains it.

The vocabulary is the seed's: ``layers`` is ``N_net`` of the sparse MLP (with a conv front end: the
classifier, whose first layer is the front end's flattened output); its first entry may be ``"auto"``
(the dataset's feature count, or the conv output's). ``d_out`` is ``d_out_net`` (one out-degree per
junction) or ``density`` gives target densities instead; ``kind`` is the pattern kind; ``z`` is the
clash-free edges-per-clock per junction (default :func:`default_z`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from predsparse.errors import InputError

KINDS = ("clash-free", "structured", "random", "local", "fc")
ACTIVATION_NAMES = ("relu", "sigmoid", "tanh")


def default_z(layers: Sequence[int], depth: int = 4) -> list[int]:
    """The default clash-free ``z`` per junction: ``z_i = N_{i-1} / gcd(N_{i-1}, depth)``.

    Memory depth ``D = N_{i-1} / z_i`` is ``depth`` (4) where it divides the left layer and otherwise the
    largest divisor of ``depth`` that does (so ``z`` always divides ``N_{i-1}``): 64 -> 16, 1024 -> 256,
    6 -> 3, 7 -> 7. Deeper memories mean fewer parallel lanes (cheaper hardware); 4 is the seed's choice
    for small examples. (Before this factory the demo used depth 1 where 4 did not divide, the search this
    rule; they agree wherever 4 divides the layer, which covers the demo's figures.)
    """
    return [int(p) // math.gcd(int(p), depth) for p in layers[:-1]]


def _tuple(v: Any) -> Any:
    return tuple(v) if isinstance(v, (list, tuple)) else v


@dataclass(frozen=True)
class ModelSpec:
    """A model described in the seed's vocabulary; :meth:`validate` checks it, :func:`build` builds it."""

    layers: tuple = ()
    d_out: tuple | None = None
    density: float | tuple | None = None
    kind: str = "structured"
    z: tuple | None = None
    clash_type: int = 2
    dither: bool = False
    conv: tuple = ()
    kernel_size: int = 3
    pool: int = 2
    activation: str = "relu"
    dropout: float = 0.0
    seed: int = 0
    window: int = 5  # kind "local": side of each first-layer neuron's image patch

    def __post_init__(self) -> None:
        # lists from configs/JSON become tuples so the spec is hashable and compares by value
        for name in ("layers", "d_out", "density", "z", "conv"):
            object.__setattr__(self, name, _tuple(getattr(self, name)))
        if self.conv is None:
            object.__setattr__(self, "conv", ())

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able fields (tuples as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelSpec:
        """The spec from :meth:`to_dict`'s form; an unknown key is an error naming the valid ones."""
        if not isinstance(d, dict):
            raise InputError(f"a model description must be a table/object, not {type(d).__name__}")
        valid = [f.name for f in fields(cls)]
        bad = sorted(set(d) - set(valid))
        if bad:
            raise InputError(f"unknown model key(s) {bad}; valid: {valid}")
        return cls(**d)

    # ------------------------------------------------------------------ checks
    def resolve(self, feature_shape: Sequence[int]) -> ModelSpec:
        """This spec with every default made concrete for data of ``feature_shape``: numeric ``layers``,
        ``d_out`` (from ``density``; ``None`` for fc), ``z`` (clash-free). Raises a one-line
        :class:`~predsparse.errors.InputError` for anything that would fail later, before anything is drawn."""
        from predsparse.patterns.generators import check_clash_free, in_degree_for
        from predsparse.patterns.network import out_degrees_for_density

        if self.kind not in KINDS:
            raise InputError(f"pattern kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if self.activation not in ACTIVATION_NAMES:
            raise InputError(f"activation {self.activation!r} is not one of {', '.join(ACTIVATION_NAMES)}")
        _whole(self.seed, "seed", 0)
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)) or not 0 <= self.dropout < 1:
            raise InputError(f"dropout {self.dropout!r} must lie in [0, 1)")
        if self.clash_type not in (1, 2, 3) or isinstance(self.clash_type, bool):
            raise InputError(f"clash type {self.clash_type!r} is not one of 1, 2, 3")
        layers = list(self.layers) if isinstance(self.layers, tuple) else None
        if not layers or len(layers) < 2:
            raise InputError(f"layers {self.layers!r}: a network needs at least an input and an output layer")
        for i, n in enumerate(layers):
            if not (i == 0 and n == "auto"):
                _whole(n, f"layer {i} size", 1)
        n_first, input_shape = _front_end(self, feature_shape)
        if layers[0] == "auto":
            layers[0] = n_first
        elif layers[0] != n_first:
            what = (
                f"the conv front end {list(self.conv)} gives {n_first} features"
                if self.conv
                else f"the dataset has {n_first} features"
            )
            raise InputError(f"layers start with {layers[0]} but {what} (use 'auto' to follow the data)")
        n_j = len(layers) - 1
        if self.kind == "local":
            _check_local(self, feature_shape)
        d_out = self.d_out
        if d_out is not None and self.density is not None:
            raise InputError("give d_out (--d-out) or density (--density), not both")
        if self.kind == "fc":
            d_out = None
        elif d_out is None and self.density is not None:
            dens = self.density
            if isinstance(dens, tuple) and len(dens) == 1:
                dens = dens[0]
            if isinstance(dens, tuple) and len(dens) != n_j:
                raise InputError(
                    f"density {list(dens)} has {len(dens)} entries: need one per junction ({n_j}) or one for all"
                )
            for rho in dens if isinstance(dens, tuple) else [dens]:
                if isinstance(rho, bool) or not isinstance(rho, (int, float)):
                    raise InputError(f"density {rho!r} is not a number in (0, 1]")
            d_out = tuple(out_degrees_for_density(layers, list(dens) if isinstance(dens, tuple) else dens))
        elif d_out is None:
            raise InputError(
                f"pattern kind {self.kind} needs d_out (--d-out) or a density; use kind fc for fully connected"
            )
        z = None
        if d_out is not None:
            if not isinstance(d_out, tuple) or len(d_out) != n_j:
                raise InputError(f"d_out {self.d_out!r} needs one out-degree per junction ({n_j})")
            for i, d in enumerate(d_out):
                _whole(d, f"junction {i + 1} out-degree", 1)
                if d > layers[i + 1]:
                    raise InputError(
                        f"junction {i + 1} ({layers[i]}->{layers[i + 1]}): out-degree {d} exceeds the right layer's {layers[i + 1]} neurons"
                    )
                if self.kind in ("random", "local"):
                    continue
                try:
                    in_degree_for(layers[i], layers[i + 1], d)
                except InputError as exc:
                    raise InputError(f"junction {i + 1} ({layers[i]}->{layers[i + 1]}): {exc}") from None
            if self.kind == "clash-free":
                z = self.z if self.z is not None else tuple(default_z(layers))
                if not isinstance(z, tuple) or len(z) != n_j:
                    raise InputError(f"z {self.z!r} needs one entry per junction ({n_j})")
                for i, zi in enumerate(z):
                    _whole(zi, f"junction {i + 1} z", 1)
                    try:
                        check_clash_free(layers[i], layers[i + 1], d_out[i], zi, self.clash_type)
                    except InputError as exc:
                        raise InputError(f"junction {i + 1} ({layers[i]}->{layers[i + 1]}): {exc}") from None
        if self.kind == "local" and d_out is not None:
            area = self.window**2 * (1 if len(feature_shape) == 2 else int(feature_shape[0]))
            if layers[0] * d_out[0] > layers[1] * area:
                raise InputError(
                    f"junction 1 ({layers[0]}->{layers[1]}): out-degree {d_out[0]} needs {layers[0] * d_out[0]} "
                    f"edges, more than {layers[1]} neurons x {area} pixels of a {self.window}x{self.window} patch"
                )
        resolved = replace(
            self, layers=tuple(int(n) for n in layers), d_out=d_out, density=None if d_out else self.density, z=z
        )
        _check_memory(resolved, input_shape)
        return resolved

    def validate(self, feature_shape: Sequence[int]) -> None:
        """Raise a one-line :class:`~predsparse.errors.InputError` if this spec cannot be built for data
        of ``feature_shape`` (degrees not whole, ``z`` not dividing, layer sizes vs the data, conv shapes,
        estimated memory over :func:`predsparse.limits.memory_limit`); draws nothing."""
        self.resolve(feature_shape)

    def edges(self, feature_shape: Sequence[int]) -> int:
        """Connections of the resolved network (without drawing it)."""
        return _edges(self.resolve(feature_shape))


def _whole(v: Any, name: str, lo: int) -> None:
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise InputError(f"{name} {v!r} must be a whole number >= {lo}")


def _check_local(spec: ModelSpec, feature_shape: Sequence[int]) -> None:
    """A local first junction needs image samples, straight from the data, and a patch that fits them."""
    shape = tuple(int(v) for v in feature_shape)
    if spec.conv:
        raise InputError("kind local draws its patches on the input image: it cannot sit above a conv front end")
    if len(shape) not in (2, 3):
        raise InputError(f"kind local needs image samples of shape (H, W) or (C, H, W); these have shape {shape}")
    _whole(spec.window, "window", 1)
    if spec.window > min(shape[-2:]):
        raise InputError(f"window {spec.window} exceeds the {shape[-2]}x{shape[-1]} image: a patch must fit inside")


def _front_end(spec: ModelSpec, feature_shape: Sequence[int]) -> tuple[int, tuple[int, ...] | None]:
    """The classifier's input size and the conv front end's input shape (None without conv)."""
    shape = tuple(int(s) for s in feature_shape)
    if not spec.conv:
        return math.prod(shape), None
    from predsparse.nn import front_end_output_shape, input_shape_for

    for c in spec.conv:
        _whole(c, "conv channels", 1)
    _whole(spec.kernel_size, "kernel size", 1)
    if spec.kernel_size % 2 == 0:
        raise InputError(f"kernel size {spec.kernel_size} must be odd (so 'same' padding is symmetric)")
    _whole(spec.pool, "pool", 1)
    input_shape = input_shape_for(shape)
    return math.prod(front_end_output_shape(input_shape, list(spec.conv), pool=spec.pool)), input_shape


def _edges(r: ModelSpec) -> int:
    pairs = list(zip(r.layers[:-1], r.layers[1:]))
    if r.d_out is None:
        return sum(a * b for a, b in pairs)
    return sum(a * d for (a, _), d in zip(pairs, r.d_out))


def _check_memory(r: ModelSpec, input_shape: tuple[int, ...] | None) -> None:
    """Refuse a model whose estimated training memory exceeds :func:`predsparse.limits.memory_limit` (the one
    limit: ``--memory-limit`` / ``PREDSPARSE_MEMORY_LIMIT``, default half of RAM), before any pattern is drawn."""
    from predsparse.limits import check_memory, network_bytes

    est = network_bytes(r.layers, r.d_out)
    if input_shape is not None:  # conv weights (dense, small next to the classifier but counted)
        k = r.kernel_size ** (len(input_shape) - 1)
        chans = [input_shape[0], *r.conv]
        est += 16 * sum(a * b * k for a, b in zip(chans[:-1], chans[1:]))
    check_memory(est, f"a model with layers {list(r.layers)} and {_edges(r):,} connections")


def draw_network(spec: ModelSpec, feature_shape: Sequence[int]):  # noqa: ANN201 - patterns.NetworkPatterns
    """The junction patterns of ``spec`` (junction ``i`` drawn with seed ``spec.seed + i``)."""
    from predsparse.patterns import network

    r = spec.resolve(feature_shape)
    return network(
        list(r.layers),
        None if r.kind == "fc" else list(r.d_out),
        r.kind,
        z=None if r.z is None else list(r.z),
        seed=r.seed,
        clash_type=r.clash_type,
        dither=r.dither,
        image_shape=tuple(feature_shape) if r.kind == "local" else None,
        window=r.window if r.kind == "local" else None,
    )


def build(spec: ModelSpec, feature_shape: Sequence[int], *, network: Any = None) -> tuple[Any, Any]:
    """The model for ``spec`` on data of ``feature_shape`` and its patterns: ``(model, network)``.

    The only place a model is built from a description. ``spec.seed`` draws the patterns and then the
    initial weights, so the same spec gives the same model everywhere. ``network`` reuses patterns
    already drawn by :func:`draw_network` for this spec (the search filters them by scatter first).
    """
    import torch

    from predsparse.nn import SparseCNN
    from predsparse.train.loop import build_model

    r = spec.resolve(feature_shape)
    net = network if network is not None else draw_network(spec, feature_shape)
    if r.conv:
        from predsparse.nn import input_shape_for

        torch.manual_seed(r.seed)
        model = SparseCNN(
            input_shape_for(feature_shape),
            list(r.conv),
            net.layers,
            net.patterns,
            kernel_size=r.kernel_size,
            pool=r.pool,
            activation=r.activation,
            dropout=r.dropout,
        )
    else:
        model = build_model(net.layers, net.patterns, activation=r.activation, dropout=r.dropout, seed=r.seed)
    return model, net


def build_model_only(spec: ModelSpec, feature_shape: Sequence[int]) -> Any:
    """``build(spec, feature_shape)[0]``: a picklable model factory for data-parallel workers."""
    return build(spec, feature_shape)[0]
