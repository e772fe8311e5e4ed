#!/usr/bin/env python
"""Issue 6: peak memory of one sparse junction training a step grows with |W|, not with n_in * n_out.

Each case runs in its own subprocess: import, warm the kernels up on a tiny layer, read the resident
set (``VmRSS``) as the baseline, then build an ``n x n`` structured pattern with ``d_out`` edges per
left neuron, a ``SparseLinear`` and an Adam optimiser, and train one step (forward, backward, step) on
a batch of ``--batch`` random inputs. Printed: ``|W|``, the peak resident set above the baseline
(``VmHWM - baseline``), that peak per edge, the part the batch's activations explain
(about ``batch * n * 4`` bytes per activation copy), the step time, and what the dense ``n x n``
fp32 weight matrix alone would take.

Run: ``python benchmarks/bench_memory.py`` (``--cases`` to choose ``n:d_out`` pairs).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

DEFAULT_CASES = "2048:205,10000:100,30000:30,100000:10,100000:30,100000:100,300000:10"


def _status(key: str) -> int:
    """A ``/proc/self/status`` field in bytes (Linux)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def _trim() -> None:
    """Give freed heap memory back to the OS (glibc ``malloc_trim``) so that VmRSS counts live data."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _reset_peak() -> bool:
    """Reset ``VmHWM`` to the current RSS (Linux: write 5 to /proc/self/clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def child(n: int, d_out: int, batch: int, backend: str) -> None:
    import torch

    from predsparse import patterns as P
    from predsparse.nn import SparseLinear

    torch.manual_seed(0)
    small = SparseLinear(P.structured(64, 64, 4, seed=0), backend=backend)  # load/compile the kernels
    small(torch.randn(batch, 64)).square().mean().backward()
    del small
    _trim()
    _reset_peak()
    base = _status("VmRSS")
    t0 = time.perf_counter()
    pat = P.structured(n, n, d_out, seed=0)
    t_pat = time.perf_counter()
    pat_peak = _status("VmHWM")
    reset = _reset_peak()
    layer = SparseLinear(pat, backend=backend)
    del pat
    opt = torch.optim.Adam(layer.parameters(), lr=1e-3)
    t1 = time.perf_counter()
    layer_peak = _status("VmHWM")
    _trim()
    layer_resident = _status("VmRSS")
    x = torch.randn(batch, n)
    for _ in range(2):  # the second step has Adam's moments allocated
        _trim()
        _reset_peak()
        built = _status("VmRSS")
        t2 = time.perf_counter()
        opt.zero_grad()
        layer(x).square().mean().backward()
        opt.step()
        t3 = time.perf_counter()
    step_peak = _status("VmHWM")
    print(
        json.dumps(
            {
                "n": n,
                "d_out": d_out,
                "edges": layer.edges,
                "density": layer.density,
                "batch": batch,
                "backend": backend,
                "base": base,
                "pattern_peak": pat_peak,
                "layer_peak": layer_peak if reset else None,
                "built": built,
                "layer_resident": layer_resident,
                "activation_bytes": x.numel() * 4,
                "step_peak": step_peak,
                "pattern_s": t_pat - t0,
                "layer_s": t1 - t_pat,
                "step_s": t3 - t2,
            }
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", default=DEFAULT_CASES, help="comma-separated n:d_out pairs")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--child", nargs=4, metavar=("N", "D_OUT", "BATCH", "BACKEND"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(int(a.child[0]), int(a.child[1]), int(a.child[2]), a.child[3])
        return
    rows = []
    for case in a.cases.split(","):
        n, d = (int(v) for v in case.split(":"))
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(n), str(d), str(a.batch), a.backend],
            capture_output=True,
            text=True,
            env=dict(os.environ),
        )
        if out.returncode != 0:
            print(f"n={n} d_out={d}: failed\n{out.stderr[-2000:]}", file=sys.stderr)
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(r)
    mib = 2**20
    print(f"# predsparse bench_memory: one structured n x n junction, fp32, Adam, batch {a.batch}, backend {a.backend}")
    head = (
        f"{'n':>7} {'density':>9} {'|W|':>11} {'pattern peak':>12} {'layer peak':>10} {'layer':>6} {'B/edge':>6} "
        f"{'+Adam state':>11} {'step peak':>9} {'B*n*4 MiB':>9} {'step s':>7} {'dense W alone':>13}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        layer = r["layer_resident"] - r["base"]
        dense = r["n"] * r["n"] * 4
        dense_txt = f"{dense / 2**30:.1f} GiB" if dense >= 2**30 else f"{dense / mib:.0f} MiB"
        lp = "-" if r["layer_peak"] is None else f"{(r['layer_peak'] - r['base']) / mib:.0f}"
        print(
            f"{r['n']:>7} {r['density'] * 100:>8.4f}% {r['edges']:>11,} {(r['pattern_peak'] - r['base']) / mib:>12.0f} "
            f"{lp:>10} {layer / mib:>6.0f} {layer / r['edges']:>6.0f} {(r['built'] - r['base']) / mib:>11.0f} "
            f"{(r['step_peak'] - r['base']) / mib:>9.0f} {r['activation_bytes'] / mib:>9.1f} {r['step_s']:>7.3f} {dense_txt:>13}"
        )
    print("# MiB above the baseline process. pattern peak: while the generator runs; layer peak: while SparseLinear")
    print(
        "# and Adam are built from it; layer: resident after that (weights, gradient-free index buffers); +Adam state:"
    )
    print("# resident after a first step (adds the gradient and Adam's two moments); step peak: highest during a step,")
    print(
        "# which adds the batch's activations and their gradients (a few copies of B*n*4 bytes) to the resident model"
    )


if __name__ == "__main__":
    main()
