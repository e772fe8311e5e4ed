"""Pattern files: the compact JSON form (clash-free seeds, fc) and ``.npz`` edge lists.

Kept apart from :mod:`predsparse.patterns.core` so the pattern type does not import its generators
(reading the compact form regenerates the pattern).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from predsparse.atomic import atomic_path, write_bytes
from predsparse.errors import InputError
from predsparse.patterns.core import Pattern
from predsparse.patterns.generators import clash_free, fully_connected
from predsparse.serialize import json_default


def save(pattern: Pattern, path: str | os.PathLike) -> None:
    """Write ``pattern`` atomically. ``.json``: compact generator form (clash-free or fc only); else ``.npz`` edges."""
    path = Path(path)
    if path.suffix == ".json":
        if pattern.kind not in ("clash_free", "fc"):
            raise InputError(f"{path}: only clash-free and fc patterns have a compact JSON form; use .npz")
        payload = json.dumps(
            {"format": "predsparse-pattern/1", "kind": pattern.kind, **pattern.params}, default=json_default
        )
        write_bytes(path, payload.encode())
        return
    meta = json.dumps(
        {"format": "predsparse-pattern/1", "kind": pattern.kind, "params": pattern.params}, default=json_default
    )
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(
            f,
            shape=np.array([pattern.n_out, pattern.n_in], np.int64),
            rows=pattern.rows,
            cols=pattern.cols,
            meta=np.frombuffer(meta.encode(), dtype=np.uint8),
        )


def load(path: str | os.PathLike) -> Pattern:
    """Load a pattern written by :func:`save` (no code is executed: JSON or plain npz arrays).

    Every way the file can be damaged (not JSON/npz, truncated, bad deflate data, missing or wrong arrays,
    fields of the wrong type, indices out of range, sizes over the memory limit) is one :class:`InputError`
    naming the file."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such pattern file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a pattern file")
    try:
        return _load_json(path) if path.suffix == ".json" else _load_npz(path)
    except InputError as exc:
        text = str(exc)
        raise InputError(text if text.startswith(str(path)) else f"{path}: {text}") from None
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        raise InputError(
            f"{path}: damaged pattern file ({type(exc).__name__}{': ' + first if first else ''})"
        ) from None


def _whole(spec: dict, key: str) -> int:
    value = spec.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"field {key!r} = {value!r} must be a whole number")
    return value


def _load_json(path: Path) -> Pattern:
    from predsparse.limits import check_memory, pattern_bytes

    try:
        spec = json.loads(path.read_bytes().decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise InputError(f"not valid JSON ({str(exc)[:200]})") from None
    if not isinstance(spec, dict) or spec.get("format") != "predsparse-pattern/1":
        raise InputError("not a predsparse pattern file (missing format 'predsparse-pattern/1')")
    kind = spec.get("kind")
    if kind in ("fc", "clash_free"):
        n_in, n_out = _whole(spec, "n_in"), _whole(spec, "n_out")
        if n_in < 1 or n_out < 1:
            raise InputError(f"sizes n_in={n_in}, n_out={n_out} must be >= 1")
        edges = n_in * n_out if kind == "fc" else n_in * max(_whole(spec, "out_degree"), 0)
        # regenerating draws the edges: refuse a size that would not fit before drawing it
        check_memory(pattern_bytes(n_in, n_out, edges), f"the pattern of {path} ({edges:,} edges)")
    return from_spec(spec)


def _load_npz(path: Path) -> Pattern:
    from predsparse.limits import check_memory

    with np.load(path, allow_pickle=False) as z:
        if not hasattr(z, "files"):
            raise InputError("holds a single array, not a pattern npz (shape, rows, cols, meta)")
        missing = [k for k in ("shape", "rows", "cols") if k not in z.files]
        if missing:
            raise InputError(f"missing array(s) {missing} in pattern file (a pattern npz has shape, rows, cols, meta)")
        sizes = 0
        for k in ("rows", "cols", "meta"):
            try:
                sizes += int(z.zip.getinfo(k + ".npy").file_size)
            except (AttributeError, KeyError):
                pass
        check_memory(2 * sizes, f"{path} (uncompressed)")
        shape, rows, cols = z["shape"], z["rows"], z["cols"]
        meta_raw = z["meta"] if "meta" in z.files else None
    if shape.shape != (2,) or shape.dtype.kind not in "iu":
        raise InputError(f"array 'shape' must hold 2 whole numbers (n_out, n_in), not {shape.dtype} {shape.shape}")
    for name, arr in (("rows", rows), ("cols", cols)):
        if arr.dtype.kind not in "iu" or arr.ndim != 1:
            raise InputError(f"array {name!r} must be a 1-D array of whole numbers, not {arr.dtype} {arr.shape}")
    meta: Any = {}
    if meta_raw is not None:
        if meta_raw.dtype != np.uint8:
            raise InputError(f"array 'meta' must be UTF-8 JSON bytes (uint8), not {meta_raw.dtype}")
        try:
            meta = json.loads(meta_raw.tobytes().decode("utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise InputError(f"array 'meta' is not valid JSON ({str(exc)[:200]})") from None
    if (
        not isinstance(meta, dict)
        or not isinstance(meta.get("kind", "custom"), str)
        or not isinstance(meta.get("params", {}), dict)
    ):
        raise InputError("array 'meta' must be a JSON object with a text 'kind' and an object 'params'")
    n_out, n_in = (int(v) for v in shape)
    return Pattern(n_in, n_out, rows, cols, kind=meta.get("kind", "custom"), params=meta.get("params", {}))


def from_spec(spec: dict[str, Any]) -> Pattern:
    """Regenerate a pattern from its compact JSON description (clash-free seeds, or fc)."""
    kind = spec.get("kind")
    try:
        if kind == "fc":
            return fully_connected(int(spec["n_in"]), int(spec["n_out"]))
        if kind == "clash_free":
            return clash_free(
                int(spec["n_in"]),
                int(spec["n_out"]),
                int(spec["out_degree"]),
                int(spec["z"]),
                type=int(spec["type"]),
                dither=bool(spec.get("dither", False)),
                seeds=spec["seeds"],
                perms=spec.get("perms"),
            )
    except KeyError as exc:
        raise InputError(f"pattern description lacks field {exc}") from None
    raise InputError(f"pattern kind {kind!r} has no compact form (expected 'clash_free' or 'fc')")
