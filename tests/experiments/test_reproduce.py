"""`predsparse reproduce`: the manifest parses, every claim's configuration validates, verdicts are computed
from hand-made rows, and `--quick` runs end to end (on its smallest claim)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from predsparse.cli import main
from predsparse.errors import InputError
from predsparse.experiments import reproduce as R
from predsparse.experiments import reproduce_verdicts as V
from predsparse.experiments.sweep import expand
from predsparse.provenance import versions

SEED_CLAIMS = {
    "density-4j",
    "density-2j",
    "twenty-percent",
    "later-junctions",
    "large-sparse",
    "l2-density",
    "redundancy-pca",
    "redundancy-cnn",
    "random-behind",
    "morse-ladder",
    "scatter",
}


def test_manifest_parses_and_covers_every_claim_of_the_seed():
    claims = R.load_manifest()
    assert {c.id for c in claims} == SEED_CLAIMS
    for c in claims:
        assert c.verdict in R.VERDICTS and c.claim and c.seed
        assert c.configs or c.study
    four = next(c for c in claims if c.id == "density-4j")
    assert [r[1] for r in four.params["rows"]] == [80.2, 60.4, 40.6, 20.8, 10.9, 6.9, 3.6, 2.2]  # the seed's table


@pytest.mark.parametrize("quick", [False, True])
def test_every_claim_configuration_validates(quick):
    claims = R.load_manifest()
    seen = {}
    for c in claims:
        for cfg in R.claim_configs(c, quick):
            if cfg.name not in seen:
                seen[cfg.name] = R.validate(cfg)  # builds every run's network: bad degrees or z raise
            assert len(cfg.seeds) >= 3
            assert cfg.name.endswith("-quick") == quick
    assert len(seen) == 8 and all(n > 0 for n in seen.values())


def test_seed_scale_settings():
    cfgs = {cfg.name: cfg for c in R.load_manifest() for cfg in R.claim_configs(c)}
    four = cfgs["repro-density-4j"]
    runs = expand(four)
    assert {tuple(r["network"]["layers"]) for r in runs} == {(800, 100, 100, 100, 10)}
    assert {r["network"]["kind"] for r in runs} == {"fc", "clash-free", "structured", "random"}
    assert {tuple(r["network"].get("z") or ()) for r in runs if r["network"]["kind"] == "clash-free"} >= {
        (80, 20, 20, 100)
    }
    # equal trainable parameters (weights + biases, computed here by hand) within 6 % for the width sweep
    params = []
    for r in expand(cfgs["repro-large-sparse"]):
        n, h, o = r["network"]["layers"]
        d = r["network"].get("d_out") or [h, o]
        params.append(n * d[0] + h * d[1] + h + o)
    assert max(params) / 40560 - 1 < 0.06 and 1 - min(params) / 40560 < 0.06
    ladder = expand(cfgs["repro-morse-ladder"])
    assert len({json.dumps(r["dataset"]["morse"], sort_keys=True) for r in ladder}) == 20
    assert all(r["dataset"]["morse"]["codebook"] == "original" for r in ladder)
    quick = R.shrink(four)
    assert quick.base["train"]["epochs"] == 2 and quick.base["dataset"]["limit_train"] == R.QUICK_DATA["limit_train"]


def test_bad_manifest_and_claims_are_errors(tmp_path):
    bad = tmp_path / "m.toml"
    bad.write_text('[[claims]]\nid = "x"\nclaim = "c"\nverdict = "nope"\nconfigs = ["a.toml"]\n')
    with pytest.raises(InputError, match="verdict 'nope'"):
        R.load_manifest(bad)
    bad.write_text('[[claims]]\nid = "x"\nclaim = "c"\nverdict = "scatter"\nconfigs = ["missing.toml"]\n')
    with pytest.raises(InputError, match="does not exist"):
        R.load_manifest(bad)
    with pytest.raises(InputError, match="unknown claim"):
        R.select(R.load_manifest(), "density-4j,nonsense")
    res = CliRunner().invoke(main, ["reproduce", "--claims", "nonsense", "--store", str(tmp_path / "r.db")])
    assert res.exit_code == 2 and "unknown claim" in res.output


def _row(kind, dout, rho, acc, seed, **extra):
    return {
        "network": {"kind": kind, "layers": extra.pop("layers", [800, 100, 10]), "d_out": dout},
        "d_out_net": dout,
        "rho_net": rho,
        "test_acc": acc,
        "best_val_acc": acc,
        "best_epoch": 3,
        "train": {"epochs": 5, **extra.pop("train", {})},
        "junction_densities": [rho, 1.0],
        "sweep": "s",
        "dataset": {},
        **extra,
    }


def test_verdicts_on_hand_made_rows():
    # later junctions: the later-dense member of the pair is better in one pair of two -> partly
    rows = [
        _row("structured", d, 0.05, a + 0.001 * s, s)
        for d, a in (([4, 10], 0.80), ([5, 2], 0.78), ([1, 10], 0.60), ([2, 1], 0.70))
        for s in range(3)
    ]
    v = V.later_junctions(rows, {"pairs": [[[4, 10], [5, 2]], [[1, 10], [2, 1]]]})
    assert v["verdict"] == "partly" and "1 of 2" in v["reason"]
    # twenty percent: FC 0.90, best kind at 20 % 0.895 -> drop 0.5 < 1 -> holds
    rows = [_row("fc", None, 1.0, 0.90, s) for s in range(3)]
    rows += [_row(k, [20, 10], 0.2, a, s) for k, a in (("structured", 0.895), ("random", 0.85)) for s in range(3)]
    rows += [_row("structured", [2, 10], 0.03, 0.80, s) for s in range(3)]
    v = V.twenty_percent(rows, {"target": 0.2, "max_drop": 1.0})
    assert v["verdict"] == "holds" and "drop 0.50" in v["ours"]
    # L2: 3e-5 best at 100 %, 0 best at 10 % -> falls
    rows = [
        _row("fc" if rho == 1 else "structured", [1], rho, acc, s, train={"l2": l2})
        for rho, l2, acc in ((1.0, 0.0, 0.80), (1.0, 3e-5, 0.85), (0.1, 0.0, 0.75), (0.1, 3e-5, 0.70))
        for s in range(3)
    ]
    v = V.l2_falls(rows, {})
    assert v["ours"] == "100 %: 3e-05, 10 %: 0" and v["verdict"] == "holds"
    assert R.convergence(rows)["still_improving"] == "0/12"


def test_quick_runs_end_to_end(tmp_path):
    out = tmp_path / "out"
    args = [
        "--threads",
        "1",
        "reproduce",
        "--quick",
        "--claims",
        "later-junctions",
        "--store",
        str(tmp_path / "r.db"),
        "--out",
        str(out),
        "--no-progress",
        "--json",
    ]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    (claim,) = summary["claims"]
    assert claim["id"] == "later-junctions" and claim["verdict"] in ("holds", "partly", "does not hold")
    assert claim["still_improving"].endswith("/30")  # 10 networks x 3 seeds, each with its best epoch
    assert (out / "later-junctions.png").stat().st_size > 1000
    assert "later-junctions" in (out / "verdicts.md").read_text()
    (cost,) = summary["effort"]  # what the stored runs cost, and which code made them
    assert cost["config"] == "repro-later-junctions-quick" and cost["runs"] == "30/30"
    assert 0 < cost["run_hours"] * 3600 < 30 * 600 and cost["commits"] == [str(versions()["predsparse_commit"])]
    # a rerun resumes: nothing left to train, same verdict
    from predsparse.experiments.store import ResultStore

    again = json.loads(CliRunner().invoke(main, args).output)
    assert again["claims"][0]["ours"] == claim["ours"]
    assert len(list(ResultStore(tmp_path / "r.db").rows("repro-later-junctions-quick"))) == 30


def test_quick_scatter_study_trains_into_the_reproduce_store(tmp_path):
    """The study's trainings go into `--store` with the sweeps' (a committed store resumes everything),
    the claim gets a figure and an effort row, and a partial store reports "not run" instead of a verdict."""
    from predsparse.experiments import scatter_study as S
    from predsparse.experiments.store import ResultStore

    out = tmp_path / "out"
    args = ["--threads", "1", "reproduce", "--quick", "--claims", "scatter", "--store", str(tmp_path / "r.db")]
    args += ["--out", str(out), "--no-progress", "--json"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    (claim,) = summary["claims"]
    assert claim["verdict"] in ("holds", "partly", "does not hold") and (out / "scatter.png").stat().st_size > 1000
    n = len(S._items(S.tiny_config()))
    assert len(list(ResultStore(tmp_path / "r.db").rows(S.STORE_SWEEP))) == n
    assert not (out / "study-scatter" / "results.db").exists()
    assert claim["still_improving"].endswith(f"/{n}")
    (cost,) = summary["effort"]
    assert cost["config"] == "study scatter" and cost["runs"] == f"{n}/{n}" and cost["run_hours"] > 0
    assert cost["commits"] == [str(versions()["predsparse_commit"])]
    again = json.loads(CliRunner().invoke(main, args).output)  # resumes: nothing trained, same figures
    assert again["claims"][0]["ours"] == claim["ours"]
    assert len(list(ResultStore(tmp_path / "r.db").rows(S.STORE_SWEEP))) == n
    # a store without the study: no verdict
    (c,) = R.select(R.load_manifest(), "scatter")
    partial = R.evaluate(c, ResultStore(tmp_path / "empty.db"), quick=True, out=out)
    assert partial["verdict"] == "not run" and partial["reason"].startswith(f"0 of {n} study trainings stored")


def test_morse_ladder_verdict_on_hand_made_rows():
    """Accuracy per variant, each variant's four metrics as `difficulty` gives them on its data, and their
    Pearson r with the accuracies (scipy's, computed here from those values)."""
    from scipy.stats import pearsonr

    from predsparse.morse import difficulty, generate

    small = {"train_per_class": 6, "val_per_class": 2, "test_per_class": 2}
    variants = [{"noise_sd": sd, **small} for sd in (0.0, 1.0, 2.0)] + [{"leading_spaces": True, **small}]
    accs = [0.8, 0.7, 0.55, 0.4]
    rows = [
        _row("fc", None, 1.0, a + 0.001 * s, s, dataset={"morse": v}, order=i)
        for i, (v, a) in enumerate(zip(variants, accs))
        for s in range(3)
    ]
    published = {"V_lower": -0.59, "V_upper": -0.64, "V_dist": -0.63, "V_thresh": -0.64}
    v = V.morse_ladder(rows, {"labels": ["1.0", "1.1", "1.2", "2.0"], "published_r": published})
    assert list(v["accuracy"]) == ["1.0", "1.1", "1.2", "2.0"]
    assert [round(a[0], 1) for a in v["accuracy"].values()] == [80.1, 70.1, 55.1, 40.1]
    ds = [generate(None, seed=0, **var) for var in variants]
    for m in published:
        vals = [difficulty(d)[m] for d in ds]
        assert [v["metrics"][k][m] for k in v["metrics"]] == pytest.approx(vals)
        assert v["metrics"]["2.0"][f"{m} (original)"] == pytest.approx(difficulty(ds[3], compat="original")[m])
        assert v["correlations"][m] == pytest.approx(pearsonr(vals, [100 * a + 0.1 for a in accs])[0])
    assert v["verdict"] in ("holds", "partly", "does not hold")
