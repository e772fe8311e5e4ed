"""Memory initialisation files, as an FPGA flow would load them (``$readmemh``: hex, one word per line).

Layout of the output directory::

    manifest.json                  what each file is, word widths, depths, the configuration
    weights/j{i}/m{jjj}.hex        weight memory j of junction i: C words (address c = edge c z + j)
    biases/j{i}/m{rr}.hex          bias memory r: right neuron a * (z/d_in) + r at address a
    seeds/j{i}.hex                 clash-free seed vectors: sweep-major, one entry per memory
                                   (type 1: sweep, memory, then the D addresses of its order)
    perms/j{i}.hex                 memory dither permutations (only with dither)
    addresses/j{i}.hex             left neuron of every edge in edge order (the index memory a
                                   non-clash-free pattern needs; for clash-free it is what the seeds
                                   generate, for checking)
    tables/act.hex, tables/der.hex activation and derivative tables, address = s as an unsigned W-bit word

Weights and biases are ``W``-bit two's complement; other words are unsigned with the fewest hex digits
that hold them. Everything is first written to a temporary directory beside the target, then each file
is moved into place with an atomic rename and ``manifest.json`` last, so a reader never sees a
half-written file and a present manifest means a complete export.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from predsparse.errors import InputError
from predsparse.hardware.config import HwConfig
from predsparse.hardware.tables import TABLE_MAX_WIDTH, ActivationTables
from predsparse.patterns import Pattern
from predsparse.serialize import json_default


def _uhex(values: np.ndarray, bits: int) -> list[str]:
    digits = max(1, (bits + 3) // 4)
    return [format(int(v), f"0{digits}X") for v in np.ravel(values)]


def _write_banks(folder: Path, values: np.ndarray, memories: int, fmt: Any, name: str) -> int:
    """Interleave ``values`` over ``memories`` banks (value ``k`` in bank ``k % memories`` at address
    ``k // memories``, zero-padded), write one hex file per bank; returns the depth."""
    depth = -(-len(values) // memories)
    padded = np.zeros(memories * depth, dtype=np.int64)
    padded[: len(values)] = values
    banks = padded.reshape(depth, memories)
    for j in range(memories):
        _write(folder / name.format(j), fmt.to_hex(banks[:, j]))
    return depth


def _write(path: Path, words: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(words) + ("\n" if words else ""))


def export_memories(
    out_dir: str | os.PathLike,
    cfg: HwConfig,
    patterns: Sequence[Pattern],
    weights: Sequence[np.ndarray],
    biases: Sequence[np.ndarray],
    *,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write every memory image of the network into ``out_dir``; returns the manifest."""
    fmt = cfg.fmt
    if fmt.width > TABLE_MAX_WIDTH:
        raise InputError(f"format {fmt} is {fmt.width} bits: memory files (full tables) need W <= {TABLE_MAX_WIDTH}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a directory")
    parent = out.parent if str(out.parent) else Path(".")
    try:  # the command line checked, while parsing, that the nearest existing parent is a writable directory
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{parent}: cannot create the export's directory ({exc.strerror})") from None
    tmp = Path(tempfile.mkdtemp(dir=parent, prefix=f".{out.name}.", suffix=".tmp"))
    files: dict[str, Any] = {}
    try:
        for i, (pat, w, b) in enumerate(zip(patterns, weights, biases), start=1):
            z = cfg.z[i - 1]
            C = _write_banks(tmp / "weights" / f"j{i}", w, z, fmt, "m{:03d}.hex")
            files[f"weights/j{i}"] = {"memories": z, "depth": C, "bits": fmt.width, "signed": True}
            d_in = max(1, int(round(pat.edges / pat.n_out)))
            R = max(1, z // d_in)
            depth_b = _write_banks(tmp / "biases" / f"j{i}", b, R, fmt, "m{:02d}.hex")
            files[f"biases/j{i}"] = {"memories": R, "depth": depth_b, "bits": fmt.width, "signed": True}
            abits = max(1, int(np.ceil(np.log2(max(pat.n_in, 2)))))
            _write(tmp / "addresses" / f"j{i}.hex", _uhex(pat.cols, abits))
            files[f"addresses/j{i}.hex"] = {"words": pat.edges, "bits": abits, "order": "edge"}
            if pat.kind == "clash_free":
                D = pat.n_in // z
                sbits = max(1, int(np.ceil(np.log2(max(D, 2)))))
                seeds = np.asarray(pat.params["seeds"], dtype=np.int64)
                _write(tmp / "seeds" / f"j{i}.hex", _uhex(seeds, sbits))
                files[f"seeds/j{i}.hex"] = {
                    "words": int(seeds.size),
                    "bits": sbits,
                    "shape": list(seeds.shape),
                    "type": pat.params["type"],
                }
                if pat.params.get("perms") is not None:
                    perms = np.asarray(pat.params["perms"], dtype=np.int64)
                    pbits = max(1, int(np.ceil(np.log2(max(z, 2)))))
                    _write(tmp / "perms" / f"j{i}.hex", _uhex(perms, pbits))
                    files[f"perms/j{i}.hex"] = {"words": int(perms.size), "bits": pbits, "shape": list(perms.shape)}
        act, der = ActivationTables(fmt, cfg.activation).table()
        _write(tmp / "tables" / "act.hex", fmt.to_hex(act))
        _write(tmp / "tables" / "der.hex", fmt.to_hex(der))
        files["tables/act.hex"] = files["tables/der.hex"] = {
            "words": 1 << fmt.width,
            "bits": fmt.width,
            "activation": cfg.activation,
        }
        manifest = {"format": "predsparse-hw-memories/1", "config": cfg.summary(), "files": files, **(extra or {})}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, default=json_default))
        out.mkdir(parents=True, exist_ok=True)
        old_manifest = out / "manifest.json"
        if old_manifest.exists():
            old_manifest.unlink()  # the export is incomplete until the new manifest lands
        for src in sorted(tmp.rglob("*")):
            if src.is_file() and src.name != "manifest.json":
                dst = out / src.relative_to(tmp)
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.replace(src, dst)
        os.replace(tmp / "manifest.json", out / "manifest.json")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return manifest
