"""Sweeps: a base run, a list of variants (zipped) and a grid (crossed), over seeds; stored and resumable.

A config (TOML or JSON) looks like::

    name = "density-morse"
    seeds = [0, 1]
    [base.dataset]            # load_dataset options: name, seed (as --data-seed), morse, normalize, pca_k, pad_to, limit_*
    name = "morse"
    morse = { train_per_class = 400, val_per_class = 100, test_per_class = 100 }
    [base.network]            # layers, d_out | density, kind, z, clash_type, dither, activation, dropout, conv
    layers = [64, 1024, 64]   # "auto" as the first entry takes the dataset's feature count (or the conv output's)
    [base.train]              # TrainConfig fields: epochs, batch_size, lr, optimizer, l2, ...
    epochs = 10
    [grid]                    # every combination of these dotted keys
    "network.kind" = ["clash-free", "structured", "random"]
    [[variants]]              # one run family per entry (zipped, not crossed)
    "network.d_out" = [256, 16]
    seeds = [5, 6]            # optional: this variant's own seeds instead of the top-level ones

Every key is checked before anything runs (a typo is an error naming the key and the valid ones). The old spelling
``network.out_degrees`` is read as ``network.d_out`` with one warning line (for one release).
"""

from __future__ import annotations

import copy
import itertools
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from predsparse.errors import InputError
from predsparse.experiments.store import ResultStore, canonical
from predsparse.experiments.work import LEASE_SECONDS, work_items
from predsparse.train import TrainConfig

DATASET_KEYS = {"name", "seed", "morse", "normalize", "pca_k", "pad_to", "limit_train", "limit_val", "limit_test"}
NETWORK_KEYS = {
    "layers",
    "d_out",
    "density",
    "kind",
    "z",
    "clash_type",
    "dither",
    "activation",
    "dropout",
    "conv",
    "kernel_size",
    "pool",
    "window",
}
TRAIN_KEYS = {f.name for f in fields(TrainConfig)} - {"seed"}
SECTIONS = {"dataset": DATASET_KEYS, "network": NETWORK_KEYS, "train": TRAIN_KEYS}
TOP_KEYS = {"name", "seeds", "base", "grid", "variants", "description", "store"}
# what a run uses when the config leaves a varied key unset (shown in reports)
DEFAULTS = {"network.kind": "structured", "network.d_out": None, "train.l2": 0.0, "dataset.pca_k": None}


@dataclass
class SweepConfig:
    name: str
    base: dict[str, dict[str, Any]]
    grid: dict[str, list[Any]] = field(default_factory=dict)
    variants: list[dict[str, Any]] = field(default_factory=lambda: [{}])
    seeds: list[int] = field(default_factory=lambda: [0])
    description: str = ""

    @property
    def varied(self) -> list[str]:
        """Dotted keys that change between runs (seed excluded), in config order."""
        keys = list(dict.fromkeys(k for v in self.variants for k in v if k != "seeds"))
        return keys + [k for k in self.grid if k not in keys]


