"""What a checkpoint or model file belongs to: the network (layers, patterns' fingerprints, kind), the dataset
(name, shape, classes, split sizes, transforms) and the training config, and the one-line difference between two.

``fit`` and ``save_model`` derive the identity themselves, so every caller gets the check.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import numpy as np

from predsparse.serialize import to_jsonable

# dataset metadata that changes what the arrays hold (the rest, e.g. the source path, does not)
_DATA_META = ("normalise", "pca", "pad_to", "real_features", "subset", "val_size", "split_seed", "preset", "params")
# training options that may change between a run and its resumption without changing its numbers
RESUMABLE_CONFIG = ("epochs", "device", "eval_batch_size", "stop_on_divergence")


def pattern_fingerprint(rows: Any, cols: Any) -> str:
    """A short hash of a pattern's edges (row and column index arrays), independent of dtype and device."""
    h = hashlib.sha256()
    for a in (rows, cols):
        arr = np.ascontiguousarray(a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a), dtype=np.int64)
        h.update(arr.tobytes())
    return h.hexdigest()[:16]


def model_identity(model: Any) -> dict[str, Any]:
    """Class, layers, activation, conv front end and per-junction size, kind, edge count and pattern fingerprint."""
    ident: dict[str, Any] = {"model": type(model).__name__}
    layers = getattr(model, "layers", None)
    if layers is not None:
        ident["layers"] = [int(n) for n in layers]
    if getattr(model, "config", None) is not None:
        ident["cnn"] = to_jsonable(model.config)
    if getattr(model, "activation", None) is not None:
        ident["activation"] = str(model.activation)
    junctions = getattr(model, "junctions", None)
    if junctions is not None:
        ident["junctions"] = [
            {
                "n_in": int(j.n_in),
                "n_out": int(j.n_out),
                "kind": str(j.kind),
                "edges": int(j.rows.numel()),
                "fingerprint": pattern_fingerprint(j.rows, j.cols),
            }
            for j in junctions
        ]
    else:  # any other torch module: parameter names and shapes
        ident["parameters"] = [[n, list(p.shape)] for n, p in model.named_parameters()]
    return ident


def dataset_identity(dataset: Any) -> dict[str, Any]:
    """Name, feature shape, classes, split sizes and the transforms that made the arrays."""
    ident = dict(dataset.summary())
    ident.update({k: dataset.meta[k] for k in _DATA_META if k in dataset.meta})
    return to_jsonable(ident)


def run_identity(model: Any, dataset: Any = None, config: Any = None) -> dict[str, Any]:
    """The identity a checkpoint carries: model, and the dataset and training config when given."""
    ident: dict[str, Any] = {"model": model_identity(model)}
    if dataset is not None:
        ident["dataset"] = dataset_identity(dataset)
    if config is not None:
        cfg = config.to_dict() if hasattr(config, "to_dict") else dict(vars(config))
        ident["config"] = to_jsonable({k: v for k, v in cfg.items() if k not in RESUMABLE_CONFIG})
    return ident


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 80 else text[:77] + "..."


def difference(stored: Any, current: Any, path: str = "") -> str | None:
    """The first difference between two identities as ``"where: A in the file, B here"`` (None when equal).

    Keys present on one side only are skipped, so files written before a key existed stay loadable."""
    if isinstance(stored, dict) and isinstance(current, dict):
        for k in stored:
            if k in current:
                d = difference(stored[k], current[k], f"{path}.{k}" if path else str(k))
                if d:
                    return d
        return None
    if isinstance(stored, list) and isinstance(current, list):
        if len(stored) != len(current):
            return f"{path or 'value'}: {len(stored)} entries in the file, {len(current)} here"
        for i, (a, b) in enumerate(zip(stored, current)):
            d = difference(a, b, f"{path}[{i}]")
            if d:
                return d
        return None
    both_nan = isinstance(stored, float) and isinstance(current, float) and math.isnan(stored) and math.isnan(current)
    if stored != current and not both_nan:
        return f"{path or 'value'}: {_short(stored)} in the file, {_short(current)} here"
    return None
