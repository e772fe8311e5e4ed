"""Many workers on one study or sweep, on SQLite and on a real PostgreSQL server (``backend`` fixture).

Workers are separate ``predsparse`` processes, as on separate machines; one is killed with SIGKILL in
the middle of its work. Checks are against the stores themselves: trial states and parameters in the
Optuna study, rows and claims in the results store, and a serial run of the same sweep.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import optuna
import pytest

import predsparse
from predsparse.claims import Claims, KeepAlive, db_url, new_owner
from predsparse.experiments.store import ResultStore, canonical
from predsparse.experiments.sweep import parse_config, run_sweep

CLI = [sys.executable, "-c", "import sys; from predsparse.cli import main; sys.exit(main())"]
ENV = {**os.environ, "PYTHONPATH": str(Path(predsparse.__file__).parents[1]), "OMP_NUM_THREADS": "1"}
VOLATILE = {"seconds", "wall_seconds", "versions"}  # wall time and the thread count differ between any two runs


def toy_npz(path: Path, n: int = 400, d: int = 8, k: int = 3) -> str:
    rng = np.random.default_rng(0)
    y = rng.integers(0, k, n)
    x = rng.normal(0, 2, (k, d))[y] + rng.normal(0, 1, (n, d))
    a, b = int(0.6 * n), int(0.8 * n)
    np.savez(path, xtr=x[:a], ytr=y[:a], xva=x[a:b], yva=y[a:b], xte=x[b:], yte=y[b:])
    return str(path)


def start(args: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(CLI + args, env=ENV, stdout=open(log, "w"), stderr=subprocess.STDOUT)


def wait_until(cond, what: str, timeout: float = 600.0, victim: subprocess.Popen | None = None):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        got = cond()
        if got:
            return got
        if victim is not None and victim.poll() is not None:
            pytest.fail(f"the worker to kill exited (code {victim.returncode}) before {what}")
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def test_search_workers_share_a_study_and_survive_a_kill(backend, tmp_path):
    kind, storage, _ = backend
    data = toy_npz(tmp_path / "d.npz")
    args = [
        "search",
        "--dataset",
        data,
        "--trials",
        "12",
        "--epochs",
        "8",
        "--min-width",
        "16",
        "--max-width",
        "64",
        "--storage",
        storage,
        "--study",
        "s",
        "--heartbeat",
        "1",
        "--no-prune",
        "--no-progress",
        "--json",
    ]
    procs = [start(args + ["--out", str(tmp_path / f"o{i}")], tmp_path / f"w{i}.log") for i in range(3)]
    victim = procs[0]

    def victim_trial():
        try:
            study = optuna.load_study(study_name="s", storage=db_url(storage))
        except KeyError:
            return None
        return next(
            (
                t
                for t in study.get_trials(deepcopy=False)
                if t.state == optuna.trial.TrialState.RUNNING
                and str(t.user_attrs.get("host_pid", "")).endswith(f":{victim.pid}")
            ),
            None,
        )

    killed = wait_until(victim_trial, "the worker started a trial", victim=victim)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    for i, p in enumerate(procs[1:], 1):
        assert p.wait(timeout=900) == 0, (tmp_path / f"w{i}.log").read_text()[-3000:]
    study = optuna.load_study(study_name="s", storage=db_url(storage))
    S = optuna.trial.TrialState
    complete = [t for t in study.trials if t.state == S.COMPLETE]
    assert len(complete) == 12
    assert not [t for t in study.trials if t.state in (S.RUNNING, S.WAITING)]
    params = [canonical(t.params) for t in complete]
    assert len(set(params)) == 12, "two complete trials drew the same candidate"
    # the killed trial was failed by its missing heartbeat and run again with the same parameters
    failed = study.trials[killed.number]
    assert failed.state == S.FAIL
    retried = [t for t in complete if t.system_attrs.get("failed_trial") == killed.number]
    # the retry keeps every parameter the killed trial had drawn (the rest it draws itself)
    assert len(retried) == 1 and all(retried[0].params[k] == v for k, v in failed.params.items())
    # every trial names its worker and sampler stream; three workers, three different streams
    assert len({t.user_attrs["sampler_seed"] for t in study.trials}) == 3
    assert sorted({t.user_attrs["slot"] for t in complete}) == list(range(12))
    out = json.loads((tmp_path / "o1" / "s.json").read_text())
    assert out["complete"] == 12


SWEEP = {
    "name": "w",
    "seeds": [0, 1, 2],
    "base": {"network": {"layers": [8, 32, 3]}, "train": {"epochs": 12, "batch_size": 32}},
    "grid": {"network.kind": ["structured", "random"], "network.d_out": [[8, 3], [16, 3]]},
}


def sweep_config(tmp_path: Path, data: str, **over) -> Path:
    cfg = json.loads(json.dumps(SWEEP))
    cfg["base"]["dataset"] = {"name": data}
    cfg.update(over)
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps(cfg))
    return path


def stable(rows) -> dict[str, dict]:
    return {canonical(r["key"]): {k: v for k, v in r["result"].items() if k not in VOLATILE} for r in rows}


def serial_rows(tmp_path: Path, cfg_path: Path) -> dict[str, dict]:
    cfg = parse_config(json.loads(cfg_path.read_text()))
    store = ResultStore(tmp_path / "serial.db")
    run_sweep(cfg, store, progress=False, jobs=1)
    return stable(store.rows(cfg.name))


def test_sweep_workers_share_runs_and_redo_a_killed_one(backend, tmp_path):
    kind, _, store_url = backend
    cfg_path = sweep_config(tmp_path, toy_npz(tmp_path / "d.npz"))
    args = ["sweep", str(cfg_path), "--store", store_url, "--no-progress", "--json"]
    procs = [start(args, tmp_path / f"w{i}.log") for i in range(3)]
    victim = procs[0]
    wait_until(lambda: Path(store_url).exists() if kind == "sqlite" else True, "the store exists", victim=victim)
    store = ResultStore(store_url)

    def victim_run():
        done = store.done_keys("w")
        return next(
            (r for r in store.claim_rows("w") if f":{victim.pid}:" in r["owner"] and canonical(r["key"]) not in done),
            None,
        )

    held = wait_until(victim_run, "the worker claimed a run", victim=victim)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    for i, p in enumerate(procs[1:], 1):
        assert p.wait(timeout=900) == 0, (tmp_path / f"w{i}.log").read_text()[-3000:]
    rows = list(store.rows("w"))
    keys = [canonical(r["key"]) for r in rows]
    assert len(rows) == 12 and len(set(keys)) == 12
    claims = {canonical(r["key"]): r for r in store.claim_rows("w")}
    assert claims[canonical(held["key"])]["attempts"] >= 2, "the killed worker's run was not redone"
    assert canonical(held["key"]) in keys
    assert stable(rows) == serial_rows(tmp_path, cfg_path)  # accuracies and all else, exactly


def test_sweep_jobs_2_stores_the_rows_of_jobs_1(backend, tmp_path):
    kind, _, store_url = backend
    cfg_path = sweep_config(
        tmp_path,
        toy_npz(tmp_path / "d.npz"),
        seeds=[0],
        grid={"network.kind": ["structured", "random"], "network.d_out": [[8, 3], [16, 3]]},
    )
    cfg = parse_config(json.loads(cfg_path.read_text()))
    store = ResultStore(store_url)
    counts = run_sweep(cfg, store, progress=False, jobs=2)
    assert counts == {"runs": 4, "skipped": 0, "ran": 4, "jobs": 2}
    assert stable(store.rows("w")) == serial_rows(tmp_path, cfg_path)
    assert all(r["attempts"] == 1 for r in store.claim_rows("w"))  # no run trained twice


def test_search_jobs_2_fills_the_study(backend, tmp_path):
    kind, storage, _ = backend
    data = toy_npz(tmp_path / "d.npz")
    args = [
        "search",
        "--dataset",
        data,
        "--trials",
        "6",
        "--epochs",
        "2",
        "--max-width",
        "32",
        "--min-width",
        "4",
        "--storage",
        storage,
        "--study",
        "j",
        "--jobs",
        "2",
        "--no-progress",
        "--out",
        str(tmp_path / "o"),
    ]
    r = subprocess.run(CLI + args, env=ENV, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "2 jobs" in r.stdout
    study = optuna.load_study(study_name="j", storage=db_url(storage))
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 6 and len({canonical(t.params) for t in complete}) == 6
    assert {t.user_attrs["worker"] for t in study.trials} == {0, 1}
    # a rerun with the same --trials has nothing to do; a larger --trials tops the study up
    r = subprocess.run(CLI + args[:4] + ["7"] + args[5:], env=ENV, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    study = optuna.load_study(study_name="j", storage=db_url(storage))
    assert sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials) == 7


def test_claims_expire_and_exactly_one_taker_wins(backend):
    kind, _, store_url = backend
    store = ResultStore(store_url)
    claims: Claims = store.claims
    far_away = "other-host/1:4242:abcd1234"  # a worker on another machine: only its lease can free its claim
    assert claims.claim("x", "a", far_away, lease=0.5) is not None
    me, other = new_owner(), new_owner()
    assert claims.claim("x", "a", me, lease=60) is None  # its lease is live
    time.sleep(1.0)
    won = [c for c in (claims.claim("x", "a", me, lease=60), claims.claim("x", "a", other, lease=60)) if c]
    assert len(won) == 1 and won[0].owner == me and won[0].attempts == 2
    assert claims.renew(won[0], 60) and claims.rows("x")[0]["owner"] == me
    assert [claims.register("r", me), claims.register("r", other), claims.register("r", me)] == [0, 1, 2]
    # a working worker's lease is renewed in the background, so a long run is not taken from it
    c = claims.claim("k", "b", me, lease=0.4)
    with KeepAlive(claims, c, 0.4) as ka:
        time.sleep(1.2)
        assert claims.claim("k", "b", other, lease=60) is None
    assert not ka.lost
    time.sleep(0.6)
    assert claims.claim("k", "b", other, lease=60) is not None  # renewals stopped: the lease runs out


def test_jobs_option_and_auto_choice():
    from predsparse.errors import InputError
    from predsparse.parallel import auto_jobs, parse_jobs, threads_per_job

    assert parse_jobs("3") == 3 and parse_jobs("auto") == "auto" and parse_jobs(None) == 1
    for bad in ("0", "-1", "many"):
        with pytest.raises(InputError, match="--jobs"):
            parse_jobs(bad)
    # small models: one job per core; a 3M-weight model takes 3 threads per job; never more jobs than runs
    assert auto_jobs(50_000, n_cores=8) == 8
    assert auto_jobs(3_000_000, n_cores=8) == 2
    assert auto_jobs(50_000_000, n_cores=8) == 1
    assert auto_jobs(50_000, n_cores=8, work_items=3) == 3
    assert threads_per_job(3, n_cores=8) == 2 and threads_per_job(16, n_cores=8) == 1
