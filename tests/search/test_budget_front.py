"""Parameter budgets, pruning, the Pareto front and its retraining (issue 14)."""

from __future__ import annotations

import json
import math

import numpy as np
import optuna
import pytest
from click.testing import CliRunner

from helpers import bright_rows, toy
from predsparse.cli import main
from predsparse.data import Dataset
from predsparse.errors import InputError
from predsparse.search import SearchSettings, SearchSpace, sample
from predsparse.search.front import choose_points, goals_met, retrain_sweep
from predsparse.search.space import budget_densities, conv_parameters
from predsparse.train import TrainConfig
from predsparse.train.spec import ModelSpec, build


def toy_dataset() -> Dataset:
    """Overlapping Gaussian clusters: accuracy differs between candidates, so pruning has something to do."""
    d = toy(n=400, d=8, k=4, seed=2)
    return Dataset(d["xtr"], d["ytr"], d["xva"], d["yva"], d["xte"], d["yte"])


def test_budget_densities_hand_example():
    # junctions 10x5 (50 weights) and 5x2 (10); 40 weights in equal shares: 20 + 20, the second caps at 10
    # and its excess 10 goes to the first
    assert budget_densities([10, 5, 2], [1.0, 1.0], 40) == pytest.approx([0.6, 1.0])
    assert budget_densities([10, 5, 2], [3.0, 1.0], 40) == pytest.approx([0.6, 1.0])
    assert budget_densities([10, 5, 2], [1.0, 4.0], 20) == pytest.approx([0.2, 1.0])
    assert budget_densities([10, 5, 2], [1.0, 1.0], 1000) == [1.0, 1.0]


def test_conv_parameters_match_the_built_front_end():
    spec = ModelSpec(layers=("auto", 10), kind="fc", conv=(4, 6))
    model, _ = build(spec, (1, 8, 8))
    front = sum(p.numel() for p in model.front.parameters())
    assert conv_parameters((1, 8, 8), [4, 6]) == front


@pytest.mark.parametrize("kind", ["random", "structured", "clash-free"])
def test_budget_candidates_stay_within_budget_and_count_like_the_model(kind):
    space = SearchSpace(max_hidden=2, min_width=4, max_width=200, kinds=[kind], max_params=3000)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    built = 0
    for _ in range(40):
        trial = study.ask()
        try:
            cand = sample(trial, space, 64, 5)
        except Exception as exc:  # over the budget at one edge per neuron, or after rounding the degrees
            assert "budget" in str(exc)
            continue
        assert cand["parameters"] <= 3000
        spec = ModelSpec(
            layers=tuple(cand["layers"]),
            d_out=None if cand["kind"] == "fc" else tuple(cand["d_out"]),
            kind=cand["kind"],
        )
        model, _ = build(spec, (64,))
        assert sum(p.numel() for p in model.parameters()) == cand["parameters"]
        built += 1
    assert built >= 10


def test_budget_ladder_search_prunes_resumes_and_its_front_is_not_dominated(tmp_path):
    ds = toy_dataset()
    space = SearchSpace(max_hidden=1, min_width=4, max_width=64, kinds=["random", "structured"])
    settings = SearchSettings(
        trials=8, epochs=6, storage=f"sqlite:///{tmp_path}/s.db", study_name="b", startup_trials=2, seed=3
    )
    from predsparse.search.front import budget_ladder

    out = budget_ladder(ds, space, settings, [400, 120], progress=False)
    assert out["studies"] == ["b-400", "b-120"] and out["complete"] == 16
    assert out["pruned"] - out["over_budget"] >= 1  # Hyperband stopped some candidates early ...
    assert out["epochs_saved_by_pruning"] >= 1
    for r in out["candidates"]:
        assert r["parameters"] <= int(r["study"].split("-")[1])
    # brute force: no candidate dominates a front point, and every other candidate is dominated by one
    front, rows = out["pareto_front"], out["candidates"]

    def dominates(a, b):
        return (
            a["val_acc"] >= b["val_acc"]
            and a["parameters"] <= b["parameters"]
            and (a["val_acc"] > b["val_acc"] or a["parameters"] < b["parameters"])
        )

    assert not any(dominates(o, f) for f in front for o in rows)
    ids = {(f["study"], f["number"]) for f in front}

    # ... or is the same point as one (a network drawn by both budget studies is listed once)
    def same(a, b):
        return (a["val_acc"], a["parameters"]) == (b["val_acc"], b["parameters"])

    assert all(any(dominates(f, r) or same(f, r) for f in front) for r in rows if (r["study"], r["number"]) not in ids)
    assert len({(f["val_acc"], f["parameters"]) for f in front}) == len(front)
    # a rerun resumes: nothing left to do, the same trials
    again = budget_ladder(ds, space, settings, [400, 120], progress=False)
    assert again["trials"] == out["trials"] and again["complete"] == 16


