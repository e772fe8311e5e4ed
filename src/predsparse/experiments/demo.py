"""The demo as a built-in sweep: Morse baseline, 64-1024-64, fully connected vs clash-free, structured and
random pre-defined sparsity at six densities. ``predsparse demo`` runs it through :func:`run_sweep` into a
results store and reports it with :func:`~predsparse.experiments.report.density_table`.

The same sweep as a file (the defaults) is ``configs/demo.toml``-shaped: ``[base.dataset] name =
"morse:baseline"``, ``normalize = "none"``, ``morse = {train_per_class = 400, val_per_class = 100,
test_per_class = 100}``; ``[base.network] layers = [64, 1024, 64]``; ``[base.train] epochs = 10,
batch_size = 128, lr = 3e-3``; a grid over the kinds and one variant per ``d_out_net`` row plus fc.
"""

from __future__ import annotations

from typing import Any

from predsparse.experiments.sweep import SweepConfig, parse_config

DEMO_LAYERS = [64, 1024, 64]
DEMO_OUT_DEGREES = [[512, 32], [256, 16], [128, 8], [64, 4], [32, 2], [16, 1]]
DEMO_KINDS = ["clash-free", "structured", "random"]


def demo_config(
    *,
    preset: str = "baseline",
    per_class: int = 400,
    epochs: int = 10,
    seeds: list[int] | None = None,
    kinds: list[str] | None = None,
) -> SweepConfig:
    """The demo's sweep: ``per_class`` training samples per class (validation and test a quarter of it,
    at least 1), Adam lr 3e-3, batch 128; clash-free ``z`` is the default (16, 256)."""
    small = max(per_class // 4, 1)
    raw: dict[str, Any] = {
        "name": "demo",
        "description": f"Morse {preset}: accuracy vs density, FC vs {', '.join(kinds or DEMO_KINDS)}; N_net = {DEMO_LAYERS}",
        "seeds": list(seeds if seeds is not None else [0, 1]),
        "base": {
            "dataset": {
                "name": f"morse:{preset}",
                "normalize": "none",  # the generator's frames as they are
                "morse": {"train_per_class": per_class, "val_per_class": small, "test_per_class": small},
            },
            "network": {"layers": list(DEMO_LAYERS)},
            "train": {"epochs": epochs, "batch_size": 128, "lr": 3e-3},
        },
        "grid": {"network.kind": list(kinds or DEMO_KINDS)},
        "variants": [{"network.kind": "fc"}, *[{"network.d_out": list(d)} for d in DEMO_OUT_DEGREES]],
    }
    return parse_config(raw, source="demo")
