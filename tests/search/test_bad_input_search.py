"""``predsparse search``: bad settings, storage URLs and output paths are one line, exit 2, before any trial and
with no file written; a search where every trial failed exits non-zero with the first failure's reason."""

from __future__ import annotations

import json
import os

import pytest

from bad_input import assert_refused, files_in, run, save_npz
from predsparse.errors import DivergenceError


def base(tmp_path) -> list:
    data = save_npz(tmp_path / "d.npz")
    return [
        "search",
        "--dataset",
        data,
        "--storage",
        f"sqlite:///{tmp_path / 's.db'}",
        "--out",
        tmp_path / "out",
        "--min-width",
        "4",
        "--max-width",
        "8",
        "--max-hidden",
        "1",
        "--no-progress",
    ]


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--epochs", "0"], "epochs 0"),
        (["--trials", "0"], "trials 0"),
        (["--max-trials", "1", "--trials", "2"], "max_trials"),
        (["--heartbeat", "0"], "heartbeat"),
        (["--wc", "nan"], "w_c"),
        (["--min-density", "nan"], "density"),
        (["--min-density", "0"], "density"),
        (["--scatter-threshold", "nan"], "scatter threshold"),
        (["--scatter-threshold", "1.5"], "scatter threshold"),
        (["--min-width", "0"], "width"),
        (["--kinds", "bogus"], "kinds"),
        (["--kinds", ""], "kinds"),
        (["--conv-channels", "0"], "conv channel"),
        (["--jobs", "0"], "--jobs"),
        (["--epochs", "three"], "--epochs"),
        (["--limit-train", "0"], "--limit-train"),
        (["--storage", "not-a-url"], "--storage"),
        (["--storage", "mysql://u@h/db"], "--storage"),
        (["--max-params", "0"], "--max-params"),
        (["--max-params", "many"], "max-params"),
        (["--lr-schedules", "warmup"], "schedules"),
        (["--max-dropout", "1"], "dropout"),
        (["--augments", "tilt"], "augmentations"),
        (["--augments", "flip"], "images"),
        (["--max-label-smoothing", "1"], "label smoothing"),
        (["--kinds", "local"], "pattern kind local needs images"),
        (["--kinds", "local", "--max-conv", "1"], "cannot sit above conv blocks"),
        (["--windows", "0"], "window choices"),
        (["--min-hidden", "2"], "hidden layers range 2..1"),
        (["--min-hidden", "-1"], "--min-hidden"),
        (["--timeout", "0"], "timeout"),
        (["--pruner", "bogus"], "--pruner"),
        (["--population", "1"], "--population"),
        (["--retrain-seeds", "0"], "--retrain-seeds"),
        (["--retrain-epochs", "0"], "--retrain-epochs"),
    ],
)
def test_bad_settings_refused_before_any_trial(tmp_path, args, needle):
    cmd = base(tmp_path)
    before = files_in(tmp_path)
    assert_refused(run([*cmd, *args]), needle)
    assert files_in(tmp_path) == before  # no study file, no output directory


def test_bad_paths_refused_before_any_trial(tmp_path):
    (tmp_path / "f").write_text("x")
    cases = [
        (["--out", tmp_path / "f"], "--out"),  # a file where the directory goes
        (["--out", tmp_path / "f" / "sub"], "--out"),
        (["--storage", f"sqlite:///{tmp_path / 'f' / 's.db'}"], "--storage"),  # its directory would be a file
        (["--storage", f"sqlite:///{tmp_path}"], "--storage"),  # a directory as the database
        (["--dataset", tmp_path / "absent.npz"], "no such"),
    ]
    cmd = base(tmp_path)
    for args, needle in cases:
        before = files_in(tmp_path)
        assert_refused(run([*cmd, *args]), needle)
        assert files_in(tmp_path) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_read_only_out_and_storage(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        assert_refused(run([*base(tmp_path), "--out", ro / "out"]), "--out", "not writable")
        assert_refused(run([*base(tmp_path), "--storage", f"sqlite:///{ro / 's.db'}"]), "--storage", "not writable")
    finally:
        ro.chmod(0o755)


def test_every_trial_failing_is_an_error_with_the_first_reason(tmp_path, monkeypatch):
    """Every candidate's training diverges (stood in for by the run function raising what fit raises): the search
    exits 2 naming the first failed trial and its reason, and writes no summary."""
    from predsparse.search import runner

    def diverging(*_args, **_kwargs):
        raise DivergenceError(
            "training diverged: training loss 6e+04 at epoch 1 is over 10x its start (1.1)",
            reason="training loss 6e+04 at epoch 1 is over 10x its start (1.1)",
        )

    monkeypatch.setattr(runner, "run", diverging)
    res = run([*base(tmp_path), "--trials", "1", "--max-trials", "2", "--epochs", "1"])
    line = assert_refused(res, "no trial", "completed", "first failure", "trial 0 fail", "diverged")
    assert "2 trials" in line
    assert not (tmp_path / "out").exists()  # no summary of a search that found nothing


def test_good_search_still_runs(tmp_path):
    res = run([*base(tmp_path), "--trials", "1", "--max-trials", "1", "--epochs", "1", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["complete"] == 1
    assert (tmp_path / "out" / "predsparse-search.json").is_file()
