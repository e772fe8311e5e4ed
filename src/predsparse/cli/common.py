"""Shared pieces of the command line: error handling, JSON output, option parsing helpers."""

from __future__ import annotations

import functools
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from predsparse.errors import InputError
from predsparse.serialize import dumps

# help texts of options that several commands share, so one concept reads the same everywhere
KIND_CHOICES = ["clash-free", "structured", "random", "fc"]
D_OUT_HELP = "d_out_net: out-degree of each junction (edges per left neuron), e.g. 20,10; omit for fully connected."
KIND_HELP = "Pattern kind: clash-free, structured, random, or fc (fully connected)."
CLASH_TYPE_HELP = "Clash-free type 1, 2 or 3 (how the memory addresses are drawn; see docs/patterns.md)."
DITHER_HELP = "Clash-free: dither (permute which memory each lane reads, per sweep)."
SEED_HELP = "Random seed (the same command and seed give the same numbers)."
EPOCHS_HELP = "Training epochs."
PROGRESS_HELP = "Show a progress bar on stderr."
LIMIT_HELP = "Seeded subset of the {split} split: at most this many samples."

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


def name_list(text: str) -> list[str]:
    """Split ``"a, b,,c"`` into ``["a", "b", "c"]`` (blanks dropped; the caller checks the names)."""
    return [v.strip() for v in text.split(",") if v.strip()]


def float_list(text: str | None, name: str) -> list[float] | None:
    """Parse ``"0.1,0.2"`` into floats, with a clear error naming the option."""
    if text is None or text == "":
        return None
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise InputError(f"--{name} {text!r} is not a comma-separated list of numbers") from None


def check_output_path(path: str | os.PathLike, option: str, *, directory: bool = False, parents: bool = False) -> Path:
    """Refuse, before any work, an output that could not be written: InputError naming ``option`` and the rule.

    A file output (``directory=False``) must not be a directory and its directory must exist and be writable.
    A directory output may not exist yet (it is created), but then its nearest existing parent must be a
    writable directory; if it exists it must be a writable directory. ``parents=True``: a file output whose
    directory the command creates (the nearest existing parent must then be a writable directory)."""
    p = Path(path)
    if str(path) == "":
        raise InputError(f"{option} '': give a path")
    if directory:
        if p.exists():
            if not p.is_dir():
                raise InputError(
                    f"{option} {str(path)!r} is a file, not a directory: give a directory (or a path not there yet)"
                )
            where = p
        else:
            where = next((a for a in p.absolute().parents if a.exists()), Path("/"))
            if not where.is_dir():
                raise InputError(f"{option} {str(path)!r}: {where} is a file, so the directory cannot be created")
    else:
        if p.is_dir():
            raise InputError(f"{option} {str(path)!r} is a directory: it must be a file path")
        where = p.parent if str(p.parent) else Path(".")
        if parents and not where.exists():
            where = next((a for a in p.absolute().parents if a.exists()), Path("/"))
            if not where.is_dir():
                raise InputError(f"{option} {str(path)!r}: {where} is a file, so the directory cannot be created")
        if not where.is_dir():
            raise InputError(f"{option} {str(path)!r}: directory {str(where)!r} does not exist (create it first)")
    if not os.access(where, os.W_OK | os.X_OK):
        raise InputError(f"{option} {str(path)!r}: directory {str(where)!r} is not writable")
    if not directory and p.exists() and not os.access(p, os.W_OK):
        raise InputError(f"{option} {str(path)!r}: the file exists and is not writable")
    return p


class OutputPath(click.ParamType):
    """A click type for output paths, checked with :func:`check_output_path` while options are parsed, so a
    bad path is refused before any work: ``@click.option("--save", type=OutputPath())``."""

    name = "path"

    def __init__(self, *, directory: bool = False, parents: bool = False) -> None:
        self.directory, self.parents = directory, parents

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        option = param.opts[0] if param is not None and param.opts else "output path"
        try:
            check_output_path(value, option, directory=self.directory, parents=self.parents)
        except InputError as exc:
            self.fail(str(exc).removeprefix(f"{option} "), param, ctx)
        return str(value)


def check_store_path(target: str, option: str) -> str:
    """Refuse, before any work, a results store (a SQLite file path or ``sqlite:///FILE``) that could not be
    written: not a directory, its directory (created if absent) under a writable one, the file writable if it
    exists. Other database URLs (``postgresql://...``) are checked when connecting."""
    text = str(target)
    if text == "":
        raise InputError(f"{option} '': give a file path or a database URL")
    if "://" in text:
        if not text.startswith("sqlite:///"):
            return text
        text = text[len("sqlite:///") :].split("?", 1)[0]
        if text in ("", ":memory:"):
            return str(target)
    p = Path(text)
    if p.is_dir():
        raise InputError(f"{option} {str(target)!r} is a directory: it must be a database file path")
    where = next((a for a in p.absolute().parents if a.exists()), Path("/"))  # created up to here if absent
    if not where.is_dir():
        raise InputError(f"{option} {str(target)!r}: {where} is a file, so the store's directory cannot be created")
    if not os.access(where, os.W_OK | os.X_OK):
        raise InputError(f"{option} {str(target)!r}: directory {str(where)!r} is not writable")
    if p.exists() and not os.access(p, os.W_OK):
        raise InputError(f"{option} {str(target)!r}: the file exists and is not writable")
    return str(target)


