"""Timing model: per-stage delays on a named FPGA family, each design's critical path and maximum clock.

Device: Xilinx Artix-7, speed grade -1 (the reference board's XC7A100T). The primitive delays are the
switching characteristics of *Artix-7 FPGAs Data Sheet: DC and AC Switching Characteristics* (DS181,
v1.26, tables "CLB Switching Characteristics", "CLB Distributed RAM Switching Characteristics", "Block
RAM and FIFO Switching Characteristics", "DSP48E1 Switching Characteristics"), transcribed by hand:
this session could not open the PDF to re-check every figure, so treat the absolute MHz as an estimate
and the ratios between designs (which depend on the same figures) as the result. Routing is not in the
data sheet: every stage adds an assumed ``net`` delay per logic level (0.45 ns, a typical placed-and-
routed 7-series hop at moderate utilisation).

A design's datapaths (per junction: FF, BP for junctions >= 2, UP) are sequences of atomic operations.
``P`` pipeline registers split each path into ``P + 1`` segments, placed to minimise the longest one
(exact linear partition); period = longest segment + clock-to-out + set-up. The adder tree is one
atomic operation unless it is pipelined (then each level may be cut). The clock is capped by the
block RAM's and DSP48E1's own maximum frequencies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

DEVICE_FAMILY = "Artix-7, speed grade -1 (DS181 v1.26)"

# ns; names as in DS181 where the data sheet has them
DELAYS: dict[str, float] = {
    "T_CKO": 0.50,  # CLB flip-flop clock to Q
    "T_SU": 0.09,  # CLB flip-flop data set-up (T_DICK)
    "T_ILO": 0.12,  # LUT6 input to output
    "T_CARRY4": 0.11,  # carry propagation through one CARRY4 (T_BYP), 4 bits
    "T_CIN": 0.45,  # LUT output into the carry chain and carry out (T_OPCYA + T_CKO of the chain)
    "T_LUTRAM": 1.05,  # distributed RAM address to output (T_ILO + the RAM64 read mux)
    "T_BRAM_CKO": 2.46,  # block RAM clock to output, no output register (T_RCKO_DO)
    "T_DSP_MULT": 4.06,  # DSP48E1 A/B input to P output through the multiplier, no internal registers
    "T_MUXF7": 0.30,  # wide mux through F7/F8
    "net": 0.45,  # assumed routing per logic level (not a data-sheet figure)
}
FMAX_MHZ = {"BRAM": 388.0, "DSP48E1": 464.0}  # DS181 F_MAX, -1 (block RAM without ECC; DSP fully pipelined)


def adder(width: int) -> float:
    """A ``width``-bit ripple-carry adder on the carry chain (LUT in, CARRY4s, out)."""
    return DELAYS["T_ILO"] + DELAYS["T_CIN"] + math.ceil(width / 4) * DELAYS["T_CARRY4"] + DELAYS["net"]


def saturate() -> float:
    """Clamp to the format's range (overflow bits select min/max/sum: one LUT level)."""
    return DELAYS["T_ILO"] + DELAYS["net"]


def round_saturate(width: int) -> float:
    """Product -> ``(1,I,F)``: add the round bit (incrementer) and clamp."""
    return adder(width) + saturate()


def lut_multiplier(width: int) -> float:
    """``W x W`` multiplier in LUTs: a partial-product LUT level, then ``ceil(log2 W)`` adder levels."""
    return DELAYS["T_ILO"] + DELAYS["net"] + math.ceil(math.log2(max(width, 2))) * adder(2 * width)


def mux(inputs: int) -> float:
    """An ``inputs``-to-1 mux: one LUT6 per 4 inputs, F7/F8 beyond."""
    if inputs <= 1:
        return 0.0
    return (
        DELAYS["T_ILO"]
        + DELAYS["net"]
        + (DELAYS["T_MUXF7"] if inputs > 4 else 0.0)
        + (DELAYS["T_MUXF7"] if inputs > 8 else 0.0)
    )


@dataclass(frozen=True)
class Op:
    """One atomic operation of a datapath; ``bits``: register bits needed to cut the path after it
    (everything still travelling: operands, products, the weight carried to the write-back)."""

    name: str
    ns: float
    bits: int = 0


def _split(name: str, ns: float, parts: int, bits: int) -> list[Op]:
    return [Op(f"{name} ({k + 1}/{parts})", ns / parts, bits) for k in range(parts)]


