"""Reproduce the seed: every quantitative claim, its configuration, our figure, the seed's, a verdict.

The manifest (``configs/reproduce/manifest.toml``) lists the claims; each names sweep configs (run by
:func:`predsparse.experiments.sweep.run_sweep` into one :class:`ResultStore`, so a rerun resumes) or a
study, and a verdict function of :data:`VERDICTS`.  A verdict reads the stored runs of its configs and
returns our figure (mean +- sample std over the seeds), the seed's figure, ``holds`` / ``partly`` /
``does not hold`` with a one-line reason, and the series of its figure.  ``quick=True`` shrinks every
config (tiny subsets, 2 epochs, sweep names suffixed ``-quick``) so the whole manifest runs in minutes.
"""

from __future__ import annotations

import copy
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from predsparse.errors import InputError
from predsparse.experiments.reproduce_verdicts import VERDICTS
from predsparse.experiments.store import ResultStore, canonical
from predsparse.experiments.sweep import SweepConfig, _key, expand, load_config, run_sweep

MANIFEST = Path(__file__).resolve().parents[3] / "configs" / "reproduce" / "manifest.toml"
QUICK_DATA = {"limit_train": 600, "limit_val": 300, "limit_test": 300}
QUICK_MORSE = {"train_per_class": 12, "val_per_class": 6, "test_per_class": 6}
QUICK_EPOCHS = 2
CLAIM_KEYS = {"id", "claim", "configs", "study", "verdict", "seed", "params"}


@dataclass
class Claim:
    """One claim of the seed and how we test it."""

    id: str
    claim: str
    verdict: str
    seed: str = ""
    configs: list[Path] = field(default_factory=list)
    study: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


def load_manifest(path: str | Path | None = None) -> list[Claim]:
    """Read and check the manifest: known keys, unique ids, existing configs, known verdicts."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    path = Path(path) if path else MANIFEST
    if not path.is_file():
        raise InputError(f"{path}: no such manifest")
    try:
        raw = tomllib.loads(path.read_text())
    except ValueError as exc:
        raise InputError(f"{path}: malformed manifest ({exc})") from None
    claims = []
    for i, c in enumerate(raw.get("claims", [])):
        bad = set(c) - CLAIM_KEYS
        if bad or not {"id", "claim", "verdict"} <= set(c):
            raise InputError(f"{path}: claim {i} has unknown keys {sorted(bad)} or lacks id/claim/verdict")
        if c["verdict"] not in VERDICTS:
            raise InputError(f"{path}: claim {c['id']!r}: verdict {c['verdict']!r} is not one of {', '.join(VERDICTS)}")
        if bool(c.get("configs")) == bool(c.get("study")) or c.get("study", "scatter") not in STUDIES:
            raise InputError(f"{path}: claim {c['id']!r} needs either configs or study (one of {', '.join(STUDIES)})")
        configs = [path.parent / p for p in c.get("configs", [])]
        for p in configs:
            if not p.is_file():
                raise InputError(f"{path}: claim {c['id']!r}: config {p} does not exist")
        claims.append(
            Claim(c["id"], c["claim"], c["verdict"], c.get("seed", ""), configs, c.get("study"), c.get("params", {}))
        )
    ids = [c.id for c in claims]
    if not claims or len(set(ids)) != len(ids):
        raise InputError(f"{path}: claims must be a non-empty list with unique ids (got {ids})")
    return claims


def select(claims: list[Claim], ids: str | None) -> list[Claim]:
    """The claims named in ``ids`` (comma-separated), or all."""
    if not ids:
        return claims
    want = [s.strip() for s in ids.split(",") if s.strip()]
    unknown = [w for w in want if w not in {c.id for c in claims}]
    if unknown:
        raise InputError(f"--claims {','.join(unknown)}: unknown claim(s); valid: {', '.join(c.id for c in claims)}")
    return [c for c in claims if c.id in want]


def shrink(cfg: SweepConfig) -> SweepConfig:
    """The quick version of a sweep: tiny data subsets, 2 epochs, 3 seeds, its own sweep name."""
    cfg = copy.deepcopy(cfg)
    cfg.name += "-quick"
    cfg.seeds = cfg.seeds[:3]
    cfg.base["train"]["epochs"] = min(QUICK_EPOCHS, cfg.base["train"].get("epochs", QUICK_EPOCHS))
    if cfg.base["dataset"]["name"].partition(":")[0] == "morse":
        cfg.base["dataset"]["morse"] = {**cfg.base["dataset"].get("morse", {}), **QUICK_MORSE}
        for v in cfg.variants:
            if "dataset.morse" in v:
                v["dataset.morse"] = {**v["dataset.morse"], **QUICK_MORSE}
    else:
        cfg.base["dataset"].update(QUICK_DATA)
    return cfg


def claim_configs(claim: Claim, quick: bool = False) -> list[SweepConfig]:
    """The claim's sweep configs, shrunk for ``quick``."""
    cfgs = [load_config(p) for p in claim.configs]
    return [shrink(c) for c in cfgs] if quick else cfgs


