"""The ``pattern`` commands: zero sizes, NaN thresholds, absurd sizes and unwritable outputs are one line, exit 2,
before any work and with no file written."""

from __future__ import annotations

import json

import numpy as np
import pytest
from bad_input import assert_refused, files_in, run


@pytest.mark.parametrize("args, needle", [
    (["show", "--n-in", "0", "--n-out", "4", "--d-out", "1"], "--n-in"),
    (["show", "--n-in", "4", "--n-out", "-1", "--d-out", "1"], "--n-out"),
    (["show", "--n-in", "4", "--n-out", "4", "--d-out", "0"], "--d-out"),
    (["show", "--n-in", "4", "--n-out", "4", "--kind", "random", "--density", "nan"], "--density"),
    (["show", "--n-in", "4", "--n-out", "4", "--kind", "random", "--density", "0"], "--density"),
    (["show", "--n-in", "4", "--n-out", "4", "--kind", "random", "--density", "1.5"], "--density"),
    (["show", "--n-in", "8", "--n-out", "4", "--d-out", "2", "--kind", "clash-free", "--z", "0"], "--z"),
    (["show", "--n-in", "4"], "--n-in and --n-out"),
    (["scatter", "--layers", "8,4", "--d-out", "2", "--threshold", "nan"], "--threshold"),
    (["scatter", "--layers", "8,4", "--d-out", "2", "--threshold", "inf"], "--threshold"),
    (["show", "--n-in", "four", "--n-out", "4", "--d-out", "1"], "--n-in"),
])
def test_bad_values(args, needle):
    assert_refused(run(["pattern", *args]), needle)


@pytest.mark.parametrize("option", ["--save", "--plot"])
def test_unwritable_outputs_refused_before_work(tmp_path, option):
    before = files_in(tmp_path)
    base = ["pattern", "show", "--n-in", "8", "--n-out", "4", "--d-out", "2"]
    assert_refused(run([*base, option, tmp_path / "no" / "p.npz"]), option, "does not exist")
    assert_refused(run([*base, option, tmp_path]), option, "directory")
    assert files_in(tmp_path) == before


def test_scatter_plot_and_study_outputs(tmp_path):
    (tmp_path / "f").write_text("")
    assert_refused(run(["pattern", "scatter", "--layers", "8,4", "--d-out", "2", "--plot", tmp_path / "x" / "s.png"]),
                   "--plot")
    assert_refused(run(["pattern", "study", "--out", tmp_path / "f"]), "--out", "is a file")


def test_absurd_sizes_refused_with_estimate_and_limit(tmp_path):
    env = {"PREDSPARSE_MEMORY_LIMIT": "64M"}
    line = assert_refused(run(["pattern", "show", "--n-in", "100000000", "--n-out", "10", "--d-out", "1",
                               "--save", tmp_path / "p.npz"], env=env), "memory")
    assert "64.0 MiB" in line and "PREDSPARSE_MEMORY_LIMIT" in line and "100,000,000 edges" in line
    assert_refused(run(["pattern", "show", "--n-in", "100000", "--n-out", "100000", "--kind", "fc"], env=env), "memory")
    assert_refused(run(["pattern", "scatter", "--layers", "100000000,10", "--d-out", "1"], env=env), "memory")
    assert files_in(tmp_path) == set()


def test_good_input_still_works(tmp_path):
    out = tmp_path / "p.npz"
    res = run(["pattern", "show", "--n-in", "8", "--n-out", "4", "--d-out", "2", "--save", out, "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    with np.load(out) as z:
        assert len(z["rows"]) == summary["edges"] == 16


@pytest.mark.parametrize("content", [b"", b"garbage", b"PK\x03\x04junk"])
def test_damaged_pattern_file(tmp_path, content):
    p = tmp_path / "p.npz"
    p.write_bytes(content)
    assert_refused(run(["pattern", "show", "--file", p]))
