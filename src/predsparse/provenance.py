"""Versions and machine facts recorded next to every result (a leaf module: the project's one ``versions()``)."""

from __future__ import annotations

import functools
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("predsparse", "torch", "numpy", "scipy", "numba", "optuna", "matplotlib", "safetensors")


def versions() -> dict[str, Any]:
    """Versions of predsparse and its dependencies (None where not installed), the source commit
    (:func:`source_commit`), Python, the platform, the CPU count and, when torch is already loaded, its
    thread count. Importing nothing heavy: cheap to call."""
    out: dict[str, Any] = {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()}
    out["predsparse_commit"] = source_commit()
    for pkg in PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "get_num_threads"):
        out["torch_threads"] = torch.get_num_threads()
    return out


RESULT_SOURCES = ("src", "configs", "pyproject.toml")
"""What, inside the repository, makes the results: a change to anything else (the README, docs, a results
database kept in git) does not make a result's commit ``-dirty``."""


@functools.lru_cache(maxsize=1)
def source_commit() -> str | None:
    """``git describe --always`` of the checkout predsparse runs from, with ``-dirty`` when a tracked file of
    :data:`RESULT_SOURCES` has uncommitted changes, so results made by different code under the same version
    number can be told apart; None outside a git checkout or without git."""
    return describe(Path(__file__).resolve().parent)


def describe(where: Path) -> str | None:
    """:func:`source_commit` for the git checkout that holds the directory ``where``."""

    def git(*args: str) -> str | None:
        try:
            r = subprocess.run(["git", *args], cwd=where, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return r.stdout.strip() if r.returncode == 0 else None

    commit, top = git("describe", "--always", "--abbrev=12"), git("rev-parse", "--show-toplevel")
    if not commit or not top:
        return None
    # a results database tracked in git changes while a run writes it: that is not a change of the code
    changed = git("-C", top, "status", "--porcelain", "--untracked-files=no", "--", *RESULT_SOURCES)
    return commit + ("-dirty" if changed else "")