def configs_of(claims: list[Claim], quick: bool = False) -> dict[str, SweepConfig]:
    """Every sweep config the claims use, each once (claims share configs), by name in manifest order."""
    seen: dict[str, SweepConfig] = {}
    for c in claims:
        for cfg in claim_configs(c, quick):
            seen.setdefault(cfg.name, cfg)
    return seen


def validate(cfg: SweepConfig) -> int:
    """Build the network of every run of ``cfg`` (patterns included) without data or training; returns the count.

    Catches bad degrees, z values and layer sizes before any work (the input layer of ``"auto"`` runs
    comes from the dataset's shape, derived without loading it)."""
    from predsparse.patterns import network
    from predsparse.patterns.network import out_degrees_for_density
    from predsparse.train import TrainConfig

    runs = expand(cfg)
    built: set[str] = set()
    for run in runs:
        net, data = run["network"], run["dataset"]
        TrainConfig(**run["train"], seed=run["seed"])
        layers = list(net["layers"])
        if layers[0] == "auto":
            layers[0] = _features(data, net.get("conv"))
        kind = net.get("kind", "structured")
        dout = net.get("d_out")
        if dout is None and net.get("density") is not None and kind != "fc":
            dout = out_degrees_for_density(layers, net["density"])
        key = canonical([layers, dout, kind, net.get("z")])
        if key in built:  # the pattern's validity does not depend on the seed
            continue
        built.add(key)
        network(
            layers,
            None if kind == "fc" else dout,
            kind,
            z=net.get("z"),
            seed=run["seed"],
            clash_type=net.get("clash_type", 2),
            dither=net.get("dither", False),
        )
    return len(runs)


def _features(data: dict[str, Any], conv: list[int] | None) -> int:
    if data["name"].partition(":")[0] == "morse":
        from predsparse.morse import resolve_params

        p = resolve_params(data["name"].partition(":")[2] or None, **(data.get("morse") or {}))
        shape: tuple[int, ...] = (p["frame_len"] * p["dilation"],)
    else:  # image datasets: 28 x 28, flattened by PCA or padding
        shape = (28, 28)
        if data.get("pca_k"):
            shape = (int(data["pca_k"]),)
        if data.get("pad_to"):
            shape = (int(data["pad_to"]),)
    if conv:
        from predsparse.nn import front_end_output_shape, input_shape_for

        return math.prod(front_end_output_shape(input_shape_for(shape), [int(c) for c in conv]))
    return math.prod(shape)


def run_claims(
    claims: list[Claim],
    store: ResultStore,
    *,
    quick: bool = False,
    jobs: int | str = 1,
    progress: bool = True,
    out: Path | None = None,
) -> None:
    """Run (or resume) every sweep and study the claims need; configs are validated first, all of them."""
    seen = configs_of(claims, quick)
    for cfg in seen.values():
        validate(cfg)
    for cfg in seen.values():
        run_sweep(cfg, store, progress=progress, jobs=jobs)
    for c in claims:
        if c.study:
            STUDIES[c.study](
                quick=quick,
                out=(out or Path("runs")) / f"study-{c.study}",
                store=store.url,
                progress=progress,
                jobs=jobs,
            )


