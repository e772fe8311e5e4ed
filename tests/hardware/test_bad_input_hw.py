"""``predsparse hw``: unwritable outputs (``--out``, ``--export``, ``--plot``), zero and NaN values and damaged data
are one line, exit 2, before any simulation and with no file written."""

from __future__ import annotations

import numpy as np
import pytest

from bad_input import assert_refused, files_in, run

SMALL = ["--layers", "16,8,4", "--d-out", "2,2", "--z", "8,4"]


def tiny(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {}
    for split, m in (("tr", 60), ("va", 10), ("te", 20)):
        y = rng.integers(0, 3, m)
        x = rng.integers(0, 40, (m, 12)).astype(np.uint8)
        arrays["x" + split], arrays["y" + split] = x, y
    p = tmp_path / "tiny.npz"
    np.savez(p, **arrays)
    return p


def outputs(tmp_path):
    """A file where a directory is wanted, and paths under a missing or a file 'directory'."""
    (tmp_path / "f").write_text("x")
    return {"file_dir": tmp_path / "missing" / "r.json", "under_file": tmp_path / "f" / "r.json", "a_dir": tmp_path}


@pytest.mark.parametrize(
    "command, option, extra",
    [
        ("simulate", "--out", ["--dataset", "DATA"]),
        ("sweep", "--out", ["--dataset", "DATA", "--formats", "1,3,8", "--activations", "sigmoid"]),
        ("hazard", "--out", []),
        ("pipeline-study", "--out", ["--max-p", "3"]),
        ("pipeline-study", "--plot", ["--max-p", "3"]),
    ],
)
def test_file_outputs_refused_before_work(tmp_path, command, option, extra):
    data = tiny(tmp_path)
    extra = [str(data) if a == "DATA" else a for a in extra]
    for target in outputs(tmp_path).values():
        before = files_in(tmp_path)
        assert_refused(
            run(
                [
                    "hw",
                    command,
                    *SMALL,
                    *extra,
                    "--no-progress" if command != "pipeline-study" else "--json",
                    option,
                    target,
                ]
            ),
            option,
        )
        assert files_in(tmp_path) == before


@pytest.mark.parametrize("command, option", [("export", "--out"), ("simulate", "--export")])
def test_directory_outputs_refused_before_work(tmp_path, command, option):
    data = tiny(tmp_path)
    (tmp_path / "f").write_text("x")
    extra = ["--dataset", str(data), "--no-progress"] if command == "simulate" else []
    for target, needle in ((tmp_path / "f", "not a directory"), (tmp_path / "f" / "sub", "is a file")):
        before = files_in(tmp_path)
        assert_refused(run(["hw", command, *SMALL, *extra, option, target]), option, needle)
        assert files_in(tmp_path) == before


def test_read_only_directory_is_refused(tmp_path, monkeypatch):
    """os.access decides (root writes anywhere, so the directory is marked read-only for the check itself)."""
    import os

    from predsparse.cli import common

    ro = tmp_path / "ro"
    ro.mkdir()
    real = os.access
    monkeypatch.setattr(common.os, "access", lambda p, mode: False if os.fspath(p) == str(ro) else real(p, mode))
    assert_refused(run(["hw", "hazard", *SMALL, "--out", ro / "r.json"]), "--out", "not writable")
    assert_refused(run(["hw", "export", *SMALL, "--out", ro / "mem"]), "--out", "not writable")
    assert files_in(ro) == set()


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--epochs", "0"], "--epochs"),
        (["--epochs", "-1"], "--epochs"),
        (["--limit-train", "0"], "--limit-train"),
        (["--limit-test", "0"], "--limit-test"),
        (["--clock-mhz", "nan"], "clock"),
        (["--clock-mhz", "0"], "clock"),
        (["--clock-mhz", "inf"], "clock"),
        (["--lr-shift", "-1"], "shift"),
        (["--format", "1,0,0"], "format"),
        (["--format", "nan"], "format"),
        (["--epochs", "three"], "--epochs"),
    ],
)
def test_zero_and_nan_values(tmp_path, args, needle):
    data = tiny(tmp_path)
    before = files_in(tmp_path)
    assert_refused(run(["hw", "simulate", *SMALL, "--dataset", data, "--no-progress", *args]), needle)
    assert files_in(tmp_path) == before


@pytest.mark.parametrize("command", ["cost", "export", "hazard"])
def test_absurd_sizes_refused_with_estimate_and_limit(tmp_path, command):
    extra = ["--out", tmp_path / "o"] if command == "export" else []
    args = ["hw", command, "--layers", "100000000,10", "--d-out", "1", "--z", "20000000", *extra]
    assert_refused(run(args, env={"PREDSPARSE_MEMORY_LIMIT": "1G"}), "100,000,000 edges", "limit of 1.0 GiB")
    assert files_in(tmp_path) == set()


@pytest.mark.parametrize("content", [b"", b"not a zip", b"PK\x03\x04junk"])
def test_damaged_dataset(tmp_path, content):
    p = tmp_path / "d.npz"
    p.write_bytes(content)
    assert_refused(run(["hw", "simulate", *SMALL, "--dataset", p, "--no-progress"]), str(p))


def test_good_outputs_still_written(tmp_path):
    out = tmp_path / "new" / "mem"  # a directory output is created, with its parents
    res = run(["hw", "export", *SMALL, "--out", out])
    assert res.exit_code == 0, res.output
    assert any(out.iterdir())
    res = run(["hw", "hazard", *SMALL, "--out", tmp_path / "h.json"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "h.json").is_file()
