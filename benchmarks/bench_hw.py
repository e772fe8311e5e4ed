"""Simulator throughput (training inputs per second of wall time) for the FPGA reference configuration.

    nice python benchmarks/bench_hw.py [--inputs 5000] [--cycle-inputs 100] [--out results.json]

Synthetic 8-bit inputs (784 pixels padded to 1024, 10 classes): speed does not depend on the data.
Measures the architecture level (pipelined and sequential schedules, ideal and exact BP), the float
reference, the batched FF-only inference, and the cycle level (ideal and exact); the architecture level
with both engines (compiled ``fast`` and the numpy ``reference``) in the same run. Run by hand and
record the numbers; no test asserts speed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

from predsparse.hardware import ArchSimulator, CycleSimulator, FloatReference, fpga_reference
from predsparse.provenance import versions


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--inputs", type=int, default=5000)
    ap.add_argument("--cycle-inputs", type=int, default=100)
    ap.add_argument(
        "--cycle-factor", type=int, default=20, help="the fast cycle engine runs this many times more inputs"
    )
    ap.add_argument("--reference-inputs", type=int, default=3000, help="inputs for the (slow) numpy reference engine")
    ap.add_argument("--repeats", type=int, default=3, help="best of N runs")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    cfg = fpga_reference()
    rng = np.random.default_rng(0)
    pix = np.pad(rng.integers(0, 256, (args.inputs, 784)), ((0, 0), (0, 240)))
    x = cfg.fmt.from_pixels(pix)
    y = rng.integers(0, 10, args.inputs)
    rows = []

    def bench(name: str, make, n: int, fn) -> None:
        best = cpu = float("inf")
        for _ in range(args.repeats):
            obj = make()
            t0, c0 = time.perf_counter(), time.process_time()
            fn(obj)
            best = min(best, time.perf_counter() - t0)
            cpu = min(cpu, time.process_time() - c0)  # CPU time: less disturbed by other jobs on a shared machine
        rows.append(
            {
                "model": name,
                "inputs": n,
                "seconds": best,
                "inputs_per_s": n / best,
                "cpu_seconds": cpu,
                "inputs_per_cpu_s": n / cpu,
            }
        )
        print(
            f"{name:<46} {n / best:>9.0f} inputs/s wall {n / cpu:>9.0f} inputs/s CPU  ({n} inputs, best of {args.repeats})",
            flush=True,
        )

    # warm the compiled engine (numba compiles on first use, cached on disk afterwards)
    ArchSimulator(cfg).train_samples(x[:8], y[:8], num_classes=10)
    for sched in ("pipelined", "sequential"):
        for mode in ("ideal", "exact"):
            for engine in ("reference", "fast"):
                n = args.inputs if engine == "fast" else min(args.inputs, args.reference_inputs)
                bench(
                    f"arch {sched} bp={mode} engine={engine}",
                    lambda: ArchSimulator(cfg, schedule=sched, bp_hazard=mode),
                    n,
                    lambda s: s.train_samples(x[:n], y[:n], num_classes=10, engine=engine),
                )
    bench(
        "float reference pipelined",
        lambda: FloatReference(cfg),
        args.inputs,
        lambda r: r.train_samples(pix / 256, y, num_classes=10),
    )
    bench("arch inference (FF only, batched)", lambda: ArchSimulator(cfg), args.inputs, lambda s: s.predict(x))
    nc = args.cycle_inputs
    CycleSimulator(cfg).train_samples(x[:2], y[:2], num_classes=10)  # compile the cycle block
    for mode in ("ideal", "exact"):
        for engine in ("reference", "fast"):
            n = nc if engine == "reference" else nc * args.cycle_factor
            bench(
                f"cycle pipelined bp={mode} engine={engine}",
                lambda: CycleSimulator(cfg, mode=mode, engine=engine),
                n,
                lambda c: c.train_samples(x[:n], y[:n], num_classes=10),
            )
    load = os.getloadavg()
    print(f"load average (1, 5, 15 min) at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    out = {
        "load_average": load,
        "config": cfg.summary(),
        "rows": rows,
        "versions": versions(),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": sys.version.split()[0]},
    }
    if args.out:
        from predsparse.atomic import write_text

        write_text(args.out, json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
