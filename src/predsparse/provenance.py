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


@functools.lru_cache(maxsize=1)
def source_commit() -> str | None:
    """``git describe --always --dirty`` of the checkout predsparse runs from (``-dirty``: uncommitted
    changes), so results made by different code under the same version number can be told apart; None
    outside a git checkout or without git."""
    here = Path(__file__).resolve().parent
    try:
        r = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=12"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return (r.stdout.strip() or None) if r.returncode == 0 else None
