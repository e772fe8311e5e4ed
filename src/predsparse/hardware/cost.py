"""Resource and speed model of the edge-based architecture (formulas of ``docs/design/hardware.md``).

Per junction ``i``: FF ``z`` multipliers, ``z`` adders, ``z / d_in`` activation table pairs; BP
(junctions ``>= 2``) ``2z`` multipliers and ``z`` adders; UP ``z`` multipliers, ``z + z / d_in`` adders.
Memory bits: weights and biases ``(z + z / d_in) C W``; input activations ``(2L + 1) N_0 8``; ``a`` and
``a'`` of hidden layer ``k`` ``2 (2(L - k) + 1) N_k W``; ``delta`` ``2 N_k W`` per hidden layer plus the
output layer. Clocks per input ``C + 2 + P``. The comparison row is the fully connected network of the
same layer sizes on the same ``z`` (``C_i = N_{i-1} N_i / z_i``, the block set by the slowest junction).
Where ``z < d_in`` (a right neuron spans several cycles) a junction still needs one table pair and one
bias memory, so ``z / d_in`` is rounded up there (bias bits stay ``N_i W``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from predsparse.errors import InputError
from predsparse.hardware.config import HwConfig


def network_cost(
    layers: Sequence[int],
    out_degrees: Sequence[int],
    z: Sequence[int],
    width: int,
    P: int,
    clock_hz: float,
    *,
    input_bits: int = 8,
) -> dict[str, Any]:
    """Per-junction and total multipliers, adders, table pairs and memory bits, plus speed."""
    layers, out_degrees, z = list(layers), list(out_degrees), list(z)
    L = len(layers) - 1
    if len(out_degrees) != L or len(z) != L:
        raise InputError(f"need one out-degree and one z per junction ({L})")
    junctions = []
    for i in range(1, L + 1):
        p, n, d_out, zi = layers[i - 1], layers[i], out_degrees[i - 1], z[i - 1]
        edges = p * d_out
        d_in = edges / n
        C = math.ceil(edges / zi)
        right = max(1, math.ceil(zi / d_in))  # right neurons (table pairs, bias memories) per clock
        ff_m, ff_a = zi, zi
        bp_m, bp_a = (2 * zi, zi) if i >= 2 else (0, 0)
        up_m, up_a = zi, zi + right
        junctions.append(
            {
                "junction": i,
                "p": p,
                "n": n,
                "d_out": d_out,
                "d_in": d_in if d_in != int(d_in) else int(d_in),
                "z": zi,
                "D": p / zi if p % zi else p // zi,
                "C": C,
                "edges": edges,
                "multipliers": {"ff": ff_m, "bp": bp_m, "up": up_m, "total": ff_m + bp_m + up_m},
                "adders": {"ff": ff_a, "bp": bp_a, "up": up_a, "total": ff_a + bp_a + up_a},
                "table_pairs": right,
                "weight_bits": zi * C * width,
                "bias_bits": math.ceil(zi / d_in * C) * width,  # z/d_in memories of depth C: n biases
            }
        )
    layer_rows = []
    for k in range(L + 1):
        nk = layers[k]
        if k == 0:
            row = {
                "layer": 0,
                "neurons": nk,
                "a_banks": 2 * L + 1,
                "a_bits": (2 * L + 1) * nk * input_bits,
                "a_prime_bits": 0,
                "delta_bits": 0,
            }
        elif k < L:
            banks = 2 * (L - k) + 1
            row = {
                "layer": k,
                "neurons": nk,
                "a_banks": banks,
                "a_bits": banks * nk * width,
                "a_prime_bits": banks * nk * width,
                "delta_bits": 2 * nk * width,
            }
        else:
            row = {
                "layer": k,
                "neurons": nk,
                "a_banks": 0,
                "a_bits": 0,
                "a_prime_bits": 0,
                "delta_bits": 2 * nk * width,
            }
        row["bits"] = row["a_bits"] + row["a_prime_bits"] + row["delta_bits"]
        layer_rows.append(row)
    C = max(j["C"] for j in junctions)
    clocks = C + 2 + P
    wb = sum(j["weight_bits"] + j["bias_bits"] for j in junctions)
    lb = sum(r["bits"] for r in layer_rows)
    edges = sum(j["edges"] for j in junctions)
    return {
        "N_net": layers,
        "d_out_net": out_degrees,
        "z_net": z,
        "width": width,
        "P": P,
        "junctions": junctions,
        "layers": layer_rows,
        "totals": {
            "edges": edges,
            "neurons": sum(layers),
            "rho_net": edges / sum(a * b for a, b in zip(layers[:-1], layers[1:])),
            "parallelism": sum(z),
            "multipliers": sum(j["multipliers"]["total"] for j in junctions),
            "adders": sum(j["adders"]["total"] for j in junctions),
            "table_pairs": sum(j["table_pairs"] for j in junctions),
            "weight_bias_bits": wb,
            "layer_bits": lb,
            "memory_bits": wb + lb,
        },
        "C": C,
        "clocks_per_input": clocks,
        "clock_hz": clock_hz,
        "us_per_input": 1e6 * clocks / clock_hz,
        "inputs_per_s": clock_hz / clocks,
    }


def bypass_cost(cfg: HwConfig) -> dict[str, Any]:
    """Forwarding network that removes the BP read-modify-write hazard (the proposed fix).

    The partial sum is added at the end of the ``P``-stage pipeline; a read whose neuron was read
    within the last ``P + 1`` clocks must take the youngest in-flight sum instead of the memory word.
    Per memory of each BP junction: a shift register of the last ``P + 1`` (address, sum) pairs,
    ``P + 1`` address comparators of ``ceil(log2 D)`` bits and one ``(P + 2)``-input ``W``-bit mux.
    No extra clocks."""
    rows = []
    for i in range(2, cfg.L + 1):
        z, D = cfg.z[i - 1], cfg.depth[i - 1]
        ab = max(1, math.ceil(math.log2(D)))
        rows.append(
            {
                "junction": i,
                "comparators": z * (cfg.P + 1),
                "comparator_bits": ab,
                "register_bits": z * (cfg.P + 1) * (ab + cfg.fmt.width),
                "muxes": z,
                "mux_inputs": cfg.P + 2,
                "mux_bits": cfg.fmt.width,
            }
        )
    return {
        "junctions": rows,
        "comparators": sum(r["comparators"] for r in rows),
        "register_bits": sum(r["register_bits"] for r in rows),
        "muxes": sum(r["muxes"] for r in rows),
        "extra_clocks_per_input": 0,
    }


def _safe(cfg: HwConfig, **changes: Any) -> HwConfig | None:
    sv = tuple("safe" if (i >= 1 and cfg.pattern[i] == "clash-free") else cfg.seed_vectors[i] for i in range(cfg.L))
    try:
        new = cfg.with_(seed_vectors=sv, **changes)
    except InputError:
        return None
    return new if all(d >= cfg.P + 2 for d in new.depth[1:]) else None


def safe_variants(cfg: HwConfig) -> list[tuple[str, HwConfig, str]]:
    """Hazard-free re-parameterisations with seed vectors chosen so that no BP junction re-reads a
    neuron within ``P + 1`` clocks (needs ``D >= P + 2`` there):

    - ``safe-seeds-slower``: the same network, every ``z`` divided by the smallest power of two that
      gives ``D >= P + 2`` (balance kept, more clocks per input);
    - ``safe-seeds-sparser``: same speed, ``z`` and ``d_out`` of junctions ``>= 2`` divided by the same
      power of two (``C`` and balance kept, fewer weights there).

    When ``D >= P + 2`` already holds, choosing the seed vectors is enough (``safe-seeds``, no cost).
    A variant the architecture rules forbid (e.g. ``d_in | z`` fails) is left out.
    """
    out: list[tuple[str, HwConfig, str]] = []
    same = _safe(cfg)
    if same is not None:
        return [("safe-seeds", same, f"D >= P+2 = {cfg.P + 2} already: hazard-free seed vectors only, no cost")]
    for k in range(1, 12):
        f = 1 << k
        if any(z % f for z in cfg.z):
            break
        new = _safe(cfg, z=tuple(v // f for v in cfg.z))
        if new is not None:
            out.append(
                ("safe-seeds-slower", new, f"z / {f}: D >= P+2 = {cfg.P + 2}, hazard-free seed vectors, same network")
            )
            break
    for k in range(1, 12):
        f = 1 << k
        if any(cfg.z[i] % f or cfg.out_degrees[i] % f for i in range(1, cfg.L)):
            break
        z = (cfg.z[0], *(v // f for v in cfg.z[1:]))
        d = (cfg.out_degrees[0], *(v // f for v in cfg.out_degrees[1:]))
        new = _safe(cfg, z=z, out_degrees=d)
        if new is not None:
            out.append(("safe-seeds-sparser", new, f"z and d_out of junctions >= 2 / {f}: D >= P+2, same C, sparser"))
            break
    return out


def cost_report(cfg: HwConfig, device: str | None = None) -> dict[str, Any]:
    """The configured network and its fully connected comparison row (same layers, same ``z``), each with
    the full cost sheet (:func:`~predsparse.hardware.resources.resource_sheet`) and, given ``device``
    (e.g. ``"xc7a100t"``), whether it fits and what limits it."""
    from predsparse.hardware.devices import device as get_device
    from predsparse.hardware.resources import device_check, resource_sheet

    dev = get_device(device) if device is not None else None
    w = cfg.fmt.width
    sparse = network_cost(cfg.layers, cfg.out_degrees, cfg.z, w, cfg.P, cfg.clock_hz)
    fc = network_cost(cfg.layers, cfg.layers[1:], cfg.z, w, cfg.P, cfg.clock_hz)
    try:
        HwConfig(layers=cfg.layers, out_degrees=cfg.layers[1:], z=cfg.z, fmt=cfg.fmt, P=cfg.P, pattern="structured")
        fc["architecture_rules"] = "satisfied"
    except InputError as exc:
        fc["architecture_rules"] = f"violated: {exc}"
    for net in (sparse, fc):
        net["sheet"] = resource_sheet(net)
        if dev is not None:
            net["device"] = device_check(net["sheet"], dev)
    return {"config": cfg.summary(), "sparse": sparse, "fc": fc}


def hazard_fixes(cfg: HwConfig) -> list[dict[str, Any]]:
    """Speed and resources of the released schedule and of the fixes for the BP hazard."""
    from predsparse.hardware.simulator import ArchSimulator

    def row(name: str, c: HwConfig, note: str, extra: dict | None = None) -> dict[str, Any]:
        sim = ArchSimulator(c)
        lost = sum(r["lost"] for r in sim.lost_contributions())
        total = sum(r["contributions"] for r in sim.lost_contributions())
        nc = network_cost(c.layers, c.out_degrees, c.z, c.fmt.width, c.P, c.clock_hz)
        out = {
            "design": name,
            "z_net": list(c.z),
            "P": c.P,
            "d_out_net": list(c.out_degrees),
            "seed_vectors": list(c.seed_vectors),
            "rho_net": c.rho_net,
            "lost_per_input": 0 if name == "bypass" else lost,
            "contributions_per_input": total,
            "clocks_per_input": nc["clocks_per_input"],
            "multipliers": nc["totals"]["multipliers"],
            "adders": nc["totals"]["adders"],
            "memory_bits": nc["totals"]["memory_bits"],
            "note": note,
        }
        out.update(extra or {})
        return out

    rows = [row("released", cfg, "RTL as released: BP read-modify-write loses contributions")]
    bc = bypass_cost(cfg)
    rows.append(
        row(
            "bypass",
            cfg,
            "forward the in-flight partial sum; same speed",
            {"comparators": bc["comparators"], "extra_register_bits": bc["register_bits"], "muxes": bc["muxes"]},
        )
    )
    for name, c, note in safe_variants(cfg):
        rows.append(row(name, c, note))
    try:
        sv = tuple("zero" if (i >= 1 and cfg.pattern[i] == "clash-free") else cfg.seed_vectors[i] for i in range(cfg.L))
        p0 = cfg.with_(P=0, seed_vectors=sv)
        if all(d >= 2 for d in p0.depth[1:]):
            rows.append(
                row(
                    "unpipelined",
                    p0,
                    "P = 0 with one seed vector per junction (gap D >= 2): longer critical path, lower clock",
                )
            )
    except InputError:
        pass
    return rows
