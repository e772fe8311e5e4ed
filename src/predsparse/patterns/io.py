"""Pattern files: the compact JSON form (clash-free seeds, fc) and ``.npz`` edge lists.

Kept apart from :mod:`predsparse.patterns.core` so the pattern type does not import its generators
(reading the compact form regenerates the pattern).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from predsparse.atomic import atomic_path, write_bytes
from predsparse.errors import InputError
from predsparse.patterns.core import Pattern
from predsparse.patterns.generators import from_spec
from predsparse.serialize import json_default


def save(pattern: Pattern, path: str | os.PathLike) -> None:
    """Write ``pattern`` atomically. ``.json``: compact generator form (clash-free or fc only); else ``.npz`` edges."""
    path = Path(path)
    if path.suffix == ".json":
        if pattern.kind not in ("clash_free", "fc"):
            raise InputError(f"{path}: only clash-free and fc patterns have a compact JSON form; use .npz")
        payload = json.dumps({"format": "predsparse-pattern/1", "kind": pattern.kind, **pattern.params}, default=json_default)
        write_bytes(path, payload.encode())
        return
    meta = json.dumps({"format": "predsparse-pattern/1", "kind": pattern.kind, "params": pattern.params}, default=json_default)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(
            f,
            shape=np.array([pattern.n_out, pattern.n_in], np.int64),
            rows=pattern.rows,
            cols=pattern.cols,
            meta=np.frombuffer(meta.encode(), dtype=np.uint8),
        )


def load(path: str | os.PathLike) -> Pattern:
    """Load a pattern written by :func:`save` (no code is executed: JSON or plain npz arrays)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such pattern file")
    if path.suffix == ".json":
        try:
            spec = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: not valid JSON ({exc})") from None
        if not isinstance(spec, dict) or spec.get("format") != "predsparse-pattern/1":
            raise InputError(f"{path}: not a predsparse pattern file (missing format 'predsparse-pattern/1')")
        return from_spec(spec)
    try:
        with np.load(path, allow_pickle=False) as z:
            shape, rows, cols = z["shape"], z["rows"], z["cols"]
            meta = json.loads(bytes(z["meta"]).decode()) if "meta" in z else {}
    except KeyError as exc:
        raise InputError(f"{path}: missing array {exc} in pattern file") from None
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(f"{path}: unreadable pattern file ({exc})") from None
    return Pattern(int(shape[1]), int(shape[0]), rows, cols, kind=meta.get("kind", "custom"), params=meta.get("params", {}))
