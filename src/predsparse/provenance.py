"""Versions and machine facts recorded next to every result (a leaf module: the project's one ``versions()``)."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from typing import Any

PACKAGES = ("predsparse", "torch", "numpy", "scipy", "numba", "optuna", "matplotlib", "safetensors")


def versions() -> dict[str, Any]:
    """Versions of predsparse and its dependencies (None where not installed), Python, the platform, the CPU
    count and, when torch is already loaded, its thread count. Importing nothing heavy: cheap to call."""
    out: dict[str, Any] = {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()}
    for pkg in PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "get_num_threads"):
        out["torch_threads"] = torch.get_num_threads()
    return out
