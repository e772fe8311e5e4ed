"""The hardware model's measured tables on Fashion-MNIST (784 pixels padded to 1024 inputs, 10 of 32 outputs).

    nice python benchmarks/hw_precision_sweep.py --out-dir hw_results [--limit-train N]
        [--fpga-epochs 5] [--sweep-epochs 2] [--hazard-epochs 3] [--parts fpga,sweep,hazard]

(a) ``fpga``: the FPGA reference configuration (N = (1024,64,32), d_out = (4,16), z = (128,32),
    (1,2,7), sigmoid, eta = 1/8, P = 2, zero seed vectors in junction 1), pipelined, ideal BP,
    accuracy per epoch next to the float reference of the same network, schedule and initial weights.
(b) ``sweep``: the same network in formats of 8 to 16 bits, sigmoid and ReLU (clipped, as the RTL).
(c) ``hazard``: the released BP accumulator (exact hazard) against the fixes (bypass/forwarding = ideal,
    hazard-free seed vectors with D >= P + 2 on a sparser junction 2, P = 0), plus the released design
    with zero seed vectors in junction 2 as well.
(d) ``rounding``: (1,2,7) and (1,3,8) with the RTL's round-half-up learning-rate shift against a
    round-half-even shift (an experiment, not the RTL), with the drift of junction 1's weights and biases.

Training uses the loader's training split (50000 images; 10000 are held out as validation and not
used) in a seeded order per epoch; test accuracy is on the 10000 test images. Every run is seeded
(config seed 0). Results: ``results.json`` and ``tables.md`` in ``--out-dir`` (written atomically).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

from predsparse.hardware import fpga_reference
from predsparse.hardware.data import load, prepare
from predsparse.hardware.run import hazard_study, precision_sweep, simulate
from predsparse.provenance import versions

FORMATS = ["1,2,5", "1,3,6", "1,2,7", "1,3,8", "1,4,9", "1,5,10"]


def pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.2f}"


def atomic_write(path: str, text: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-dir", default="hw_results")
    ap.add_argument("--limit-train", "--train-limit", dest="train_limit", type=int, default=None)
    ap.add_argument("--fpga-epochs", type=int, default=5)
    ap.add_argument("--sweep-epochs", type=int, default=2)
    ap.add_argument("--hazard-epochs", type=int, default=3)
    ap.add_argument("--rounding-epochs", type=int, default=3)
    ap.add_argument("--parts", default="fpga,sweep,hazard,rounding")
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    os.makedirs(args.out_dir, exist_ok=True)
    cfg = fpga_reference()
    ds = load("fashion-mnist", seed=0)

    def prep(c):
        return prepare(ds, c, train_limit=args.train_limit, seed=0)

    data = prep(cfg)
    results: dict[str, Any] = {"data": data.summary(), "versions": versions(), "args": vars(args)}
    md: list[str] = [f"Data: {data.summary()}; versions {versions()}", ""]
    t_all = time.perf_counter()

    if "fpga" in parts:
        t0 = time.perf_counter()
        res = simulate(cfg, data, epochs=args.fpga_epochs, reference=True)
        res.pop("_sim")
        results["fpga"] = res
        md += [
            f"## (a) FPGA reference configuration, pipelined, ideal BP ({args.fpga_epochs} epochs, {time.perf_counter() - t0:.0f} s)",
            "",
            "| epoch | fixed (1,2,7) train (online) % | fixed test % | float train (online) % | float test % | sim inputs/s |",
            "|---|---|---|---|---|---|",
        ]
        for e in res["epochs"]:
            md.append(
                f"| {e['epoch']} | {pct(e['train_acc_online'])} | {pct(e['test_acc'])} | {pct(e['float_train_acc_online'])} | "
                f"{pct(e['float_test_acc'])} | {e['sim_inputs_per_s']:.0f} |"
            )
        hw = res["hardware"]
        md += [
            "",
            f"Hardware: {hw['clocks_per_input']} clocks/input, {hw['us_per_input_at_clock']:.2f} us/input at 15 MHz, "
            f"stalls/block {hw['stall_cycles_per_block']}, hidden neurons seeing only padding "
            f"{hw['neurons']['hidden_padding_only']}/{hw['neurons']['hidden_neurons']}, "
            f"simulated hardware time per epoch {hw['hardware_s_per_epoch']:.3f} s.",
            "",
        ]
        print("\n".join(md[-12:]), flush=True)

    if "sweep" in parts:
        t0 = time.perf_counter()
        rows = precision_sweep(cfg, data, FORMATS, ("sigmoid", "relu"), epochs=args.sweep_epochs, prepare=prep)
        results["sweep"] = rows
        md += [
            f"## (b) Bit width and activation ({args.sweep_epochs} epochs, pipelined, ideal BP, {time.perf_counter() - t0:.0f} s)",
            "",
            "| activation | format | W | test % per epoch | final test % | float test % |",
            "|---|---|---|---|---|---|",
        ]
        for r in rows:
            md.append(
                f"| {r['activation']} | {r['format']} | {r['width']} | {' / '.join(pct(v) for v in r['test_acc_per_epoch'])} | "
                f"{pct(r['test_acc'])} | {pct(r.get('float_test_acc'))} |"
            )
        md.append("")
        print("\n".join(md[-len(rows) - 5 :]), flush=True)

    if "hazard" in parts:
        t0 = time.perf_counter()
        rows = hazard_study(cfg, data, epochs=args.hazard_epochs)
        zero = fpga_reference(seed_vectors=("zero", "zero"))
        for name, mode in (("released, zero seeds j2", "exact"), ("bypass, zero seeds j2", "ideal")):
            r = simulate(zero, data, epochs=args.hazard_epochs, bp_hazard=mode, reference=False)
            lost = r["hardware"]["bp_lost_contributions_per_input"][0]
            rows.append(
                {
                    "design": name,
                    "bp_mode": mode,
                    "z_net": list(zero.z),
                    "d_out_net": list(zero.out_degrees),
                    "P": zero.P,
                    "seed_vectors": list(zero.seed_vectors),
                    "lost_per_input": lost["lost"] if mode == "exact" else 0,
                    "contributions_per_input": lost["contributions"],
                    "clocks_per_input": r["hardware"]["clocks_per_input"],
                    "test_acc_per_epoch": [e["test_acc"] for e in r["epochs"]],
                    "test_acc": r["epochs"][-1]["test_acc"],
                }
            )
        results["hazard"] = rows
        md += [
            f"## (c) BP read-modify-write hazard and fixes ({args.hazard_epochs} epochs, {time.perf_counter() - t0:.0f} s)",
            "",
            "| design | z | d_out | P | seed vectors | lost / contributions per input | clocks/input | multipliers | extra | test % per epoch |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            md.append(
                f"| {r['design']} | {r['z_net']} | {r['d_out_net']} | {r['P']} | {r['seed_vectors']} | "
                f"{r['lost_per_input']} / {r['contributions_per_input']} | {r['clocks_per_input']} | {r.get('multipliers', '-')} | "
                f"{r.get('extra') or '-'} | {' / '.join(pct(v) for v in r['test_acc_per_epoch'])} |"
            )
        md.append("")
        print("\n".join(md[-len(rows) - 5 :]), flush=True)

    if "rounding" in parts:
        t0 = time.perf_counter()
        rows = []
        for fmt in ("1,2,7", "1,3,8"):
            for rnd in ("half-up", "half-even"):
                c = cfg.with_(fmt=fmt, lr_rounding=rnd)
                r = simulate(c, prep(c), epochs=args.rounding_epochs, reference=False)
                rows.append(
                    {
                        "format": str(c.fmt),
                        "lr_rounding": rnd,
                        "epochs": [
                            {"test_acc": e["test_acc"], **{f"j1_{k}": v for k, v in e["weights"][0].items()}}
                            for e in r["epochs"]
                        ],
                    }
                )
        results["rounding"] = rows
        md += [
            f"## (d) Learning-rate rounding ({args.rounding_epochs} epochs, {time.perf_counter() - t0:.0f} s)",
            "",
            "| format | g rounding | test % per epoch | junction-1 mean w per epoch | junction-1 saturated w % | saturated b % |",
            "|---|---|---|---|---|---|",
        ]
        for r in rows:
            ep = r["epochs"]
            md.append(
                f"| {r['format']} | {r['lr_rounding']} | {' / '.join(pct(e['test_acc']) for e in ep)} | "
                f"{' / '.join(format(e['j1_w_mean'], '+.3f') for e in ep)} | {' / '.join(pct(e['j1_w_saturated']) for e in ep)} | "
                f"{' / '.join(pct(e['j1_b_saturated']) for e in ep)} |"
            )
        md.append("")
        print("\n".join(md[-len(rows) - 5 :]), flush=True)

    results["wall_s"] = time.perf_counter() - t_all
    atomic_write(os.path.join(args.out_dir, "results.json"), json.dumps(results, indent=2, default=str))
    atomic_write(os.path.join(args.out_dir, "tables.md"), "\n".join(md) + "\n")
    print(f"total {results['wall_s']:.0f} s; wrote {args.out_dir}/results.json and tables.md")


if __name__ == "__main__":
    main()
