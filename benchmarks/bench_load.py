#!/usr/bin/env python
"""Issue 16: training steps on a busy machine, for several threading set-ups side by side.

Each set-up (environment variables set before torch and numba load, and a thread count) runs in its
own process; the set-ups take turns (round-robin, so load that drifts hits all alike) timing one
training step (forward, backward, Adam) of four workloads with 0, 1 and 2 other busy processes on the
machine (pure-Python spin loops this script starts and stops around each block; each also stops by
itself after ``--busy-max`` seconds, so nothing outlives the run):

- ``mlp``: Fashion-MNIST-shaped ``SparseMLP`` 784-800-100-10, clash-free ``d_out`` 100, 10, 1 (net
  density 12.2 %), batch 256 gathered by row numbers from a 10,000 x 784 matrix (the ``fit`` path);
- ``linear``: ``SparseLinear`` 2048 x 2048 at 10 % (structured), batch 256;
- ``nn.Linear``: torch's dense 2048 x 2048 layer, batch 256;
- ``conv``: a small torch CNN front end (conv 1->32 3x3, ReLU, max-pool, conv 32->32, ReLU,
  max-pool, ``nn.Linear`` to 10) on 28 x 28 images, batch 64.

Prints the median milliseconds per step (``--seconds`` of steps per cell) and, per load, each
set-up's time over the best of all set-ups for that workload and load (goal: the library default
within 1.3x). ``default`` is what the CLI, or ``import predsparse`` before torch, gives now; ``1thr`` the
same on one thread; ``late`` the library imported after torch (torch's OpenMP runtime then keeps its
spin-waiting: :func:`predsparse.threads.info` says ``late``); ``old`` is the set-up before issue 16
(libgomp's default spin-waiting, all cores).

Run: ``python benchmarks/bench_load.py`` (about 2-3 minutes; ``--configs`` to pick set-ups,
``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

# name -> (environment, threads or None for the library default)
CONFIGS: dict[str, tuple[dict[str, str], int | None]] = {
    "default": ({}, None),
    "1thr": ({}, 1),
    "late": ({"BENCH_LOAD_LATE": "1"}, None),
    "old": ({"PREDSPARSE_THREADING": "off"}, None),
    "old-1thr": ({"PREDSPARSE_THREADING": "off"}, 1),
    "passive": ({"PREDSPARSE_THREADING": "off", "OMP_WAIT_POLICY": "PASSIVE"}, None),
    "spin10k": ({"PREDSPARSE_THREADING": "off", "GOMP_SPINCOUNT": "10000"}, None),
    "spin100k": ({"PREDSPARSE_THREADING": "off", "GOMP_SPINCOUNT": "100000"}, None),
    "workqueue": ({"PREDSPARSE_THREADING": "off", "NUMBA_THREADING_LAYER": "workqueue"}, None),
    "wq+passive": (
        {"PREDSPARSE_THREADING": "off", "NUMBA_THREADING_LAYER": "workqueue", "OMP_WAIT_POLICY": "PASSIVE"},
        None,
    ),
}
WORKLOADS = ("mlp", "linear", "nn.Linear", "conv")
THREAD_VARS = (
    "OMP_WAIT_POLICY",
    "GOMP_SPINCOUNT",
    "KMP_BLOCKTIME",
    "NUMBA_THREADING_LAYER",
    "OMP_NUM_THREADS",
    "PREDSPARSE_THREADS",
    "PREDSPARSE_THREADING",
    "MKL_NUM_THREADS",
    "BENCH_LOAD_LATE",
)


def parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--configs", default=",".join(CONFIGS), help=f"set-ups to compare (of {', '.join(CONFIGS)})")
    ap.add_argument("--loads", default="0,1,2", help="numbers of busy processes")
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--seconds", type=float, default=1.5, help="timed seconds per cell and set-up")
    ap.add_argument("--rounds", type=int, default=3, help="the set-ups take turns this many times per cell")
    ap.add_argument("--busy-max", type=float, default=300.0, help="a busy process stops by itself after this")
    ap.add_argument("--quick", action="store_true", help="smoke run: two set-ups, short cells")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.quick:
        a.configs, a.seconds = "default,old-1thr", 0.2
    return a


# --- busy processes ------------------------------------------------------------------------------------
def start_busy(k: int, max_s: float) -> list[subprocess.Popen]:
    code = f"import time\nt = time.time() + {max_s}\nwhile time.time() < t:\n    pass\n"
    return [subprocess.Popen([sys.executable, "-c", code]) for _ in range(k)]


def stop_busy(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.kill()
    for p in procs:
        p.wait()


# --- the worker: one set-up; times the workload the parent names on stdin ------------------------------------------------------
def worker(args: argparse.Namespace, threads: int | None) -> None:
    if os.environ.get("BENCH_LOAD_LATE") != "1":
        # first, as the CLI does: the wait policy reaches torch's OpenMP runtime only if set before it loads
        import predsparse  # applies the threading set-up (unless PREDSPARSE_THREADING=off)
    import torch
    from torch import nn

    import predsparse  # "late": after torch, as a notebook that imports torch first
    from predsparse import patterns as P
    from predsparse.nn import SparseLinear, SparseMLP

    if threads is not None:
        torch.set_num_threads(threads)
    torch.manual_seed(0)

    def make(name: str):
        """(model, step function) for a workload."""
        if name == "mlp":
            net = P.network([784, 800, 100, 10], [100, 10, 1], "clash-free", z=[196, 200, 50], seed=0)
            model = SparseMLP([784, 800, 100, 10], net.patterns)
            x, y = torch.randn(10000, 784), torch.randint(0, 10, (10000,))

            def data():
                r = torch.randint(0, 10000, (256,))
                return (x,), {"rows": r}, y[r]
        elif name == "linear":
            model = SparseLinear(P.structured(2048, 2048, 205, seed=0))
            x = torch.randn(256, 2048)

            def data():
                return (x,), {}, None
        elif name == "nn.Linear":
            model = nn.Linear(2048, 2048)
            x = torch.randn(256, 2048)

            def data():
                return (x,), {}, None
        else:
            model = nn.Sequential(
                nn.Conv2d(1, 32, 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Conv2d(32, 32, 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Flatten(),
                nn.Linear(32 * 7 * 7, 10),
            )
            x, y = torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))

            def data():
                return (x,), {}, y

        opt = torch.optim.Adam(model.parameters(), lr=1e-4, fused=True)

        def step():
            a, kw, y = data()
            out = model(*a, **kw)
            loss = nn.functional.cross_entropy(out, y) if y is not None else out.square().mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        return step

    steps = {w: make(w) for w in args.workloads.split(",")}
    for s in steps.values():  # compile / cache-load the kernels, warm the allocator
        for _ in range(5):
            s()
    out: dict = {"threads": torch.get_num_threads(), "env": {k: os.environ.get(k) for k in THREAD_VARS}, "times": {}}
    out["late"] = bool(predsparse.threads.info().get("late"))  # the wait policy came after torch's runtime loaded
    try:
        import numba

        out["numba_threads"], out["layer"] = numba.get_num_threads(), numba.threading_layer()
    except Exception as exc:  # numba missing, or the layer not started (ValueError)
        out["layer"] = type(exc).__name__
    print(json.dumps(out), flush=True)
    for line in sys.stdin:  # "workload seconds": time that workload, reply with the median ms per step
        w, secs = line.split()
        s, ts = steps[w], []
        t_end = time.perf_counter() + float(secs)
        while time.perf_counter() < t_end or len(ts) < 3:
            t0 = time.perf_counter()
            s()
            ts.append(time.perf_counter() - t0)
        ts.sort()
        print(json.dumps(ts[len(ts) // 2] * 1e3), flush=True)
    return out


def isa() -> str:
    """Which vector instructions the kernels and torch's dense path use (:func:`kernels_cpu.instruction_sets`)."""
    from predsparse.nn import kernels_cpu

    return kernels_cpu.instruction_sets()


