"""The full cost sheet: DSP and LUT multipliers, every adder and comparator, LUT/FF/BRAM estimates, fit check.

Counts (exact, from the architecture): per junction ``i`` with ``r = max(1, ceil(z/d_in))`` right neurons
per clock, FF ``z`` multipliers and ``z`` adders (an adder tree of ``z - r`` two-input adders plus ``r``
bias adders), BP (``i >= 2``) ``2z`` multipliers and ``z`` saturating adders, UP ``z`` multipliers and
``z + r`` saturating adders; the output layer forms ``delta = a - y`` with ``r_L`` subtractors and finds
the prediction with ``r_L`` comparators against a running maximum (outputs arrive ``r_L`` per clock).

Mapping (the reference design's): FF and BP multipliers on DSP48E1 slices (25 x 18 signed, so one DSP
per multiplier up to 18 bits), UP multipliers in LUTs. Estimates (assumptions, not synthesis results):

- LUT multiplier ``W x W``: ``ceil(115 (W/9)^2)`` LUTs, scaled from the LogiCORE Multiplier data sheet
  (DS255: 9 x 9 LUT-based, speed-optimised, 115 LUTs); every multiplier's shift, round and saturate
  adds ``2W`` LUTs (incrementer and clamp).
- Adders: ``w`` LUTs per ``w``-bit adder (one LUT6 per bit on the carry chain), ``2w`` when saturating
  (clamp); adder-tree level ``l`` is ``W + l`` bits wide; a comparator ``W`` LUTs.
- Memories (weights, biases, layer banks, delta): one memory per lane as in the architecture; depth
  <= 32 in RAM32M (4 LUTs per 6 bits, simple dual port), <= 64 in RAM64X1D (2 LUTs per bit), deeper in
  18 Kb block RAM (512 x 36, 1K x 18, 2K x 9, ...). Activation tables (``2^W`` words) in block RAM
  when ``2^W > 64``. Address generation: one ``ceil(log2 D)``-bit adder per lane (type-2 ``phi + r``).
- Flip-flops: ``P`` pipeline stages x 3 datapaths (FF, BP, UP) x ``W`` bits per lane, the adder
  trees' output registers, and the ``1 + P``-clock delay line of the write-back address per junction.
"""

from __future__ import annotations

import math
from typing import Any

from predsparse.hardware.devices import Device

BRAM18_SHAPES = ((512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2), (16384, 1))


def dsp_per_multiplier(width: int) -> int:
    """DSP48E1 slices for one signed ``W x W`` product (25 x 18 multiplier per slice)."""
    return 1 if width <= 18 else math.ceil(width / 25) * math.ceil(width / 18)


def lut_multiplier_luts(width: int) -> int:
    """LUTs of one ``W x W`` LUT-based multiplier (DS255's 9 x 9: 115 LUTs, scaled by ``W^2``)."""
    return math.ceil(115 * (width / 9) ** 2)


def memory_cost(count: int, depth: int, width: int) -> dict[str, int]:
    """LUTs (distributed RAM) or 18 Kb block RAMs for ``count`` memories of ``depth`` x ``width`` bits."""
    if depth <= 32:
        return {"lutram_luts": count * 4 * math.ceil(width / 6), "bram18": 0}
    if depth <= 64:
        return {"lutram_luts": count * 2 * width, "bram18": 0}
    for d, w in BRAM18_SHAPES:
        if depth <= d:
            return {"lutram_luts": 0, "bram18": count * math.ceil(width / w)}
    return {"lutram_luts": 0, "bram18": count * width * math.ceil(depth / 16384)}