def load_config(path: str | Path) -> SweepConfig:
    """Read and validate a sweep config (``.toml`` or ``.json``)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such sweep config")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); a sweep config is TOML or JSON"
        ) from None
    try:
        if path.suffix == ".json":
            raw = json.loads(text)
        else:
            if sys.version_info >= (3, 11):
                import tomllib
            else:  # pragma: no cover
                import tomli as tomllib
            raw = tomllib.loads(text)
    except ValueError as exc:
        raise InputError(f"{path}: malformed config ({exc})") from None
    return parse_config(raw, source=str(path))


# deprecated network keys -> their names now (read with a warning; the store keys runs by the old names, see _key)
RENAMED_NETWORK_KEYS = {"out_degrees": "d_out"}


def _renamed(raw: dict[str, Any], source: str) -> dict[str, Any]:
    """``raw`` with deprecated network keys renamed (base.network and dotted grid/variant keys), one warning each."""
    raw = copy.deepcopy(raw)
    used: list[str] = []
    net = raw.get("base", {}).get("network") if isinstance(raw.get("base"), dict) else None
    tables = [t for t in [raw.get("grid"), *(raw.get("variants") or [])] if isinstance(t, dict)]
    for old, new in RENAMED_NETWORK_KEYS.items():
        if isinstance(net, dict) and old in net:
            if new in net:
                raise InputError(f"{source}: base.network has both {old} (deprecated) and {new}: keep {new}")
            net[new] = net.pop(old)
            used.append(old)
        for t in tables:
            if f"network.{old}" in t:
                t[f"network.{new}"] = t.pop(f"network.{old}")
                used.append(old)
    for old in dict.fromkeys(used):
        print(
            f"warning: {source}: network.{old} is deprecated, use network.{RENAMED_NETWORK_KEYS[old]}", file=sys.stderr
        )
    return raw


def parse_config(raw: dict[str, Any], source: str = "config") -> SweepConfig:
    """Validate every key of a config dict; errors name the key and the valid ones."""
    if not isinstance(raw, dict):
        raise InputError(f"{source}: a sweep config must be a table/object at the top level")
    raw = _renamed(raw, source)
    unknown = set(raw) - TOP_KEYS
    if unknown:
        raise InputError(f"{source}: unknown top-level key(s) {sorted(unknown)}; valid: {sorted(TOP_KEYS)}")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise InputError(f"{source}: 'name' (the sweep's name in the results store) is required")
    base = raw.get("base", {})
    if not isinstance(base, dict):
        raise InputError(f"{source}: 'base' must be a table with dataset/network/train sections")
    for sec, val in base.items():
        if sec not in SECTIONS:
            raise InputError(f"{source}: unknown section base.{sec}; valid: {sorted(SECTIONS)}")
        if not isinstance(val, dict):
            raise InputError(
                f"{source}: base.{sec} = {val!r} must be a table of keys ({', '.join(sorted(SECTIONS[sec]))})"
            )
        bad = set(val) - SECTIONS[sec]
        if bad:
            raise InputError(f"{source}: unknown key(s) base.{sec}.{sorted(bad)}; valid: {sorted(SECTIONS[sec])}")
    base = {s: dict(base.get(s, {})) for s in SECTIONS}
    if "layers" not in base["network"]:
        raise InputError(f"{source}: base.network.layers is required")
    if "name" not in base["dataset"]:
        raise InputError(f"{source}: base.dataset.name is required (e.g. 'morse' or 'fashion-mnist')")
    grid = raw.get("grid", {})
    variants = raw.get("variants", [{}]) or [{}]
    if not isinstance(grid, dict) or not all(isinstance(v, list) and v for v in grid.values()):
        raise InputError(f"{source}: 'grid' must map dotted keys to non-empty lists")
    if not isinstance(variants, list) or not all(isinstance(v, dict) for v in variants):
        raise InputError(f"{source}: 'variants' must be a list of tables")
    for k in list(grid) + [k for v in variants for k in v if k != "seeds"]:
        _check_dotted(k, source)
    seeds = raw.get("seeds", [0])
    for where, got in [("seeds", seeds)] + [("variants[].seeds", v["seeds"]) for v in variants if "seeds" in v]:
        if not isinstance(got, list) or not got or not all(isinstance(s, int) for s in got):
            raise InputError(f"{source}: '{where}' must be a non-empty list of integers")
    return SweepConfig(
        name=name, base=base, grid=grid, variants=variants, seeds=seeds, description=str(raw.get("description", ""))
    )


def _check_dotted(key: str, source: str) -> None:
    sec, _, sub = key.partition(".")
    if sec not in SECTIONS or sub not in SECTIONS[sec]:
        valid = sorted(f"{s}.{k}" for s, ks in SECTIONS.items() for k in ks)
        raise InputError(f"{source}: unknown sweep key {key!r}; valid: {', '.join(valid)}")


def expand(cfg: SweepConfig) -> list[dict[str, Any]]:
    """All runs: ``{"dataset":…, "network":…, "train":…, "seed":…, "varied": {dotted: value}}``."""
    runs, seen = [], set()
    grid_items = list(cfg.grid.items())
    for variant in cfg.variants:
        for combo in itertools.product(*[v for _, v in grid_items]):
            # a variant's own settings win over the grid (e.g. a fully connected reference row)
            point = {k: v for (k, _), v in zip(grid_items, combo)}
            point.update({k: v for k, v in variant.items() if k != "seeds"})
            spec = copy.deepcopy(cfg.base)
            for dotted, value in point.items():
                sec, _, sub = dotted.partition(".")
                spec[sec][sub] = value
            # every varied key gets its resolved value (a variant that leaves one unset shows the base value)
            point = {k: spec[k.partition(".")[0]].get(k.partition(".")[2], DEFAULTS.get(k)) for k in cfg.varied}
            for seed in variant.get("seeds", cfg.seeds):  # a variant may have seeds of its own
                run = {**copy.deepcopy(spec), "seed": seed, "varied": point}
                k = canonical(_key(run))
                if k not in seen:
                    seen.add(k)
                    runs.append(run)
    return runs


def run_spec(run: dict[str, Any]):  # noqa: ANN201 - a ModelSpec
    """The :class:`~predsparse.train.spec.ModelSpec` of one sweep run."""
    from predsparse.train.spec import ModelSpec

    net = dict(run["network"])
    net.setdefault("kind", DEFAULTS["network.kind"])
    try:
        return ModelSpec.from_dict({**net, "seed": run["seed"]})
    except TypeError as exc:
        raise InputError(f"network {net}: {exc}") from None


def run_dataset(run: dict[str, Any], dataset_cache: dict[str, Any]) -> Any:
    """The run's dataset, loaded once per distinct ``dataset`` section (``normalize = "none"``: raw)."""
    from predsparse.data import load_dataset

    d = dict(run["dataset"])
    dkey = canonical(d)
    if dkey not in dataset_cache:
        name = d.pop("name")
        seed = d.pop("seed", 0)  # the validation split and subsets, as --data-seed
        if not isinstance(name, str):
            raise InputError(f"dataset.name {name!r} must be a text (e.g. 'morse' or 'fashion-mnist')")
        if d.get("normalize") == "none":
            d["normalize"] = None
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise InputError(f"dataset.seed {seed!r} must be a whole number")
        dataset_cache[dkey] = load_dataset(name, seed=seed, subset_seed=seed, **d)
    return dataset_cache[dkey]