class StorePath(click.ParamType):
    """A click type for a writable store (:func:`check_store_path`): a SQLite file or a database URL."""

    name = "store"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        if value is None:
            return value
        option = param.opts[0] if param is not None and param.opts else "store"
        try:
            return check_store_path(value, option)
        except InputError as exc:
            self.fail(str(exc).removeprefix(f"{option} "), param, ctx)


class Jobs(click.ParamType):
    """``--jobs``: a whole number >= 1 or ``auto`` (:func:`predsparse.parallel.parse_jobs`), checked while parsing."""

    name = "N|auto"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int | str:
        from predsparse.parallel import parse_jobs

        try:
            return parse_jobs(value)
        except InputError as exc:
            self.fail(str(exc).removeprefix("--jobs "), param, ctx)  # "0 must be >= 1 or 'auto'": names the value


def jobs_option(default: str = "1", what: str = "Runs") -> Callable:
    """The one ``--jobs`` option (sweep, search, reproduce, demo): N worker processes on this machine."""
    return click.option(
        "--jobs",
        type=Jobs(),
        default=default,
        show_default=True,
        help=f"{what} at once on this machine, each in its own process with cores/N threads; 'auto' picks N from "
        "the model size and the cores (results are the same for any N).",
    )


class FiniteFloat(click.ParamType):
    """A float that must be finite (NaN and infinities refused), optionally with bounds: ``FiniteFloat(min=0)``."""

    name = "number"

    def __init__(self, *, min: float | None = None, max: float | None = None, min_open: bool = False) -> None:
        self.min, self.max, self.min_open = min, max, min_open

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            x = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(x):
            self.fail(f"{value!r} must be a finite number", param, ctx)
        if self.min is not None and (x < self.min or (self.min_open and x == self.min)):
            self.fail(f"{value!r} must be {'>' if self.min_open else '>='} {self.min:g}", param, ctx)
        if self.max is not None and x > self.max:
            self.fail(f"{value!r} must be <= {self.max:g}", param, ctx)
        return x


class _AliasOption(click.Option):
    """A hidden option whose value goes to another option's parameter (so that option's type, default and
    ``required`` apply unchanged) and which prints one deprecation line on stderr each time it is given."""

    def __init__(self, decls: Any, *, alias_of: str, alias_dest: str, **attrs: Any) -> None:
        super().__init__(decls, **attrs)
        self.alias_of, self.alias_dest = alias_of, alias_dest

    def add_to_parser(self, parser: Any, ctx: click.Context) -> None:
        own, self.name = self.name, self.alias_dest  # the parser stores the value under the new option's name
        try:
            super().add_to_parser(parser, ctx)
        finally:
            self.name = own
        for opt in self.opts:
            entry = parser._long_opt.get(opt) or parser._short_opt.get(opt)
            original = entry.process

            def process(value: Any, state: Any, _original: Callable = original, _opt: str = opt) -> None:
                click.echo(f"warning: {_opt} is deprecated, use {self.alias_of}", err=True)
                _original(value, state)

            entry.process = process


def deprecated_alias(old: str, new: str, name: str | None = None) -> Callable:
    """Accept ``old`` as a hidden spelling of option ``new`` for one release, with one line on stderr,
    ``warning: --out-degree is deprecated, use --d-out``: ``@deprecated_alias("--out-degree", "--d-out")``.

    ``name`` is the Python parameter of ``new`` (default: ``new`` without dashes, ``-`` as ``_``)."""
    dest = name or new.lstrip("-").replace("-", "_")

    return click.option(
        old,
        "alias_" + old.lstrip("-").replace("-", "_"),
        cls=_AliasOption,
        alias_of=new,
        alias_dest=dest,
        hidden=True,
        expose_value=False,
        help=f"Deprecated spelling of {new}.",
    )


def removed_option(old: str, new: str, why: str = "") -> Callable:
    """A hidden option ``old`` that is refused with one line naming ``new`` (a spelling that could not stay
    as an alias, e.g. ``pattern show --out`` as a layer size while ``--out`` elsewhere is an output path)."""

    def refuse(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value is not None:
            raise click.UsageError(f"{old} is now {new}{why}", ctx)

    return click.option(
        old,
        "removed_" + old.lstrip("-").replace("-", "_"),
        hidden=True,
        default=None,
        expose_value=False,
        callback=refuse,
        help=f"Removed: use {new}.",
    )


POSITIVE_INT = click.IntRange(min=1)
"""Whole numbers >= 1 (sizes, counts, limits): ``0`` is refused, never read as "not given"."""


def one_line(text: str) -> str:
    """``text`` on one line (click's messages and exceptions may span several)."""
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


class OneLineGroup(click.Group):
    """A click group whose own usage errors (a bad or missing option, ``--epochs three``) are printed like the
    project's: one ``error: ...`` line on stderr, exit code 2. Use as ``@click.group(cls=OneLineGroup)``."""

    def main(
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.Abort:
            click.echo("error: aborted", err=True)
            sys.exit(1)
        except click.ClickException as exc:
            if isinstance(exc, getattr(click.exceptions, "NoArgsIsHelpError", ())):
                exc.show()  # a bare group: its help, as click prints it
                sys.exit(exc.exit_code)
            where = ""
            ctx = getattr(exc, "ctx", None)
            if ctx is not None and ctx.command_path and ctx.parent is not None:
                where = f"{ctx.command_path.split(' ', 1)[-1]}: "
            click.echo(f"error: {where}{one_line(exc.format_message())}", err=True)
            sys.exit(2)
        sys.exit(rv if isinstance(rv, int) else 0)
