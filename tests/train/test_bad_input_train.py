"""Training options at the library and CLI level: divergence, output paths checked before any work, click's own
usage errors as one line, zero values refused."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bad_input import assert_refused, files_in, run, save_npz, toy_arrays
from predsparse import patterns as P
from predsparse.cli.common import check_output_path
from predsparse.data import Dataset
from predsparse.errors import DivergenceError, InputError
from predsparse.limits import check_memory, memory_limit, network_bytes
from predsparse.train import TrainConfig, build_model, fit

TRAIN = ["--layers", "6,4,3", "--d-out", "2,3", "--epochs", "1", "--no-progress"]


def model(seed: int = 0):
    net = P.network([6, 8, 3], [4, 3], "structured", seed=seed)
    return build_model(net.layers, net.patterns, seed=seed)


def dataset() -> Dataset:
    return Dataset.from_mapping(toy_arrays(n=100))


def test_healthy_run_is_not_flagged():
    res = fit(model(), dataset(), TrainConfig(epochs=3, lr=1e-2), progress=False)
    assert res.diverged is None and res.to_dict()["diverged"] is None


def test_finite_loss_far_beyond_its_start_stops_by_default():
    with pytest.raises(DivergenceError) as info:
        fit(model(), dataset(), TrainConfig(epochs=4, lr=10.0), progress=False)
    msg = str(info.value)
    assert "\n" not in msg and "its start" in msg and "stop_on_divergence=False" in msg
    # an option keeps going: the run finishes, flagged in its result (and so in the JSON of train/sweeps)
    res = fit(model(), dataset(), TrainConfig(epochs=4, lr=10.0, stop_on_divergence=False), progress=False)
    assert res.diverged and "its start" in res.diverged and len(res.history) == 4
    losses = [r["train_loss"] for r in res.history]
    assert all(math.isfinite(v) for v in losses) and max(losses) > 10 * math.log(3)


def test_network_stuck_at_chance_is_flagged():
    """A network whose output no longer depends on its input (here: every ReLU dead, the last junction's
    weights zeroed) sits at chance; the rule is checked on an independent construction of that state."""
    import torch

    m = model()
    with torch.no_grad():
        for j in m.junctions:
            j.weight.zero_()  # outputs = biases only, for every input
    # SGD with a learning rate of 0 keeps it that way (a stand-in for the dead network a huge rate leaves)
    cfg = TrainConfig(epochs=3, lr=1e-12, optimizer="sgd", stop_on_divergence=False)
    ds = dataset()
    res = fit(m, ds, cfg, progress=False)
    majority = np.bincount(ds.yva).max() / len(ds.yva)
    if res.history[-1]["val_acc"] <= majority:  # a constant guess; otherwise the bias happens to hit it
        assert res.diverged and "no longer depends on its input" in res.diverged
    with pytest.raises(DivergenceError):
        m2 = model()
        with torch.no_grad():
            for j in m2.junctions:
                j.weight.zero_()
                j.bias.zero_()  # all logits equal: argmax picks class 0 everywhere
        ds0 = Dataset.from_mapping({**toy_arrays(n=100), "yva": np.r_[np.ones(19, int), 0]}, num_classes=3)
        fit(m2, ds0, TrainConfig(epochs=3, lr=1e-12, optimizer="sgd"), progress=False)


def test_nan_loss_still_caught():
    a = toy_arrays(n=100)
    a["xtr"] = a["xtr"] * 1e30
    with pytest.raises(InputError, match="diverged"):
        fit(model(), Dataset.from_mapping(a), TrainConfig(epochs=2, lr=1.0), progress=False)


def test_train_config_rejects_non_bool_stop():
    with pytest.raises(InputError, match="stop_on_divergence"):
        TrainConfig(stop_on_divergence="no")


def test_cli_divergence_one_line(tmp_path):
    data = save_npz(tmp_path / "d.npz")
    assert_refused(
        run(
            [
                "train",
                "--dataset",
                data,
                "--layers",
                "6,8,3",
                "--d-out",
                "4,3",
                "--epochs",
                "4",
                "--lr",
                "10",
                "--no-progress",
            ]
        ),
        "diverged",
        "--keep-diverging",
    )
    assert files_in(tmp_path) == {"d.npz"}


def test_cli_keep_diverging_flags_summary_and_json(tmp_path):
    import json

    data = save_npz(tmp_path / "d.npz")
    args = [
        "train",
        "--dataset",
        data,
        "--layers",
        "6,8,3",
        "--d-out",
        "4,3",
        "--epochs",
        "4",
        "--lr",
        "10",
        "--no-progress",
        "--keep-diverging",
    ]
    res = run(args)
    assert res.exit_code == 0, res.output
    assert "DIVERGED" in res.stdout and "its start" in res.stdout
    out = json.loads(run([*args, "--json"]).stdout)
    assert "its start" in out["diverged"] and len(out["history"]) == 4
    healthy = json.loads(run([*args[:-2], "--lr", "0.01", "--json"]).stdout)
    assert healthy["diverged"] is None


@pytest.mark.parametrize("option", ["--save", "--checkpoint"])
def test_output_paths_checked_before_training(tmp_path, option):
    data = save_npz(tmp_path / "d.npz")
    before = files_in(tmp_path)
    for target, needle in ((tmp_path / "missing" / "m.safetensors", "does not exist"), (tmp_path, "directory")):
        assert_refused(run(["train", "--dataset", data, *TRAIN, option, target]), option, needle)
    assert files_in(tmp_path) == before


def test_check_output_path_rules(tmp_path):
    (tmp_path / "f").write_text("x")
    assert check_output_path(tmp_path / "new.json", "--out").name == "new.json"
    assert check_output_path(tmp_path / "a" / "b", "--out", directory=True).name == "b"  # created later
    for path, directory, needle in (
        (tmp_path / "f" / "x", False, "does not exist"),
        (tmp_path, False, "directory"),
        (tmp_path / "f", True, "is a file"),
        (tmp_path / "f" / "d", True, "is a file"),
        ("", False, "give a path"),
    ):
        with pytest.raises(InputError, match=needle):
            check_output_path(path, "--out", directory=directory)


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--epochs", "three"], "--epochs"),
        (["--epochs"], "--epochs"),
        (["--bogus", "1"], "--bogus"),
        (["--pool", "0", "--conv", "2"], "--pool"),
        (["--limit-train", "0"], "--limit-train"),
        (["--kind", "nonsense"], "--kind"),
    ],
)
def test_click_usage_errors_are_one_line(tmp_path, args, needle):
    data = save_npz(tmp_path / "d.npz")
    assert_refused(run(["train", "--dataset", data, *TRAIN, *args]), needle)


def test_memory_limit_refuses_with_estimate_and_limit(monkeypatch):
    monkeypatch.setenv("PREDSPARSE_MEMORY_LIMIT", "1M")
    assert memory_limit() == 2**20
    with pytest.raises(InputError) as info:
        check_memory(network_bytes([784, 100000, 10], [100000, 10]), "a network")
    msg = str(info.value)
    assert "GiB" in msg and "1.0 MiB" in msg and "PREDSPARSE_MEMORY_LIMIT" in msg
    monkeypatch.setenv("PREDSPARSE_MEMORY_LIMIT", "lots")
    with pytest.raises(InputError, match="not a size"):
        memory_limit()
    monkeypatch.setenv("PREDSPARSE_MEMORY_LIMIT", "none")
    assert memory_limit() is None
    # the estimate counts edges exactly: 784*d_out + 100*10 for a 784-100-10 network
    assert network_bytes([784, 100, 10], [5, 10], per_edge=1) == 784 * 5 + 100 * 10 + 16 * 110


def test_bare_group_still_prints_its_help():
    res = run(["pattern"])
    assert "Commands:" in res.output and "error:" not in res.output
    assert run(["--version"]).exit_code == 0
