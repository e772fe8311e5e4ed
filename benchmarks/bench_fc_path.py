"""Fully connected SparseMLP: torch's dense F.linear path (the default for complete junctions) against the
sparse kernels at 100 % density (``backend="numba"``), one Adam training step at batch 256.

    python benchmarks/bench_fc_path.py [--threads N] [--steps 50] [--rounds 3] [--busy 0,1]

The two paths alternate in blocks of ``--steps`` steps, ``--rounds`` times; the median wall ms per step of
each and their ratio are printed, once per load in ``--busy``: that many busy processes (started and
stopped here, bounded in time) share the machine. ``--threads`` defaults to torch's default (all cores),
as a user gets it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import predsparse  # noqa: F401 - first (as the CLI): its OpenMP wait policy must reach torch

# isort: split
import torch
from torch.nn import functional as F

from bench_load import start_busy, stop_busy  # the same bounded busy processes as the load benchmark
from predsparse.nn import SparseMLP
from predsparse.patterns.network import network

NETWORKS = {"morse-fc": [256, 1024, 64], "fmnist-fc": [784, 800, 100, 10]}


def step_ms(model: SparseMLP, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, steps: int) -> float:
    t = time.perf_counter()
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return (time.perf_counter() - t) / steps * 1e3


def measure(args: argparse.Namespace, busy: int, name: str, layers: list[int]) -> None:
    """One row: the dense path and the sparse kernels on the same model, alternating in blocks."""
    model = SparseMLP(layers, network(layers, None, "fc", seed=0).patterns)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    x = torch.randn(args.batch, layers[0])
    y = torch.randint(0, layers[-1], (args.batch,))
    times: dict[str, list[float]] = {"auto": [], "numba": []}
    for _ in range(args.rounds):
        for backend in times:
            for j in model.junctions:
                j.backend = backend
            step_ms(model, opt, x, y, 3)  # warm-up (first numba call compiles or loads its cache)
            times[backend].append(step_ms(model, opt, x, y, args.steps))
    dense, sparse = (statistics.median(times[b]) for b in ("auto", "numba"))
    print(f"| {busy} | {name} {'-'.join(map(str, layers))} | {dense:.2f} | {sparse:.2f} | {sparse / dense:.2f}x |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=0, help="0: torch's default (all cores)")
    ap.add_argument("--busy", default="0,1", help="loads to measure: busy processes, comma-separated")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=256)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(
        f"fully connected SparseMLP, Adam step, batch {args.batch}, {torch.get_num_threads()} thread(s), "
        f"torch {torch.__version__}, load average before {os.getloadavg()[0]:.1f}"
    )
    print(
        "| busy processes | network | dense F.linear (ms/step) | sparse kernels at 100 % (ms/step) | sparse / dense |"
    )
    print("|---|---|---|---|---|")
    for busy in (int(b) for b in args.busy.split(",")):
        procs = start_busy(busy, max_s=600)
        try:
            for name, layers in NETWORKS.items():
                measure(args, busy, name, layers)
        finally:
            stop_busy(procs)


if __name__ == "__main__":
    main()