def estimate(claims: list[Claim], *, per_config: int = 2, progress: bool = True) -> dict[str, Any]:
    """Wall time of the full mode, extrapolated from one measured epoch of ``per_config`` runs of every config.

    Each sampled run trains one epoch at full scale (dataset loading timed apart, once per dataset); a
    config's time is its runs' total epochs times the mean measured epoch.  Both wall and CPU seconds of
    this process are measured: on a busy machine the wall time is inflated by the other jobs, while the
    CPU time (with ``--threads 1``) is what the same work needs on one quiet core.  Studies are not sampled.
    """
    import time

    from predsparse.experiments.sweep import run_one

    seen = configs_of(claims)
    out: dict[str, Any] = {"configs": {}}
    cache: dict[str, Any] = {}
    for cfg in seen.values():
        runs = expand(cfg)
        idx = sorted({round(i * (len(runs) - 1) / max(1, per_config - 1)) for i in range(per_config)})
        per_epoch, cpu, load = [], [], 0.0
        for i in idx:
            run = copy.deepcopy(runs[i])
            run["train"]["epochs"] = 1
            t0, c0 = time.perf_counter(), time.process_time()
            n_cached = len(cache)
            res = run_one(run, cache)
            total, ctotal = time.perf_counter() - t0, time.process_time() - c0
            if len(cache) > n_cached:
                load += total - res["seconds"]
            per_epoch.append(res["seconds"])
            cpu.append(ctotal * res["seconds"] / total)  # the training share of the CPU time
            if progress:
                print(f"{cfg.name} run {i}: {res['seconds']:.2f} s/epoch", file=sys.stderr)
        epochs = sum(int(r["train"].get("epochs", 10)) for r in runs)
        secs = float(np.mean(per_epoch)) * epochs + load
        csecs = float(np.mean(cpu)) * epochs + load
        out["configs"][cfg.name] = {
            "runs": len(runs),
            "epochs": epochs,
            "sampled": len(idx),
            "seconds_per_epoch": [round(x, 3) for x in per_epoch],
            "data_seconds": round(load, 1),
            "cpu_seconds_per_epoch": [round(x, 3) for x in cpu],
            "estimate_hours": round(secs / 3600, 2),
            "cpu_hours": round(csecs / 3600, 2),
        }
    out["total_hours"] = round(sum(v["estimate_hours"] for v in out["configs"].values()), 1)
    out["total_cpu_hours"] = round(sum(v["cpu_hours"] for v in out["configs"].values()), 1)
    return out


def rows_of(claim: Claim, store: ResultStore, quick: bool = False) -> list[dict[str, Any]]:
    """Stored results of the claim's runs (only runs its configs define), each with its key merged in."""
    out = []
    for cfg in claim_configs(claim, quick):
        # a run's place in the config orders variants (e.g. the Morse ladder) however the runs finished
        runs = expand(cfg)
        want = {canonical(_key(r)): i for i, r in enumerate(runs)}
        for row in store.rows(cfg.name):
            k = canonical(row["key"])
            if k in want:  # the run as the config says it now (network.d_out), not the store's key spelling
                run = {f: runs[want[k]][f] for f in ("dataset", "network", "train", "seed")}
                out.append({**row["result"], **run, "sweep": cfg.name, "order": want[k]})
    return out


def evaluate(claim: Claim, store: ResultStore, *, quick: bool = False, out: Path | None = None) -> dict[str, Any]:
    """The claim's verdict record: our figure, the seed's, verdict, reason, convergence, figure series."""
    if claim.study:
        study = STUDIES[claim.study](
            quick=quick, out=(out or Path("runs")) / f"study-{claim.study}", store=store.url, resume_only=True
        )
        rows: list[dict[str, Any]] = study["records"]
        stored, expected = len(rows), study.get("expected", len(rows))
        what = "study trainings"
    else:
        rows = rows_of(claim, store, quick)
        stored, expected = len(rows), sum(len(expand(c)) for c in claim_configs(claim, quick))
        what = "runs"
    if stored < expected:
        return {
            "id": claim.id,
            "claim": claim.claim,
            "seed": claim.seed,
            "ours": "-",
            "verdict": "not run",
            "reason": f"{stored} of {expected} {what} stored: run `predsparse reproduce --claims {claim.id}`",
        }
    res = VERDICTS[claim.verdict](study if claim.study else rows, claim.params)
    return {"id": claim.id, "claim": claim.claim, "seed": claim.seed, **res, **convergence(rows)}