def validate_runs(runs: list[dict[str, Any]], dataset_cache: dict[str, Any], source: str = "sweep") -> None:
    """Check every run's model and training settings against its dataset before anything trains, so a bad
    kind or degree in the last grid point stops the sweep (exit 2) before the first run."""
    for i, run in enumerate(runs):
        where = f"{source}: run {i + 1} ({', '.join(f'{k}={v}' for k, v in run['varied'].items()) or 'base'}, seed {run['seed']})"
        try:
            ds = run_dataset(run, dataset_cache)
            run_spec(run).validate(ds.feature_shape)
            TrainConfig(**run["train"], seed=int(run["seed"]))
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from None
        except TypeError as exc:  # e.g. a list where a number belongs
            raise InputError(f"{where}: {exc}") from None


def run_one(run: dict[str, Any], dataset_cache: dict[str, Any]) -> dict[str, Any]:
    """Train one run through :func:`predsparse.train.run.run`; returns its result record."""
    from predsparse.train.run import run as run_model

    ds = run_dataset(run, dataset_cache)
    # A diverging run is a result of the grid (e.g. the largest learning rate), not a reason to stop the others:
    # it trains on and its row says why it diverged, unless the config sets train.stop_on_divergence = true.
    train = {"stop_on_divergence": False, **run["train"]}
    rec = run_model(run_spec(run), TrainConfig(**train, seed=int(run["seed"])), ds)
    rec.pop("history", None)  # per-epoch curves stay out of the store (as before); the rest is the record
    return rec


def run_label(run: dict[str, Any]) -> str:
    """A short name for a run: its varied values and seed (``kind=random l2=0 seed=1``)."""
    parts = [f"{k.split('.')[-1]}={v}" for k, v in run["varied"].items()]
    return " ".join(parts + [f"seed={run['seed']}"])


def estimated_weights(cfg: SweepConfig) -> int:
    """The largest run's weight count (rough: an ``auto`` input layer counts as the next layer's width;
    a conv block counts as a million), for ``--jobs auto``."""
    from predsparse.parallel import WEIGHTS_PER_THREAD

    best = 0
    for run in expand(cfg):
        net = run["network"]
        layers = list(net["layers"])
        if layers and layers[0] == "auto":
            layers[0] = layers[1] if len(layers) > 1 and isinstance(layers[1], int) else 1000
        full = [int(a) * int(b) for a, b in zip(layers[:-1], layers[1:])]
        dout = net.get("d_out")
        if net.get("kind") != "fc" and dout:
            w = sum(int(a) * int(d) for a, d in zip(layers[:-1], dout))
        elif net.get("kind") != "fc" and net.get("density") is not None:
            dens = net["density"]  # one density for all junctions, or one per junction
            per = [float(d) for d in dens] if isinstance(dens, (list, tuple)) else [float(dens)] * len(full)
            w = int(sum(d * f for d, f in zip(per, full)))
        else:
            w = sum(full)
        best = max(best, w + WEIGHTS_PER_THREAD * len(net.get("conv") or []))
    return best


