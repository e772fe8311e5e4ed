"""The one run function: a model description, a training config and a dataset -> a result record.

``predsparse train``, sweeps, the model search, the demo and the studies all train through
:func:`run`, so their records carry the same fields, computed the same way.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict
from functools import partial
from typing import Any

from predsparse.data.format import Dataset
from predsparse.errors import InputError
from predsparse.train.spec import ModelSpec, build, build_model_only


def run(
    spec: ModelSpec,
    config: Any,
    dataset: Dataset,
    *,
    progress: bool = False,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
    checkpoint: str | os.PathLike | None = None,
    workers: int = 1,
    network: Any = None,
    keep: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Build ``spec`` for ``dataset``, train it with ``config`` (a :class:`~predsparse.train.TrainConfig`)
    and return the record: ``test_acc``, ``best_val_acc``, ``best_epoch``, ``final_train_acc``, ``rho_net``,
    ``junction_densities``, ``d_out_net``, ``d_in_net``, ``edges``, ``parameters``, ``seconds`` (training, summed over resumes),
    ``wall_seconds`` (this call), ``dataset``
    (summary), ``versions``, ``seeds``, ``spec`` (resolved: concrete layers, ``d_out`` and ``z``), ``train``
    (the config), ``history`` (one entry per epoch) and ``diverged`` (the reason, or None).

    ``workers > 1`` trains data-parallel (DDP) processes. ``network`` trains these patterns instead of drawing the
    spec's: patterns already drawn for it (:func:`~predsparse.train.spec.draw_network`), or custom ones of the
    spec's shape (the scatter study's windowed kinds; ``pattern_kinds`` in the record names them). ``keep``, if given, receives the ``model``
    (trained in place) and ``network`` as soon as they are built, without putting them in the record.
    """
    from predsparse.provenance import versions
    from predsparse.train.loop import fit

    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InputError(f"workers {workers!r} must be a whole number >= 1")
    resolved = spec.resolve(dataset.feature_shape)
    model, net = build(spec, dataset.feature_shape, network=network)
    if keep is not None:  # filled before training, so an on_epoch callback can read the model (e.g. its size)
        keep.update(model=model, network=net)
    t0 = time.perf_counter()
    if workers == 1:
        res = fit(model, dataset, config, progress=progress, checkpoint=checkpoint, on_epoch=on_epoch)
    else:
        from predsparse.train.distributed import fit_distributed

        res = fit_distributed(
            partial(build_model_only, spec, dataset.feature_shape),
            dataset,
            config,
            workers=workers,
            progress=progress,
            checkpoint=checkpoint,
            into=model,
        )
    seconds = time.perf_counter() - t0
    return {
        "test_acc": res.test_acc,
        "best_val_acc": res.best_val_acc,
        "best_epoch": res.best_epoch,
        "final_train_acc": res.final_train_acc,
        "rho_net": net.rho_net,
        "junction_densities": net.densities,
        "d_out_net": net.d_out_net,
        "d_in_net": net.d_in_net,
        "edges": net.edges,
        "pattern_kinds": [p.kind for p in net.patterns],
        "parameters": sum(p.numel() for p in model.parameters()),
        "seconds": res.seconds,
        "wall_seconds": seconds,
        "dataset": dataset.summary(),
        "versions": versions(),
        "seeds": {"model": spec.seed, "train": config.seed},
        "spec": resolved.to_dict(),
        "train": asdict(config),
        "history": res.history,
        # why the run looks diverged (a loss far beyond its start, stuck at chance), or None; only set when
        # config.stop_on_divergence=False let it run on (otherwise DivergenceError stopped it)
        "diverged": getattr(res, "diverged", None),
    }
