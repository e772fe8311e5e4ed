"""The ``predsparse`` command: one subcommand (group) per capability.

``--threads N`` and ``--memory-limit SIZE`` are options with one meaning wherever it is given: before the subcommand
(``predsparse --threads 1 demo``), after it (``predsparse demo --threads 1``) or inside a nested group
(``predsparse pattern study --threads 1``); ``PREDSPARSE_THREADS=N`` in the environment does the same.
The default is all cores, with the busy-machine threading set-up of :mod:`predsparse.threads`.
"""

from __future__ import annotations

import sys

import click

from predsparse import __version__
from predsparse import threads as _threads
from predsparse.cli.common import OneLineGroup

THREADS_HELP = (
    "CPU threads for torch and the sparse kernels, in this command and the processes it starts "
    "(default: PREDSPARSE_THREADS, else all cores). Also accepted after any subcommand."
)


def _threads_callback(ctx: click.Context, param: click.Parameter, value: int | None) -> None:
    if value is not None:
        _threads.set_threads(value)


def threads_option() -> click.Option:
    """The ``--threads`` option, as attached to every command (the value is applied, not passed on)."""
    return click.Option(
        ["--threads"],
        type=click.IntRange(1, None),
        default=None,
        expose_value=False,
        is_eager=True,
        callback=_threads_callback,
        help=THREADS_HELP,
    )


@click.group(cls=OneLineGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="predsparse")
def main() -> None:
    """Pre-defined sparse neural networks: patterns, sparse training, Morse data, hardware model, search."""
    err = _threads.info().get("threads_error")
    if err:  # a malformed PREDSPARSE_THREADS: refused before any work, like a bad option
        click.echo(f"error: {err}", err=True)
        sys.exit(2)


MEMORY_LIMIT_HELP = (
    "Refuse work whose estimated memory exceeds this size, e.g. 64G or none (default: PREDSPARSE_MEMORY_LIMIT, "
    "else half of RAM). Also accepted after any subcommand."
)


def _memory_limit_callback(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None:
        import os

        from predsparse.limits import ENV, parse_size

        try:
            parse_size(value, "--memory-limit")
        except Exception as exc:  # an InputError: a usage error, one line, before any work
            raise click.BadParameter(str(exc).removeprefix("--memory-limit="), ctx, param) from None
        os.environ[ENV] = value  # the one limit (predsparse.limits), also for the processes this command starts


def memory_limit_option() -> click.Option:
    """The ``--memory-limit`` option, as attached to every command (sets ``PREDSPARSE_MEMORY_LIMIT``)."""
    return click.Option(
        ["--memory-limit"],
        default=None,
        metavar="SIZE",
        expose_value=False,
        is_eager=True,
        callback=_memory_limit_callback,
        help=MEMORY_LIMIT_HELP,
    )


def _add_threads_option(cmd: click.Command) -> None:
    """Give ``cmd`` and every command below it the global ``--threads`` and ``--memory-limit`` (replacing
    ones of its own)."""
    cmd.params = [p for p in cmd.params if p.name not in ("threads", "memory_limit")]
    cmd.params += [threads_option(), memory_limit_option()]
    for sub in getattr(cmd, "commands", {}).values():
        _add_threads_option(sub)


def _register() -> None:
    # Each capability lives in its own module; importing them here keeps `predsparse --help` complete.
    from predsparse.cli import demo_cmd, hw_cmd, morse_cmd, pattern_cmd, reproduce_cmd, search_cmd, sweep_cmd, train_cmd

    for mod in (train_cmd, pattern_cmd, morse_cmd, hw_cmd, sweep_cmd, search_cmd, demo_cmd, reproduce_cmd):
        for cmd in mod.COMMANDS:
            main.add_command(cmd)
    _add_threads_option(main)


_register()