def work_sweep(
    cfg: SweepConfig,
    store: ResultStore,
    *,
    runner: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]] = run_one,
    lease: float = LEASE_SECONDS,
    owner: str | None = None,
    emit: Callable[[str, str], None] | None = None,
    wait: float = 0.5,
) -> int:
    """One worker: claim, train and store runs until every run of the sweep is stored; returns runs trained.

    Any number of these (processes, machines) can share one store (:func:`~predsparse.experiments.work.work_items`).
    """
    runs = expand(cfg)
    cache: dict[str, Any] = {}

    def run(i: int) -> dict[str, Any]:
        # run_index: the run's place in the config, so tables list parallel-made rows in the serial order
        result = runner(runs[i], cache)
        return {**result, "varied": runs[i]["varied"], "seed": runs[i]["seed"], "run_index": i}

    return work_items(
        store,
        cfg.name,
        [_key(r) for r in runs],
        run,
        labels=[run_label(r) for r in runs],
        lease=lease,
        owner=owner,
        emit=emit,
        wait=wait,
    )


def _sweep_worker(
    cfg: SweepConfig, url: str, runner: Callable, lease: float, *, emit: Callable, worker_index: int
) -> None:
    store = ResultStore(url)
    try:
        work_sweep(cfg, store, runner=runner, lease=lease, emit=emit)
    finally:
        store.close()


def run_sweep(
    cfg: SweepConfig,
    store: ResultStore,
    *,
    progress: bool = True,
    runner: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]] = run_one,
    jobs: int | str = 1,
    lease: float = LEASE_SECONDS,
    validated: bool = False,
) -> dict[str, int]:
    """Run every run not yet in ``store`` (resume), storing each as it finishes. Returns counts.

    ``validated=True``: the caller has already checked every run with :func:`validate_runs` (the CLI does, before
    it creates the store), so the datasets are not loaded twice.

    ``jobs``: N worker processes on this machine (``"auto"``: from the model size and the cores), each with
    ``cores // N`` threads, claiming runs like workers on other machines do. The stored rows are the same
    for any ``jobs`` (each run's numbers depend only on its own seed). ``runner`` must be importable
    (a module-level function) when ``jobs > 1``.
    """
    from predsparse.parallel import RunningBar, resolve_jobs, run_workers

    runs = expand(cfg)
    done = store.done_keys(cfg.name)
    stored = len(done & {canonical(_key(r)) for r in runs})
    if (
        runner is run_one and not validated
    ):  # every run's model is checked before the first trains (a custom runner checks its own)
        validate_runs([r for r in runs if canonical(_key(r)) not in done], {}, cfg.name)
    todo = len(runs) - stored
    n = resolve_jobs(jobs, estimated_weights(cfg), work_items=max(1, todo)) if todo else 1
    bar = RunningBar(len(runs), stored, cfg.name + (f" ({n} jobs)" if n > 1 else ""), disable=not progress)
    ran = 0

    def on_event(worker: int, kind: str, label: str) -> None:
        nonlocal ran
        ran += kind == "done"
        bar.event(worker, kind, label)

    try:
        if n == 1:
            work_sweep(cfg, store, runner=runner, lease=lease, emit=lambda kind, label: on_event(0, kind, label))
        else:
            keys = {canonical(_key(r)) for r in runs}
            run_workers(
                _sweep_worker,
                (cfg, store.url, runner, lease),
                n,
                on_event=on_event,
                poll=lambda: bar.set_done(len(store.done_keys(cfg.name) & keys)),
            )
    finally:
        bar.close()
    if len(store.done_keys(cfg.name) & {canonical(_key(r)) for r in runs}) < len(runs):
        raise RuntimeError(f"sweep {cfg.name}: every worker stopped before the sweep was complete; run it again")
    return {"runs": len(runs), "skipped": stored, "ran": ran, "jobs": n}


def _key(run: dict[str, Any]) -> dict[str, Any]:
    """What the store keys a run by. Renamed network keys keep their old names here, so a store written
    before the rename resumes the same rows (:meth:`ResultStore.rows` shows them under the new names)."""
    old = {new: old for old, new in RENAMED_NETWORK_KEYS.items()}
    net = {old.get(k, k): v for k, v in run["network"].items()}
    return {"dataset": run["dataset"], "network": net, "train": run["train"], "seed": run["seed"]}