def main() -> None:
    args = parse()
    if args.worker:
        threads = None if args.worker == "-" else int(args.worker)
        worker(args, threads)
        return
    t_start = time.time()
    names = args.configs.split(",")
    res: dict = {}
    procs: dict[str, subprocess.Popen] = {}
    loads = [int(v) for v in args.loads.split(",")]
    works = args.workloads.split(",")
    try:
        for name in names:  # one process per set-up, started together, then driven in turn
            env_add, threads = CONFIGS[name]
            env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
            if name == "default":  # the user's own explicit settings pass through only to the library default
                env.update({k: v for k, v in os.environ.items() if k in THREAD_VARS})
            env.update(env_add)
            cmd = [
                sys.executable,
                __file__,
                "--worker",
                "-" if threads is None else str(threads),
                "--workloads",
                args.workloads,
            ]
            procs[name] = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for name in names:
            res[name] = json.loads(procs[name].stdout.readline())
            res[name]["times"] = {}
            print(
                f"  {name:11s} ready ({res[name]['threads']} threads, numba layer {res[name].get('layer')})", flush=True
            )
        for load in loads:
            busy = start_busy(load, args.busy_max)
            try:
                time.sleep(0.3)  # let the busy processes get going
                for w in works:
                    got: dict[str, list[float]] = {n: [] for n in names}
                    for _ in range(args.rounds):  # set-ups interleaved round by round: drifting load hits all alike
                        for n in names:
                            procs[n].stdin.write(f"{w} {args.seconds / args.rounds}\n")
                            procs[n].stdin.flush()
                            got[n].append(json.loads(procs[n].stdout.readline()))
                    for n in names:
                        res[n]["times"][f"{load}/{w}"] = sorted(got[n])[len(got[n]) // 2]
            finally:
                stop_busy(busy)
    finally:
        for p in procs.values():
            p.stdin.close()
            p.wait(timeout=60)
    with open("/proc/loadavg") as f:
        la = " ".join(f.read().split()[:3])
    print(
        f"# predsparse bench_load: ms per training step (median of {args.rounds} interleaved rounds, {args.seconds:g} s per cell), 0/1/2 busy processes, "
        f"{os.cpu_count()} cores; {isa()}; load average at the end {la} (busy processes of this run included)"
    )
    for name in res:
        e = {k: v for k, v in res[name]["env"].items() if v is not None}
        late = " (set after torch loaded: torch keeps spin-waiting)" if res[name].get("late") else ""
        print(f"#   {name}: {res[name]['threads']} threads, numba {res[name].get('layer')}, env {e or '{}'}{late}")
    names = list(res)
    head = f"{'busy':>4s} {'workload':10s} " + " ".join(f"{n:>15s}" for n in names)
    print("ms per step (ratio to the best set-up of the row)")
    print(head)
    print("-" * len(head))
    best = {(ld, w): min(res[n]["times"][f"{ld}/{w}"] for n in names) for ld in loads for w in works}
    for ld in loads:
        for w in works:
            cells = [
                f"{res[n]['times'][f'{ld}/{w}']:.2f} ({res[n]['times'][f'{ld}/{w}'] / best[(ld, w)]:.2f}x)"
                for n in names
            ]
            print(f"{ld:4d} {w:10s} " + " ".join(f"{c:>15s}" for c in cells))
    if "default" in res:
        for label, lds in (
            ("idle (0 busy)", [ld for ld in loads if ld == 0]),
            ("under load", [ld for ld in loads if ld]),
        ):
            if lds:
                worst = max(res["default"]["times"][f"{ld}/{w}"] / best[(ld, w)] for ld in lds for w in works)
                goal = f" (goal <= 1.3x: {'met' if worst <= 1.3 else 'NOT met'})" if label == "under load" else ""
                print(f"default vs the best set-up per row, {label}: worst {worst:.2f}x{goal}")
    print(f"# total {time.time() - t_start:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
