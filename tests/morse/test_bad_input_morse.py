"""``predsparse morse``: absurd sizes (refused with the estimate and the limit), unwritable outputs, zero and NaN
values, absurd labels and damaged files are one line, exit 2, before any work and with no file written; the npz is
not written when only the plot path is bad."""

from __future__ import annotations

import numpy as np
import pytest

from bad_input import assert_refused, files_in, run, toy_arrays

SMALL = ["--param", "train_per_class=3", "--param", "val_per_class=2", "--param", "test_per_class=2"]


@pytest.mark.parametrize(
    "param, fragments",
    [
        ("train_per_class=1000000000", ["64,000", "samples", "limit", "PREDSPARSE_MEMORY_LIMIT"]),
        ("frame_len=100000000", ["100,000,000 values", "limit"]),
        ("dilation=10000000", ["limit"]),
    ],
)
def test_absurd_sizes_refused_at_once(tmp_path, param, fragments):
    out = tmp_path / "m.npz"
    assert_refused(run(["morse", "generate", "--param", param, "--out", out]), *fragments)
    assert files_in(tmp_path) == set()


def test_limit_can_be_raised_and_lowered(tmp_path):
    out = tmp_path / "m.npz"
    # a small dataset refused under a tiny limit, accepted with the check switched off
    assert_refused(
        run(["morse", "generate", *SMALL, "--out", out], env={"PREDSPARSE_MEMORY_LIMIT": "1K"}),
        "set by PREDSPARSE_MEMORY_LIMIT",
    )
    assert not out.exists()
    res = run(["morse", "generate", *SMALL, "--out", out], env={"PREDSPARSE_MEMORY_LIMIT": "none"})
    assert res.exit_code == 0, res.output
    assert out.is_file()


def test_bad_plot_path_writes_no_npz(tmp_path):
    (tmp_path / "f").write_text("x")
    for plot in (tmp_path / "f" / "p.png", tmp_path):
        before = files_in(tmp_path)
        assert_refused(run(["morse", "generate", *SMALL, "--out", tmp_path / "m.npz", "--plot", plot]), "--plot")
        assert files_in(tmp_path) == before  # m.npz not written


def test_bad_out_paths(tmp_path):
    (tmp_path / "f").write_text("x")
    for out in (tmp_path, tmp_path / "f" / "m.npz"):
        before = files_in(tmp_path)
        assert_refused(run(["morse", "generate", *SMALL, "--out", out]), "--out")
        assert files_in(tmp_path) == before
    assert_refused(run(["morse", "generate", *SMALL]), "--out")


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--seed", "-1"], "seed"),
        (["--seed", "x"], "seed"),
        (["--param", "noise_sd=nan"], "noise_sd"),
        (["--param", "noise_sd=-1"], "noise_sd"),
        (["--param", "levels=0"], "levels"),
        (["--param", "frame_len=0"], "frame_len"),
        (["--param", "dilation=0"], "dilation"),
        (["--param", "train_per_class=0"], "train_per_class"),
        (["--param", "bogus=1"], "bogus"),
        (["--param", "noise_sd"], "noise_sd"),
        (["--preset", "nope"], "nope"),
    ],
)
def test_bad_generate_values(tmp_path, args, needle):
    assert_refused(run(["morse", "generate", *SMALL, "--out", tmp_path / "m.npz", *args]), needle)
    assert files_in(tmp_path) == set()


def npz(tmp_path, **changes):
    a = toy_arrays()
    a.update(changes)
    p = tmp_path / "d.npz"
    np.savez(p, **a)
    return p


@pytest.mark.parametrize(
    "changes, needle",
    [
        ({"ytr": np.r_[np.zeros(35, np.int64), 10**12]}, "classes"),
        ({"ytr": np.r_[np.zeros(35, np.int64), -1]}, ""),
        ({"xtr": np.full((36, 6), np.nan, np.float32)}, "NaN"),
        ({"xtr": np.ones((36, 6), np.complex64)}, "complex"),
    ],
)
def test_metrics_absurd_labels_and_features(tmp_path, changes, needle):
    p = npz(tmp_path, **changes)
    before = p.read_bytes()
    assert_refused(run(["morse", "metrics", p]), needle)
    assert p.read_bytes() == before


@pytest.mark.parametrize("threshold", ["nan", "inf", "0", "-0.1", "x"])
def test_metrics_bad_threshold(tmp_path, threshold):
    assert_refused(run(["morse", "metrics", npz(tmp_path), "--threshold", threshold]), "--threshold")


@pytest.mark.parametrize("content", [b"", b"garbage", b"PK\x03\x04junk"])
def test_metrics_damaged_file(tmp_path, content):
    p = tmp_path / "d.npz"
    p.write_bytes(content)
    assert_refused(run(["morse", "metrics", p]), str(p))
    assert_refused(run(["morse", "metrics", tmp_path / "absent.npz"]), "no such")


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--epochs", "0"], "--epochs"),
        (["--train-per-class", "0"], "--train-per-class"),
        (["--hidden", "0"], "--hidden"),
        (["--seed", "-1"], "--seed"),
        (["--knobs", "bogus"], "knobs"),
        (["--trainer", "torch"], "--trainer"),
        (["--train-per-class", "1000000000"], "limit"),  # every dataset of the ladder sized before the first is made
        (["--hidden", "1000000000"], "limit"),
    ],
)
def test_study_bad_values_write_nothing(tmp_path, args, needle):
    out = tmp_path / "study"
    assert_refused(run(["morse", "study", "--out", out, *args]), needle)
    assert files_in(tmp_path) == set()


def test_study_bad_out(tmp_path):
    (tmp_path / "f").write_text("x")
    for out in (tmp_path / "f", tmp_path / "f" / "sub"):
        assert_refused(run(["morse", "study", "--out", out]), "--out")
    assert files_in(tmp_path) == {"f"}
