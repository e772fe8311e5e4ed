"""Benchmark: time to generate the full Morse datasets (64 classes x 7000 samples) and their metrics.

Run by hand:  python benchmarks/bench_morse.py [--repeat N] [--json]
Prints one row per dataset: best and median wall time of generation and of the difficulty metrics.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import numpy as np

from predsparse import __version__
from predsparse.morse import difficulty, generate

CASES = [
    ("baseline", {}),
    ("difficult", {}),
    ("baseline", {"dilation": 4}),
    ("baseline", {"style": "bw", "max_flips": 4}),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    rows = []
    for preset, overrides in CASES:
        gen_t, met_t = [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            ds = generate(preset, seed=args.seed, **overrides)
            t1 = time.perf_counter()
            difficulty(ds)
            t2 = time.perf_counter()
            gen_t.append(t1 - t0)
            met_t.append(t2 - t1)
        n = ds.xtr.shape[0] + ds.xva.shape[0] + ds.xte.shape[0]
        label = preset + "".join(f" {k}={v}" for k, v in overrides.items())
        rows.append(
            {
                "dataset": label,
                "samples": n,
                "values_per_frame": ds.num_features,
                "gen_best_s": min(gen_t),
                "gen_median_s": statistics.median(gen_t),
                "metrics_best_s": min(met_t),
                "metrics_median_s": statistics.median(met_t),
                "MB": round(sum(ds[k].nbytes for k in ds.keys()) / 2**20, 1),
            }
        )
        del ds
    info = {
        "predsparse": __version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": platform.processor() or "unknown",
        "repeat": args.repeat,
        "seed": args.seed,
    }
    if args.json:
        print(json.dumps({"info": info, "rows": rows}, indent=2))
        return
    print(
        f"predsparse {info['predsparse']}, numpy {info['numpy']}, python {info['python']}, "
        f"{info['machine']}; best/median of {args.repeat}, seed {args.seed}"
    )
    print(
        f"{'dataset':<32} {'samples':>8} {'frame':>6} {'MB':>7} {'generate best':>14} {'median':>8} {'metrics best':>13} {'median':>8}"
    )
    for r in rows:
        print(
            f"{r['dataset']:<32} {r['samples']:>8} {r['values_per_frame']:>6} {r['MB']:>7} "
            f"{r['gen_best_s']:>13.2f}s {r['gen_median_s']:>7.2f}s {r['metrics_best_s']:>12.2f}s {r['metrics_median_s']:>7.2f}s"
        )


if __name__ == "__main__":
    main()
