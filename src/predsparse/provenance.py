"""Versions and machine facts recorded next to every result (a leaf module)."""

from __future__ import annotations

import platform
import sys
from importlib import metadata
from typing import Any


def versions() -> dict[str, Any]:
    """Versions of predsparse and its main dependencies, Python and the platform."""
    out: dict[str, Any] = {"python": sys.version.split()[0], "platform": platform.platform()}
    for pkg in ("predsparse", "torch", "numpy", "scipy", "numba", "optuna"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    try:
        import torch

        out["torch_threads"] = torch.get_num_threads()
    except ImportError:  # pragma: no cover
        pass
    return out