def test_retrain_front_reproduces_a_front_point_from_its_stored_settings(tmp_path):
    ds = toy_dataset()
    np.savez(tmp_path / "d.npz", xtr=ds.xtr, ytr=ds.ytr, xva=ds.xva, yva=ds.yva, xte=ds.xte, yte=ds.yte)
    args = [
        "search",
        "--dataset",
        str(tmp_path / "d.npz"),
        "--trials",
        "4",
        "--epochs",
        "3",
        "--max-width",
        "32",
        "--min-width",
        "4",
        "--max-hidden",
        "1",
        "--max-params",
        "300",
        "--storage",
        f"sqlite:///{tmp_path}/c.db",
        "--study",
        "r",
        "--out",
        str(tmp_path / "o"),
        "--retrain-front",
        "--retrain-epochs",
        "3",
        "--retrain-seeds",
        "2",
        "--json",
        "--no-progress",
    ]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["retrained"] and len(data["retrained"]) == len(data["pareto_front"])
    for r in data["retrained"]:
        # the first retraining seed is the candidate's own seed, with the search's epochs: the same run
        assert r["retrain_seeds"] == [r["seed"], r["seed"] + 1]
        first = run_first_seed(tmp_path, r)
        assert first == pytest.approx(r["val_acc"], abs=0)
        assert r["still_improving"] in (0, 1, 2)
        assert math.isfinite(r["retrain_val_std"])
    assert (tmp_path / "o" / "r_vs_dnc.png").exists() and (tmp_path / "o" / "r-retrain.db").exists()
    # the retraining is stored: running the same command again trains nothing new and gives the same table
    again = json.loads(CliRunner().invoke(main, args).output)
    assert [r["retrain_val_mean"] for r in again["retrained"]] == [r["retrain_val_mean"] for r in data["retrained"]]


def run_first_seed(tmp_path, point) -> float:
    """The retrained run of ``point`` with its own seed, read back from the retraining store."""
    from predsparse.experiments.store import ResultStore

    store = ResultStore(tmp_path / "o" / "r-retrain.db", readonly=True)
    try:
        for row in store.rows():
            rec = row["result"]
            if rec["seed"] == point["seed"] and rec["varied"]["network.layers"] == point["layers"]:
                if rec["varied"]["train.lr"] == point["lr"]:
                    return rec["best_val_acc"]
    finally:
        store.close()
    raise AssertionError("no retrained run with the point's own seed")


def test_retrain_sweep_variants_carry_their_own_seeds_and_settings():
    row = {
        "layers": [8, 6, 3],
        "d_out": [3, 3],
        "kind": "structured",
        "dropout": 0.1,
        "batch_size": 32,
        "lr": 0.01,
        "l2": 0.0,
        "lr_schedule": "cosine",
        "seed": 7,
    }
    from predsparse.experiments.sweep import expand

    runs = expand(retrain_sweep([row], {"name": "x.npz", "seed": 0}, 5, 3, "n"))
    assert [r["seed"] for r in runs] == [7, 8, 9]
    assert all(r["train"]["lr_schedule"] == "cosine" and r["train"]["epochs"] == 5 for r in runs)
    assert all(r["network"]["d_out"] == [3, 3] for r in runs)


def test_choose_points_keeps_the_best_within_each_budget():
    front = [{"parameters": p, "val_acc": a} for p, a in [(10, 0.5), (20, 0.6), (50, 0.7), (90, 0.8), (200, 0.9)]]
    got = choose_points(front, [100, 30], 3)
    assert [r["parameters"] for r in got] == [10, 20, 90]
    assert choose_points(front, [], None) == front
    # 'best': the most accurate points, in order of parameters
    shuffled = [{"parameters": p, "val_acc": a} for p, a in [(10, 0.5), (20, 0.85), (50, 0.7), (90, 0.8), (200, 0.6)]]
    assert [r["parameters"] for r in choose_points(shuffled, [100], 2, "best")] == [20, 90]
    with pytest.raises(InputError, match="retrain pick 'top'"):
        choose_points(front, [], 2, "top")
    res = CliRunner().invoke(main, ["search", "--retrain-front", "--retrain-pick", "top"])
    assert res.exit_code == 2 and "'top' is not one of 'spread', 'best'" in res.output


