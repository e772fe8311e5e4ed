"""Saving and loading trained models: safetensors weights + JSON metadata, no code executed on load."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from predsparse.errors import InputError
from predsparse.nn import SparseCNN, SparseMLP
from predsparse.patterns import Pattern
from predsparse.provenance import versions

FORMAT = "predsparse-model/1"


def save_model(path: str | os.PathLike, model: SparseMLP | SparseCNN, *, info: dict[str, Any] | None = None) -> None:
    """Write weights, biases, every junction's edges and the config to one ``.safetensors`` file, atomically
    (a :class:`SparseCNN` also stores its conv front end, batch-norm statistics included)."""
    path = Path(path)
    tensors: dict[str, torch.Tensor] = {}
    junctions = []
    for i, j in enumerate(model.junctions):
        tensors[f"j{i}.weight"] = j.weight.detach().cpu().contiguous()
        if j.bias is not None:
            tensors[f"j{i}.bias"] = j.bias.detach().cpu().contiguous()
        tensors[f"j{i}.rows"] = j.rows.cpu().contiguous()
        tensors[f"j{i}.cols"] = j.cols.cpu().contiguous()
        junctions.append({"n_in": j.n_in, "n_out": j.n_out, "kind": j.kind, "bias": j.bias is not None})
    cnn = None
    if isinstance(model, SparseCNN):
        cnn = model.config
        for k, v in model.front.state_dict().items():
            tensors[f"front.{k}"] = v.detach().cpu().contiguous()
    meta = {
        "format": FORMAT,
        "layers": model.classifier.layers if cnn else model.layers,
        "cnn": cnn,
        "activation": model.activation,
        "junctions": junctions,
        "info": info or {},
        "versions": versions(),
    }
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        save_file(tensors, str(tmp), metadata={"predsparse": json.dumps(meta, default=str)})
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def load_model(path: str | os.PathLike) -> tuple[SparseMLP | SparseCNN, dict[str, Any]]:
    """Rebuild the :class:`SparseMLP` (or :class:`SparseCNN`) saved by :func:`save_model`; returns it and
    its metadata."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such model file")
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            raw = (f.metadata() or {}).get("predsparse")
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable safetensors model ({exc})") from None
    if raw is None:
        raise InputError(f"{path}: safetensors file without predsparse metadata")
    meta = json.loads(raw)
    if meta.get("format") != FORMAT:
        raise InputError(f"{path}: model format {meta.get('format')!r}, expected {FORMAT!r}")
    patterns = []
    for i, j in enumerate(meta["junctions"]):
        patterns.append(Pattern(j["n_in"], j["n_out"], tensors[f"j{i}.rows"].numpy(), tensors[f"j{i}.cols"].numpy(), kind=j["kind"]))
    cnn = meta.get("cnn")
    if cnn:
        model = SparseCNN(cnn["input_shape"], cnn["channels"], meta["layers"], patterns, kernel_size=cnn["kernel_size"],
                          pool=cnn["pool"], batch_norm=cnn["batch_norm"], activation=meta["activation"])
        front = {k[len("front."):]: v for k, v in tensors.items() if k.startswith("front.")}
        try:
            model.front.load_state_dict(front)
        except RuntimeError as exc:
            raise InputError(f"{path}: conv front end does not match its metadata ({str(exc).splitlines()[0]})") from None
    else:
        model = SparseMLP(meta["layers"], patterns, activation=meta["activation"])
    with torch.no_grad():
        for i, j in enumerate(model.junctions):
            j.weight.copy_(tensors[f"j{i}.weight"])
            if j.bias is not None:
                j.bias.copy_(tensors[f"j{i}.bias"])
    return model, meta
