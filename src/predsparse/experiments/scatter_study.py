"""Is scatter a predictor of trained accuracy? Many patterns at equal density, scatter before, accuracy after.

For each dataset (the Morse baseline and Fashion-MNIST padded to 1024 inputs) the study builds
networks of one shape and one ``d_out_net`` (so every pattern has the same number of weights) with
many pattern kinds and seeds, computes the network scatter before training (default windows, the
same computation a model search uses; for Fashion-MNIST also with 2-D image windows on the input),
trains each network, and reports Pearson and Spearman correlations (``scipy.stats``) with their
sample sizes, overall and over the ordinary kinds only, a plot, and a scatter threshold below which
a search may reject a pattern without training it.

Deliberately bad kinds are included so that the predictor sees a real spread: ``windowed-single``
(every input of a right neuron from one window) and ``clash-free-zero`` (all-zero seed vectors: with
the input padded 784 -> 1024 some hidden neurons read only padding); ``clash-free-narrow`` (seed
entries in ``{0, 1}``) sits in between.

Reduced by default (small subsets, few epochs, a few minutes on two CPU cores); ``full=True`` uses the
whole datasets, longer training and more seeds. Every training is stored as it finishes in a results store
(``results.db``), and a rerun with the same output directory and settings resumes.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from predsparse.atomic import write_text
from predsparse.errors import InputError
from predsparse.experiments.scatter_stats import (
    DEFAULT_THRESHOLD,
    DEFAULT_THRESHOLD_NET_F,
    correlations,
    recommended_threshold,
    summarise,
    threshold_for,
)
from predsparse.patterns import Pattern, clash_free, make
from predsparse.patterns.network import check_layers
from predsparse.patterns.scatter import default_windows, network_scatter
from predsparse.patterns.windows import image_windows, split_windows, windowed
from predsparse.provenance import versions
from predsparse.serialize import json_default

ORDINARY_KINDS = ("structured", "random", "clash-free-1", "clash-free-2", "clash-free-3", "windowed")
BAD_KINDS = ("windowed-single", "clash-free-zero", "clash-free-narrow")
KINDS = ORDINARY_KINDS + BAD_KINDS
STORE_SWEEP = "scatter-study"


@dataclass
class DatasetSetup:
    """One dataset's part of the study: network shape, degrees, parallelism, data and training."""

    name: str
    layers: list[int]
    out_degrees: list[int]
    z: list[int]
    matter: list[int | None] | None = None
    image: tuple[int, int] | None = None  # input layer holds an image (H, W) stored row by row from neuron 0
    data: dict[str, Any] = field(default_factory=dict)
    epochs: int = 4
    batch_size: int = 128
    lr: float = 1e-2


