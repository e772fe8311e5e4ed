"""``predsparse sweep``: a bad config (a bad grid point late in the grid, wrong types, unknown keys, non-UTF-8 text)
or a bad ``--store`` is one line, exit 2, before any run trains and before the results store is created; a run
that diverges is recorded as diverged in its row instead of stopping the sweep."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bad_input import assert_refused, files_in, run, save_npz
from predsparse.experiments.store import ResultStore


def config(tmp_path, **changes) -> dict:
    cfg = {
        "name": "t",
        "seeds": [0],
        "base": {
            "dataset": {"name": str(save_npz(tmp_path / "d.npz"))},
            "network": {"layers": [6, 8, 3], "d_out": [4, 3]},
            "train": {"epochs": 1},
        },
        "grid": {"network.kind": ["structured", "random"]},
    }
    cfg.update(changes)
    return cfg


def write(tmp_path, cfg, name="s.json"):
    path = tmp_path / name
    path.write_text(json.dumps(cfg) if isinstance(cfg, dict) else cfg)
    return path


def refused(tmp_path, cfg_path, *fragments, extra=()):
    """Refused with one line, and nothing new in the directory: no store, no runs."""
    before = files_in(tmp_path)
    line = assert_refused(run(["sweep", cfg_path, "--store", tmp_path / "r.db", "--no-progress", *extra]), *fragments)
    assert files_in(tmp_path) == before
    return line


@pytest.mark.parametrize("dry", [False, True])
def test_bad_grid_point_late_in_the_grid(tmp_path, dry):
    # the first runs are fine; the last grid point's degree exceeds its junction: no run trains, no store
    cfg = config(tmp_path, grid={"network.kind": ["structured", "random"], "network.d_out": [[4, 3], [4, 9]]})
    line = refused(tmp_path, write(tmp_path, cfg), "run 2", extra=["--dry-run"] if dry else [])
    assert "d_out=[4, 9]" in line


def test_bad_kind_last(tmp_path):
    cfg = config(tmp_path, grid={"network.kind": ["structured", "random", "bogus"]})
    refused(tmp_path, write(tmp_path, cfg), "run 3", "bogus")


@pytest.mark.parametrize(
    "text, needle",
    [
        ('name = "t"\n[base]\ndataset = 5\n[base.network]\nlayers = [6, 3]\n', "base.dataset"),
        ('name = "t"\n[base.dataset]\nname = 5\n[base.network]\nlayers = [6, 3]\n', "dataset.name"),
        ('name = "t"\nepochs = 3\n', "unknown top-level key"),
        ('name = "t"\n[base.network]\nlayers = [6, 3]\nlayer = 2\n[base.dataset]\nname = "x"\n', "base.network"),
        (
            'name = "t"\n[base.dataset]\nname = "x"\n[base.network]\nlayers = [6, 3]\n[grid]\n"train.lr_typo" = [1]\n',
            "train.lr_typo",
        ),
        (
            'name = "t"\n[base.dataset]\nname = "{data}"\n[base.network]\nlayers = [6, 3]\nkind = "fc"\n[base.train]\nepochs = "three"\n',
            "epochs",
        ),
        (
            'name = "t"\n[base.dataset]\nname = "{data}"\n[base.network]\nlayers = [6, 3]\nkind = "fc"\n[base.train]\nepochs = 0\n',
            "epochs",
        ),
        ('name = "t"\nseeds = []\n[base.dataset]\nname = "{data}"\n[base.network]\nlayers = [6, 3]\n', "seeds"),
        ('name = "t"\n[base\n', "malformed"),
        ("", "name"),
    ],
)
def test_bad_toml_configs(tmp_path, text, needle):
    data = save_npz(tmp_path / "d.npz")
    refused(tmp_path, write(tmp_path, text.replace("{data}", str(data)), "s.toml"), needle)


def test_non_utf8_and_missing_config(tmp_path):
    p = tmp_path / "s.toml"
    p.write_bytes(b'name = "t\xff\xfe"\n')
    refused(tmp_path, p, "UTF-8")
    refused(tmp_path, tmp_path / "absent.toml", "no such")
    refused(tmp_path, tmp_path, "")  # a directory as the config


def test_non_utf8_no_traceback_in_a_real_process(tmp_path):
    """click's runner hides tracebacks in its result; a real process shows what a user sees."""
    p = tmp_path / "s.toml"
    p.write_bytes(b"\x80\x81 = 1\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    res = subprocess.run(
        [
            sys.executable,
            "-c",
            "from predsparse.cli import main; main()",
            "sweep",
            str(p),
            "--store",
            str(tmp_path / "r.db"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in res.stderr
    assert not (tmp_path / "r.db").exists()


def test_bad_store(tmp_path):
    cfg = write(tmp_path, config(tmp_path))
    (tmp_path / "f").write_text("x")
    for store, needle in ((tmp_path, "directory"), (tmp_path / "f" / "r.db", "is a file")):
        before = files_in(tmp_path)
        assert_refused(run(["sweep", cfg, "--store", store, "--no-progress"]), "--store", needle)
        assert files_in(tmp_path) == before
    text = tmp_path / "notes.txt"
    text.write_bytes(b"my notes\n")
    assert_refused(run(["sweep", cfg, "--store", text, "--no-progress"]), "not a predsparse results")
    assert text.read_bytes() == b"my notes\n"
    assert_refused(run(["sweep", cfg, "--store", "mysql://u@h/db", "--no-progress"]), "unsupported")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_read_only_store_directory(tmp_path):
    cfg = write(tmp_path, config(tmp_path))
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        assert_refused(run(["sweep", cfg, "--store", ro / "r.db", "--no-progress"]), "not writable")
    finally:
        ro.chmod(0o755)


def test_diverged_run_is_recorded_not_fatal(tmp_path):
    """A sweep over learning rates where the largest diverges: every run is stored, the diverged one flagged."""
    cfg = config(tmp_path, grid={"train.lr": [0.01, 10.0]})
    cfg["base"]["train"]["epochs"] = 4
    res = run(["sweep", write(tmp_path, cfg), "--store", tmp_path / "r.db", "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "1 of 2 runs diverged" in res.stdout and "its start" in res.stdout
    rows = {r["result"]["varied"]["train.lr"]: r["result"] for r in ResultStore(tmp_path / "r.db").rows("t")}
    assert rows[0.01]["diverged"] is None and "its start" in rows[10.0]["diverged"]
    # a config that asks to stop on divergence stops the sweep with one line
    cfg2 = {**cfg, "name": "t2"}
    cfg2["base"]["train"]["stop_on_divergence"] = True
    assert_refused(
        run(["sweep", write(tmp_path, cfg2, "s2.json"), "--store", tmp_path / "r.db", "--no-progress"]), "diverged"
    )


def test_reproduce_bad_store_and_out(tmp_path):
    """``reproduce`` checks its store and output directory while parsing, before any claim is trained."""
    (tmp_path / "f").write_text("x")
    cases = [
        (["--store", tmp_path], "--store"),
        (["--store", tmp_path / "f" / "r.db"], "--store"),
        (["--out", tmp_path / "f"], "--out"),
        (["--out", tmp_path / "f" / "sub"], "--out"),
    ]
    for args, needle in cases:
        assert_refused(run(["reproduce", "--quick", "--no-progress", *args]), needle)
    assert files_in(tmp_path) == {"f"}
