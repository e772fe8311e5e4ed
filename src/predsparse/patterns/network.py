"""Network-level helpers: all junction patterns of ``N_net`` from ``d_out_net`` (and ``z_net``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from predsparse.errors import InputError
from predsparse.patterns.core import Pattern, check_size
from predsparse.patterns.generators import in_degree_for, make


@dataclass
class NetworkPatterns:
    """The junction patterns of one network, with the seed's summary quantities."""

    layers: list[int]
    patterns: list[Pattern]

    @property
    def d_out_net(self) -> list[Any]:
        return [p.out_degree if isinstance(p.out_degree, int) else None for p in self.patterns]

    @property
    def d_in_net(self) -> list[Any]:
        return [p.in_degree if isinstance(p.in_degree, int) else None for p in self.patterns]

    @property
    def densities(self) -> list[float]:
        """Per-junction densities ``rho_i``."""
        return [p.density for p in self.patterns]

    @property
    def edges(self) -> int:
        return sum(p.edges for p in self.patterns)

    @property
    def rho_net(self) -> float:
        """``sum |W_i| / sum N_{i-1} N_i``."""
        return self.edges / sum(a * b for a, b in zip(self.layers[:-1], self.layers[1:]))

    @property
    def parameters(self) -> int:
        """Trainable parameters: edges plus one bias per non-input neuron."""
        return self.edges + sum(self.layers[1:])

    def dead_neurons(self) -> dict[str, Any]:
        """Per hidden/output layer: neurons with no input; per layer: neurons with no output."""
        out: dict[str, Any] = {}
        for i, p in enumerate(self.patterns, start=1):
            d = p.dead_neurons()
            out[f"layer{i}_no_input"] = d["no_input"]
            out[f"layer{i - 1}_no_output"] = d["no_output"]
        return out

    def summary(self) -> dict[str, Any]:
        dead = self.dead_neurons()
        return {
            "N_net": self.layers,
            "kinds": [p.kind for p in self.patterns],
            "d_out_net": self.d_out_net,
            "d_in_net": self.d_in_net,
            "rho_net": self.rho_net,
            "junction_densities": self.densities,
            "edges": self.edges,
            "parameters": self.parameters,
            "dead_neurons": {k: len(v) for k, v in dead.items() if v},
        }


def check_layers(layers: Sequence[int]) -> list[int]:
    """At least two layers, each a positive whole number."""
    layers = list(layers)
    if len(layers) < 2:
        raise InputError(f"layers {layers}: a network needs at least an input and an output layer")
    for i, n in enumerate(layers):
        check_size(n, f"layer {i} size")
    return [int(n) for n in layers]


def network(
    layers: Sequence[int],
    d_out: Sequence[int] | None,
    kind: str | Sequence[str] = "structured",
    *,
    z: Sequence[int] | None = None,
    seed: int = 0,
    clash_type: int = 2,
    dither: bool = False,
    image_shape: Sequence[int] | None = None,
    window: int | None = None,
) -> NetworkPatterns:
    """Build every junction of ``N_net = layers`` with ``d_out_net = d_out``.

    ``kind`` may differ per junction. ``d_out=None`` means fully connected. Junction ``i`` uses
    seed ``seed + i`` so junctions differ but the whole network is reproducible from one seed. All
    constraints are checked for every junction before any pattern is drawn. ``kind="local"`` for the whole
    network means a local (receptive-field) first junction over the input image of ``image_shape`` with
    ``window x window`` patches, and random junctions above it (hidden layers have no image layout).
    """
    layers = check_layers(layers)
    n_j = len(layers) - 1
    if isinstance(kind, str) and kind == "local":
        kind = ["local"] + ["random"] * (n_j - 1)
    kinds = [kind] * n_j if isinstance(kind, str) else list(kind)
    if d_out is None:
        d_out = list(layers[1:])
        kinds = ["fc"] * n_j if isinstance(kind, str) and kind == "fc" else kinds
    d_out = list(d_out)
    if len(d_out) != n_j:
        raise InputError(f"d_out {d_out} has {len(d_out)} entries: need one per junction ({n_j})")
    if len(kinds) != n_j:
        raise InputError(f"pattern kinds {kinds} has {len(kinds)} entries: need one per junction ({n_j})")
    zs: list[int | None] = [None] * n_j if z is None else list(z)
    if len(zs) != n_j:
        raise InputError(f"z {zs} has {len(zs)} entries: need one per junction ({n_j})")
    for i in range(n_j):
        k = kinds[i].replace("_", "-")
        if k == "fc":
            continue
        try:
            in_degree_for(layers[i], layers[i + 1], d_out[i])
        except InputError as exc:
            if k in ("random", "local"):
                check_size(d_out[i], f"junction {i + 1} out-degree")
                continue
            raise InputError(f"junction {i + 1} ({layers[i]}->{layers[i + 1]}): {exc}") from None
        if k == "clash-free":
            zi = zs[i]
            if zi is None:
                raise InputError(f"junction {i + 1}: clash-free patterns need z for every junction (--z)")
            if layers[i] % zi:
                raise InputError(
                    f"junction {i + 1}: z = {zi} does not divide N_{i} = {layers[i]} (z must divide the left layer)"
                )
    patterns = []
    for i in range(n_j):
        try:
            patterns.append(
                make(
                    kinds[i],
                    layers[i],
                    layers[i + 1],
                    d_out[i],
                    z=zs[i],
                    seed=seed + i,
                    clash_type=clash_type,
                    dither=dither,
                    image_shape=image_shape if i == 0 else None,
                    window=window,
                )
            )
        except InputError as exc:
            raise InputError(f"junction {i + 1} ({layers[i]}->{layers[i + 1]}): {exc}") from None
    return NetworkPatterns(layers, patterns)


def out_degrees_for_density(layers: Sequence[int], density: float | Sequence[float]) -> list[int]:
    """The largest valid ``d_out`` per junction whose density does not exceed the target (at least 1).

    Valid means ``n_out`` divides ``n_in * d_out`` so the pattern can be structured or clash-free.
    """
    layers = check_layers(layers)
    dens = [density] * (len(layers) - 1) if isinstance(density, (int, float)) else list(density)
    out = []
    for (p, n), rho in zip(zip(layers[:-1], layers[1:]), dens):
        if not 0 < rho <= 1:
            raise InputError(f"density {rho} is outside (0, 1]")
        valid = [d for d in range(1, n + 1) if (p * d) % n == 0]
        best = max([d for d in valid if d / n <= rho + 1e-12], default=valid[0])
        out.append(best)
    return out
