"""Data-parallel training (DDP over spawned processes) against single-process ``fit``."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from helpers import StopTraining, stop_at, toy
from predsparse import patterns as P
from predsparse.cli import main
from predsparse.data import Dataset
from predsparse.errors import InputError
from predsparse.train import TrainConfig, build_model, fit, fit_distributed
from predsparse.train.distributed import shares

NET = P.network([6, 12, 3], [6, 3], "structured", seed=0)
BUILD = functools.partial(build_model, NET.layers, NET.patterns, seed=1)


def unseeded_model():
    """A different model in every process: what fit_distributed must refuse."""
    torch.manual_seed(os.getpid())
    return build_model(NET.layers, NET.patterns, seed=os.getpid())


def without_timing(history):
    return [{k: v for k, v in h.items() if k != "seconds"} for h in history]


def assert_same_run(single, model_single, dist, model_dist, tol):
    for (name, a), b in zip(model_single.state_dict().items(), model_dist.state_dict().values()):
        torch.testing.assert_close(b, a, rtol=tol, atol=tol, msg=lambda m, name=name: f"{name}: {m}")
    a, b = without_timing(single.history), without_timing(dist.history)
    assert [h["epoch"] for h in a] == [h["epoch"] for h in b]
    for ha, hb in zip(a, b):
        assert ha["train_acc"] == hb["train_acc"] and ha["val_acc"] == hb["val_acc"]
        assert hb["train_loss"] == pytest.approx(ha["train_loss"], rel=tol)
        assert hb["val_loss"] == pytest.approx(ha["val_loss"], rel=tol)
    assert (dist.best_epoch, dist.test_acc, dist.config) == (single.best_epoch, single.test_acc, single.config)


@pytest.mark.parametrize("world", [1, 2, 3])
@pytest.mark.parametrize("n,batch", [(120, 7), (14, 7), (3, 8), (10, 4)])
def test_shares_cover_each_batch_once_with_weights_summing_to_world(n, batch, world):
    perm = torch.randperm(n)
    per_rank = [list(shares(perm, batch, r, world)) for r in range(world)]
    for b in range(len(per_rank[0])):
        global_batch = perm[b * batch : (b + 1) * batch]
        rows = [per_rank[r][b] for r in range(world)]
        counted = torch.cat([idx for idx, scale, _ in rows if scale])
        assert torch.equal(counted, global_batch)  # contiguous shares, in order, nothing twice
        assert sum(scale for _, scale, _ in rows) == pytest.approx(world)
        assert all(nb == len(global_batch) for _, _, nb in rows)


def test_two_workers_sgd_equal_fit_odd_batch_and_short_last_batch(tmp_path):
    # 120 rows in batches of 7: every batch splits 4 + 3, and the last has 1 row (rank 1 gets none)
    ds = Dataset.from_mapping(toy())
    cfg = TrainConfig(epochs=3, batch_size=7, lr=0.05, optimizer="sgd", momentum=0.0, l2=0.01, seed=3)
    single_model = BUILD()
    single = fit(single_model, ds, cfg, progress=False)
    dist_model = BUILD()
    ck = tmp_path / "ck.pt"
    dist = fit_distributed(BUILD, ds, cfg, workers=2, checkpoint=ck, into=dist_model)
    assert_same_run(single, single_model, dist, dist_model, tol=1e-5)
    # rank 0 wrote fit's checkpoint format: fit resumes it (nothing left to train) to the same result
    again = fit(BUILD(), ds, cfg, progress=False, checkpoint=ck)
    assert without_timing(again.history) == without_timing(dist.history) and again.test_acc == dist.test_acc


def test_three_workers_adam_resuming_fit_checkpoint_equal_fit(tmp_path):
    # 3 ranks: batches of 7 split 3 + 2 + 2, the last batch of 1 leaves two ranks on stand-in rows;
    # the run resumes a checkpoint that single-process fit wrote after epoch 2 (Adam state included)
    ds = Dataset.from_mapping(toy())
    cfg = TrainConfig(epochs=4, batch_size=7, lr=1e-2, optimizer="adam", seed=5)
    single_model = BUILD()
    single = fit(single_model, ds, cfg, progress=False)

    ck = tmp_path / "ck.pt"
    with pytest.raises(StopTraining):
        fit(BUILD(), ds, cfg, progress=False, checkpoint=ck, on_epoch=stop_at(2))
    dist_model = BUILD()
    dist = fit_distributed(BUILD, ds, cfg, workers=3, checkpoint=ck, into=dist_model)
    assert len(dist.history) == 4
    assert_same_run(single, single_model, dist, dist_model, tol=1e-4)


def test_bad_input_one_line_errors(tmp_path):
    ds = Dataset.from_mapping(toy())
    cfg = TrainConfig(epochs=1, batch_size=4)
    cases = [
        (dict(workers=0), "workers 0 must be a whole number >= 1"),
        (dict(workers=5), "batch size 4 is smaller than the 5 workers"),
        (dict(workers=2, build=lambda: BUILD()), "cannot be pickled"),
        (
            dict(
                workers=2,
                build=functools.partial(build_model, [7, 3], [P.network([7, 3], [3], "structured").patterns[0]]),
            ),
            "features",
        ),
        (dict(workers=2, build=None), "must be a callable"),
    ]
    for kw, needle in cases:
        build = kw.pop("build", BUILD)
        with pytest.raises(InputError) as exc:
            fit_distributed(build, ds, cfg, **kw)
        assert needle in str(exc.value) and "\n" not in str(exc.value)
    # a worker's InputError comes back as one line: here the ranks built different models
    with pytest.raises(InputError) as exc:
        fit_distributed(unseeded_model, ds, cfg, workers=2)
    assert "different models on different ranks" in str(exc.value) and "\n" not in str(exc.value)
    # a checkpoint of another config is refused by rank 0, and every rank stops
    ck = tmp_path / "ck.pt"
    fit(BUILD(), ds, TrainConfig(epochs=1, batch_size=5), progress=False, checkpoint=ck)
    with pytest.raises(InputError, match="different training config"):
        fit_distributed(BUILD, ds, cfg, workers=2, checkpoint=ck)


def test_train_cli_workers(tmp_path):
    f = tmp_path / "d.npz"
    np.savez(f, **toy())
    args = ["train", "--dataset", str(f), "--layers", "6,12,3", "--d-out", "6,3", "--epochs", "2", "--batch-size", "9"]
    out = tmp_path / "m.safetensors"
    r = CliRunner().invoke(main, [*args, "--workers", "2", "--json", "--save", str(out)])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["workers"] == 2 and len(data["history"]) == 2 and 0 <= data["test_acc"] <= 1
    assert out.exists()
    r = CliRunner().invoke(main, [*args, "--workers", "0"])
    assert r.exit_code == 2
    assert r.output.strip().count("\n") == 0 and r.output.startswith("error:") and "--workers 0" in r.output


@pytest.mark.skipif(shutil.which("predsparse") is None, reason="predsparse console script not on PATH")
def test_torchrun_cli_joins_the_group_and_matches_single_process(tmp_path):
    f = tmp_path / "d.npz"
    np.savez(f, **toy())
    args = [
        "train",
        "--dataset",
        str(f),
        "--layers",
        "6,12,3",
        "--d-out",
        "6,3",
        "--epochs",
        "2",
        "--batch-size",
        "9",
        "--json",
    ]
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")}
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc-per-node",
            "2",
            "--no-python",
            shutil.which("predsparse"),
            *args,
            "--workers",
            "2",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    dist = json.loads(r.stdout)  # one JSON document: only rank 0 reports
    single = json.loads(CliRunner().invoke(main, args).output)
    assert dist["workers"] == 2 and dist["test_acc"] == single["test_acc"]
    for hd, hs in zip(dist["history"], single["history"]):
        assert hd["val_acc"] == hs["val_acc"] and hd["train_loss"] == pytest.approx(hs["train_loss"], rel=1e-5)
