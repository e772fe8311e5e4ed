"""The ``predsparse`` command: one subcommand (group) per capability."""

from __future__ import annotations

import click

from predsparse import __version__
from predsparse.cli.common import OneLineGroup


@click.group(cls=OneLineGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="predsparse")
@click.option("--threads", type=click.IntRange(1, None), default=None,
              help="CPU threads for torch and the sparse kernels (default: all cores). With several predsparse "
                   "processes on one machine give each cores/processes: spin-waiting OpenMP threads of "
                   "oversubscribed processes slow each other down by 100x.")
def main(threads: int | None) -> None:
    """Pre-defined sparse neural networks: patterns, sparse training, Morse data, hardware model, search."""
    if threads is not None:
        import torch

        torch.set_num_threads(threads)  # the numba kernels follow torch's count


def _register() -> None:
    # Each capability lives in its own module; importing them here keeps `predsparse --help` complete.
    from predsparse.cli import demo_cmd, hw_cmd, morse_cmd, pattern_cmd, reproduce_cmd, search_cmd, sweep_cmd, train_cmd

    for mod in (train_cmd, pattern_cmd, morse_cmd, hw_cmd, sweep_cmd, search_cmd, demo_cmd, reproduce_cmd):
        for cmd in mod.COMMANDS:
            main.add_command(cmd)


_register()
