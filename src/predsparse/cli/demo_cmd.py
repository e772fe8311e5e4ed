"""``predsparse demo``: the main job on embedded data, no download.

Generates the Morse baseline, trains the fully connected 64-1024-64 network and pre-defined sparse
networks (clash-free, structured, random) at several densities, prints the seed-style table and
saves a plot plus the raw results (with versions and seeds).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from predsparse.cli.common import emit_json, handle_errors, int_list, json_option
from predsparse.cli.common import OutputPath  # checked while parsing, before any work

DEMO_LAYERS = [64, 1024, 64]
DEMO_OUT_DEGREES = [[512, 32], [256, 16], [128, 8], [64, 4], [32, 2], [16, 1]]


@click.command("demo")
@click.option("--out", "out_dir", type=OutputPath(directory=True), default="runs/demo", show_default=True, help="Directory for the table, plot and results.")
@click.option("--preset", default="baseline", show_default=True, help="Morse preset (baseline or difficult).")
@click.option("--per-class", type=int, default=400, show_default=True, help="Training samples per class (val/test get a quarter).")
@click.option("--epochs", type=int, default=10, show_default=True)
@click.option("--seeds", default="0,1", show_default=True, help="Seeds to repeat each network with (mean +- std).")
@click.option("--kinds", default="clash-free,structured,random", show_default=True)
@click.option("--progress/--no-progress", default=True)
@json_option
@handle_errors
def demo(out_dir, preset, per_class, epochs, seeds, kinds, progress, as_json) -> None:  # noqa: ANN001
    """Accuracy vs density on Morse code: FC vs clash-free, structured and random pre-defined sparsity."""
    from predsparse.atomic import write_text
    from predsparse.experiments.density import DensitySweep, default_z, density_table, format_table, plot_density, run_density_sweep
    from predsparse.morse import generate
    from predsparse.provenance import versions
    from predsparse.train import TrainConfig

    seed_list = int_list(seeds, "seeds")
    kind_list = [k.strip() for k in kinds.split(",") if k.strip()]
    t0 = time.perf_counter()
    small = max(per_class // 4, 1)
    ds = generate(preset, seed=0, train_per_class=per_class, val_per_class=small, test_per_class=small)
    sweep = DensitySweep(
        layers=DEMO_LAYERS,
        out_degrees=DEMO_OUT_DEGREES,
        kinds=kind_list,
        z=default_z(DEMO_LAYERS),
        seeds=seed_list,
        train=TrainConfig(epochs=epochs, batch_size=128, lr=3e-3),
    )
    records = run_density_sweep(ds, sweep, progress=progress and not as_json)
    header, body = density_table(records, kind_list)
    table = format_table(header, body)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plot_density(records, str(out / "accuracy_vs_density.png"), title=f"Morse {preset}: N_net = {DEMO_LAYERS}")
    info = {
        "dataset": ds.summary() | {"preset": preset, "seed": 0},
        "layers": DEMO_LAYERS,
        "z_net": sweep.z,
        "seeds": seed_list,
        "train": sweep.train.__dict__,
        "records": records,
        "table": {"header": header, "rows": body},
        "seconds": time.perf_counter() - t0,
        "versions": versions(),
    }
    write_text(out / "results.json", json.dumps(info, indent=2, default=str))
    write_text(out / "table.md", table + "\n")
    if as_json:
        emit_json(info)
        return
    click.echo(f"Morse '{preset}': {ds.num_features} features, {ds.num_classes} classes, "
               f"{len(ds.xtr)} train / {len(ds.xva)} val / {len(ds.xte)} test samples")
    click.echo(f"N_net = {DEMO_LAYERS}, {epochs} epochs, Adam lr 3e-3, batch 128, seeds {seed_list}; test accuracy (%) mean +- std\n")
    click.echo(table)
    click.echo(f"\nplot: {out / 'accuracy_vs_density.png'}   results: {out / 'results.json'}   ({info['seconds']:.0f} s)")


COMMANDS: list[click.Command] = [demo]
