"""Difficulty ladder: do the metrics predict how hard a dataset is to learn?

Starting from the Morse baseline, one knob at a time is varied (noise sd, leading spaces, minimum dash
length 3, dilation, training-set size).  For every dataset of the ladder the four difficulty metrics
are computed from the data (:mod:`predsparse.morse`, no torch) and the same fully connected network is
trained through the one run function (:func:`predsparse.train.run.run`); the study reports the table and
the Pearson correlation of each metric with the test accuracy (the paper reports about -0.6 for each),
and draws one scatter plot per metric. Rows persist in a results store (``results.db`` in the output
directory, sweep ``morse-study``), so an interrupted study resumes.

A custom ``trainer`` callable ``(dataset, config, seed) -> test_accuracy`` may replace the default.
"""

from __future__ import annotations

import io
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from predsparse.atomic import write_bytes
from predsparse.errors import InputError
from predsparse.experiments.store import canonical
from predsparse.morse.generator import generate
from predsparse.morse.metrics import METRICS, difficulty
from predsparse.provenance import versions
from predsparse.serialize import to_jsonable

Trainer = Callable[[Any, dict, int], float]

KNOBS = ("noise", "leading", "dash", "dilation", "size")

#: Correlations with test accuracy published for the Morse family (talk slide "Goodness of the Metrics").
STORE_SWEEP = "morse-study"

PUBLISHED_R = {"V_lower": -0.59, "V_upper": -0.64, "V_dist": -0.63, "V_thresh": -0.64}


