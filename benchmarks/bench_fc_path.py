"""Fully connected SparseMLP: torch's dense F.linear path (the default for complete junctions) against the
sparse kernels at 100 % density (``backend="numba"``), one Adam training step at batch 256.

    python benchmarks/bench_fc_path.py [--threads 1] [--steps 50] [--rounds 3]

The two paths alternate in blocks of ``--steps`` steps, ``--rounds`` times; the median ms per step of each
and their ratio are printed. CPU time of this process, so other jobs on the machine matter less than
for wall time (the load average is printed with the result).
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

from predsparse.nn import SparseMLP
from predsparse.patterns.network import network

NETWORKS = {"morse-fc": [256, 1024, 64], "fmnist-fc": [784, 800, 100, 10]}


def step_ms(model: SparseMLP, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, steps: int) -> float:
    t = time.process_time()
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return (time.process_time() - t) / steps * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=256)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(
        f"fully connected SparseMLP, Adam step, batch {args.batch}, {args.threads} thread(s), torch {torch.__version__}"
    )
    print("| network | dense F.linear (ms/step) | sparse kernels at 100 % (ms/step) | sparse / dense |")
    print("|---|---|---|---|")
    for name, layers in NETWORKS.items():
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
        print(f"| {name} {'-'.join(map(str, layers))} | {dense:.2f} | {sparse:.2f} | {sparse / dense:.2f}x |")
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