@dataclass
class StudyConfig:
    setups: list[DatasetSetup]
    kinds: tuple[str, ...] = KINDS
    replicates: int = 3
    seed: int = 0
    tol: float = 0.02
    threads: int = 1  # threads per training (a worker of --jobs N uses at most cores // N)

    def key(self) -> str:
        """A hash of everything that changes results: records are only reused under the same key."""
        blob = json.dumps(asdict(self), sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def reduced_config(seed: int = 0) -> StudyConfig:
    """About two minutes of CPU time (72 trainings of well under a second to a few seconds each).

    Low density where patterns matter: Morse 64-128-64 with ``d_out_net = (16, 8)`` (densities 12.5 %
    and 6.25 %), Fashion-MNIST 1024-64-16 with ``d_out_net = (1, 2)`` (1.6 % and 12.5 %).
    """
    return StudyConfig(
        setups=[
            DatasetSetup(
                "morse",
                [64, 128, 64],
                [16, 8],
                [16, 32],
                data={"train_per_class": 300, "val_per_class": 50, "test_per_class": 100},
                epochs=20,
                batch_size=128,
            ),
            DatasetSetup(
                "fashion-mnist",
                [1024, 64, 16],
                [1, 2],
                [64, 32],
                matter=[784, 64, 10],
                image=(28, 28),
                data={"pad_to": 1024, "limit_train": 10000, "limit_val": 2000, "limit_test": 5000},
                epochs=8,
            ),
        ],
        replicates=4,
        seed=seed,
    )


def full_config(seed: int = 0) -> StudyConfig:
    """Whole datasets, longer training, more seeds (hours on a CPU)."""
    return StudyConfig(
        setups=[
            DatasetSetup("morse", [64, 1024, 64], [16, 4], [16, 128], data={}, epochs=30, batch_size=256, lr=1e-3),
            DatasetSetup(
                "fashion-mnist",
                [1024, 64, 16],
                [1, 2],
                [64, 32],
                matter=[784, 64, 10],
                image=(28, 28),
                data={"pad_to": 1024},
                epochs=30,
                batch_size=256,
                lr=1e-3,
            ),
        ],
        replicates=8,
        seed=seed,
    )


# --- patterns ----------------------------------------------------------------------------------
def build_patterns(setup: DatasetSetup, kind: str, seed: int) -> list[Pattern]:
    """One pattern per junction of ``setup`` of the given study kind (all with ``|W_i| = N_{i-1} d_out_i``)."""
    layers = check_layers(setup.layers)
    if kind not in KINDS:
        raise InputError(f"study kind {kind!r} is not one of {', '.join(KINDS)}")
    pats: list[Pattern] = []
    wins = None
    if kind.startswith("windowed"):
        # the windows a right neuron should spread over are the scatter windows of its left layer
        ref = [make("structured", p, n, d, seed=0) for p, n, d in zip(layers[:-1], layers[1:], setup.out_degrees)]
        wins = default_windows(ref, setup.matter)
    rng = np.random.default_rng(seed)
    for i, (p, n, d) in enumerate(zip(layers[:-1], layers[1:], setup.out_degrees)):
        s = seed * 1000 + i
        z = setup.z[i]
        if kind in ("structured", "random"):
            pats.append(make(kind, p, n, d, seed=s))
        elif kind in ("clash-free-1", "clash-free-2", "clash-free-3"):
            t = int(kind[-1])
            pats.append(clash_free(p, n, d, z, type=t, dither=(t == 1), seed=s))
        elif kind == "clash-free-zero":
            pats.append(clash_free(p, n, d, z, type=2, seeds=np.zeros((d, z), dtype=np.int64)))
        elif kind == "clash-free-narrow":
            pats.append(clash_free(p, n, d, z, type=2, seeds=rng.integers(0, min(2, p // z), size=(d, z))))
        else:
            assert wins is not None
            w = wins[i]
            single = kind == "windowed-single"
            d_in = p * d // n
            if single and min(x.size for x in w) < d_in:  # too fine for d_in inputs each: coarser windows
                idx = np.unique(np.concatenate(w))
                w = split_windows(idx, max(1, idx.size // d_in))
            pats.append(windowed(p, n, d, w, mode="single" if single else "spread", seed=s))
    return pats


def scatter_values(setup: DatasetSetup, patterns: Sequence[Pattern]) -> dict[str, Any]:
    """Network scatter with default windows (and, for image inputs, with 2-D windows on the input)."""
    rep = network_scatter(patterns, matter=setup.matter)
    out: dict[str, Any] = {"scatter": rep.value, "argmin": rep.argmin, "vector": rep.vector}
    if setup.image is not None:
        h, w = setup.image
        d_in = patterns[0].edges / patterns[0].n_out
        wins: list[Any] = [None] * len(setup.layers)
        wins[0] = image_windows(h, w, d_in, setup.layers[0])
        rep2 = network_scatter(patterns, windows=wins, matter=setup.matter)
        out["scatter_image"] = rep2.value
        out["vector_image"] = rep2.vector
    return out


# --- running -----------------------------------------------------------------------------------
def _load_dataset(setup: DatasetSetup, seed: int):  # noqa: ANN202 - a predsparse Dataset
    if setup.name == "morse":
        from predsparse.morse import generate

        return generate("baseline", seed=seed, **setup.data)
    from predsparse.data import load_dataset

    return load_dataset(setup.name, seed=seed, subset_seed=seed, **setup.data)


def _item_key(config_key: str, setup: DatasetSetup, kind: str, rep: int) -> dict[str, Any]:
    return {"config_key": config_key, "dataset": setup.name, "kind": kind, "replicate": rep}


def _items(config: StudyConfig) -> list[tuple[DatasetSetup, str, int]]:
    return [(s, k, r) for s in config.setups for r in range(config.replicates) for k in config.kinds]


def _train_one(
    config: StudyConfig, setup: DatasetSetup, kind: str, rep: int, data_cache: dict[str, Any]
) -> dict[str, Any]:
    """Train one pattern of the study and return its record (scatter values before, accuracy after)."""
    from predsparse.patterns.network import NetworkPatterns
    from predsparse.train import TrainConfig
    from predsparse.train.run import run
    from predsparse.train.spec import ModelSpec

    if setup.name not in data_cache:
        data_cache.clear()  # one dataset in memory at a time
        data_cache[setup.name] = _load_dataset(setup, config.seed)
    ds = data_cache[setup.name]
    pseed = config.seed * 100 + rep
    pats = build_patterns(setup, kind, pseed)
    sc = scatter_values(setup, pats)
    tcfg = TrainConfig(epochs=setup.epochs, batch_size=setup.batch_size, lr=setup.lr, seed=pseed)
    # the study's own patterns (windowed, degenerate clash-free ...) in the shape the spec describes;
    # initial weights from seed 0 for every pattern, so only the pattern and the batch order differ
    spec = ModelSpec(layers=tuple(setup.layers), d_out=tuple(setup.out_degrees), kind="structured", seed=0)
    cpu0 = time.process_time()
    res = run(spec, tcfg, ds, network=NetworkPatterns(list(setup.layers), pats))
    cpu = time.process_time() - cpu0
    rec = {
        "dataset": setup.name,
        "kind": kind,
        "bad": kind in BAD_KINDS,
        "replicate": rep,
        "pattern_seed": pseed,
        "train_seed": pseed,
        **sc,
        "test_acc": res["test_acc"],
        "best_val_acc": res["best_val_acc"],
        "best_epoch": res["best_epoch"],
        "epochs": setup.epochs,
        "versions": res["versions"],
        "train_seconds": res["seconds"],
        "train_cpu_seconds": cpu,
    }
    return json.loads(json.dumps(rec, default=json_default))


def _work_study(config: StudyConfig, url: str, *, emit: Callable[[str, str], None], worker_index: int = 0) -> None:
    """One worker of the study: claims, trains and stores items until every one is stored."""
    import torch

    from predsparse.experiments.store import ResultStore
    from predsparse.experiments.work import work_items

    items = _items(config)
    key = config.key()
    cache: dict[str, Any] = {}
    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, min(config.threads, torch.get_num_threads())))  # a worker: its share of cores
    store = ResultStore(url)
    try:
        work_items(
            store,
            STORE_SWEEP,
            [_item_key(key, *it) for it in items],
            lambda i: _train_one(config, *items[i], cache),
            labels=[f"{s.name} {k} rep {r}" for s, k, r in items],
            emit=emit,
        )
    finally:
        store.close()
        torch.set_num_threads(threads)


def run_study(
    config: StudyConfig,
    out_dir: str | Path | None = None,
    *,
    progress: bool = True,
    jobs: int | str = 1,
    store: str | Path | None = None,
) -> dict[str, Any]:
    """Run (or resume) the study; returns the result dict. Every training is stored as it finishes in a
    :class:`~predsparse.experiments.store.ResultStore` (sweep ``scatter-study``): ``store`` (a path or a
    database URL, e.g. the store of ``predsparse reproduce``), else ``results.db`` in ``out_dir`` (a
    temporary directory without one); with ``out_dir`` the report ``scatter_study.json``,
    ``threshold.json`` and ``scatter_vs_accuracy.png`` is written there (atomically) at the end.

    ``jobs``: worker processes sharing the store (``"auto"``: from the model size and the cores); the
    records are the same for any ``jobs`` (each training depends only on its own seeds)."""
    import tempfile

    from predsparse.experiments.store import ResultStore, canonical
    from predsparse.parallel import RunningBar, resolve_jobs, run_workers, threads_per_job

    for k in config.kinds:
        if k not in KINDS:
            raise InputError(f"study kind {k!r} is not one of {', '.join(KINDS)}")
    if config.replicates < 1:
        raise InputError(f"replicates {config.replicates} must be at least 1")
    for s in config.setups:  # validate every pattern before any training
        for kind in config.kinds:
            build_patterns(s, kind, config.seed)
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        if out.exists() and not out.is_dir():
            raise InputError(f"{out}: exists and is not a directory: the study writes a directory")
        out.mkdir(parents=True, exist_ok=True)
    key = config.key()
    items = _items(config)
    keys = [_item_key(key, *it) for it in items]
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="predsparse-scatter-") as tmp:
        db = ResultStore(store if store is not None else (out if out is not None else Path(tmp)) / "results.db")
        try:
            stored = {canonical(k) for k in keys} & db.done_keys(STORE_SWEEP)
            todo = len(items) - len(stored)
            weights = max(sum(a * b for a, b in zip(s.layers[:-1], s.layers[1:])) for s in config.setups)
            n = resolve_jobs(jobs, weights, work_items=max(1, todo)) if todo else 1
            bar = RunningBar(len(items), len(stored), "scatter study" + (f" ({n} jobs)" if n > 1 else ""), not progress)
            try:
                if n == 1:
                    _work_study(config, db.url, emit=lambda kind, label: bar.event(0, kind, label))
                else:
                    run_workers(
                        _work_study,
                        (config, db.url),
                        n,
                        threads=max(1, min(config.threads, threads_per_job(n))),
                        on_event=bar.event,
                        poll=lambda: bar.set_done(len({canonical(k) for k in keys} & db.done_keys(STORE_SWEEP))),
                    )
            finally:
                bar.close()
            by_key = {canonical(r["key"]): r["result"] for r in db.rows(STORE_SWEEP)}
        finally:
            db.close()
    missing = [k for k in keys if canonical(k) not in by_key]
    if missing:
        raise RuntimeError(f"scatter study: every worker stopped with {len(missing)} trainings left; run it again")
    records = [by_key[canonical(k)] for k in keys]
    return _write(out, config, key, records, final=True, seconds=time.perf_counter() - t_start)


def stored_result(config: StudyConfig, store: str | Path) -> dict[str, Any]:
    """The study's result dict from what ``store`` holds (trains nothing); ``complete`` says whether every
    training of ``config`` is stored, and only then are the summary and threshold over all of them."""
    from predsparse.experiments.store import ResultStore, canonical

    key = config.key()
    keys = [_item_key(key, *it) for it in _items(config)]
    db = ResultStore(store, readonly=True)
    try:
        by_key = {canonical(r["key"]): r["result"] for r in db.rows(STORE_SWEEP)}
    finally:
        db.close()
    records = [by_key[canonical(k)] for k in keys if canonical(k) in by_key]
    if len(records) < len(keys):
        return {"complete": False, "stored": len(records), "expected": len(keys), "records": records}
    return {**_result(config, key, records, None), "complete": True}


def _result(config: StudyConfig, key: str, records: list[dict[str, Any]], seconds: float | None) -> dict[str, Any]:
    summary = summarise(records, config.tol) if records else {}
    per = [v["threshold"]["threshold"] for v in summary.values()]
    per_f = [v["threshold_net_f"]["threshold"] for v in summary.values() if v.get("threshold_net_f")]
    thr = {
        "threshold": float(min(per)) if per else DEFAULT_THRESHOLD,
        "threshold_net_f": float(min(per_f)) if per_f else None,
        "per_dataset": {k: v["threshold"] for k, v in summary.items()},
        "per_dataset_net_f": {k: v["threshold_net_f"] for k, v in summary.items()},
        "rule": "lowest per-dataset threshold; per dataset the lowest scatter of a pattern within tol of the "
        "median accuracy of the ordinary kinds (rounded down to 0.01)",
        "scatter": "network scatter (minimum of the vector) with default windows and the given neurons that matter",
    }
    return {
        "format": "predsparse-scatter-study/1",
        "config_key": key,
        "config": asdict(config),
        "versions": versions(),  # predsparse.provenance: the same keys as every other result
        "seconds": seconds,
        "summary": summary,
        "threshold": thr,
        "records": records,
    }


def _write(
    out: Path | None,
    config: StudyConfig,
    key: str,
    records: list[dict[str, Any]],
    *,
    final: bool,
    seconds: float | None = None,
) -> dict[str, Any]:
    result = _result(config, key, records, seconds)
    if out is None:
        return result
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "scatter_study.json", json.dumps(result, indent=1, default=json_default))
    if final and records:
        write_text(out / "threshold.json", json.dumps(result["threshold"], indent=1, default=json_default))
        plot_study(result, out / "scatter_vs_accuracy.png")
    return result


def plot_study(result: dict[str, Any], path: str | Path) -> None:
    """The study's picture: scatter before training against test accuracy after, per dataset."""
    from predsparse.patterns.plots import plot_scatter_vs_accuracy

    panels = []
    for ds, summ in result["summary"].items():
        pts = [(r["scatter"], r["test_acc"], r["kind"]) for r in result["records"] if r["dataset"] == ds]
        panels.append({"title": ds, "points": pts, **{k: summ["all"][k] for k in ("pearson", "spearman", "n")}})
    plot_scatter_vs_accuracy(panels, path, threshold=result["threshold"]["threshold"])


def tiny_config(seed: int = 0) -> StudyConfig:
    """Seconds: for tests and smoke runs (Morse only, tiny network, one epoch)."""
    return StudyConfig(
        setups=[
            DatasetSetup(
                "morse",
                [64, 32, 64],
                [4, 8],
                [16, 8],
                data={"train_per_class": 8, "val_per_class": 2, "test_per_class": 4},
                epochs=1,
                batch_size=64,
            )
        ],
        kinds=("structured", "random", "clash-free-2", "windowed", "windowed-single", "clash-free-zero"),
        replicates=1,
        seed=seed,
    )


__all__ = [
    "BAD_KINDS",
    "DEFAULT_THRESHOLD",
    "DEFAULT_THRESHOLD_NET_F",
    "KINDS",
    "ORDINARY_KINDS",
    "DatasetSetup",
    "StudyConfig",
    "build_patterns",
    "correlations",
    "full_config",
    "recommended_threshold",
    "reduced_config",
    "run_study",
    "scatter_values",
    "summarise",
    "threshold_for",
    "tiny_config",
]
