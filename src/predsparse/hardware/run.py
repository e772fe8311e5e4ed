"""Training runs and studies: one simulation next to its float reference, the bit-width/activation
sweep, and the BP-hazard study. Used by ``predsparse hw`` and the scripts in ``benchmarks/``."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from predsparse.errors import InputError
from predsparse.hardware.config import HwConfig
from predsparse.hardware.cost import safe_variants
from predsparse.hardware.cycle import CycleSimulator
from predsparse.hardware.data import HwData
from predsparse.hardware.fixedpoint import FixedFormat
from predsparse.hardware.reference import FloatReference
from predsparse.hardware.simulator import ArchSimulator
from predsparse.provenance import versions

ProgressFactory = Callable[[int, str], Any]  # (total, description) -> object with update(n) and close()


def epoch_order(cfg: HwConfig, epoch: int, m: int) -> np.ndarray:
    """The (seeded) order of the training inputs in ``epoch``; the same for the fixed and float models."""
    return np.random.default_rng((cfg.seed, 0xE90C, epoch)).permutation(m)


def simulate(
    cfg: HwConfig,
    data: HwData,
    *,
    epochs: int = 1,
    schedule: str = "pipelined",
    bp_hazard: str = "ideal",
    level: str = "arch",
    reference: bool = True,
    progress: ProgressFactory | None = None,
) -> dict[str, Any]:
    """Train ``epochs`` epochs in fixed point (and in float, with the same order and initial weights);
    accuracies per epoch, simulator speed, and the hardware figures."""
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise InputError(f"epochs {epochs!r}: must be a whole number >= 1")
    if level not in ("arch", "cycle"):
        raise InputError(f"level {level!r} is not one of arch, cycle")
    if level == "cycle" and schedule != "pipelined":
        raise InputError("the cycle model runs the pipelined schedule only (use --level arch for sequential)")
    K = data.num_classes
    arch = ArchSimulator(cfg, schedule=schedule, bp_hazard="exact" if bp_hazard == "exact" else "ideal")
    cyc = None
    if level == "cycle":
        cyc = CycleSimulator(cfg, arch.patterns, mode=bp_hazard, weights=(arch.w, arch.b))
    ref = FloatReference(cfg, arch.patterns, schedule=schedule) if reference else None
    rows = []
    M = data.xtr.shape[0]
    for ep in range(1, epochs + 1):
        order = epoch_order(cfg, ep, M)
        bar = progress(M, f"epoch {ep}/{epochs}") if progress else None
        t0 = time.perf_counter()
        if cyc is None:
            r = arch.train_samples(data.xtr, data.ytr, order, progress=bar.update if bar else None, num_classes=K)
        else:
            r = cyc.train_samples(data.xtr, data.ytr, order, num_classes=K)
            arch.w, arch.b = cyc.weights, cyc.biases
            if bar:
                bar.update(M)
        wall = time.perf_counter() - t0
        if bar:
            bar.close()
        row: dict[str, Any] = {
            "epoch": ep,
            "train_acc_online": r["correct"] / M,
            "test_acc": arch.accuracy(data.xte, data.yte, K),
            "sim_wall_s": wall,
            "sim_inputs_per_s": M / wall if wall > 0 else float("inf"),
            "weights": arch.weight_stats(),
        }
        if ref is not None:
            t1 = time.perf_counter()
            rr = ref.train_samples(data.ftr, data.ytr, order, num_classes=K)
            row["float_train_acc_online"] = rr["correct"] / M
            row["float_test_acc"] = ref.accuracy(data.fte, data.yte, K)
            row["float_wall_s"] = time.perf_counter() - t1
        rows.append(row)
    hw = arch.hardware_report(data.features, data.num_classes)
    blocks = M + 2 * cfg.L if schedule == "pipelined" else M * (2 * cfg.L + 1)  # fill and drain included
    hw["hardware_s_per_epoch"] = blocks * arch.clocks_per_block / cfg.clock_hz
    out = {
        "config": cfg.summary(),
        "data": data.summary(),
        "schedule": schedule,
        "bp_hazard": bp_hazard,
        "level": level,
        "epochs": rows,
        "hardware": hw,
        "versions": versions(),
    }
    if cyc is not None:
        out["cycle"] = cyc.report()
    out["notes"] = notes(cfg, rows, hw, bp_hazard)
    out["_sim"] = arch  # removed before printing; lets callers export the trained memories
    return out


def notes(cfg: HwConfig, rows: list[dict[str, Any]], hw: dict[str, Any], bp_hazard: str) -> list[str]:
    """Plain-language notes for a run: which BP design it modelled and what the released RTL would lose,
    and an accuracy collapse (falling over epochs or far below the float twin) with the option that fixes it."""
    out = []
    lost = [r for r in hw["bp_lost_contributions_per_input"] if r["lost"]]
    total = sum(r["contributions"] for r in hw["bp_lost_contributions_per_input"])
    if bp_hazard == "exact":
        what = ", ".join(f"junction {r['junction']} {r['lost']}/{r['contributions']}" for r in lost) or "none"
        out.append(
            f"BP: this run reproduces the released RTL's read-modify-write hazard; contributions lost per input: {what}"
            " (--bp-hazard bypass: the forwarding fix loses none)"
        )
    else:
        design = "forwarding (bypass)" if bp_hazard == "bypass" else "ideal accumulator (= forwarding/bypass)"
        tail = (
            (
                "; the released RTL (--bp-hazard exact) would lose "
                + ", ".join(
                    f"{r['lost']}/{r['contributions']} in junction {r['junction']} (re-read gap {r['min_reread_gap']} < "
                    f"P+2 = {r['safe_gap']})"
                    for r in lost
                )
            )
            if lost
            else "; the released RTL loses none here either"
        )
        out.append(f"BP: this run models the {design}: 0/{total} contributions lost per input{tail}")
    acc = [r["test_acc"] for r in rows]
    best = max(range(len(acc)), key=acc.__getitem__)
    fl = rows[-1].get("float_test_acc")
    falling = acc[-1] < acc[best] - 0.02
    behind = fl is not None and acc[-1] < fl - 0.05
    if falling or behind:
        msg = (
            f"accuracy collapse: fixed-point test accuracy {100 * acc[best]:.2f} % (epoch {best + 1}) -> {100 * acc[-1]:.2f} % "
            f"(epoch {len(acc)})" + (f", float twin {100 * fl:.2f} %" if fl is not None else "")
        )
        w = rows[-1].get("weights") or []
        sat = max((j.get("w_saturated", 0.0) for j in w), default=0.0)
        if cfg.lr_rounding == "half-up":
            msg += (
                f"; hint: the RTL rounds the learning-rate shift half up, which drifts weights upward until they saturate "
                f"(up to {100 * sat:.1f} % saturated now) - try --lr-rounding half-even (not the RTL) or a wider --format "
                "such as 1,3,8"
            )
        else:
            msg += "; hint: try a wider --format (more integer bits I against saturation, more fraction bits F) or a larger --lr-shift"
        out.append(msg)
    return out


def precision_sweep(
    cfg: HwConfig,
    data: HwData,
    formats: Sequence[str | FixedFormat],
    activations: Sequence[str] = ("sigmoid", "relu"),
    *,
    epochs: int = 1,
    schedule: str = "pipelined",
    reference: bool = True,
    progress: ProgressFactory | None = None,
    prepare: Callable[[HwConfig], HwData] | None = None,
) -> list[dict[str, Any]]:
    """Final accuracies for every (format, activation); the float reference once per activation.

    ``prepare(cfg)`` re-quantises the inputs for each format (the caller's dataset preparation)."""
    fmts = [FixedFormat.parse(f) for f in formats]
    rows = []
    for act in activations:
        ref_row = None
        for fmt in fmts:
            c = cfg.with_(fmt=fmt, activation=act)
            d = prepare(c) if prepare is not None else data
            res = simulate(
                c, d, epochs=epochs, schedule=schedule, reference=reference and ref_row is None, progress=progress
            )
            last = res["epochs"][-1]
            if reference and ref_row is None:
                ref_row = {k: last[k] for k in ("float_train_acc_online", "float_test_acc")}
            rows.append(
                {
                    "activation": act,
                    "format": str(fmt),
                    "width": fmt.width,
                    "test_acc": last["test_acc"],
                    "train_acc_online": last["train_acc_online"],
                    "test_acc_per_epoch": [e["test_acc"] for e in res["epochs"]],
                    **(ref_row or {}),
                }
            )
    return rows


def hazard_study(
    cfg: HwConfig,
    data: HwData,
    *,
    epochs: int = 1,
    progress: ProgressFactory | None = None,
) -> list[dict[str, Any]]:
    """Accuracy and cost of the released BP accumulator (exact hazard), the bypass fix (= ideal),
    and the hazard-free re-parameterisations (seed choice with ``D >= P + 2``, ``P = 0``)."""
    from predsparse.hardware.cost import hazard_fixes

    fixes = {r["design"]: r for r in hazard_fixes(cfg)}
    runs: list[tuple[str, HwConfig, str]] = [("released", cfg, "exact"), ("bypass", cfg, "ideal")]
    runs += [(name, c, "exact") for name, c, _ in safe_variants(cfg)]
    if "unpipelined" in fixes:
        sv = tuple("zero" if (i >= 1 and cfg.pattern[i] == "clash-free") else cfg.seed_vectors[i] for i in range(cfg.L))
        runs.append(("unpipelined", cfg.with_(P=0, seed_vectors=sv), "exact"))
    rows = []
    for name, c, mode in runs:
        res = simulate(c, data, epochs=epochs, bp_hazard=mode, reference=False, progress=progress)
        f = fixes.get(name, {})
        rows.append(
            {
                "design": name,
                "bp_mode": mode,
                "z_net": list(c.z),
                "d_out_net": list(c.out_degrees),
                "P": c.P,
                "seed_vectors": list(c.seed_vectors),
                "lost_per_input": f.get("lost_per_input"),
                "contributions_per_input": f.get("contributions_per_input"),
                "clocks_per_input": res["hardware"]["clocks_per_input"],
                "multipliers": f.get("multipliers"),
                "memory_bits": f.get("memory_bits"),
                "extra": {k: f[k] for k in ("comparators", "extra_register_bits", "muxes") if k in f},
                "test_acc_per_epoch": [e["test_acc"] for e in res["epochs"]],
                "test_acc": res["epochs"][-1]["test_acc"],
            }
        )
    return rows
