"""Scatter timing: one 1024x1024 junction (both directions) and whole networks with the path product.

    nice python benchmarks/bench_scatter.py [--repeats 20] [--out results.json]

Scatter is meant to filter patterns before training, so it must cost milliseconds. Reports the best
and median wall time of ``repeats`` runs (after one warm-up). Run by hand and record the numbers
(``docs/patterns.md``); no test asserts speed.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import numpy as np
import scipy

from predsparse import patterns as P
from predsparse.atomic import write_text
from predsparse.patterns.scatter import junction_scatter, network_scatter
from predsparse.patterns.windows import split_windows, windows_2d


def timed(fn, repeats: int) -> dict[str, float]:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return {"best_ms": 1e3 * min(times), "median_ms": 1e3 * statistics.median(times)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    rows = []
    wins = split_windows(1024, 64)
    for d_out in (16, 64, 256):
        pat = P.structured(1024, 1024, d_out, seed=0)
        r = timed(lambda pat=pat: junction_scatter(pat, wins, wins), args.repeats)
        rows.append({"case": f"junction 1024x1024, d_out={d_out} ({pat.edges} edges), 64 windows each side", **r})
    fc = P.fully_connected(1024, 1024)
    rows.append(
        {
            "case": "junction 1024x1024 fully connected (1048576 edges)",
            **timed(lambda: junction_scatter(fc, wins, wins), args.repeats),
        }
    )
    net = P.network([1024, 64, 16], [4, 16], "clash-free", z=[128, 32], seed=0)
    img = {0: windows_2d(28, 28, 4, 4, layer_size=1024)}
    rows.append(
        {
            "case": "network 1024-64-16 clash-free, 784/64/10 matter, 4x4 image windows (6 entries)",
            **timed(lambda: network_scatter(net, windows=img, matter=[784, 64, 10]), args.repeats),
        }
    )
    big = P.network([1024, 1024, 1024, 16], [64, 64, 16], "structured", seed=0)
    rows.append(
        {
            "case": "network 1024-1024-1024-16 structured, default windows (8 entries, path product)",
            **timed(lambda: network_scatter(big), args.repeats),
        }
    )
    meta = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "machine": platform.machine(),
        "repeats": args.repeats,
    }
    for r in rows:
        print(f"{r['best_ms']:9.2f} ms best {r['median_ms']:9.2f} ms median   {r['case']}")
    if args.out:
        write_text(args.out, json.dumps({"meta": meta, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
