"""Shared checks for the tests/test_bad_input_*.py modules: run the CLI, assert one clean refusal."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import numpy as np
from click.testing import CliRunner, Result

from predsparse.cli.common import OneLineGroup


def cli() -> OneLineGroup:
    """The ``predsparse`` command with one-line usage errors (the real one once cli/__init__ uses OneLineGroup)."""
    from predsparse.cli import main

    if isinstance(main, OneLineGroup):
        return main
    return OneLineGroup(name="predsparse", commands=main.commands)


def run(args: list[str], env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli(), [str(a) for a in args], env=env)


def assert_refused(res: Result, *fragments: str) -> str:
    """Exit code 2, exactly one ``error:`` line on stderr, no traceback; returns the line."""
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert res.exit_code == 2, (res.exit_code, res.output)
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert "Traceback" not in res.output
    for f in fragments:
        assert f.lower() in lines[0].lower(), (f, lines[0])
    return lines[0]


def files_in(directory: Path) -> set[str]:
    return {p.name for p in Path(directory).iterdir()}


def toy_arrays(n: int = 60, d: int = 6, k: int = 3, seed: int = 0) -> dict[str, np.ndarray]:
    """``k`` separable Gaussian clusters, split 36 / 12 / 12."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (k, d))
    y = rng.integers(0, k, n)
    x = (centres[y] + rng.normal(0, 1, (n, d))).astype(np.float32)
    a, b = int(n * 0.6), int(n * 0.8)
    return {"xtr": x[:a], "ytr": y[:a], "xva": x[a:b], "yva": y[a:b], "xte": x[b:], "yte": y[b:]}


def save_npz(path: Path, **changes: Any) -> Path:
    arrays = toy_arrays()
    arrays.update(changes)
    np.savez(path, **arrays)
    return path


def idx_bytes(arr: np.ndarray) -> bytes:
    """An array in IDX format (uint8)."""
    arr = np.asarray(arr, dtype=np.uint8)
    head = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in arr.shape)
    return head + arr.tobytes()


def write_idx_dir(
    directory: Path, *, n_train: int = 30, n_test: int = 10, gz: bool = False, overrides: dict[str, bytes] | None = None
) -> Path:
    """A tiny MNIST-style directory (4x4 images, 3 classes); ``overrides`` replaces a file's bytes by stem."""
    rng = np.random.default_rng(0)
    files = {
        "train-images-idx3-ubyte": idx_bytes(rng.integers(0, 255, (n_train, 4, 4))),
        "train-labels-idx1-ubyte": idx_bytes(rng.integers(0, 3, n_train)),
        "t10k-images-idx3-ubyte": idx_bytes(rng.integers(0, 255, (n_test, 4, 4))),
        "t10k-labels-idx1-ubyte": idx_bytes(rng.integers(0, 3, n_test)),
    }
    files.update(overrides or {})
    directory.mkdir(parents=True, exist_ok=True)
    for stem, data in files.items():
        if gz:
            (directory / (stem + ".gz")).write_bytes(gzip.compress(data))
        else:
            (directory / stem).write_bytes(data)
    return directory
