"""Pipelined designs for speed: max clock (timing model), clocks per input, inputs/s, added resources,
lost BP contributions and bit-exactness measured in the cycle-level simulator, accuracy after training.

Every design but the released RTL forwards the in-flight BP partial sums (the bypass of
:func:`~predsparse.hardware.cost.bypass_cost`, window ``P + 1``), so it is hazard-free by construction
for any ``P``; the cycle model runs it clock by clock with write-backs ``1 + P`` clocks after the read
and must end with the same weights as the ideal-BP architecture model (checked on real inputs).
A pipelined adder tree or pipelined multipliers only move registers inside the ``P`` stages (the cut
points of :func:`~predsparse.hardware.delays.timing`); in the cycle model they are the same ``P``-deep
processor, so their arithmetic is identical and so is their accuracy: the schedule in blocks (which
input sees which update) does not depend on ``P``, only the block length ``C + 2 + P`` does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from predsparse.hardware.config import HwConfig
from predsparse.hardware.cost import bypass_cost, network_cost
from predsparse.hardware.cycle import CycleSimulator
from predsparse.hardware.delays import timing
from predsparse.hardware.simulator import ArchSimulator


def designs(max_P: int = 6) -> list[dict[str, Any]]:
    """The studied designs: the released RTL, forwarding at P = 0..max_P, plus a pipelined adder tree
    (P >= 3) and pipelined multipliers (DSP M register, cut LUT multipliers; P >= 4)."""
    out = [{"design": "released RTL (P=2, no forwarding)", "P": 2, "bypass": False, "tree": False, "fine": False}]
    out += [
        {
            "design": f"P={p} + forwarding" + (" (unpipelined)" if p == 0 else ""),
            "P": p,
            "bypass": True,
            "tree": False,
            "fine": False,
        }
        for p in range(0, max_P + 1)
    ]
    out += [
        {"design": f"P={p} + forwarding + pipelined adder tree", "P": p, "bypass": True, "tree": True, "fine": False}
        for p in range(3, max_P + 1)
    ]
    out += [
        {
            "design": f"P={p} + forwarding + pipelined tree and multipliers",
            "P": p,
            "bypass": True,
            "tree": True,
            "fine": True,
        }
        for p in range(4, max_P + 1)
    ]
    return out


def _bypass_luts(cfg: HwConfig) -> int:
    b = bypass_cost(cfg)
    if not b["junctions"]:
        return 0
    W = cfg.fmt.width
    k = b["junctions"][0]["mux_inputs"]
    return b["comparators"] * max(1, -(-b["junctions"][0]["comparator_bits"] // 3)) + b["muxes"] * W * max(
        1, -(-(k - 1) // 3)
    )


def cycle_check(cfg: HwConfig, x: np.ndarray, y: np.ndarray, bypass: bool) -> dict[str, Any]:
    """Run ``x`` through the cycle model (forwarding, or the released RTL's hazard) and the ideal-BP
    architecture model from the same start; lost contributions per input and bit-exactness."""
    arch = ArchSimulator(cfg, bp_hazard="ideal")
    cyc = CycleSimulator(cfg, arch.patterns, mode="bypass" if bypass else "exact", weights=(arch.w, arch.b))
    arch.train_samples(x, y)
    rc = cyc.train_samples(x, y)
    same = all(np.array_equal(a, b) for a, b in zip(arch.w, cyc.weights)) and all(
        np.array_equal(a, b) for a, b in zip(arch.b, cyc.biases)
    )
    m = max(1, x.shape[0])
    return {
        "inputs": int(x.shape[0]),
        "lost_per_input": sum(cyc.lost) / m,
        "contributions_per_input": sum(cyc.contributions) / m,
        "forwarded_per_input": sum(cyc.forwarded) / m,
        "bit_exact_with_ideal": bool(same),
        "clocks_per_input_measured": rc["clocks"] / (m + 2 * cfg.L),
    }


def pipeline_study(
    cfg: HwConfig,
    x_check: np.ndarray,
    y_check: np.ndarray,
    *,
    max_P: int = 6,
    accuracy: Callable[[HwConfig, str], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One row per design (see :func:`designs`). ``accuracy(cfg, bp_hazard)`` trains and returns
    ``{"test_acc": ..., "float_test_acc": ...}``; it is called once for the hazard-free designs (they
    compute the same bits, verified by the cycle check) and once for the released RTL."""
    W = cfg.fmt.width
    junctions = [(cfg.z[i], cfg.d_in[i]) for i in range(cfg.L)]
    base_t = timing(W, junctions, cfg.P, bypass=False)
    base_luts = 0
    rows = []
    acc_cache: dict[str, dict[str, Any]] = {}
    for d in designs(max_P):
        c = cfg.with_(P=d["P"])
        t = timing(W, junctions, d["P"], bypass=d["bypass"], tree_pipelined=d["tree"], fine=d["fine"])
        net = network_cost(c.layers, c.out_degrees, c.z, W, c.P, t["fmax_mhz"] * 1e6)
        byp = bypass_cost(c) if d["bypass"] else {"register_bits": 0, "muxes": 0, "comparators": 0}
        chk = cycle_check(c, x_check, y_check, d["bypass"])
        row = {
            **d,
            "fmax_mhz": t["fmax_mhz"],
            "period_ns": t["period_ns"],
            "critical_path": t["critical_path"],
            "critical_ops": t["critical_ops"],
            "clocks_per_input": net["clocks_per_input"],
            "inputs_per_s": net["inputs_per_s"],
            "added_register_bits": t["pipeline_register_bits"]
            - base_t["pipeline_register_bits"]
            + byp["register_bits"],
            "added_muxes": byp["muxes"],
            "added_comparators": byp["comparators"],
            "added_dsps": 0,  # the DSP48E1's own M register holds the cut multiplies
            "added_luts": (_bypass_luts(c) if d["bypass"] else 0) - base_luts,
            **{
                k: chk[k]
                for k in (
                    "lost_per_input",
                    "contributions_per_input",
                    "forwarded_per_input",
                    "bit_exact_with_ideal",
                    "clocks_per_input_measured",
                )
            },
        }
        if accuracy is not None:
            key = "ideal" if d["bypass"] else "exact"
            if key not in acc_cache:
                acc_cache[key] = accuracy(c, key)
            row.update(acc_cache[key])
        rows.append(row)
    if "ideal" in acc_cache:  # the float twin does not depend on the BP design: show it on every row
        for row in rows:
            if row.get("float_test_acc") is None:
                row["float_test_acc"] = acc_cache["ideal"].get("float_test_acc")
    return {
        "family": base_t["family"],
        "network": cfg.summary(),
        "check_inputs": int(x_check.shape[0]),
        "rows": rows,
    }


def plot(study: dict[str, Any], path: str) -> None:
    """Inputs/s against added LUTs + register bits (one point per design), written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from predsparse.atomic import save_figure

    fig, ax = plt.subplots(figsize=(7, 4.5))
    marks = {(False, False): "o", (True, False): "s", (True, True): "^"}
    for r in study["rows"]:
        cost = r["added_luts"] + r["added_register_bits"]
        mk = "x" if not r["bypass"] else marks[(r["tree"], r["fine"])]
        ax.scatter(
            cost,
            r["inputs_per_s"] / 1e6,
            marker=mk,
            color="C3" if not r["bypass"] else f"C{int(r['tree']) + int(r['fine'])}",
        )
        ax.annotate(
            f"P={r['P']}", (cost, r["inputs_per_s"] / 1e6), textcoords="offset points", xytext=(4, 3), fontsize=7
        )
    for lab, mk, col in (
        ("released RTL (loses BP contributions)", "x", "C3"),
        ("forwarding", "o", "C0"),
        ("+ pipelined adder tree", "s", "C1"),
        ("+ pipelined multipliers", "^", "C2"),
    ):
        ax.scatter([], [], marker=mk, color=col, label=lab)
    ax.set_xlabel("added LUTs + register bits vs the released design")
    ax.set_ylabel("training inputs/s (millions, at the modelled max clock)")
    ax.set_title(f"Pipelining the FPGA design ({study['family']})", fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    save_figure(fig, path, dpi=120, bbox_inches="tight")
    plt.close(fig)
