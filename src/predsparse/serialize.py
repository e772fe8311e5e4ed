"""JSON for results that hold numpy values, tuples or paths (a leaf module)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from predsparse.atomic import write_text


def json_default(o: Any) -> Any:
    """``default=`` hook for :func:`json.dumps`: numpy scalars and arrays, sets, tuples and paths."""
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, (np.ndarray, np.bool_)):
        return o.tolist()
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    if isinstance(o, Path):
        return str(o)
    if hasattr(o, "to_dict"):  # dataclass-style results (TrainResult, ModelSpec)
        return o.to_dict()
    return str(o)


def dumps(obj: Any, **kwargs: Any) -> str:
    """:func:`json.dumps` with :func:`json_default`."""
    return json.dumps(obj, default=json_default, **kwargs)


def to_jsonable(obj: Any) -> Any:
    """``obj`` as plain JSON types (a round trip through :func:`dumps`)."""
    return json.loads(dumps(obj))


def write_json(path: str | Path, obj: Any, *, indent: int | None = 2) -> None:
    """Write ``obj`` as JSON to ``path`` atomically (the project's one way to write a JSON file)."""
    write_text(path, dumps(obj, indent=indent) + "\n")


def loads_object(text: str | bytes, what: str) -> dict[str, Any]:
    """A JSON object from ``text``, or :class:`~predsparse.errors.InputError` naming ``what`` when it is not one."""
    from predsparse.errors import InputError

    try:
        obj = json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InputError(
            f"{what}: not valid JSON ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
        ) from None
    if not isinstance(obj, dict):
        raise InputError(f"{what}: expected a JSON object, found {type(obj).__name__}")
    return obj
