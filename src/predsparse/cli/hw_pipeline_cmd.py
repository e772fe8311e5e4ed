"""``predsparse hw pipeline-study``: pipelined designs for speed (timing model + cycle-level check)."""

from __future__ import annotations

from typing import Any

import click

from predsparse.cli.common import (  # checked while parsing, before any work
    EPOCHS_HELP,
    LIMIT_HELP,
    POSITIVE_INT,
    OutputPath,
    deprecated_alias,
    emit_json,
    handle_errors,
    json_option,
)
from predsparse.errors import InputError


def register(hw: click.Group, network_options: Any, build_config: Any, write_json: Any) -> None:
    """Attach the command to the ``hw`` group (kept in its own module: hw_cmd.py stays under 500 lines)."""

    @hw.command("pipeline-study")
    @network_options
    @click.option(
        "--max-p", "max_p", type=click.IntRange(2, 12), default=6, show_default=True, help="Deepest processor pipeline."
    )
    @click.option(
        "--check-inputs",
        type=click.IntRange(1, 10_000),
        default=8,
        show_default=True,
        help="Inputs run through the cycle-level model per design (lost contributions, bit-exactness).",
    )
    @click.option(
        "--dataset",
        default=None,
        help="Also train (architecture model) and report test accuracy next to the float twin.",
    )
    @click.option("--epochs", type=click.IntRange(1, 1000), default=3, show_default=True, help=EPOCHS_HELP)
    @click.option(
        "--limit-train", "train_limit", type=POSITIVE_INT, default=None, help=LIMIT_HELP.format(split="training")
    )
    @deprecated_alias("--train-limit", "--limit-train", "train_limit")
    @click.option("--limit-test", "test_limit", type=POSITIVE_INT, default=None, help=LIMIT_HELP.format(split="test"))
    @deprecated_alias("--test-limit", "--limit-test", "test_limit")
    @click.option(
        "--plot",
        "plot_path",
        type=OutputPath(),
        default=None,
        help="Draw inputs/s against added resources (png/pdf/svg).",
    )
    @click.option("--out", "out_path", type=OutputPath(), default=None, help="Write the rows as JSON (atomically).")
    @json_option
    @handle_errors
    def pipeline_study_cmd(
        net,
        max_p,
        check_inputs,
        dataset,
        epochs,
        train_limit,
        test_limit,
        plot_path,
        out_path,
        as_json,
    ) -> None:
        """Max clock, clocks/input, inputs/s, added registers/muxes/DSPs/LUTs, lost BP contributions (cycle model)
        and accuracy of the released design, deeper processor pipelines, a pipelined adder tree and pipelined multipliers."""
        import numpy as np

        from predsparse.hardware.pipeline import pipeline_study, plot
        from predsparse.provenance import versions

        cfg = build_config(**net)
        cfg.validate(level="cycle")
        if plot_path is not None and not plot_path.lower().endswith((".png", ".pdf", ".svg")):
            raise InputError(f"--plot {plot_path!r}: the file name must end in .png, .pdf or .svg")
        accuracy = None
        if dataset is not None:
            from predsparse.hardware.data import load, prepare
            from predsparse.hardware.run import simulate

            data = prepare(
                load(dataset, seed=cfg.seed), cfg, train_limit=train_limit, test_limit=test_limit, seed=cfg.seed
            )
            x, y = data.xtr[:check_inputs], data.ytr[:check_inputs]

            def accuracy(c, bp):
                res = simulate(c, data, epochs=epochs, bp_hazard=bp, reference=bp == "ideal")
                last = res["epochs"][-1]
                return {"test_acc": last["test_acc"], "float_test_acc": last.get("float_test_acc"), "epochs": epochs}
        else:
            rng = np.random.default_rng((cfg.seed, 0xC4EC))
            x = cfg.fmt.from_pixels(rng.integers(0, 256, (check_inputs, cfg.layers[0])))
            y = rng.integers(0, cfg.layers[-1], check_inputs)
        st = pipeline_study(cfg, x, y, max_P=max_p, accuracy=accuracy)
        st["versions"] = versions()
        st["dataset"] = dataset
        if plot_path:
            plot(st, plot_path)
        if out_path:
            write_json(out_path, st)
        if as_json:
            emit_json(st)
            return
        click.echo(f"timing model: {st['family']}; cycle-level check on {st['check_inputs']} inputs per design")
        hdr = (
            f"{'design':<50} {'MHz':>6} {'clk/in':>6} {'inputs/s':>10} {'+reg bits':>9} {'+mux':>5} {'+DSP':>4} "
            f"{'+LUT':>5} {'lost/in':>8} {'bit-exact':>9}"
        )
        if dataset:
            hdr += f" {'test %':>7} {'float %':>7}"
        click.echo(hdr)
        for r in st["rows"]:
            line = (
                f"{r['design']:<50} {r['fmax_mhz']:>6.1f} {r['clocks_per_input']:>6} {r['inputs_per_s']:>10.0f} "
                f"{r['added_register_bits']:>9} {r['added_muxes']:>5} {r['added_dsps']:>4} {r['added_luts']:>5} "
                f"{r['lost_per_input']:>8.1f} {'yes' if r['bit_exact_with_ideal'] else 'NO':>9}"
            )
            if dataset:
                fl = r.get("float_test_acc")
                line += f" {100 * r['test_acc']:>7.2f} {'-' if fl is None else f'{100 * fl:.2f}':>7}"
            click.echo(line)
        for r in st["rows"]:
            click.echo(
                f"  critical path of {r['design']}: {r['critical_path']} {' -> '.join(r['critical_ops'])} ({r['period_ns']:.2f} ns)"
            )
        if dataset:
            click.echo(
                f"accuracy after {epochs} epochs (architecture model): every forwarding design computes the ideal-BP bits "
                "(bit-exact column), so they share one run; the released RTL is trained with its hazard"
            )
        if plot_path:
            click.echo(f"plot: {plot_path}")
