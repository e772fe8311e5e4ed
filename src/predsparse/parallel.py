"""Local worker processes for ``--jobs N``: N trainings at once, ``cores / N`` threads each, one progress bar.

The workers are the same workers that run on many machines: each claims its work from the shared store
(sweep runs, search trial slots), so a local ``--jobs 4`` and four machines differ only in where the
processes run. Workers are started with the ``spawn`` method (no fork of a process that holds OpenMP or
database state) and report what they start and finish through a queue; the parent draws the one bar.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import queue
import signal
import threading
import traceback
from collections.abc import Callable
from typing import Any

from predsparse.errors import InputError
from predsparse.threads import set_threads

# A run of up to this many weights (multiply-adds per sample) gains little from a second thread at the
# usual batch sizes: the per-call threading overhead eats the gain, so such runs go one thread per job.
WEIGHTS_PER_THREAD = 1_000_000


def cores() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def parse_jobs(text: str | int | None) -> int | str:
    """``--jobs`` value: a whole number >= 1 or ``auto``."""
    if text is None:
        return 1
    if isinstance(text, int) or str(text).strip().isdigit():
        n = int(text)
        if n < 1:
            raise InputError(f"--jobs {text} must be >= 1 or 'auto'")
        return n
    if str(text).strip().lower() == "auto":
        return "auto"
    raise InputError(f"--jobs {text!r} must be a whole number >= 1 or 'auto'")


def auto_jobs(weights: int, n_cores: int | None = None, work_items: int | None = None) -> int:
    """Jobs for ``--jobs auto``: each job gets ``ceil(weights / 1M)`` threads (at most all cores), so
    small models run one per core and large ones share cores; never more jobs than work items."""
    n_cores = n_cores or cores()
    per_job = min(n_cores, max(1, math.ceil(weights / WEIGHTS_PER_THREAD)))
    jobs = max(1, n_cores // per_job)
    return max(1, min(jobs, work_items)) if work_items is not None else jobs


def resolve_jobs(jobs: int | str, weights: int, work_items: int | None = None) -> int:
    """A concrete job count from ``--jobs`` (``auto`` uses :func:`auto_jobs`)."""
    jobs = parse_jobs(jobs)
    return auto_jobs(weights, work_items=work_items) if jobs == "auto" else int(jobs)


def threads_per_job(jobs: int, n_cores: int | None = None) -> int:
    """``cores // jobs``, at least one."""
    return max(1, (n_cores or cores()) // max(1, jobs))


def _child(target: Callable[..., Any], args: tuple, threads: int, index: int, q: Any) -> None:
    set_threads(threads)  # torch, the numba kernels (they follow torch) and OpenMP libraries started later

    def emit(kind: str, label: str = "") -> None:
        q.put((index, kind, label))

    try:
        target(*args, emit=emit, worker_index=index)
        q.put((index, "exit", ""))
    except InputError as exc:
        q.put((index, "input-error", str(exc)))
    except KeyboardInterrupt:
        q.put((index, "exit", "interrupted"))
    except BaseException:
        q.put((index, "crash", traceback.format_exc()))


def _stop_on_sigterm() -> Any:
    """Make SIGTERM (``kill``, a batch system's stop) raise ``SystemExit`` in this process while workers run, so
    they are stopped with it instead of training on as orphans; returns the previous handler (None when not on
    the main thread, where no handler can be set)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    return signal.signal(signal.SIGTERM, handler)


def run_workers(
    target: Callable[..., Any],
    args: tuple,
    jobs: int,
    *,
    threads: int | None = None,
    on_event: Callable[[int, str, str], None] | None = None,
    poll: Callable[[], None] | None = None,
) -> list[int]:
    """Run ``target(*args, emit=..., worker_index=i)`` in ``jobs`` spawned processes and wait for all.

    ``on_event(worker, kind, label)`` sees each ``emit`` (e.g. ``"start"``/``"done"`` with a run's name);
    ``poll()`` is called about once a second (e.g. to refresh a bar from the store). A worker's
    :class:`InputError` is raised here with its message; a crash is raised with the worker's traceback.
    A worker killed by a signal is reported in the returned exit codes; the others carry on (its work is
    claimed again when its lease runs out). Ctrl-C or SIGTERM of this process stops the workers too.
    Returns the exit code of each worker.
    """
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    threads = threads or threads_per_job(jobs)
    procs = [
        ctx.Process(target=_child, args=(target, args, threads, i, q), daemon=True, name=f"predsparse-worker-{i}")
        for i in range(jobs)
    ]
    for p in procs:
        p.start()
    old_handler = _stop_on_sigterm()
    errors: list[tuple[str, str]] = []
    finished: set[int] = set()
    try:
        while len(finished) < jobs:
            try:
                i, kind, label = q.get(timeout=1.0)
            except queue.Empty:
                for i, p in enumerate(procs):  # a worker killed by a signal never says goodbye
                    if i not in finished and not p.is_alive():
                        finished.add(i)
                        if on_event:
                            on_event(i, "killed", f"exit code {p.exitcode}")
                if poll:
                    poll()
                continue
            if kind in ("exit", "input-error", "crash"):
                finished.add(i)
                if kind != "exit":
                    errors.append((kind, label))
                    for p in procs:  # the same error would hit every worker: stop them
                        if p.is_alive():
                            p.terminate()
            elif on_event:
                on_event(i, kind, label)
    except BaseException:  # Ctrl-C or an error here: stop the workers (their claims are taken over)
        for p in procs:
            if p.is_alive():
                p.terminate()
        raise
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
                p.join()
        if old_handler is not None:
            signal.signal(signal.SIGTERM, old_handler)
    if errors:
        kind, msg = errors[0]
        if kind == "input-error":
            raise InputError(msg)
        raise RuntimeError(f"a worker process failed:\n{msg}")
    return [p.exitcode for p in procs]


class RunningBar:
    """One tqdm bar for many workers: the postfix names what each worker is running now."""

    def __init__(self, total: int, initial: int, desc: str, disable: bool) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, initial=initial, desc=desc, disable=disable, dynamic_ncols=True)
        self.current: dict[int, str] = {}

    def event(self, worker: int, kind: str, label: str) -> None:
        """Handle a worker's ``start`` / ``done`` / ``killed`` event."""
        if kind == "start":
            self.current[worker] = label
        elif kind == "done":
            self.current.pop(worker, None)
            self.bar.update(1)
        elif kind == "killed":
            self.current[worker] = f"killed ({label})"
        self.bar.set_postfix_str(" | ".join(f"w{w}: {s}" for w, s in sorted(self.current.items())), refresh=True)

    def set_done(self, n: int) -> None:
        """Move the bar to ``n`` finished items (work done by other machines counts too)."""
        if n > self.bar.n:
            self.bar.update(n - self.bar.n)

    def close(self) -> None:
        self.bar.close()