def effort(claims: list[Claim], store: ResultStore, *, quick: bool = False) -> list[dict[str, Any]]:
    """What the stored runs of each config the claims use cost: runs stored of those configured, hours of
    training summed over runs (each run's own wall time: with ``--jobs N`` the command's wall time is about
    this over N), and the source commits that made them (``versions()["predsparse_commit"]``; None for rows
    stored before commits were recorded)."""
    seen = configs_of(claims, quick)
    out = []
    for name, cfg in seen.items():
        want = {canonical(_key(r)) for r in expand(cfg)}
        rows = [r["result"] for r in store.rows(name) if canonical(r["key"]) in want]
        commits = sorted({str((r.get("versions") or {}).get("predsparse_commit")) for r in rows})
        out.append(
            {
                "config": name,
                "runs": f"{len(rows)}/{len(want)}",
                "run_hours": sum(float(r.get("wall_seconds", r.get("seconds", 0.0))) for r in rows) / 3600,
                "commits": commits,
            }
        )
    for c in claims:
        if c.study:
            st = STUDIES[c.study](quick=quick, out=Path("runs"), store=store.url, resume_only=True)
            recs = st.get("records", [])
            out.append(
                {
                    "config": f"study {c.study}",
                    "runs": f"{len(recs)}/{st.get('expected', len(recs))}",
                    "run_hours": sum(float(r.get("train_seconds", 0.0)) for r in recs) / 3600,
                    "commits": sorted({str((r.get("versions") or {}).get("predsparse_commit")) for r in recs}),
                }
            )
    return out


def effort_table(rows: list[dict[str, Any]]) -> str:
    """The effort table (markdown)."""
    lines = ["| config | runs stored | training hours (sum over runs) | source commits |", "|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['config']} | {r['runs']} | {r['run_hours']:.2f} | {', '.join(r['commits']) or '-'} |")
    total = sum(r["run_hours"] for r in rows)
    lines.append(f"| **total** | | **{total:.2f}** | |")
    return "\n".join(lines)


def convergence(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Best-validation epochs, and the runs whose best epoch is their last (still improving)."""
    if not rows:
        return {}
    rows = [r for r in rows if "best_epoch" in r]  # study records stored before they kept their epochs
    if not rows:
        return {}
    best = [int(r["best_epoch"]) for r in rows]
    last = [int(r["train"].get("epochs", 0) if "train" in r else r.get("epochs", 0)) for r in rows]
    still = sum(b >= e for b, e in zip(best, last))
    return {
        "best_epoch": f"{np.median(best):.0f} (median; {min(best)}-{max(best)})",
        "still_improving": f"{still}/{len(rows)}",
    }


def scatter_study(
    *,
    quick: bool,
    out: Path,
    store: str,
    progress: bool = True,
    resume_only: bool = False,
    jobs: int | str = 1,
) -> dict[str, Any]:
    """The scatter study (``predsparse.experiments.scatter_study``): tiny in quick mode, full otherwise; its
    trainings go into ``store`` with the sweeps' (so one committed store resumes everything). With
    ``resume_only`` nothing is trained: the result from what the store holds (``complete`` False if partial)."""
    from predsparse.experiments import scatter_study as ss

    config = ss.tiny_config() if quick else ss.full_config()
    if resume_only:
        return ss.stored_result(config, store)
    return {**ss.run_study(config, out, progress=progress, jobs=jobs, store=store), "complete": True}


STUDIES = {"scatter": scatter_study}


# ---------------------------------------------------------------------------------------------------
# output


def table(records: list[dict[str, Any]]) -> str:
    """The verdict table (markdown)."""
    lines = [
        "| claim | ours (mean +- std over seeds) | seed | verdict | why | best epoch | still improving |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in records:
        lines.append(
            f"| {r['id']} | {r['ours']} | {r['seed']} | **{r['verdict']}** | {r['reason']} | "
            f"{r.get('best_epoch', '-')} | {r.get('still_improving', '-')} |"
        )
    return "\n".join(lines) + "\n"


def plot(record: dict[str, Any], path: Path) -> bool:
    """One figure for a claim from its ``figure`` series; False when the claim has none."""
    fig_spec = record.get("figure")
    if not fig_spec:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from predsparse.atomic import write_bytes

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, pts in fig_spec["series"].items():
        x, y, e = (np.array([p[i] for p in pts], dtype=float) for i in range(3))
        ax.errorbar(
            x, y, yerr=e, label=str(name), marker="o", capsize=2, linestyle="none" if fig_spec.get("points") else "-"
        )
    if fig_spec.get("hline") is not None:
        ax.axhline(fig_spec["hline"], color="gray", linestyle=":", label="reference")
    if fig_spec.get("logx"):
        from matplotlib.ticker import LogFormatter

        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.5)))
        ax.xaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.5)))
    ax.set_xlabel(fig_spec["x"])
    ax.set_ylabel(fig_spec["y"])
    ax.set_title(f"{record['id']}: {record['verdict']}", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    write_bytes(path, buf.getvalue())
    return True
