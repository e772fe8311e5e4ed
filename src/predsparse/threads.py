"""Threading set-up for torch and the numba kernels: robust on a busy machine, one thread-count knob.

What ``import predsparse`` does (before torch or numba load, so that their OpenMP runtimes read it):

- ``OMP_WAIT_POLICY=PASSIVE`` and ``KMP_BLOCKTIME=0``: an OpenMP thread that reaches a barrier first
  sleeps instead of spinning for up to ~300,000 iterations (libgomp's default; Intel's runtime spins
  200 ms). Spinning is cheap on an idle machine, but when another process holds a core the spinning
  threads steal the time the thread they wait for needs, and a training step gets 20-40x slower
  (measured on 2 cores: ``benchmarks/bench_load.py``). Sleeping costs a wake-up per parallel region
  on an idle machine instead.
- ``MKL_CBWR=AUTO,STRICT``: MKL's strict conditional numerical reproducibility, under which its GEMMs give
  the same bits with any number of threads. Fully connected junctions run torch's ``F.linear``, which MKL
  computes; without it MKL split the batch sum of a small junction's weight gradient (100 -> 10) across
  threads, so one training gave other numbers on 1 and on 2 threads, and ``--jobs 2`` (one thread per
  worker) stored other numbers than ``--jobs 1``. MKL reads it at its first call, so it also works when
  predsparse is imported after torch (but before any matrix product). A user's own ``MKL_CBWR`` is kept.
- With ``PREDSPARSE_THREADS=N`` in the environment, ``N`` threads for torch and the kernels
  (:func:`set_threads`); the ``predsparse --threads N`` option sets the same.

Nothing is changed where the user chose: a set ``OMP_WAIT_POLICY``, ``GOMP_SPINCOUNT`` or
``KMP_BLOCKTIME`` is left as it is, and ``PREDSPARSE_THREADING=off`` turns the whole set-up off.
The wait policy only takes effect when predsparse is imported before torch (or anything else that
loads an OpenMP runtime); :func:`info` says whether it did.
"""

from __future__ import annotations

import os
import sys

WAIT_DEFAULTS = {"OMP_WAIT_POLICY": "PASSIVE", "KMP_BLOCKTIME": "0"}
"""Environment the library sets (unless already set) before the OpenMP runtimes load."""

REPRO_DEFAULTS = {"MKL_CBWR": "AUTO,STRICT"}
"""Environment the library sets (unless already set) so that dense products do not depend on the thread count."""

USER_WAIT_VARS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")
"""If the user set any of these, the library leaves the wait policy alone."""

_INFO: dict = {}


def _openmp_loaded() -> bool:
    """True when an OpenMP runtime is already in this process (then its wait policy is fixed)."""
    if any(m in sys.modules for m in ("torch", "numba")):
        return True
    try:
        with open("/proc/self/maps") as f:
            maps = f.read()
    except OSError:  # not Linux: judge by the modules alone
        return False
    return any(lib in maps for lib in ("libgomp", "libiomp", "libomp"))


def _env_threads() -> int | None:
    """``PREDSPARSE_THREADS`` as a thread count (None when unset or empty); InputError when malformed."""
    raw = os.environ.get("PREDSPARSE_THREADS", "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        from predsparse.errors import InputError

        raise InputError(f"PREDSPARSE_THREADS={raw!r} must be a whole number >= 1")
    return int(raw)


def apply_defaults() -> dict:
    """Set the environment described in the module docstring (once; called by ``import predsparse``).

    Returns :func:`info`. Never raises for a malformed ``PREDSPARSE_THREADS`` here (importing must not
    fail): that is reported by :func:`info` and raised by the CLI and :func:`set_threads` paths.
    """
    if _INFO:
        return _INFO
    off = os.environ.get("PREDSPARSE_THREADING", "").strip().lower() in ("off", "0", "no", "false")
    user = [k for k in USER_WAIT_VARS if k in os.environ]
    late = _openmp_loaded()
    applied: dict[str, str] = {}
    if not off and not user:
        for k, v in WAIT_DEFAULTS.items():
            os.environ[k] = v
            applied[k] = v
    reproducible: dict[str, str] = {}
    if not off:
        for k, v in REPRO_DEFAULTS.items():
            if k not in os.environ:
                os.environ[k] = v
                reproducible[k] = v
    _INFO.update(
        off=off, user_set=user, applied=applied, late=bool(applied) and late, threads=None, reproducible=reproducible
    )
    if not off:
        try:
            n = _env_threads()
        except Exception as exc:  # reported, not raised, at import
            _INFO["threads_error"] = str(exc)
            n = None
        if n is not None:
            set_threads(n)
    return _INFO


def set_threads(n: int) -> None:
    """Use ``n`` threads for torch's operations and the sparse kernels, in this process and in the
    processes it starts (``PREDSPARSE_THREADS`` and ``OMP_NUM_THREADS`` are set for them).

    Before torch loads this only sets the environment (torch then starts with ``n`` threads, without
    being imported here); afterwards it also calls ``torch.set_num_threads(n)``. The numba kernels
    follow torch's count at every call."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        from predsparse.errors import InputError

        raise InputError(f"threads {n!r} must be a whole number >= 1")
    os.environ["PREDSPARSE_THREADS"] = str(n)
    os.environ["OMP_NUM_THREADS"] = str(n)
    os.environ["MKL_NUM_THREADS"] = str(n)
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "set_num_threads"):
        torch.set_num_threads(n)
    _INFO["threads"] = n


def late_warning(threads: int) -> str | None:
    """The warning for a training run on ``threads`` threads when the wait policy came too late (``late`` in
    :func:`info`: predsparse was imported after torch, whose OpenMP threads then spin-wait): with another
    process busy on the machine a training step can then be many times slower (measured 25x for the
    Fashion-MNIST MLP on 2 cores, ``benchmarks/bench_load.py``, set-up ``late``). Given once per process
    (None afterwards, on one thread, or when the policy is in effect)."""
    if not _INFO.get("late") or threads <= 1 or _INFO.get("warned_late"):
        return None
    _INFO["warned_late"] = True
    try:
        load = f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores now; "
    except OSError:  # not available on every platform
        load = ""
    return (
        "predsparse was imported after torch, so torch's OpenMP threads spin-wait at every barrier: while "
        f"another process is busy ({load}see benchmarks/bench_load.py) training can run many times slower. "
        "Import predsparse before torch, set OMP_WAIT_POLICY=PASSIVE before starting Python, or use one "
        "thread (predsparse.threads.set_threads(1))."
    )


def info() -> dict:
    """What the set-up did: ``applied`` (wait-policy variables set), ``reproducible`` (``MKL_CBWR`` when set
    here), ``user_set`` (the user's own wait settings, left alone),
    ``off`` (``PREDSPARSE_THREADING=off``), ``late`` (applied after an OpenMP runtime had loaded, so
    without effect on it), ``threads`` (a count from ``PREDSPARSE_THREADS`` / :func:`set_threads`)."""
    return dict(_INFO)
