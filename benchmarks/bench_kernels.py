#!/usr/bin/env python
"""Issue 6: the three sparse operations and a full training step, against dense and other sparse code.

One ``n x n`` junction with fixed in-degree (a structured pattern), fp32, one batch size, every
method on the same thread count, all measured side by side in one run (methods interleaved round
by round, median of the rounds), printed as ONE table with the ratios and the goals:

- per operation (forward, input gradient, weight gradient): useful GFLOP/s ``2 * batch * |W| / t``
  of our numba kernels (on our feature-major panel layout) against the dense GEMM rate of the same
  run (goal >= 40 % at 5-20 % density, >= 25 % at 1 %); torch CSR and SparseProp for reference
  (SparseProp fuses both gradients in one kernel: its row counts 4 * batch * |W| FLOPs);
- a full training step (zero_grad, forward, backward, optimiser step) of ``SparseLinear`` against
  ``torch.nn.Linear`` (goal >= 8x / 4x / 2x faster at 5 / 10 / 20 %), masked dense, torch CSR
  ``SparseLinear(backend="torch")`` and SparseProp's ``SparseLinear`` (goals >= 2x and >= 1.5x at
  batch >= 64), with SGD and with Adam (torch's fused Adam for every method);
- the same step on 1 thread against ``--threads`` threads (goal >= 1.6x for 2 threads).

Run: ``python benchmarks/bench_kernels.py`` (``--quick`` for a short smoke run, ``--json FILE`` to
keep the numbers). Timings on a shared machine are noisy: the script waits (up to ``--quiet-wait``
seconds) for other processes to go quiet before each block and prints the CPU share they took.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=2048, help="junction size n x n (default 2048)")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--small-batch", type=int, default=64, help="second batch size for the step rows (0: skip)")
    ap.add_argument("--densities", default="0.01,0.05,0.1,0.2")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--rounds", type=int, default=15, help="timed rounds per measurement (median)")
    ap.add_argument("--quiet-wait", type=float, default=20.0, help="max seconds to wait for an idle machine per block")
    ap.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="wall: perf_counter; cpu: process CPU time (only meaningful with --threads 1 on a busy machine)",
    )
    ap.add_argument("--quick", action="store_true", help="tiny smoke run (n=512, 3 rounds)")
    ap.add_argument("--json", help="also write the results here")
    a = ap.parse_args()
    if a.quick:
        a.n, a.rounds, a.quiet_wait, a.densities = 512, 3, 0.0, "0.05,0.2"
    return a


ARGS = parse()
# every OpenMP user (torch, SparseProp) sees the same thread count; numba follows torch's
os.environ["OMP_NUM_THREADS"] = str(ARGS.threads)

from predsparse import threads as ps_threads  # noqa: E402, I001 - first (as the CLI): its OpenMP wait policy must reach torch
import numpy as np  # noqa: E402
import torch  # noqa: E402

from predsparse import patterns as P  # noqa: E402
from predsparse.nn import SparseLinear, kernels_cpu  # noqa: E402
from predsparse.nn.ops import BACKENDS, NumbaCPU  # noqa: E402

torch.set_num_threads(ARGS.threads)

try:
    import sparseprop.modules.linear as _spl
    from sparseprop import backend as sppb

    SPARSEPROP = True
except Exception as exc:  # not installable here, or broken
    SPARSEPROP = False
    SPARSEPROP_ERR = f"{type(exc).__name__}: {exc}"


# --- timing ---------------------------------------------------------------------------------------
def _cpu_busy(dt: float = 0.25) -> float:
    """Fraction of all CPUs busy (any process) over ``dt`` seconds, from /proc/stat."""
    try:

        def snap():
            with open("/proc/stat") as f:
                v = [int(t) for t in f.readline().split()[1:]]
            return sum(v), v[3] + v[4]

        t0, i0 = snap()
        time.sleep(dt)
        t1, i1 = snap()
        return 1 - (i1 - i0) / max(1, t1 - t0)
    except OSError:
        return 0.0


OTHERS: list[float] = []


def wait_quiet() -> None:
    """Wait until the machine is (nearly) idle, up to --quiet-wait seconds; record the load seen."""
    end = time.time() + ARGS.quiet_wait
    busy = _cpu_busy()
    while busy > 0.10 and time.time() < end:
        busy = _cpu_busy(0.5)
    OTHERS.append(busy)


def timeit(fns: dict, rounds: int | None = None) -> dict:
    """Median wall time of each callable, measured round-robin (each round runs every method once)."""
    rounds = rounds or ARGS.rounds
    for f in fns.values():  # warm-up (compiles, allocator, caches)
        f()
        f()
    wait_quiet()
    ts: dict = {k: [] for k in fns}
    clock = time.process_time if ARGS.clock == "cpu" else time.perf_counter
    for _ in range(rounds):
        for k, f in fns.items():
            t = clock()
            f()
            ts[k].append(clock() - t)
    return {k: float(np.median(v)) for k, v in ts.items()}


# --- set-up -----------------------------------------------------------------------------------------
def junction(n: int, density: float):
    d_out = max(1, round(density * n))
    pat = P.structured(n, n, d_out, seed=0)
    layer = SparseLinear(pat, init="torch")
    return pat, layer


def dense_masked(pat, layer):
    w = layer.dense_weight()
    m = torch.from_numpy(pat.to_dense()).float()
    return w, m


def ops_row(n: int, batch: int, density: float) -> dict:
    """GFLOP/s of the three operations for every method."""
    pat, layer = junction(n, density)
    torch.manual_seed(0)
    x = torch.randn(batch, n)
    g = torch.randn(batch, n)
    w_dense, _ = dense_masked(pat, layer)
    w = layer.weight.detach()
    nb = NumbaCPU()
    bc = kernels_cpu.panel_width(batch, n)
    xp, gp = nb.to_panels(x, bc), nb.to_panels(g, bc)
    csr = BACKENDS["torch"]
    fns = {
        ("ours", "fwd"): lambda: nb.spmm_panels(layer, xp, w),
        ("ours", "gin"): lambda: nb.grad_input_panels(layer, gp, w),
        ("ours", "gw"): lambda: nb.grad_weight_panels(layer, gp, xp),
        ("dense", "fwd"): lambda: x @ w_dense.t(),
        ("dense", "gin"): lambda: g @ w_dense,
        ("dense", "gw"): lambda: g.t() @ x,
        ("csr", "fwd"): lambda: csr.forward(layer, x, w),
        ("csr", "gin"): lambda: csr.grad_input(layer, g, w),
        ("csr", "gw"): lambda: csr.grad_weight(layer, g, x),
    }
    if SPARSEPROP:
        sp = _spl.SparseLinear(w_dense.clone())
        idx_n, idx_m = sp.W_idx
        xt, gt = x.t().contiguous(), g.t().contiguous()
        out = torch.zeros(n, batch)
        gx = torch.zeros(n, batch)
        gwv = torch.zeros_like(sp.W_val.data)

        def sp_fwd():
            out.zero_()
            sppb.sparse_linear_vectorized_forward(xt, idx_n, idx_m, sp.W_val.data, out)

        def sp_bwd():
            gx.zero_()
            sppb.sparse_linear_vectorized_backward(xt, idx_n, idx_m, sp.W_val.data, gt, gx, gwv)

        fns[("sparseprop", "fwd")] = sp_fwd
        fns[("sparseprop", "bwd")] = sp_bwd
    t = timeit(fns)
    flops = 2 * batch * pat.edges
    dense_flops = 2 * batch * n * n
    res: dict = {"edges": pat.edges}
    for (meth, op), sec in t.items():
        f = dense_flops if meth == "dense" else (2 * flops if op == "bwd" else flops)
        res[f"{meth}.{op}"] = f / sec / 1e9
    return res


def step_fns(n: int, batch: int, density: float, opt_name: str) -> dict:
    """One full training step per method: zero_grad, forward, backward of <y, g>, optimiser step."""
    pat, layer = junction(n, density)
    torch.manual_seed(0)
    x = torch.randn(batch, n)
    g = torch.randn(batch, n)
    w_dense, mask = dense_masked(pat, layer)

    def opt(params):
        params = list(params)
        # fused Adam (one kernel for all parameters, as predsparse's training loop uses) for every method
        return torch.optim.SGD(params, lr=1e-3) if opt_name == "sgd" else torch.optim.Adam(params, lr=1e-3, fused=True)

    def make_step(model, fwd=None):
        o = opt(model.parameters())
        fwd = fwd or model

        def step():
            o.zero_grad(set_to_none=True)
            y = fwd(x)
            y.backward(g)
            o.step()

        return step

    ours = layer
    csr = SparseLinear(pat, init="torch", backend="torch")
    dense = torch.nn.Linear(n, n)
    masked = torch.nn.Linear(n, n)
    with torch.no_grad():
        dense.weight.copy_(w_dense)
        masked.weight.copy_(w_dense)
    fns = {
        "ours": make_step(ours),
        "dense": make_step(dense),
        "masked": make_step(masked, lambda x: torch.nn.functional.linear(x, masked.weight * mask, masked.bias)),
        "csr": make_step(csr),
    }
    if SPARSEPROP:
        sp = _spl.SparseLinear(w_dense.clone(), bias=torch.nn.Parameter(torch.zeros(n)))
        fns["sparseprop"] = make_step(sp)
    return fns


def step_row(n: int, batch: int, density: float, opt_name: str) -> dict:
    t = timeit(step_fns(n, batch, density, opt_name))
    return {k: v * 1e3 for k, v in t.items()}


def thread_row(n: int, batch: int, density: float) -> dict:
    """Our SGD step on 1 thread and on --threads threads (same process, torch.set_num_threads)."""
    fns = step_fns(n, batch, density, "sgd")
    out = {}
    for th in (1, ARGS.threads):
        torch.set_num_threads(th)
        out[th] = timeit({"ours": fns["ours"], "dense": fns["dense"]})
    torch.set_num_threads(ARGS.threads)
    return {
        "ours_1": out[1]["ours"] * 1e3,
        "ours_T": out[ARGS.threads]["ours"] * 1e3,
        "dense_1": out[1]["dense"] * 1e3,
        "dense_T": out[ARGS.threads]["dense"] * 1e3,
    }


# --- table ------------------------------------------------------------------------------------------
def fmt(v, nd=1):
    return "-" if v is None else f"{v:.{nd}f}"


def main() -> None:
    n, batch = ARGS.n, ARGS.batch
    dens = [float(d) for d in ARGS.densities.split(",")]
    step_goal = {0.05: 8.0, 0.1: 4.0, 0.2: 2.0}
    rows = []
    results: dict = {"n": n, "batch": batch, "threads": ARGS.threads, "rows": []}

    def add(density, measure, unit, vals, ratio_txt, goal_txt, met):
        rows.append(
            [
                f"{density * 100:g}%",
                measure,
                unit,
                *[fmt(vals.get(k)) for k in ("ours", "dense", "masked", "csr", "sparseprop")],
                ratio_txt,
                goal_txt,
                met,
            ]
        )
        results["rows"].append(
            {
                "density": density,
                "measure": measure,
                "unit": unit,
                "values": vals,
                "ratio": ratio_txt,
                "goal": goal_txt,
                "met": met,
            }
        )

    def yes(ok):
        return "yes" if ok else "NO"

    for d in dens:
        r = ops_row(n, batch, d)
        op_goal = 0.25 if d < 0.05 else 0.40
        for op, name in (("fwd", "forward SpMM"), ("gin", "input gradient"), ("gw", "weight gradient")):
            ours, dense = r[f"ours.{op}"], r[f"dense.{op}"]
            vals = {"ours": ours, "dense": dense, "csr": r[f"csr.{op}"]}
            if SPARSEPROP:
                vals["sparseprop"] = r["sparseprop.fwd"] if op == "fwd" else r["sparseprop.bwd"]
            frac = ours / dense
            add(
                d,
                name + (" (SP: both grads)" if op != "fwd" and SPARSEPROP else ""),
                "GFLOP/s",
                vals,
                f"{frac * 100:.0f}% of dense",
                f">={op_goal * 100:.0f}%",
                yes(frac >= op_goal),
            )
        for bs in [batch] + ([ARGS.small_batch] if ARGS.small_batch and ARGS.small_batch != batch else []):
            for opt_name in ("sgd", "adam"):
                s = step_row(n, bs, d, opt_name)
                sp = s.get("sparseprop")
                parts = [f"dense/ours {s['dense'] / s['ours']:.1f}x", f"csr/ours {s['csr'] / s['ours']:.1f}x"]
                oks = [s["csr"] / s["ours"] >= 2.0]
                goals = [">=2x csr"]
                if sp is not None:
                    parts.append(f"SP/ours {sp / s['ours']:.1f}x")
                    oks.append(sp / s["ours"] >= 1.5)
                    goals.append(">=1.5x SP")
                if d in step_goal and bs == batch:
                    goals.insert(0, f">={step_goal[d]:g}x dense")
                    oks.insert(0, s["dense"] / s["ours"] >= step_goal[d])
                add(
                    d,
                    f"train step {opt_name.upper()} B={bs}",
                    "ms",
                    s,
                    ", ".join(parts),
                    ", ".join(goals),
                    yes(all(oks)) + ("" if sp is not None else " (SP unmeasured)"),
                )
        if d == 0.1 or len(dens) == 1:
            t = thread_row(n, batch, d)
            sc = t["ours_1"] / t["ours_T"]
            add(
                d,
                f"step SGD 1 thr -> {ARGS.threads} thr",
                "ms",
                {"ours": t["ours_T"], "dense": t["dense_T"]},
                f"ours {t['ours_1']:.1f}->{t['ours_T']:.1f} ms = {sc:.2f}x (dense {t['dense_1'] / t['dense_T']:.2f}x)",
                ">=1.6x" if ARGS.threads == 2 else "-",
                yes(sc >= 1.6) if ARGS.threads == 2 else "-",
            )

    head = ["density", "measure", "unit", "ours", "dense", "masked", "torch-csr", "sparseprop", "ratio", "goal", "met"]
    widths = [max(len(str(row[i])) for row in rows + [head]) for i in range(len(head))]
    line = "  ".join(h.ljust(w) for h, w in zip(head, widths))
    print(
        f"# predsparse bench_kernels: {n}x{n} structured junction, fp32, batch {batch}, {ARGS.threads} threads, "
        f"{ARGS.clock} clock, torch {torch.__version__}, numba {kernels_cpu.numba_module().__version__}, "
        f"sparseprop {'yes' if SPARSEPROP else 'NOT INSTALLED: ' + SPARSEPROP_ERR}"
    )
    print(f"# {kernels_cpu.instruction_sets()}; threading set-up: {ps_threads.info()}")
    print(line)
    print("-" * len(line))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))
    print(
        f"# CPU busy before the timed blocks (all processes, median/max): {np.median(OTHERS) * 100:.0f}% / {max(OTHERS) * 100:.0f}%"
    )
    if ARGS.json:
        results["busy"] = OTHERS
        with open(ARGS.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
