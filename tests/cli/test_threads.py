"""Threading set-up (issue 16): what ``import predsparse`` and ``--threads`` / ``PREDSPARSE_THREADS`` change.

Each check runs in a fresh interpreter, since the set-up acts when the libraries load.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from predsparse.cli import main

ROOT = Path(__file__).resolve().parents[2]
VARS = (
    "OMP_WAIT_POLICY",
    "GOMP_SPINCOUNT",
    "KMP_BLOCKTIME",
    "PREDSPARSE_THREADS",
    "PREDSPARSE_THREADING",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
)

# after the set-up: torch's count, and numba's count as a kernel call leaves it (the kernels follow torch)
PROBE = """
import json, os, torch, numba
from predsparse import patterns as P, threads
from predsparse.nn import SparseLinear
SparseLinear(P.structured(64, 32, 4, seed=0))(torch.ones(40, 64))
print(json.dumps({"torch": torch.get_num_threads(), "numba": numba.get_num_threads(),
                  "env": {k: os.environ.get(k) for k in %r}, "info": threads.info()}))
""" % (VARS,)


def _run(code: str, env_add: dict[str, str] | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in VARS and k != "MKL_CBWR"}
    env.update(env_add or {})
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def test_import_sets_passive_wait_policy_before_torch_loads():
    r = _run("import predsparse\n" + PROBE)
    assert r["env"]["OMP_WAIT_POLICY"] == "PASSIVE" and r["env"]["KMP_BLOCKTIME"] == "0"
    assert r["info"]["applied"] == {"OMP_WAIT_POLICY": "PASSIVE", "KMP_BLOCKTIME": "0"}
    assert r["info"]["late"] is False
    assert r["torch"] == r["numba"] == min(_cores(), r["torch"])  # default: all cores, numba alike


def test_import_after_torch_is_reported_late():
    r = _run("import torch, predsparse\n" + PROBE)
    assert r["info"]["late"] is True


@pytest.mark.parametrize(
    "var,value", [("OMP_WAIT_POLICY", "ACTIVE"), ("GOMP_SPINCOUNT", "1000"), ("KMP_BLOCKTIME", "5")]
)
def test_user_wait_settings_are_left_alone(var, value):
    r = _run("import predsparse\n" + PROBE, {var: value})
    assert r["env"][var] == value
    assert r["info"]["applied"] == {} and r["info"]["user_set"] == [var]
    assert {k: v for k, v in r["env"].items() if v is not None} == {var: value}


def test_threading_off_changes_nothing():
    r = _run("import predsparse\n" + PROBE, {"PREDSPARSE_THREADING": "off"})
    assert {k: v for k, v in r["env"].items() if v is not None} == {"PREDSPARSE_THREADING": "off"}


def test_env_threads_in_library_use():
    r = _run("import predsparse\n" + PROBE, {"PREDSPARSE_THREADS": "1"})
    assert (r["torch"], r["numba"]) == (1, 1)
    assert r["env"]["OMP_NUM_THREADS"] == "1"  # processes it starts get the same count


def test_set_threads_after_torch_loaded():
    r = _run("import torch, predsparse\npredsparse.threads.set_threads(1)\n" + PROBE)
    assert (r["torch"], r["numba"]) == (1, 1)


@pytest.mark.parametrize(
    "args",
    [
        ["--threads", "1", "demo", "--help"],
        ["demo", "--threads", "1", "--help"],
        ["pattern", "study", "--threads", "1", "--help"],
        ["pattern", "--threads", "1", "show", "--help"],
        ["morse", "--threads", "1", "--help"],
        ["hw", "--threads", "1", "--help"],
    ],
)
def test_cli_threads_option_takes_effect(args):
    code = (
        "import sys\nfrom predsparse.cli import main\n"
        f"try:\n    main({args!r}, standalone_mode=False)\nexcept SystemExit:\n    pass\n" + PROBE
    )
    r = _run(code)
    assert (r["torch"], r["numba"]) == (1, 1)


def test_malformed_env_threads_is_refused_by_the_cli():
    env = {k: v for k, v in os.environ.items() if k not in VARS}
    env["PREDSPARSE_THREADS"] = "two"
    env["PYTHONPATH"] = str(ROOT / "src")
    p = subprocess.run(
        [sys.executable, "-c", "from predsparse.cli import main; main(['demo', '--help'])"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 2 and p.stderr.strip() == "error: PREDSPARSE_THREADS='two' must be a whole number >= 1"


@pytest.fixture
def keep_threads(monkeypatch):
    """In-process CLI calls set the thread count and environment: put both back afterwards."""
    import torch

    before = torch.get_num_threads()
    for k in VARS:  # monkeypatch restores each variable (or its absence) at teardown
        monkeypatch.setenv(k, os.environ[k]) if k in os.environ else monkeypatch.delenv(k, raising=False)
    yield
    torch.set_num_threads(before)


def _commands(cmd: click.Command, path: tuple[str, ...] = ()):
    yield path, cmd
    for name, sub in getattr(cmd, "commands", {}).items():
        yield from _commands(sub, (*path, name))


def test_every_command_accepts_threads(keep_threads):
    runner = CliRunner()
    for path, cmd in _commands(main):
        assert any(p.name == "threads" for p in cmd.params), path
        res = runner.invoke(main, [*path, "--threads", "1", "--help"])
        assert res.exit_code == 0, (path, res.output)
        assert "--threads" in res.output


def test_threads_accepted_wherever_the_readme_shows_it(keep_threads):
    text = (ROOT / "README.md").read_text()
    shown = re.findall(r"predsparse((?: [a-z][a-z-]*)*?) [^`\n]*--threads", text)
    assert shown, "the README shows --threads somewhere"
    runner = CliRunner()
    for words in shown:
        path = words.split()
        res = runner.invoke(main, [*path, "--threads", "1", "--help"])
        assert res.exit_code == 0, (path, res.output)


FIT = """
import warnings
from predsparse import patterns as P, threads
from predsparse.data.format import Dataset
from predsparse.nn import SparseMLP
from predsparse.train.loop import TrainConfig, fit
import numpy as np
rng = np.random.default_rng(0)
x = lambda n: rng.normal(size=(n, 8)).astype(np.float32)
y = lambda n: rng.integers(0, 2, n).astype(np.int64)
ds = Dataset(xtr=x(32), ytr=y(32), xva=x(8), yva=y(8), xte=x(8), yte=y(8), num_classes=2)
got = []
for _ in range(2):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        fit(SparseMLP([8, 4, 2], [P.fully_connected(8, 4), P.fully_connected(4, 2)]), ds, TrainConfig(epochs=1), progress=False)
    got.append([str(m.message) for m in w if "imported after torch" in str(m.message)])
