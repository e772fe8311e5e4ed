"""Search workers: N complete trials in one study, shared by any number of processes and machines.

``--trials N`` is a property of the study, not of one call: the study gets N *slots*; a worker claims a
free slot (a row in the study's database, :mod:`predsparse.claims`) and runs trials for it until one
completes (a pruned or failed trial leaves the slot free for the next trial). A slot is free when nobody
claimed it, when its claim's lease ran out before a trial started, or when its trial ended without
completing: a worker killed mid-trial stops sending Optuna heartbeats, its trial is failed after the
grace period and queued again with the same parameters, and the next worker to take the slot runs that
retry. So the study ends with exactly N complete trials whoever ran them, and a rerun tops up.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from typing import Any

from predsparse.errors import InputError


def _states(study) -> dict[str, Any]:  # noqa: ANN001
    optuna = __import__("optuna")
    S = optuna.trial.TrialState
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == S.COMPLETE]
    # a draw over the parameter budget trains nothing, so it does not use up --max-trials
    finished = [t for t in trials if t.state in (S.COMPLETE, S.PRUNED, S.FAIL) and "infeasible" not in t.user_attrs]
    infeasible = [t for t in trials if "infeasible" in t.user_attrs]
    return {"trials": trials, "complete": complete, "finished": finished, "infeasible": infeasible, "S": S}


def study_loop(
    study: Any,
    objective: Callable,
    settings: Any,
    *,
    worker: int,
    emit: Callable[[str, str], None],
    engine: Any,
    wait: float = 0.5,
) -> None:
    """One worker: claim free slots and run trials until the study has ``settings.trials`` complete ones
    (or holds ``settings.max_trials`` finished trials in all, or ``settings.timeout`` seconds passed)."""
    import optuna

    from predsparse.claims import Claims, new_owner
    from predsparse.search.runner import sampler_seed

    claims = Claims(engine)
    scope = f"search:{settings.study_name}"
    owner = new_owner()
    lease = 3.0 * settings.heartbeat  # covers the moment between claiming a slot and the trial's first heartbeat
    n = settings.trials
    cap = settings.max_trials or 4 * n
    t0 = time.monotonic()
    st = _states(study)
    # complete trials made before slots existed count as done slots
    legacy = sum(1 for t in st["complete"] if "slot" not in t.user_attrs)
    current: dict[str, Any] = {}

    def wrapped(trial):  # noqa: ANN001, ANN202
        claims.set_ref(current["claim"], str(trial._trial_id))
        trial.set_user_attr("slot", current["slot"])
        trial.set_user_attr("worker", worker)
        trial.set_user_attr("sampler_seed", sampler_seed(settings.seed, worker))
        trial.set_user_attr("host_pid", f"{socket.gethostname()}:{os.getpid()}")
        emit("start", f"#{trial.number}")
        current["trial"] = trial.number
        try:
            return objective(trial)
        except BaseException as exc:  # the first failure's reason is reported when nothing completed
            trial.set_user_attr("reason", str(exc) or type(exc).__name__)
            raise

    while True:
        optuna.storages.fail_stale_trials(study)  # fail (and queue again) trials of workers that died
        st = _states(study)
        if len(st["complete"]) >= n or len(st["finished"]) >= cap or len(st["infeasible"]) >= 50 * n:
            return
        if settings.timeout is not None and time.monotonic() - t0 > settings.timeout:
            return
        done_slots = {t.user_attrs.get("slot") for t in st["complete"]}
        by_id = {str(t._trial_id): t for t in st["trials"]}
        rows = {r["item"]: r for r in claims.rows(scope)}
        claim, slot = None, None
        for k in range(legacy, n):
            if k in done_slots:
                continue
            row = rows.get(str(k))
            if row is None or row["ref"] is None:
                claim = claims.claim(scope, str(k), owner, lease)
            else:
                t = by_id.get(row["ref"])
                # a finished state is final, so taking over on it cannot race with the trial's own worker
                if t is not None and t.state in (st["S"].FAIL, st["S"].PRUNED):
                    claim = claims.take_over_ref(scope, str(k), row["ref"], owner, lease)
            if claim is not None:
                slot = k
                break
        if claim is None:
            time.sleep(wait)  # every free slot is being worked on; wait for them or for a stale trial
            continue
        current.update(claim=claim, slot=slot, trial=None)
        study.optimize(wrapped, n_trials=1, catch=(InputError,), show_progress_bar=False)
        if current["trial"] is not None:
            t = next(t for t in study.get_trials(deepcopy=False) if t.number == current["trial"])
            emit("done" if t.state == st["S"].COMPLETE else "end", f"#{t.number}")


def _search_worker(dataset, space, settings, *, emit: Callable, worker_index: int) -> None:  # noqa: ANN001
    import json

    from predsparse.search.runner import run_search

    stats = run_search(dataset, space, settings, progress=False, emit=emit)
    emit("stats", json.dumps(stats))


def run_workers_for(dataset, space, settings, max_params: int, *, progress: bool) -> tuple[dict[str, int], int]:  # noqa: ANN001
    """Run ``settings.jobs`` workers (this process for 1) with one progress bar; returns summed counters, jobs."""
    import json

    from predsparse.parallel import RunningBar, resolve_jobs, run_workers
    from predsparse.search.runner import make_storage, run_search

    storage = make_storage(settings)  # one clear error for a bad URL before any process starts
    import optuna

    try:
        done0 = len(_states(optuna.load_study(study_name=settings.study_name, storage=storage))["complete"])
    except KeyError:  # a new study
        done0 = 0
    typical = int(max_params * (space.min_density * space.max_density) ** 0.5)  # a typical sparse candidate
    jobs = resolve_jobs(settings.jobs, typical, work_items=max(1, settings.trials - done0))
    bar = RunningBar(
        settings.trials,
        min(done0, settings.trials),
        settings.study_name + (f" ({jobs} jobs)" if jobs > 1 else ""),
        disable=not progress,
    )
    stats = {"filtered": 0, "redraws": 0}

    def on_event(worker: int, kind: str, label: str) -> None:
        if kind == "stats":
            for k, v in json.loads(label).items():
                stats[k] = stats.get(k, 0) + v
        else:
            bar.event(worker, kind, label)

    try:
        if jobs == 1:
            got = run_search(dataset, space, settings, progress=False, emit=lambda k, lab: on_event(0, k, lab))
            stats.update(got)
        else:
            run_workers(_search_worker, (dataset, space, settings), jobs, on_event=on_event)
    finally:
        bar.close()
    return stats, jobs
