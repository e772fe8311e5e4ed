"""JSON for results that hold numpy values, tuples or paths (a leaf module)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np


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
    return str(o)


def dumps(obj: Any, **kwargs: Any) -> str:
    """:func:`json.dumps` with :func:`json_default`."""
    return json.dumps(obj, default=json_default, **kwargs)


def to_jsonable(obj: Any) -> Any:
    """``obj`` as plain JSON types (a round trip through :func:`dumps`)."""
    return json.loads(dumps(obj))