def datapaths(
    width: int,
    junctions: list[tuple[int, int]],
    P: int,
    *,
    bypass: bool = True,
    tree_pipelined: bool = False,
    fine: bool = False,
) -> dict[str, list[Op]]:
    """The operations of every junction's FF, BP and UP path (memory read to write-back).

    ``junctions``: ``(z, d_in)`` per junction. ``tree_pipelined``: registers may cut the adder tree
    between levels. ``fine``: the DSP multiplies may also use their internal M register (cut in two)
    and the LUT multipliers may be cut between their adder levels."""
    W = width
    paths: dict[str, list[Op]] = {}
    dsp = DELAYS["T_DSP_MULT"] + DELAYS["net"]

    def dsp_ops(name: str, bits: int) -> list[Op]:
        return _split(name, dsp, 2, 0) if fine else [Op(name, dsp, bits)]  # the M register is inside the DSP

    for i, (z, d_in) in enumerate(junctions, start=1):
        r = max(1, z // d_in)
        fan = d_in if z >= d_in else z
        levels = max(1, math.ceil(math.log2(max(fan, 2))))
        nets = r if z >= d_in else 1
        tree = [
            Op(f"adder tree level {k} ({W + k} bit)", adder(W + k), nets * (fan >> k) * (W + k))
            for k in range(1, levels + 1)
        ]
        if not tree_pipelined:
            tree = [Op(f"adder tree ({levels} levels)", sum(o.ns for o in tree), tree[-1].bits)]
        paths[f"FF{i}"] = [
            Op("LUTRAM read (a, w)", DELAYS["T_LUTRAM"] + DELAYS["net"], z * 2 * W),
            *dsp_ops("DSP multiply", z * 2 * W),
            Op("round + saturate", round_saturate(W), z * W),
            *tree,
            Op("bias add + saturate", adder(W + levels) + saturate(), r * W),
            Op("activation table (BRAM)", DELAYS["T_BRAM_CKO"] + DELAYS["net"], r * 2 * W),
        ]
        if i >= 2:
            acc = adder(W) + saturate()
            if bypass:  # forwarding: compare with the P+1 in-flight addresses, pick the youngest sum
                acc += mux(P + 2)
            paths[f"BP{i}"] = [
                Op("LUTRAM read (delta, a', w)", DELAYS["T_LUTRAM"] + DELAYS["net"], z * 3 * W),
                *dsp_ops("DSP multiply delta*a'", z * 3 * W),
                Op("round + saturate", round_saturate(W), z * 2 * W),
                *dsp_ops("DSP multiply *w", z * 2 * W),
                Op("round + saturate", round_saturate(W), z * W),
                Op("accumulate + saturate" + (f" (+{P + 2}:1 forwarding mux)" if bypass else ""), acc, z * W),
            ]
        lm = lut_multiplier(W)
        lm_levels = 1 + math.ceil(math.log2(max(W, 2)))
        paths[f"UP{i}"] = [
            Op("LUTRAM read (delta, a, w)", DELAYS["T_LUTRAM"] + DELAYS["net"], z * 3 * W),
            Op("learning-rate shift + round", adder(W), z * 3 * W),
            *(
                _split("LUT multiply g*a", lm, lm_levels, z * 3 * W)
                if fine
                else [Op("LUT multiply g*a", lm, z * 3 * W)]
            ),
            Op("round + saturate", round_saturate(W), z * 2 * W),
            Op("weight add + saturate", adder(W) + saturate(), z * W),
        ]
    return paths


def partition(ops: list[Op], registers: int) -> tuple[float, list[list[Op]]]:
    """Split ``ops`` into at most ``registers + 1`` consecutive segments minimising the longest (exact DP)."""
    n = len(ops)
    k = min(registers + 1, n)
    pre = [0.0]
    for o in ops:
        pre.append(pre[-1] + o.ns)
    best = [[math.inf] * (n + 1) for _ in range(k + 1)]
    cut = [[0] * (n + 1) for _ in range(k + 1)]
    best[0][0] = 0.0
    for s in range(1, k + 1):
        for e in range(1, n + 1):
            for b in range(s - 1, e):
                v = max(best[s - 1][b], pre[e] - pre[b])
                if v < best[s][e]:
                    best[s][e], cut[s][e] = v, b
    s = min(range(1, k + 1), key=lambda q: best[q][n])
    segs, e = [], n
    while s > 0:
        b = cut[s][e]
        segs.append(ops[b:e])
        e, s = b, s - 1
    return best[min(range(1, k + 1), key=lambda q: best[q][n])][n], segs[::-1]


def timing(
    width: int,
    junctions: list[tuple[int, int]],
    P: int,
    *,
    bypass: bool = True,
    tree_pipelined: bool = False,
    fine: bool = False,
) -> dict[str, Any]:
    """Critical path, maximum clock and pipeline register bits of a design with ``P`` processor registers."""
    overhead = DELAYS["T_CKO"] + DELAYS["T_SU"]
    worst: tuple[float, str, list[Op]] = (0.0, "", [])
    reg_bits = 0
    for name, ops in datapaths(width, junctions, P, bypass=bypass, tree_pipelined=tree_pipelined, fine=fine).items():
        longest, segs = partition(ops, P)
        seg = max(segs, key=lambda s: sum(o.ns for o in s))
        reg_bits += sum(s[-1].bits for s in segs[:-1])
        if longest > worst[0]:
            worst = (longest, name, seg)
    period = worst[0] + overhead
    f_logic = 1e3 / period
    cap = min(FMAX_MHZ.values())
    f = min(f_logic, cap)
    return {
        "family": DEVICE_FAMILY,
        "P": P,
        "tree_pipelined": tree_pipelined,
        "fine": fine,
        "bypass": bypass,
        "critical_path": worst[1],
        "critical_ops": [o.name for o in worst[2]],
        "period_ns": period,
        "fmax_mhz": f,
        "limited_by": "logic" if f_logic <= cap else min(FMAX_MHZ, key=FMAX_MHZ.get),
        "pipeline_register_bits": reg_bits,
    }
