"""``predsparse demo`` small end to end: the built-in sweep, its store, table and plot, resume, and a row
checked against the one run function; sweeps validate every grid point before training."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from predsparse.cli import main
from predsparse.experiments.demo import DEMO_OUT_DEGREES, demo_config
from predsparse.experiments.store import ResultStore

ARGS = [
    "demo",
    "--per-class",
    "4",
    "--epochs",
    "1",
    "--seeds",
    "0",
    "--kinds",
    "structured,clash-free",
    "--no-progress",
]


def test_demo_small_end_to_end_and_resume(tmp_path):
    out = tmp_path / "demo"
    r = CliRunner().invoke(main, [*ARGS, "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "256 train / 64 val / 64 test samples" in r.output  # 64 classes x 4 (val/test: a quarter, at least 1)
    lines = [ln for ln in r.output.splitlines() if ln.startswith("| ")]
    assert [c.strip() for c in lines[0].split("|")[1:-1]] == [
        "d_out_net",
        "rho_net %",
        "d_in_net",
        "z_net",
        "structured",
        "clash-free",
    ]
    rows = [[c.strip() for c in ln.split("|")[1:-1]] for ln in lines[1:]]
    assert [r_[0] for r_ in rows] == ["FC", *[f"({a}, {b})" for a, b in DEMO_OUT_DEGREES]]
    assert rows[1][1:4] == ["50.0", "(32, 512)", "(16, 256)"]  # d_in = 64*512/1024, 1024*32/64; default z
    for name in ("results.db", "table.md", "accuracy_vs_density.png"):
        assert (out / name).stat().st_size > 0
    stored = list(ResultStore(out / "results.db").rows("demo"))
    assert len(stored) == 1 + 2 * len(DEMO_OUT_DEGREES)
    # a rerun trains nothing and prints the same table
    again = CliRunner().invoke(main, [*ARGS, "--out", str(out)])
    assert again.exit_code == 0 and "13 runs already stored" in again.output
    assert [ln for ln in again.output.splitlines() if ln.startswith("| ")] == lines


def test_demo_row_is_the_one_run_function(tmp_path):
    """The FC row of the demo is exactly run() on the FC spec with the demo's data and training."""
    from predsparse.data import load_dataset
    from predsparse.train import TrainConfig
    from predsparse.train.run import run
    from predsparse.train.spec import ModelSpec

    out = tmp_path / "d"
    r = CliRunner().invoke(main, [*ARGS[:-3], "--kinds", "random", "--no-progress", "--json", "--out", str(out)])
    assert r.exit_code == 0, r.output
    res = json.loads(r.output)
    fc = [x for x in res["records"] if x["spec"]["kind"] == "fc"]
    assert len(fc) == 1 and fc[0]["parameters"] == 64 * 1024 + 1024 + 1024 * 64 + 64
    ds = load_dataset(
        "morse:baseline", seed=0, normalize=None, morse={"train_per_class": 4, "val_per_class": 1, "test_per_class": 1}
    )
    rec = run(
        ModelSpec(layers=(64, 1024, 64), kind="fc", seed=0), TrainConfig(epochs=1, batch_size=128, lr=3e-3, seed=0), ds
    )
    assert fc[0]["test_acc"] == rec["test_acc"] and fc[0]["best_val_acc"] == rec["best_val_acc"]


def test_demo_config_is_a_valid_sweep():
    cfg = demo_config(per_class=8, epochs=1, seeds=[0, 1], kinds=["random"])
    assert cfg.base["dataset"]["name"] == "morse:baseline" and cfg.seeds == [0, 1]
    assert cfg.varied == ["network.kind", "network.d_out"]


def test_demo_bad_kind_is_one_line_before_training(tmp_path):
    r = CliRunner().invoke(
        main,
        [
            "demo",
            "--per-class",
            "4",
            "--epochs",
            "1",
            "--seeds",
            "0",
            "--kinds",
            "structured,bogus",
            "--out",
            str(tmp_path / "d"),
            "--no-progress",
        ],
    )
    assert r.exit_code == 2 and "'bogus' is not one of" in r.output
    assert not list(ResultStore(tmp_path / "d" / "results.db").rows())


@pytest.mark.parametrize("dry", [True, False])
def test_sweep_bad_later_grid_point_exits_2_before_the_first_run(tmp_path, dry):
    import numpy as np

    from helpers import toy

    np.savez(tmp_path / "x.npz", **toy())
    cfg = {
        "name": "v",
        "base": {
            "dataset": {"name": str(tmp_path / "x.npz")},
            "network": {"layers": ["auto", 12, 3]},
            "train": {"epochs": 1},
        },
        "variants": [{"network.d_out": [6, 3]}, {"network.d_out": [5, 3]}],
    }  # 6*5/12 is not whole
    (tmp_path / "c.json").write_text(json.dumps(cfg))
    db = tmp_path / "r.db"
    args = ["sweep", str(tmp_path / "c.json"), "--store", str(db), "--no-progress"] + (["--dry-run"] if dry else [])
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2, r.output
    assert "run 2" in r.output and "2.5 is not whole" in r.output and len(r.output.strip().splitlines()) == 1
    if db.exists():
        assert not list(ResultStore(db).rows())


def test_sweep_config_shapes_are_one_line(tmp_path):
    (tmp_path / "a.toml").write_text('name = "x"\n[base]\ndataset = 5\n')
    (tmp_path / "b.toml").write_bytes(b'name = "\xff\xfe"\n')
    for f, needle in (("a.toml", "base.dataset = 5 must be a table"), ("b.toml", "not UTF-8")):
        r = CliRunner().invoke(main, ["sweep", str(tmp_path / f), "--dry-run"])
        assert r.exit_code == 2 and needle in r.output and len(r.output.strip().splitlines()) == 1
