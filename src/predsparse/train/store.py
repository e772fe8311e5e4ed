"""Saving and loading trained models: safetensors weights + JSON metadata, no code executed on load.

A model file carries its identity (:mod:`predsparse.train.identity`): layers, each junction's kind, edge count
and pattern fingerprint, and, when known, the dataset and training config. ``load_model(path, dataset=ds)``
refuses a model made for other data; every kind of damage is one :class:`InputError`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from predsparse.atomic import atomic_path
from predsparse.errors import InputError
from predsparse.limits import check_memory, network_bytes
from predsparse.nn import SparseCNN, SparseMLP
from predsparse.patterns import Pattern
from predsparse.provenance import versions
from predsparse.serialize import dumps, loads_object
from predsparse.train.identity import (
    dataset_identity,
    difference,
    model_identity,
    pattern_fingerprint,
)

FORMAT = "predsparse-model/1"


def save_model(
    path: str | os.PathLike, model: SparseMLP | SparseCNN, *, info: dict[str, Any] | None = None, dataset: Any = None
) -> None:
    """Write weights, biases, every junction's edges, the config and the identity to one ``.safetensors`` file,
    atomically and with the usual permissions (a :class:`SparseCNN` also stores its conv front end, batch-norm
    statistics included). ``dataset`` (or ``info["dataset"]``, a dataset summary) records what it was trained on."""
    from safetensors.torch import save_file

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
    info = dict(info or {})
    identity: dict[str, Any] = {"model": model_identity(model)}
    if dataset is not None:
        identity["dataset"] = dataset_identity(dataset)
    elif isinstance(info.get("dataset"), dict):
        identity["dataset"] = info["dataset"]
    if isinstance(info.get("config"), dict):
        identity["config"] = info["config"]
    meta = {
        "format": FORMAT,
        "layers": model.classifier.layers if cnn else model.layers,
        "cnn": cnn,
        "activation": model.activation,
        "junctions": junctions,
        "identity": identity,
        "info": info,
        "versions": versions(),
    }
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"predsparse": dumps(meta)})


def _bad(path: Path, why: str) -> InputError:
    return InputError(f"{path}: damaged or foreign model file ({why})")


def _read(path: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Metadata and tensors of a safetensors file; every reading failure is one InputError."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            raw = (f.metadata() or {}).get("predsparse")
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path}: not a readable safetensors model ({first})") from None
    if raw is None:
        raise InputError(f"{path}: safetensors file without predsparse metadata (not written by save_model)")
    return loads_object(raw, f"{path} metadata"), tensors


def _tensor(
    path: Path, tensors: dict[str, torch.Tensor], key: str, length: int | None = None, *, integer: bool = False
) -> torch.Tensor:
    t = tensors.get(key)
    if t is None:
        raise _bad(path, f"tensor {key!r} is missing")
    if t.ndim != 1 or (length is not None and t.numel() != length):
        raise _bad(path, f"tensor {key!r} has shape {tuple(t.shape)}, expected ({length},)")
    if integer and (t.dtype.is_floating_point or t.dtype == torch.bool):
        raise _bad(path, f"tensor {key!r} has dtype {t.dtype}, expected integers")
    if not integer and not t.dtype.is_floating_point:
        raise _bad(path, f"tensor {key!r} has dtype {t.dtype}, expected floating point")
    return t


def _patterns(path: Path, meta: dict[str, Any], tensors: dict[str, torch.Tensor]) -> list[Pattern]:
    junctions, layers = meta.get("junctions"), meta.get("layers")
    if (
        not isinstance(junctions, list)
        or not isinstance(layers, list)
        or len(layers) != len(junctions) + 1
        or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in layers)
    ):
        raise _bad(path, "metadata 'layers'/'junctions' missing or inconsistent")
    check_memory(
        network_bytes(layers, [0] * len(junctions)) + sum(t.numel() * t.element_size() for t in tensors.values()),
        f"{path} (layers {layers})",
    )
    patterns = []
    for i, j in enumerate(junctions):
        if (
            not isinstance(j, dict)
            or not isinstance(j.get("n_in"), int)
            or not isinstance(j.get("n_out"), int)
            or not isinstance(j.get("kind"), str)
        ):
            raise _bad(path, f"metadata of junction {i} is malformed")
        if (j["n_in"], j["n_out"]) != (layers[i], layers[i + 1]):
            raise _bad(path, f"junction {i} is {j['n_in']}->{j['n_out']} but layers say {layers[i]}->{layers[i + 1]}")
        rows = _tensor(path, tensors, f"j{i}.rows", integer=True)
        cols = _tensor(path, tensors, f"j{i}.cols", rows.numel(), integer=True)
        try:
            pat = Pattern(j["n_in"], j["n_out"], rows.numpy(), cols.numpy(), kind=j["kind"])
        except (InputError, ValueError, TypeError) as exc:
            raise _bad(path, f"junction {i}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
        patterns.append(pat)
    return patterns


def load_model(path: str | os.PathLike, *, dataset: Any = None) -> tuple[SparseMLP | SparseCNN, dict[str, Any]]:
    """Rebuild the :class:`SparseMLP` (or :class:`SparseCNN`) saved by :func:`save_model`; returns it and its
    metadata. Only tensors and JSON are read (no code runs); damage is one :class:`InputError`, and with
    ``dataset`` a model made for other data (name, shape, classes, transforms) is refused naming the difference."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such model file")
    meta, tensors = _read(path)
    if meta.get("format") != FORMAT:
        raise InputError(f"{path}: model format {meta.get('format')!r}, expected {FORMAT!r}")
    patterns = _patterns(path, meta, tensors)
    if meta.get("activation") not in ("relu", "sigmoid", "tanh"):
        raise _bad(path, f"activation {meta.get('activation')!r}")
    cnn = meta.get("cnn")
    try:
        if cnn:
            model = SparseCNN(
                cnn["input_shape"],
                cnn["channels"],
                meta["layers"],
                patterns,
                kernel_size=cnn["kernel_size"],
                pool=cnn["pool"],
                batch_norm=cnn["batch_norm"],
                activation=meta["activation"],
            )
            front = {k[len("front.") :]: v for k, v in tensors.items() if k.startswith("front.")}
            model.front.load_state_dict(front)
        else:
            model = SparseMLP(meta["layers"], patterns, activation=meta["activation"])
    except InputError as exc:
        raise _bad(path, str(exc)) from None
    except (RuntimeError, KeyError, TypeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise _bad(path, f"model does not match its metadata: {first}") from None
    with torch.no_grad():
        for i, j in enumerate(model.junctions):
            j.weight.copy_(_tensor(path, tensors, f"j{i}.weight", j.weight.numel()))
            if j.bias is not None:
                j.bias.copy_(_tensor(path, tensors, f"j{i}.bias", j.bias.numel()))
    stored = (meta.get("identity") or {}) if isinstance(meta.get("identity"), dict) else {}
    diff = difference(stored.get("model", {}), model_identity(model))
    if diff:
        raise _bad(path, f"identity does not match the tensors ({diff})")
    if dataset is not None and isinstance(stored.get("dataset"), dict):
        here = dataset_identity(dataset)
        diff = difference({k: v for k, v in stored["dataset"].items() if k in here}, here)
        if diff:
            raise InputError(f"{path}: the model was trained on other data: dataset {diff}")
    return model, meta


__all__ = ["FORMAT", "load_model", "pattern_fingerprint", "save_model"]