print(json.dumps({"warnings": got, "info": threads.info()}))
"""


@pytest.mark.parametrize("torch_first", [True, False])
def test_training_warns_once_when_the_wait_policy_came_after_torch(torch_first):
    """Imported after torch (torch's threads spin-wait), ``fit`` on 2 threads warns once per process how to
    fix it; imported first, it says nothing."""
    head = "import json, torch, predsparse\n" if torch_first else "import json, predsparse, torch\n"
    r = _run(head + FIT, {"PREDSPARSE_THREADS": "2"})
    assert r["info"]["late"] is torch_first
    counts = [len(w) for w in r["warnings"]]
    assert counts == ([1, 0] if torch_first else [0, 0])
    if torch_first:
        assert "OMP_WAIT_POLICY=PASSIVE" in r["warnings"][0][0] and "set_threads(1)" in r["warnings"][0][0]


# gradients of a fully connected MLP (torch's F.linear, computed by MKL) on 1 and on 2 threads, in one process
FC_GRADS = """
import json, torch
import predsparse
from predsparse import patterns as P
from predsparse.nn import SparseMLP
layers = [784, 800, 100, 10]

def grads(threads):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = SparseMLP(layers, [P.fully_connected(a, b) for a, b in zip(layers[:-1], layers[1:])])
    x, y = torch.randn(256, 784), torch.randint(0, 10, (256,))
    torch.nn.functional.cross_entropy(model(x), y).backward()
    return [p.grad for p in model.parameters()]

same = [torch.equal(a, b) for a, b in zip(grads(1), grads(2))]
print(json.dumps({"same": same, "info": predsparse.threads.info()}))
"""


def test_fully_connected_gradients_do_not_depend_on_the_thread_count():
    """A fully connected junction runs on MKL's GEMM; the library asks MKL for strict reproducibility, so one and
    two threads give the same bits (without it the 100 -> 10 junction's weight gradient differed), and
    ``--jobs 2`` workers on one thread store the numbers of ``--jobs 1`` on two."""
    r = _run(FC_GRADS)
    assert r["info"]["reproducible"] == {"MKL_CBWR": "AUTO,STRICT"}
    assert all(r["same"]), r["same"]


def test_user_mkl_cbwr_is_left_alone():
    r = _run("import predsparse\n" + PROBE, {"MKL_CBWR": "COMPATIBLE"})
    assert r["info"]["reproducible"] == {}