@dataclass
class StudyConfig:
    """What the study generates and trains.  ``StudyConfig.reduced()`` / ``StudyConfig.full()`` are the presets."""

    train_per_class: int = 200
    val_per_class: int = 50
    test_per_class: int = 200
    hidden: int = 1024
    epochs: int = 10
    batch_size: int = 256
    lr: float = 5e-3  # few updates at the reduced size: a larger step; the full size uses 1e-3
    noise_sds: tuple[float, ...] = (1.0, 2.0, 3.0, 4.0)
    dilations: tuple[int, ...] = (2, 4)
    size_factors: tuple[float, ...] = (0.125, 0.25, 0.5, 2.0, 4.0, 8.0)
    knobs: tuple[str, ...] = KNOBS
    seed: int = 0
    size: str = "reduced"
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def reduced(cls, **kw: Any) -> StudyConfig:
        """Small enough to run in a few minutes on 2 CPU cores: 200/50/200 samples per class, 10 epochs."""
        return cls(**kw)

    @classmethod
    def full(cls, **kw: Any) -> StudyConfig:
        """The paper's sizes: 5000/1000/1000 samples per class, 30 epochs, Adam lr 1e-3."""
        base = dict(train_per_class=5000, val_per_class=1000, test_per_class=1000, epochs=30, lr=1e-3, size="full")
        base.update(kw)
        return cls(**base)

    def validate(self) -> None:
        for key in ("train_per_class", "test_per_class", "hidden", "epochs", "batch_size"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise InputError(f"study {key}={v!r} is not valid: it must be a whole number >= 1")
        if isinstance(self.val_per_class, bool) or not isinstance(self.val_per_class, int) or self.val_per_class < 0:
            raise InputError(f"study val_per_class={self.val_per_class!r} is not valid: it must be >= 0")
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise InputError(f"study lr={self.lr!r} is not valid: it must be a number > 0")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise InputError(f"study seed={self.seed!r} is not valid: it must be a whole number >= 0")
        bad = [k for k in self.knobs if k not in KNOBS]
        if bad or not self.knobs:
            raise InputError(f"study knobs {list(self.knobs)} are not valid: choose from {', '.join(KNOBS)}")
        if any(not (math.isfinite(s) and s >= 0) for s in self.noise_sds):
            raise InputError(f"study noise_sds {list(self.noise_sds)} are not valid: each must be >= 0")
        if any(int(d) != d or d < 1 for d in self.dilations):
            raise InputError(f"study dilations {list(self.dilations)} are not valid: each must be a whole number >= 1")
        if any(not (math.isfinite(f) and f > 0) for f in self.size_factors):
            raise InputError(f"study size_factors {list(self.size_factors)} are not valid: each must be > 0")


def ladder(config: StudyConfig) -> list[dict[str, Any]]:
    """The datasets of the study: the baseline once, then each knob's non-baseline values."""
    entries: list[dict[str, Any]] = [{"knob": "baseline", "value": "-", "overrides": {}}]
    for knob in KNOBS:
        if knob not in config.knobs:
            continue
        if knob == "noise":
            entries += [
                {"knob": "noise_sd", "value": float(s), "overrides": {"noise_sd": float(s)}}
                for s in config.noise_sds
                if s != 0
            ]
        elif knob == "leading":
            entries.append({"knob": "leading_spaces", "value": True, "overrides": {"leading_spaces": True}})
        elif knob == "dash":
            entries.append({"knob": "min_len_dash", "value": 3, "overrides": {"min_len_dash": 3}})
        elif knob == "dilation":
            entries += [
                {"knob": "dilation", "value": int(d), "overrides": {"dilation": int(d)}}
                for d in config.dilations
                if d != 1
            ]
        elif knob == "size":
            for f in config.size_factors:
                if f == 1:
                    continue
                n = max(1, int(round(config.train_per_class * f)))
                entries.append({"knob": "train_size", "value": f"x{f:g}", "overrides": {"train_per_class": n}})
    for e in entries:
        e["overrides"] = {
            "train_per_class": config.train_per_class,
            "val_per_class": config.val_per_class,
            "test_per_class": config.test_per_class,
            **e["overrides"],
        }
    return entries


def run_trainer(dataset: Any, config: dict, seed: int) -> dict[str, Any]:
    """The default trainer: a fully connected ``features-hidden-classes`` ReLU network, Adam, the epoch
    with the best validation accuracy kept, through :func:`predsparse.train.run.run`; returns its record."""
    from predsparse.train import TrainConfig
    from predsparse.train.run import run
    from predsparse.train.spec import ModelSpec

    if dataset.xte.shape[0] == 0:
        raise InputError("the dataset has no test samples: the study needs a test set")
    spec = ModelSpec(layers=("auto", int(config["hidden"]), int(dataset.num_classes)), kind="fc", seed=seed)
    cfg = TrainConfig(
        epochs=int(config["epochs"]), batch_size=int(config["batch_size"]), lr=float(config["lr"]), seed=seed
    )
    rec = run(spec, cfg, dataset)
    rec.pop("history", None)
    return rec


def pearson(a: list[float], b: list[float]) -> float | None:
    """Pearson correlation of ``a`` and ``b``; ``None`` when undefined (fewer than 2 points, a constant, inf)."""
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.size < 2 or not (np.isfinite(x).all() and np.isfinite(y).all()):
        return None
    x = x - x.mean()
    y = y - y.mean()
    den = math.sqrt(float((x * x).sum()) * float((y * y).sum()))
    if den == 0:
        return None
    return float((x * y).sum() / den)


def run_study(
    config: StudyConfig | None = None,
    *,
    trainer: Trainer | None = None,
    trainer_name: str | None = None,
    out: str | os.PathLike | None = None,
    progress: bool = True,
    command: str | None = None,
) -> dict[str, Any]:
    """Run the difficulty ladder; return (and, with ``out``, write) the results.

    Writes into ``out``: ``results.db`` (one row per dataset, with the run record: accuracies, seeds,
    versions; a rerun resumes), ``table.md`` and one scatter plot ``<metric>.png`` per metric, each atomically.  ``command`` (the command line
    that ran the study) is recorded with the results.
    """
    config = config or StudyConfig.reduced()
    config.validate()
    if trainer is None:
        trainer, name = run_trainer, trainer_name or "predsparse.train.run (fully connected SparseMLP, Adam)"
    else:
        name = trainer_name or getattr(trainer, "__qualname__", getattr(trainer, "__name__", repr(trainer)))
    out_dir = Path(out) if out is not None else None
    if out_dir is not None and out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--out {str(out_dir)!r} exists and is not a directory: the study writes a directory")
    entries = ladder(config)
    train_config = {"hidden": config.hidden, "epochs": config.epochs, "batch_size": config.batch_size, "lr": config.lr}
    from predsparse.limits import check_network
    from predsparse.morse.generator import CODEBOOKS, check_params

    for e in entries:  # every dataset and model of the ladder, before the first is made or anything is written
        p = check_params("baseline", **e["overrides"])
        width = p["frame_len"] * p["dilation"]
        check_network(
            [width, config.hidden, len(CODEBOOKS[p["codebook"]])],
            None,
            f"the study's network [{width}, {config.hidden}, {len(CODEBOOKS[p['codebook']])}] ({e['knob']}={e['value']})",
        )

    from tqdm import tqdm

    from predsparse.experiments.store import ResultStore

    store = None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        store = ResultStore(out_dir / "results.db")
    rows = []
    bar = tqdm(entries, desc="morse study", unit="dataset", disable=not progress, file=sys.stderr)
    for e in bar:
        bar.set_postfix_str(f"{e['knob']}={e['value']}")
        key = {"entry": e, "train": train_config, "seed": config.seed, "trainer": name}
        if store is not None and store.has(STORE_SWEEP, key):  # resume: this dataset is done
            rows.append(next(r["result"] for r in store.rows(STORE_SWEEP) if canonical(r["key"]) == canonical(key)))
            continue
        t0 = time.perf_counter()
        ds = generate("baseline", seed=config.seed, **e["overrides"])
        metrics = difficulty(ds)
        t1 = time.perf_counter()
        out = trainer(ds, dict(train_config), config.seed)
        record = out if isinstance(out, dict) else {"test_acc": float(out)}
        acc = float(record["test_acc"])
        t2 = time.perf_counter()
        rows.append(
            {
                "knob": e["knob"],
                "value": e["value"],
                "overrides": {k: v for k, v in e["overrides"].items()},
                "features": ds.num_features,
                "train_samples": int(ds.xtr.shape[0]),
                **metrics,
                "test_accuracy": acc,
                "seconds_data": round(t1 - t0, 3),
                "seconds_train": round(t2 - t1, 3),
                "record": record,
            }
        )
        if store is not None:
            store.put(STORE_SWEEP, key, rows[-1])
    bar.close()
    if store is not None:
        store.close()
    accs = [r["test_accuracy"] for r in rows]
    correlations = {m: pearson([r[m] for r in rows], accs) for m in METRICS}
    result = {
        "study": "morse difficulty ladder",
        "size": config.size,
        "seeds": {"data": config.seed, "train": config.seed},
        "config": to_jsonable(asdict(config)),
        "train_config": train_config,
        "trainer": name,
        "command": command,
        "versions": versions(),
        "rows": rows,
        "correlations": correlations,
        "published_correlations": PUBLISHED_R,
    }
    if out_dir is not None:
        write_outputs(result, out_dir)
        result["files"] = sorted(str(p) for p in _output_names(out_dir))
    return result


def format_table(result: dict[str, Any]) -> str:
    """The study table (markdown) followed by the correlations."""
    head = "| knob | value | features | train samples | V_lower | V_upper | V_dist | V_thresh | test accuracy |"
    lines = [head, "|" + "---|" * 9]
    for r in result["rows"]:
        lines.append(
            f"| {r['knob']} | {r['value']} | {r['features']} | {r['train_samples']} | {r['V_lower']:.4f} | "
            f"{r['V_upper']:.4f} | {r['V_dist']:.4f} | {r['V_thresh']} | {r['test_accuracy']:.4f} |"
        )
    lines += ["", "| metric | Pearson r vs test accuracy | published |", "|---|---|---|"]
    for m in METRICS:
        r = result["correlations"][m]
        lines.append(f"| {m} | {'undefined' if r is None else f'{r:+.3f}'} | {PUBLISHED_R[m]:+.2f} |")
    return "\n".join(lines) + "\n"


def write_outputs(result: dict[str, Any], out_dir: Path) -> None:
    """Write ``table.md`` and the plots into ``out_dir`` (the rows are in ``results.db``), each atomically."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for m in METRICS:
        write_bytes(out_dir / f"{m}.png", _scatter_png(result, m))
    write_bytes(out_dir / "table.md", format_table(result).encode())


def _output_names(out_dir: Path) -> list[Path]:
    return [out_dir / f"{m}.png" for m in METRICS] + [out_dir / "table.md", out_dir / "results.db"]


def _scatter_png(result: dict[str, Any], metric: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["rows"]
    x = [r[metric] for r in rows]
    y = [r["test_accuracy"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=110)
    knobs = sorted({r["knob"] for r in rows})
    for knob in knobs:
        pts = [(a, b) for a, b, r in zip(x, y, rows) if r["knob"] == knob]
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], label=knob, s=30)
    for a, b, r in zip(x, y, rows):
        if math.isfinite(a):
            ax.annotate(str(r["value"]), (a, b), fontsize=7, xytext=(3, 3), textcoords="offset points")
    r = result["correlations"][metric]
    ax.set_title(f"{metric} vs test accuracy: r = {'undefined' if r is None else f'{r:+.3f}'}")
    ax.set_xlabel(metric + " (higher = harder)")
    ax.set_ylabel("test accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()
