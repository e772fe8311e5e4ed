"""Configuration of the modelled hardware, with every constraint of ``docs/design/hardware.md`` checked up front.

Per junction ``i``: ``p = N_{i-1}``, ``n = N_i``, ``d_out``, ``d_in = p d_out / n``, ``z`` (edges per
clock), ``D = p / z`` (memory depth), ``C = |W| / z = d_out D`` (cycles). Required: ``z | p``,
``d_in | z``, ``d_out | z``, ``D >= 2``, and one ``C`` for all junctions (balanced pipeline,
``z_i / d_in_i = z_{i+1} / d_out_{i+1}``). The released RTL also needs powers of two (addresses are
bit slices); the architecture model accepts other sizes, the cycle model (``level="cycle"``) refuses
them. Every violation raises one :class:`InputError` naming the rule and the numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from predsparse.errors import InputError
from predsparse.hardware.fixedpoint import FixedFormat
from predsparse.hardware.tables import ACTIVATIONS
from predsparse.patterns import Pattern, clash_free, make

KINDS = ("clash-free", "structured", "random")
SEED_VECTORS = ("random", "zero", "safe")
SCHEDULES = ("pipelined", "sequential")
LR_ROUNDING = ("half-up", "half-even")


def _pow2(v: int) -> bool:
    return v > 0 and (v & (v - 1)) == 0


def _ints(values: Any, name: str) -> tuple[int, ...]:
    try:
        out = tuple(int(v) for v in values)
    except (TypeError, ValueError):
        raise InputError(f"{name} {values!r} must be a list of whole numbers") from None
    for v, raw in zip(out, values):
        if isinstance(raw, bool) or v != raw or v <= 0:
            raise InputError(f"{name} {list(values)!r}: every entry must be a positive whole number")
    return out


@dataclass
class HwConfig:
    """One network on the edge-based architecture (see the module docstring for the symbols).

    ``pattern`` is one kind for all junctions or one per junction. ``seed_vectors`` (clash-free only)
    per junction: ``random`` (drawn from ``seed``), ``zero`` (all-zero seed vectors, as in the released
    FPGA design) or ``safe`` (type-2 seed vectors drawn so that no left neuron is read twice within
    ``P + 1`` clocks, which removes the BP read-modify-write hazard; needs ``D >= P + 2``).
    """

    layers: tuple[int, ...]
    out_degrees: tuple[int, ...]
    z: tuple[int, ...]
    fmt: FixedFormat = field(default_factory=lambda: FixedFormat(3, 8))
    activation: str = "sigmoid"
    lr_shift: int = 3
    P: int = 2
    pattern: str | tuple[str, ...] = "clash-free"
    clash_type: int = 2
    dither: bool = False
    seed: int = 0
    seed_vectors: tuple[str, ...] | None = None
    clock_hz: float = 15e6
    lr_rounding: str = "half-up"  # the RTL; "half-even" is an experiment, not the released design

    def __post_init__(self) -> None:
        self.layers = _ints(self.layers, "layers")
        self.out_degrees = _ints(self.out_degrees, "out-degree")
        self.z = _ints(self.z, "z")
        self.fmt = FixedFormat.parse(self.fmt)
        if isinstance(self.pattern, str):
            self.pattern = (self.pattern,) * max(len(self.layers) - 1, 0)
        self.pattern = tuple(str(k).replace("_", "-") for k in self.pattern)
        if self.seed_vectors is None:
            self.seed_vectors = ("random",) * max(len(self.layers) - 1, 0)
        elif isinstance(self.seed_vectors, str):
            self.seed_vectors = (self.seed_vectors,) * max(len(self.layers) - 1, 0)
        self.seed_vectors = tuple(self.seed_vectors)
        self.validate()

    # --- derived sizes ------------------------------------------------------------------------------
    @property
    def L(self) -> int:  # noqa: N802 - the design's name
        """Number of junctions."""
        return len(self.layers) - 1

    @property
    def d_in(self) -> tuple[int, ...]:
        return tuple(p * d // n for p, n, d in zip(self.layers[:-1], self.layers[1:], self.out_degrees))

    @property
    def depth(self) -> tuple[int, ...]:
        """Memory depths ``D_i = N_{i-1} / z_i``."""
        return tuple(p // z for p, z in zip(self.layers[:-1], self.z))

    @property
    def cycles(self) -> tuple[int, ...]:
        """``C_i = |W_i| / z_i`` per junction."""
        return tuple(p * d // z for p, d, z in zip(self.layers[:-1], self.out_degrees, self.z))

    @property
    def C(self) -> int:  # noqa: N802
        return max(self.cycles)

    @property
    def edges(self) -> tuple[int, ...]:
        return tuple(p * d for p, d in zip(self.layers[:-1], self.out_degrees))

    @property
    def rho_net(self) -> float:
        return sum(self.edges) / sum(a * b for a, b in zip(self.layers[:-1], self.layers[1:]))

    @property
    def clocks_per_input(self) -> int:
        """``C + 2 + P`` (without stalls; the simulator adds those for non-clash-free patterns)."""
        return self.C + 2 + self.P

    @property
    def eta(self) -> float:
        return 2.0**-self.lr_shift

    # --- checks ----------------------------------------------------------------------------------
    def validate(self, level: str = "arch") -> None:
        """Check every rule; ``level="cycle"`` adds the power-of-two rule of the released RTL."""
        L = len(self.layers) - 1
        if L < 1:
            raise InputError(f"layers {list(self.layers)}: a network needs at least an input and an output layer")
        for name, v in (("out-degree", self.out_degrees), ("z", self.z)):
            if len(v) != L:
                raise InputError(f"{name} {list(v)} has {len(v)} entries: need one per junction ({L})")
        if len(self.pattern) != L:
            raise InputError(
                f"pattern kinds {list(self.pattern)} have {len(self.pattern)} entries: need one per junction ({L})"
            )
        for k in self.pattern:
            if k not in KINDS:
                raise InputError(f"pattern kind {k!r} is not one of {', '.join(KINDS)}")
        if len(self.seed_vectors) != L:
            raise InputError(
                f"seed vectors {list(self.seed_vectors)} have {len(self.seed_vectors)} entries: need one per junction ({L})"
            )
        for sv in self.seed_vectors:
            if sv not in SEED_VECTORS:
                raise InputError(f"seed vectors {sv!r} is not one of {', '.join(SEED_VECTORS)}")
        if self.activation not in ACTIVATIONS:
            raise InputError(f"activation {self.activation!r} is not one of {', '.join(ACTIVATIONS)}")
        if (
            isinstance(self.lr_shift, bool)
            or not isinstance(self.lr_shift, (int, np.integer))
            or not 0 <= self.lr_shift <= self.fmt.width
        ):
            raise InputError(
                f"learning-rate shift {self.lr_shift!r}: eta = 2^-k needs a whole k in 0..W = 0..{self.fmt.width}"
            )
        if self.lr_rounding not in LR_ROUNDING:
            raise InputError(f"learning-rate rounding {self.lr_rounding!r} is not one of {', '.join(LR_ROUNDING)}")
        if isinstance(self.P, bool) or not isinstance(self.P, (int, np.integer)) or self.P < 0:
            raise InputError(f"processor pipeline depth P = {self.P!r}: must be a whole number >= 0")
        if self.clash_type not in (1, 2, 3):
            raise InputError(f"clash-free type {self.clash_type!r} is not one of 1, 2, 3")
        if not (isinstance(self.clock_hz, (int, float)) and np.isfinite(self.clock_hz) and self.clock_hz > 0):
            raise InputError(f"clock {self.clock_hz!r} Hz: must be a positive number")
        cyc = []
        for i in range(1, L + 1):
            p, n, d_out, z = self.layers[i - 1], self.layers[i], self.out_degrees[i - 1], self.z[i - 1]
            tag = f"junction {i} ({p}->{n})"
            if d_out > n:
                raise InputError(f"{tag}: d_out = {d_out} exceeds N_{i} = {n}: a left neuron has at most N_{i} edges")
            if (p * d_out) % n:
                raise InputError(
                    f"{tag}: d_in = N_{i - 1}*d_out/N_{i} = {p}*{d_out}/{n} = {p * d_out / n:g} is not a whole number"
                )
            d_in = p * d_out // n
            if p % z:
                raise InputError(f"{tag}: z = {z} does not divide N_{i - 1} = {p} (rule z | p: memory depth D = p/z)")
            D = p // z
            if z % d_in:
                raise InputError(
                    f"{tag}: d_in = {d_in} does not divide z = {z} (rule d_in | z: whole right neurons finish per clock)"
                )
            if z % d_out:
                raise InputError(
                    f"{tag}: d_out = {d_out} does not divide z = {z} (rule d_out | z: whole next-layer neurons are written per clock)"
                )
            if D < 2:
                raise InputError(f"{tag}: memory depth D = p/z = {p}/{z} = {D} < 2 (rule D >= 2)")
            if self.seed_vectors[i - 1] != "random" and self.pattern[i - 1] != "clash-free":
                raise InputError(f"{tag}: seed vectors {self.seed_vectors[i - 1]!r} apply to clash-free patterns only")
            if self.seed_vectors[i - 1] == "safe":
                if self.clash_type == 1:
                    raise InputError(
                        f"{tag}: hazard-free ('safe') seed vectors are defined for clash-free types 2 and 3, not 1"
                    )
                if D < self.P + 2:
                    raise InputError(f"{tag}: hazard-free seed vectors need D >= P + 2, but D = {D} and P = {self.P}")
            if level == "cycle":
                for name, v in ((f"N_{i - 1}", p), (f"N_{i}", n), (f"z_{i}", z), (f"d_out_{i}", d_out)):
                    if not _pow2(v):
                        raise InputError(
                            f"{tag}: {name} = {v} is not a power of two; the cycle model follows the released RTL, "
                            "whose addresses are bit slices (the architecture model accepts it)"
                        )
            cyc.append(d_out * D)
        for i in range(1, L):
            if cyc[i - 1] != cyc[i]:
                zi, di = self.z[i - 1], self.d_in[i - 1]
                zn, do = self.z[i], self.out_degrees[i]
                raise InputError(
                    f"unbalanced pipeline: junction {i} needs C = {cyc[i - 1]} cycles but junction {i + 1} needs {cyc[i]} "
                    f"(rule z_i/d_in_i = z_(i+1)/d_out_(i+1): {zi}/{di} = {zi / di:g} vs {zn}/{do} = {zn / do:g})"
                )

    # --- patterns ----------------------------------------------------------------------------------
    def build_patterns(self) -> list[Pattern]:
        """The junction patterns (junction ``i`` uses seed ``seed + i - 1``, as ``patterns.network``)."""
        out = []
        for i in range(1, self.L + 1):
            p, n, d_out, z = self.layers[i - 1], self.layers[i], self.out_degrees[i - 1], self.z[i - 1]
            kind, sv, s = self.pattern[i - 1], self.seed_vectors[i - 1], self.seed + i - 1
            try:
                if kind == "clash-free" and sv != "random":
                    seeds = seed_vectors(sv, self.clash_type, d_out, z, p // z, self.P, s)
                    perms = None
                    if self.dither:
                        rng = np.random.default_rng((s, 0xD17))
                        perms = (
                            rng.permutation(z)
                            if self.clash_type == 3
                            else np.stack([rng.permutation(z) for _ in range(d_out)])
                        )
                    pat = clash_free(p, n, d_out, z, type=self.clash_type, dither=self.dither, seeds=seeds, perms=perms)
                    pat.params["seed_vectors"] = sv
                    pat.params["seed"] = s
                else:
                    pat = make(kind, p, n, d_out, z=z, seed=s, clash_type=self.clash_type, dither=self.dither)
            except InputError as exc:
                raise InputError(f"junction {i} ({p}->{n}): {exc}") from None
            out.append(pat)
        return out

    def with_(self, **changes: Any) -> HwConfig:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    def summary(self) -> dict[str, Any]:
        return {
            "N_net": list(self.layers),
            "d_out_net": list(self.out_degrees),
            "d_in_net": list(self.d_in),
            "z_net": list(self.z),
            "D_net": list(self.depth),
            "C": self.C,
            "rho_net": self.rho_net,
            "edges": sum(self.edges),
            "total_parallelism": sum(self.z),
            "format": str(self.fmt),
            "width": self.fmt.width,
            "activation": self.activation,
            "eta": self.eta,
            "lr_shift": self.lr_shift,
            "P": self.P,
            "pattern": list(self.pattern),
            "clash_type": self.clash_type,
            "dither": self.dither,
            "seed": self.seed,
            "seed_vectors": list(self.seed_vectors),
            "clocks_per_input": self.clocks_per_input,
            "clock_hz": self.clock_hz,
            "lr_rounding": self.lr_rounding,
        }


def seed_vectors(kind: str, type_: int, d_out: int, z: int, D: int, P: int, seed: int) -> np.ndarray:
    """Explicit seed vectors of a clash-free junction in the shape ``patterns.clash_free`` takes.

    ``zero``: all zeros (type 1: every memory visits its addresses in order). ``safe``: type-2/3 seed
    vectors with which no left neuron is read twice within ``P + 1`` clocks. Within a sweep each
    neuron is read once; across the boundary from sweep ``s`` to ``s + 1`` a neuron of memory ``m``
    read in row ``r`` is read again ``D + r' - r`` clocks later, ``r' = (r + delta_m) mod D`` with
    ``delta_m = (phi_s[m] - phi_{s+1}[m]) mod D``, so the gap is ``D`` when ``delta_m = 0`` and
    ``delta_m`` or more otherwise. Hence ``delta_m`` in ``{0} | [P + 2, D - 1]`` and ``D >= P + 2``.
    """
    if kind == "zero":
        if type_ == 1:
            return np.broadcast_to(np.arange(D), (d_out, z, D)).copy()
        return np.zeros((z,) if type_ == 3 else (d_out, z), dtype=np.int64)
    if kind != "safe":
        raise InputError(f"seed vectors {kind!r} is not one of {', '.join(SEED_VECTORS)}")
    if D < P + 2:
        raise InputError(f"hazard-free seed vectors need D >= P + 2, but D = {D} and P = {P}")
    rng = np.random.default_rng((seed, 0x5AFE))
    phi0 = rng.integers(0, D, size=z)
    if type_ == 3:
        return phi0
    allowed = np.array([0, *range(P + 2, D)], dtype=np.int64)
    phi = np.empty((d_out, z), dtype=np.int64)
    phi[0] = phi0
    for s in range(1, d_out):
        phi[s] = (phi[s - 1] - rng.choice(allowed, size=z)) % D
    return phi


def fpga_reference(**changes: Any) -> HwConfig:
    """The released FPGA design: N = (1024, 64, 32), d_out = (4, 16), z = (128, 32), (1,2,7), sigmoid,
    eta = 1/8, P = 2, 15 MHz, clash-free type 2 with all-zero seed vectors in junction 1."""
    base = dict(
        layers=(1024, 64, 32),
        out_degrees=(4, 16),
        z=(128, 32),
        fmt=FixedFormat(2, 7),
        activation="sigmoid",
        lr_shift=3,
        P=2,
        pattern="clash-free",
        clash_type=2,
        seed_vectors=("zero", "random"),
        clock_hz=15e6,
    )
    base.update(changes)
    return HwConfig(**base)


def parse_seed_vectors(text: str | None, L: int) -> tuple[str, ...] | None:
    if text is None or text == "":
        return None
    parts = [t.strip() for t in text.split(",")]
    if len(parts) == 1:
        parts = parts * L
    return tuple(parts)


def as_tuple(v: Sequence[int] | None) -> tuple[int, ...] | None:
    return None if v is None else tuple(v)
