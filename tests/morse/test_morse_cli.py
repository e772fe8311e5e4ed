"""`predsparse morse generate|metrics|study`: outputs, one-line errors with exit 2, nothing half-written; the study."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from predsparse.cli import main
from predsparse.experiments.morse_study import StudyConfig, format_table, ladder, pearson, run_study
from predsparse.experiments.store import ResultStore
from predsparse.morse import difficulty, generate

SMALL = ["--param", "train_per_class=6", "--param", "val_per_class=2", "--param", "test_per_class=2"]


def run(*args: str):
    return CliRunner().invoke(main, ["morse", *args])


def one_line_error(result, fragment: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and fragment in lines[0], lines[0]


def test_generate_writes_npz_with_meta_matching_the_library(tmp_path):
    out = tmp_path / "m.npz"
    res = run("generate", "--preset", "difficult", "--seed", "4", "--out", str(out), *SMALL)
    assert res.exit_code == 0, res.output
    assert "wrote" in res.stdout
    ref = generate("difficult", seed=4, train_per_class=6, val_per_class=2, test_per_class=2)
    with np.load(out, allow_pickle=False) as z:
        assert set(z.files) == {"xtr", "ytr", "xva", "yva", "xte", "yte", "meta"}
        for k in ("xtr", "ytr", "xva", "yva", "xte", "yte"):
            assert z[k].tobytes() == ref[k].tobytes()
        meta = json.loads(str(z["meta"]))
    assert meta["seed"] == 4 and meta["preset"] == "difficult" and meta["params"]["noise_sd"] == 4.0
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]  # no temporary files left


def test_generate_same_seed_same_bytes(tmp_path):
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    assert run("generate", "--seed", "9", "--out", str(a), *SMALL).exit_code == 0
    assert run("generate", "--seed", "9", "--out", str(b), *SMALL).exit_code == 0
    with np.load(a) as za, np.load(b) as zb:
        for k in za.files:
            assert za[k].tobytes() == zb[k].tobytes()


def test_generate_plot_onehot_and_json(tmp_path):
    out, png = tmp_path / "sub" / "m.npz", tmp_path / "m.png"
    res = run("generate", "--out", str(out), "--plot", str(png), "--param", "onehot=true", "--json", *SMALL)
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    assert info["train"] == 6 * 64 and info["features"] == 64 and info["plot"] == str(png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with np.load(out) as z:
        assert z["ytr"].shape == (6 * 64, 64)  # one-hot labels on request


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--param", "noise=3"], "unknown Morse parameter 'noise'"),
        (["--param", "noise_sd=loud"], "noise_sd='loud' is not a number"),
        (["--param", "noise_sd"], "key=value"),
        (["--param", "frame_len=50"], "needs up to 57 values"),
        (["--preset", "hard"], "unknown preset 'hard'"),
        (["--seed", "x"], "'--seed': 'x'"),
        (["--seed", "-3"], "'--seed': -3"),
    ],
)
def test_generate_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, args, fragment):
    out = tmp_path / "m.npz"
    res = run("generate", "--out", str(out), *SMALL, *args)
    one_line_error(res, fragment)
    assert list(tmp_path.iterdir()) == []


def test_generate_needs_out_and_a_file_name(tmp_path):
    one_line_error(run("generate", *SMALL), "--out FILE is required")
    one_line_error(run("generate", "--out", str(tmp_path), *SMALL), "is a directory")


def test_metrics_text_json_and_compat(tmp_path):
    out = tmp_path / "m.npz"
    assert run("generate", "--seed", "2", "--out", str(out), *SMALL).exit_code == 0
    ref = difficulty(generate(seed=2, train_per_class=6, val_per_class=2, test_per_class=2))
    res = run("metrics", str(out))
    assert res.exit_code == 0, res.output
    for k in ref:
        assert k in res.stdout
    res = run("metrics", str(out), "--json")
    got = json.loads(res.stdout)
    assert got["metrics"] == pytest.approx(ref)
    assert got["dataset"]["classes"] == 64
    res = run("metrics", str(out), "--compat", "original", "--json")
    orig = json.loads(res.stdout)["metrics"]
    assert orig["V_dist"] != pytest.approx(ref["V_dist"])


def test_metrics_bad_input(tmp_path):
    one_line_error(run("metrics", str(tmp_path / "missing.npz")), "no such dataset file")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file")
    one_line_error(run("metrics", str(bad)), "not a readable npz")
    partial = tmp_path / "partial.npz"
    np.savez(partial, xtr=np.zeros((2, 3)), ytr=np.array([0, 1]))
    one_line_error(run("metrics", str(partial)), "missing keys")
    good = tmp_path / "m.npz"
    assert run("generate", "--out", str(good), *SMALL).exit_code == 0
    one_line_error(run("metrics", str(good), "--compat", "orig"), "--compat 'orig'")
    one_line_error(run("metrics", str(good), "--threshold", "lots"), "--threshold 'lots'")


# ---------------------------------------------------------------- study


def test_pearson_by_hand():
    # x - mean = (-1, 0, 1); y - mean = (-7/3, -1/3, 8/3); sum xy = 5; sum xx = 2; sum yy = 114/9
    assert pearson([1, 2, 3], [2, 4, 7]) == pytest.approx(5 / math.sqrt(2 * 114 / 9))
    assert pearson([1, 1, 1], [1, 2, 3]) is None
    assert pearson([1.0], [2.0]) is None
    assert pearson([1, math.inf], [1, 2]) is None


def test_ladder_varies_one_knob_at_a_time():
    cfg = StudyConfig.reduced()
    entries = ladder(cfg)
    base = entries[0]["overrides"]
    assert entries[0]["knob"] == "baseline"
    knobs = [e["knob"] for e in entries]
    assert knobs.count("noise_sd") == 4 and knobs.count("dilation") == 2 and knobs.count("train_size") == 6
    assert "leading_spaces" in knobs and "min_len_dash" in knobs
    for e in entries[1:]:
        changed = {k for k in e["overrides"] if e["overrides"][k] != base.get(k)}
        assert len(changed) == 1, e
    sizes = sorted(e["overrides"]["train_per_class"] for e in entries if e["knob"] == "train_size")
    assert sizes == [25, 50, 100, 400, 800, 1600]  # 200 x 1/8 .. 8
    assert StudyConfig.full().train_per_class == 5000 and StudyConfig.full().epochs == 30


def test_run_study_with_a_fake_trainer_writes_everything(tmp_path):
    cfg = StudyConfig.reduced(train_per_class=3, val_per_class=1, test_per_class=1, knobs=("noise", "dash"), seed=7)

    def trainer(ds, config, seed):
        assert seed == 7 and config["hidden"] == 1024
        return 1.0 - difficulty(ds)["V_dist"]  # accuracy falls exactly as V_dist rises

    result = run_study(cfg, trainer=trainer, trainer_name="fake", out=tmp_path / "st", progress=False)
    assert len(result["rows"]) == 6
    assert result["correlations"]["V_dist"] == pytest.approx(-1.0)
    assert result["seeds"] == {"data": 7, "train": 7}
    assert result["trainer"] == "fake"
    for k in ("predsparse", "numpy", "torch"):
        assert result["versions"][k]
    names = sorted(p.name for p in (tmp_path / "st").iterdir())
    assert names == ["V_dist.png", "V_lower.png", "V_thresh.png", "V_upper.png", "results.db", "table.md"]
    saved = [r["result"] for r in ResultStore(tmp_path / "st" / "results.db").rows("morse-study")]
    assert saved == json.loads(json.dumps(result["rows"]))
    assert "| V_dist |" in format_table(result)

    def no_training(ds, config, seed):
        raise AssertionError("a stored dataset was trained again")

    again = run_study(cfg, trainer=no_training, trainer_name="fake", out=tmp_path / "st", progress=False)
    assert again["rows"] == saved  # resumed from the store


def test_study_cli_end_to_end_tiny(tmp_path):
    out = tmp_path / "study"
    res = run(
        "study",
        "--out",
        str(out),
        "--train-per-class",
        "3",
        "--epochs",
        "1",
        "--hidden",
        "8",
        "--knobs",
        "noise,leading",
        "--seed",
        "3",
        "--json",
    )
    assert res.exit_code == 0, res.output
    result = json.loads(res.stdout)
    assert [r["knob"] for r in result["rows"]] == ["baseline"] + ["noise_sd"] * 4 + ["leading_spaces"]
    for r in result["rows"]:
        assert 0.0 <= r["test_accuracy"] <= 1.0
        assert set(r) >= {"V_lower", "V_upper", "V_dist", "V_thresh"}
    assert set(result["correlations"]) == {"V_lower", "V_upper", "V_dist", "V_thresh"}
    assert result["config"]["epochs"] == 1 and result["seeds"]["data"] == 3
    assert result["trainer"].startswith("predsparse.")
    assert result["command"].startswith("predsparse morse study --out ")
    assert (out / "results.db").is_file() and (out / "V_upper.png").is_file()


def test_study_bad_input(tmp_path):
    one_line_error(run("study", "--out", str(tmp_path / "s"), "--knobs", "noise,colour"), "knobs")
    one_line_error(run("study", "--out", str(tmp_path / "s"), "--epochs", "0"), "'--epochs': 0")
    one_line_error(run("study", "--out", str(tmp_path / "s"), "--trainer", "keras"), "--trainer 'keras'")
    f = tmp_path / "file"
    f.write_text("x")
    one_line_error(run("study", "--out", str(f), "--epochs", "1"), "not a directory")
    assert not (tmp_path / "s").exists()


def test_study_trains_through_the_one_run_function(tmp_path):
    """A study row's accuracy is exactly what predsparse.train.run gives for the same fully connected spec."""
    from predsparse.morse import generate
    from predsparse.train import TrainConfig
    from predsparse.train.run import run as run_model
    from predsparse.train.spec import ModelSpec

    res = run(
        "study",
        "--out",
        str(tmp_path / "s"),
        "--train-per-class",
        "2",
        "--epochs",
        "1",
        "--hidden",
        "4",
        "--knobs",
        "dash",
        "--json",
    )
    assert res.exit_code == 0, res.output
    result = json.loads(res.stdout)
    assert result["trainer"].startswith("predsparse.train.run")
    assert [r["knob"] for r in result["rows"]] == ["baseline", "min_len_dash"]
    ds = generate("baseline", seed=0, **result["rows"][0]["overrides"])
    rec = run_model(
        ModelSpec(layers=("auto", 4, 64), kind="fc", seed=0), TrainConfig(epochs=1, batch_size=256, lr=5e-3, seed=0), ds
    )
    assert result["rows"][0]["test_accuracy"] == rec["test_acc"]
    assert result["rows"][0]["record"]["parameters"] == (64 * 4 + 4) + (4 * 64 + 64)  # hand count: weights + biases
    one_line_error(run("study", "--out", str(tmp_path / "t"), "--trainer", "torch"), "--trainer 'torch'")
