"""Shared pieces of the command line: error handling, JSON output, option parsing helpers."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import click

from predsparse.errors import InputError
from predsparse.serialize import dumps

json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON instead of text.")


def handle_errors(fn: Callable) -> Callable:
    """Turn :class:`InputError` into one line on stderr and exit code 2 (no traceback, nothing half-written)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except InputError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)

    return wrapper


def emit_json(obj: Any) -> None:
    """Print ``obj`` as JSON (numpy values converted)."""
    click.echo(dumps(obj, indent=2))


def int_list(text: str | None, name: str) -> list[int] | None:
    """Parse ``"784,100,10"`` into ints, with a clear error naming the option."""
    if text is None or text == "":
        return None
    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise InputError(f"--{name} {text!r} is not a comma-separated list of whole numbers") from None


def float_list(text: str | None, name: str) -> list[float] | None:
    """Parse ``"0.1,0.2"`` into floats, with a clear error naming the option."""
    if text is None or text == "":
        return None
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise InputError(f"--{name} {text!r} is not a comma-separated list of numbers") from None