def test_goals_met_uses_the_retrained_validation_accuracy():
    rows = [
        {"parameters": 140_000, "retrain_val_mean": 0.906},
        {"parameters": 30_000, "retrain_val_mean": 0.899},
        {"parameters": 3_900, "retrain_val_mean": 0.859},
    ]
    met = {g["budget"]: g["met"] for g in goals_met(rows)}
    assert met == {150_000: True, 25_000: False, 4_000: False}


def test_cosine_schedule_hand_values():
    cfg = TrainConfig(epochs=4, lr=0.1, lr_schedule="cosine")
    assert [cfg.epoch_lr(e) for e in (1, 2, 3, 4)] == pytest.approx(
        [0.1, 0.1 * 0.5 * (1 + math.cos(math.pi / 4)), 0.05, 0.1 * 0.5 * (1 + math.cos(3 * math.pi / 4))]
    )
    assert TrainConfig(epochs=4, lr=0.1).epoch_lr(3) == 0.1
    with pytest.raises(Exception, match="schedule"):
        TrainConfig(lr_schedule="step")


def test_min_hidden_fixes_the_depth_of_every_candidate(tmp_path):
    ds = toy_dataset()
    np.savez(tmp_path / "d.npz", xtr=ds.xtr, ytr=ds.ytr, xva=ds.xva, yva=ds.yva, xte=ds.xte, yte=ds.yte)
    args = ["search", "--dataset", str(tmp_path / "d.npz"), "--trials", "6", "--epochs", "1", "--min-width", "4"]
    args += ["--max-width", "16", "--min-hidden", "2", "--max-hidden", "2", "--storage", f"sqlite:///{tmp_path}/h.db"]
    args += ["--out", str(tmp_path / "o"), "--json", "--no-progress", "--no-prune"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    layers = [c["layers"] for c in data["candidates"]]
    assert len(layers) == 6 and all(len(x) == 4 for x in layers), layers


def test_retrain_sweep_carries_the_recipe_only_when_used():
    row = {"layers": [16, 6, 3], "d_out": [3, 3], "kind": "random", "dropout": 0.0, "batch_size": 32, "lr": 0.01}
    row |= {"l2": 0.0, "lr_schedule": "cosine", "seed": 7}
    from predsparse.experiments.sweep import expand

    plain = expand(retrain_sweep([row], {"name": "x.npz", "seed": 0}, 5, 1, "n"))[0]
    assert "augment" not in plain["train"] and "label_smoothing" not in plain["train"]
    used = expand(retrain_sweep([row | {"augment": "flip", "label_smoothing": 0.05}], {"name": "x.npz"}, 5, 1, "n"))[0]
    assert TrainConfig(**used["train"], seed=used["seed"]).augment == "flip"
    assert used["train"]["label_smoothing"] == 0.05


def test_search_over_local_patterns_and_the_recipe_records_both_and_retrains_a_mixed_front(tmp_path):
    np.savez(tmp_path / "img.npz", **bright_rows(n=300, side=8))  # images whose class survives a flip
    args = ["search", "--dataset", str(tmp_path / "img.npz"), "--trials", "12", "--epochs", "1", "--min-width", "4"]
    args += ["--max-width", "64", "--max-hidden", "1", "--kinds", "local,random", "--windows", "3,5"]
    args += ["--augments", "none,flip", "--max-label-smoothing", "0.2", "--max-params", "900", "--no-prune"]
    args += ["--storage", f"sqlite:///{tmp_path}/a.db", "--out", str(tmp_path / "o"), "--json", "--no-progress"]
    args += ["--retrain-front", "--retrain-epochs", "1", "--retrain-seeds", "1"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    cands = data["candidates"]
    # (a random draw with every junction full is recorded as fc)
    assert "local" in {c["kind"] for c in cands} <= {"local", "random", "fc"}
    assert {c["augment"] for c in cands} == {"none", "flip"}
    for c in cands:
        assert (c["window"] in (3, 5)) if c["kind"] == "local" else c["window"] is None
        assert 0 <= c["label_smoothing"] <= 0.2 and c["parameters"] <= 900
        if c["kind"] == "local":  # a neuron reads at most one patch: the first junction's edges fit
            assert 64 * c["d_out"][0] <= c["layers"][1] * c["window"] ** 2
    best = data["best"][0]
    assert ("--augment flip" in data["retrain"]) == (best["augment"] == "flip")
    assert (f"--window {best['window']}" in data["retrain"]) == (best["kind"] == "local")
    # every front point is found again in the retraining store, whatever options the others set
    assert len(data["retrained"]) == len(data["pareto_front"])
    assert all(math.isfinite(r["retrain_val_mean"]) for r in data["retrained"])
