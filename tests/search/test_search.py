"""Model search: the space, the objective, the Pareto front, scatter filtering, resume and the CLI."""

from __future__ import annotations

import json

import numpy as np
import optuna
import pytest
from click.testing import CliRunner

from predsparse.cli import main
from predsparse.data import Dataset
from predsparse.errors import InputError
from predsparse.search import SearchSettings, SearchSpace, pareto_front, run_search, sample


def toy(n=240, d=8, k=3, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    x = rng.normal(0, 3, (k, d))[y] + rng.normal(0, 1, (n, d))
    return Dataset(x[:150], y[:150], x[150:200], y[150:200], x[200:], y[200:])


def test_sampled_candidates_are_valid_and_later_junctions_denser():
    space = SearchSpace(max_hidden=2, min_width=4, max_width=64, min_density=0.05)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(30):
        cand = sample(study.ask(), space, 8, 3)
        layers, dout = cand["layers"], cand["d_out"]
        assert layers[0] == 8 and layers[-1] == 3
        if cand["kind"] != "random":  # a fixed in-degree needs n_out | n_in * d_out; random patterns need not
            assert all((p * d) % n == 0 for p, n, d in zip(layers[:-1], layers[1:], dout))
        else:  # the largest whole degree under the target density, at least 1
            assert all(
                d == max(1, int(rho * n + 1e-9)) for d, rho, n in zip(dout, cand["target_densities"], layers[1:])
            )
        assert cand["target_densities"] == sorted(cand["target_densities"])


def test_pareto_front_hand_example():
    rows = [
        {"val_acc": 0.9, "parameters": 100},
        {"val_acc": 0.8, "parameters": 50},
        {"val_acc": 0.85, "parameters": 120},  # dominated by the first
        {"val_acc": 0.95, "parameters": 1000},
        {"val_acc": 0.8, "parameters": 60},  # dominated by the second
        {"val_acc": 0.9, "parameters": 100, "study": "other budget"},  # the first point again: listed once
    ]
    front = pareto_front(rows)
    assert [r["parameters"] for r in front] == [50, 100, 1000]
    assert "study" not in front[1]


def test_search_runs_resumes_and_scores(tmp_path):
    ds = toy()
    space = SearchSpace(max_hidden=1, min_width=4, max_width=32, min_density=0.1)
    settings = SearchSettings(trials=4, epochs=2, storage=f"sqlite:///{tmp_path}/s.db", study_name="t", w_c=10.0)
    first = run_search(ds, space, settings, progress=False)
    assert first["complete"] == 4
    # --trials counts complete trials in the study: the same call again has nothing to do ...
    assert run_search(ds, space, settings, progress=False)["trials"] == first["trials"]
    # ... and a larger number tops the study up (same storage and name: the study continues)
    settings.trials = 6
    again = run_search(ds, space, settings, progress=False)
    assert again["complete"] == 6
    study = optuna.load_study(study_name="t", storage=settings.storage)
    # one sampler stream per call (the second call, worker 1, found nothing to do)
    assert {t.user_attrs["worker"] for t in study.trials} == {0, 2}
    for r in again["best"]:
        f_c = r["parameters"] / space.max_parameters(8, 3)
        assert r == next(c for c in again["candidates"] if c["number"] == r["number"])
        assert np.isclose(10 ** r["value"], (1 - r["val_acc"]) + 10.0 * f_c, rtol=1e-6)


def test_scatter_filter_rejects_everything_above_one(tmp_path):
    ds = toy()
    space = SearchSpace(
        max_hidden=1, min_width=4, max_width=16, min_density=0.05, max_density=0.2, kinds=["structured", "random"]
    )
    settings = SearchSettings(
        trials=3, epochs=1, storage=f"sqlite:///{tmp_path}/f.db", scatter_threshold=1.0, scatter_redraws=1, prune=False
    )
    out = run_search(ds, space, settings, progress=False)
    # candidates below scatter 1 are filtered before training; only those that reach it (fully connected
    # ones, or sparse ones where every input still reaches every output) complete, until 3 have
    assert out["complete"] == 3 and out["filtered_by_scatter"] >= 1
    assert all(c["scatter"] == 1.0 for c in out["candidates"])


def test_search_where_nothing_completes_fails_with_the_first_reason(tmp_path):
    ds = toy()
    # wide hidden layer at <= 20 % density: never fully connected, never scatter 1, always filtered
    space = SearchSpace(
        min_hidden=1, max_hidden=1, min_width=64, max_width=64, min_density=0.05, max_density=0.2, kinds=["random"]
    )
    settings = SearchSettings(
        trials=2, epochs=1, storage=f"sqlite:///{tmp_path}/f.db", scatter_threshold=1.0, scatter_redraws=0, prune=False
    )
    # the search stops at its trial cap (4 x trials) and fails with the first reason instead of reporting success
    with pytest.raises(
        InputError, match=r"no trial of study .* completed \(8 trials\); first failure: trial 0 pruned: scatter"
    ):
        run_search(ds, space, settings, progress=False)


def test_bad_settings():
    with pytest.raises(InputError, match="w_c"):
        SearchSettings(w_c=-1)
    with pytest.raises(InputError, match="epochs 0"):
        SearchSettings(epochs=0)
    with pytest.raises(InputError, match="max_trials 2 must be >= trials 3"):
        SearchSettings(trials=3, max_trials=2)
    with pytest.raises(InputError, match="density range"):
        SearchSpace(min_density=0)


def test_search_cli_json(tmp_path):
    ds = toy()
    np.savez(tmp_path / "d.npz", xtr=ds.xtr, ytr=ds.ytr, xva=ds.xva, yva=ds.yva, xte=ds.xte, yte=ds.yte)
    r = CliRunner().invoke(
        main,
        [
            "search",
            "--dataset",
            str(tmp_path / "d.npz"),
            "--trials",
            "3",
            "--epochs",
            "1",
            "--max-width",
            "16",
            "--min-width",
            "4",
            "--storage",
            f"sqlite:///{tmp_path}/c.db",
            "--out",
            str(tmp_path / "o"),
            "--json",
            "--normalize",
            "standard",
        ],
    )
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["trials"] == 3 and data["retrain"].startswith("predsparse train")


@pytest.mark.parametrize(
    "url,needle",
    [
        ("foo://x", "cannot open"),
        ("runs/s.db", "not a database URL"),
        ("postgresql://nobody@127.0.0.1:1/x", "cannot open"),
    ],
)
def test_bad_storage_is_one_line(tmp_path, url, needle):
    ds = toy()
    np.savez(tmp_path / "d.npz", xtr=ds.xtr, ytr=ds.ytr, xva=ds.xva, yva=ds.yva, xte=ds.xte, yte=ds.yte)
    r = CliRunner().invoke(
        main, ["search", "--dataset", str(tmp_path / "d.npz"), "--storage", url, "--out", str(tmp_path / "o")]
    )
    assert r.exit_code == 2 and needle in r.output
    assert len(r.output.strip().splitlines()) == 1 and r.output.startswith("error: --storage")
    assert not (tmp_path / "o").exists()


def test_retrain_command_for_random_patterns_names_the_out_degrees():
    from predsparse.search import retrain_command

    best = {
        "layers": [784, 100, 10],
        "kind": "random",
        "d_out": [25, 2],
        "lr": 1e-3,
        "l2": 0.0,
        "batch_size": 128,
        "dropout": 0.0,
        "seed": 7,
    }
    cmd = retrain_command(best, "fashion-mnist", 10)
    assert "--d-out 25,2" in cmd and "None" not in cmd and "--seed 7" in cmd
    # settings read back exactly, not rounded: the command repeats the stored run
    best |= {"lr": 0.0061904363859170215, "l2": 1.6603397374337017e-06}
    words = retrain_command(best, "fashion-mnist", 10).split()
    assert float(words[words.index("--lr") + 1]) == best["lr"] and float(words[words.index("--l2") + 1]) == best["l2"]