def resource_sheet(net: dict[str, Any], *, input_bits: int = 8, bypass: dict[str, Any] | None = None) -> dict[str, Any]:
    """The cost sheet of a network from :func:`~predsparse.hardware.cost.network_cost`'s output."""
    W, P = net["width"], net["P"]
    js = net["junctions"]
    L = len(js)
    mults = {"dsp_ff": 0, "dsp_bp": 0, "lut_up": 0}
    adders: list[dict[str, Any]] = []
    mems: list[dict[str, Any]] = []
    ff_bits = 0
    addr_luts = 0
    for j in js:
        i, z, d_in, C = j["junction"], j["z"], j["d_in"], j["C"]
        r = j["table_pairs"]
        D = int(j["D"])
        mults["dsp_ff"] += j["multipliers"]["ff"]
        mults["dsp_bp"] += j["multipliers"]["bp"]
        mults["lut_up"] += j["multipliers"]["up"]
        # r trees of d_in inputs (z >= d_in), or one tree of z inputs plus an accumulator (z < d_in)
        fan = int(d_in) if z >= d_in else z
        levels = max(1, math.ceil(math.log2(max(2, fan))))
        tree = z - r if z >= d_in else z
        tree_luts = (r if z >= d_in else 1) * sum((fan >> l) * (W + l) for l in range(1, levels + 1))
        if z < d_in:
            tree_luts += W + math.ceil(math.log2(d_in))
        adders += [
            {"junction": i, "what": "FF adder tree", "count": tree, "luts": tree_luts},
            {"junction": i, "what": "FF bias adders", "count": r, "luts": r * 2 * (W + levels)},
            {
                "junction": i,
                "what": "BP accumulators (saturating)",
                "count": j["adders"]["bp"],
                "luts": j["adders"]["bp"] * 2 * W,
            },
            {
                "junction": i,
                "what": "UP weight/bias adders (saturating)",
                "count": j["adders"]["up"],
                "luts": j["adders"]["up"] * 2 * W,
            },
        ]
        mems += [
            {"junction": i, "what": "weights", "count": z, "depth": C, "width": W},
            {"junction": i, "what": "biases", "count": r, "depth": math.ceil(j["n"] / r), "width": W},
            {
                "junction": i,
                "what": "activation tables (sigmoid + derivative)",
                "count": 2 * r,
                "depth": 2**W,
                "width": W,
            },
        ]
        banks_left = 2 * (L - (i - 1)) + 1
        if i == 1:
            mems.append(
                {
                    "junction": i,
                    "what": "layer 0 a (input banks)",
                    "count": z,
                    "depth": banks_left * D,
                    "width": input_bits,
                }
            )
        else:
            mems += [
                {
                    "junction": i,
                    "what": f"layer {i - 1} a, a' (banks)",
                    "count": 2 * z,
                    "depth": banks_left * D,
                    "width": W,
                },
                {"junction": i, "what": f"layer {i - 1} delta (2 banks)", "count": z, "depth": 2 * D, "width": W},
            ]
        addr_luts += z * max(1, math.ceil(math.log2(max(D, 2))))
        ff_bits += P * 3 * W * z + r * (W + levels) + (1 + P) * max(1, math.ceil(math.log2(max(C, 2))))
    rL = js[-1]["table_pairs"]
    mems.append(
        {
            "junction": L,
            "what": f"layer {L} delta (2 banks)",
            "count": rL,
            "depth": 2 * math.ceil(js[-1]["n"] / rL),
            "width": W,
        }
    )
    adders += [
        {"junction": L, "what": "output subtractors a - y (saturating)", "count": rL, "luts": rL * 2 * W},
        {"junction": L, "what": "arg-max comparators", "count": rL, "luts": rL * W},
    ]
    for m in mems:
        m.update(memory_cost(m["count"], m["depth"], m["width"]))
    n_mult = sum(mults.values())
    per_dsp = dsp_per_multiplier(W)
    luts = {
        "lut_multipliers": mults["lut_up"] * lut_multiplier_luts(W),
        "round_saturate": n_mult * 2 * W,
        "adders_comparators": sum(a["luts"] for a in adders),
        "address_generation": addr_luts,
    }
    extra = {}
    if bypass is not None and bypass["junctions"]:
        # forwarding: 1 LUT per 1..6-bit address comparator, a (P+2)-input W-bit mux (one LUT6 per bit
        # per 4 inputs), and the history registers
        k = bypass["junctions"][0]["mux_inputs"]
        luts["bypass"] = bypass["comparators"] * math.ceil(bypass["junctions"][0]["comparator_bits"] / 3) + bypass[
            "muxes"
        ] * W * math.ceil((k - 1) / 3)
        ff_bits += bypass["register_bits"]
        extra["bypass"] = True
    logic = sum(luts.values())
    lutram = sum(m["lutram_luts"] for m in mems)
    adder_count = sum(a["count"] for a in adders if "comparator" not in a["what"])
    return {
        "width": W,
        "P": P,
        "multipliers": {
            "dsp": mults["dsp_ff"] + mults["dsp_bp"],
            "ff_dsp": mults["dsp_ff"],
            "bp_dsp": mults["dsp_bp"],
            "up_lut": mults["lut_up"],
            "total": n_mult,
        },
        "dsp_slices": (mults["dsp_ff"] + mults["dsp_bp"]) * per_dsp,
        "adders": adders,
        "adder_count": adder_count,
        "comparator_count": sum(a["count"] for a in adders if "comparator" in a["what"]),
        "memories": mems,
        "luts": {**luts, "logic_total": logic, "lutram": lutram, "total": logic + lutram},
        "flip_flops": ff_bits,
        "bram18": sum(m["bram18"] for m in mems),
        **extra,
    }


def device_check(sheet: dict[str, Any], dev: Device) -> dict[str, Any]:
    """Utilisation of each resource on ``dev``; fits when every one is <= 100 %; the largest one limits."""
    use = {
        "DSP48E1": (sheet["dsp_slices"], dev.dsp),
        "LUT": (sheet["luts"]["total"], dev.luts),
        "LUT as memory": (sheet["luts"]["lutram"], dev.lutram_luts),
        "flip-flop": (sheet["flip_flops"], dev.flip_flops),
        "BRAM18": (sheet["bram18"], dev.bram18),
    }
    rows = [{"resource": k, "used": u, "available": a, "utilisation": u / a} for k, (u, a) in use.items()]
    worst = max(rows, key=lambda r: r["utilisation"])
    over = [r["resource"] for r in rows if r["utilisation"] > 1]
    return {
        "device": dev.name,
        "rows": rows,
        "fits": not over,
        "limited_by": worst["resource"],
        "limit_utilisation": worst["utilisation"],
        "over": over,
    }
