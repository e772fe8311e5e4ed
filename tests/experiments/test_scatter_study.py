"""The scatter-vs-accuracy study: pattern kinds at equal density, statistics, threshold, a tiny end-to-end run, CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from predsparse.cli import main
from predsparse.errors import InputError
from predsparse.experiments import scatter_study as S


@pytest.mark.parametrize("config", [S.reduced_config(), S.tiny_config()], ids=["reduced", "tiny"])
def test_every_kind_has_the_same_edges_per_junction(config):
    for setup in config.setups:
        want = [p * d for p, d in zip(setup.layers[:-1], setup.out_degrees)]
        for kind in S.KINDS:
            pats = S.build_patterns(setup, kind, seed=1)
            assert [p.edges for p in pats] == want, (setup.name, kind)
            assert not any(p.has_duplicates() for p in pats)


def test_bad_kinds_score_below_ordinary_ones():
    setup = S.reduced_config().setups[1]  # Fashion-MNIST 1024-64-16, 784 pixels matter
    sc = {k: S.scatter_values(setup, S.build_patterns(setup, k, seed=0))["scatter"] for k in S.KINDS}
    worst_ordinary = min(sc[k] for k in S.ORDINARY_KINDS)
    assert sc["clash-free-zero"] < worst_ordinary and sc["windowed-single"] < worst_ordinary
    zero = S.build_patterns(setup, "clash-free-zero", seed=0)[0]
    assert (zero.in_degrees == 16).all() and (zero.cols.reshape(64, 16)[49:] >= 784).all()  # 15 read only padding


def test_correlations_and_sample_size():
    c = S.correlations([0.1, 0.2, 0.3, 0.4], [0.5, 0.6, 0.8, 0.9])
    assert c["n"] == 4 and c["spearman"] == pytest.approx(1.0) and 0.9 < c["pearson"] < 1.0
    c = S.correlations([0.1, 0.1, 0.1], [0.5, 0.6, 0.7])  # constant input: undefined, not an exception
    assert c["n"] == 3 and math.isnan(c["pearson"])


def _rec(kind, scatter, acc, ds="d"):
    return {
        "dataset": ds,
        "kind": kind,
        "bad": kind in S.BAD_KINDS,
        "scatter": scatter,
        "test_acc": acc,
        "vector": {"J1.f": scatter},
    }


def test_threshold_by_hand():
    recs = [
        _rec("structured", 0.60, 0.80),
        _rec("random", 0.50, 0.79),
        _rec("windowed", 0.90, 0.81),  # reference 0.80
        _rec("clash-free-zero", 0.10, 0.55),
        _rec("windowed-single", 0.20, 0.70),
        _rec("clash-free-narrow", 0.456, 0.785),  # within tol 0.02 of the reference: trained well
    ]
    t = S.threshold_for(recs, tol=0.02)
    assert t["reference_acc"] == 0.80
    assert t["threshold"] == 0.45  # lowest scatter among good patterns, rounded down
    assert (t["good"], t["poor"], t["poor_rejected"]) == (4, 2, 2)
    assert S.recommended_threshold({"records": recs, "config": {"tol": 0.02}}) == 0.45
    by_vector = S.threshold_for(recs, tol=0.02, key="vector.J1.f")  # the same numbers stored in the vector
    assert by_vector["threshold"] == 0.45
    assert S.recommended_threshold({"threshold": {"threshold": 0.33}}) == 0.33
    assert S.recommended_threshold({"threshold": 0.33, "threshold_net_f": 0.5}, entry="net.f") == 0.5  # threshold.json
    assert S.recommended_threshold() == S.DEFAULT_THRESHOLD
    assert S.recommended_threshold(entry="net.f") == S.DEFAULT_THRESHOLD_NET_F
    with pytest.raises(InputError, match="entry"):
        S.recommended_threshold(entry="J9.f")
    with pytest.raises(InputError):
        S.threshold_for([_rec("clash-free-zero", 0.1, 0.5)])


def test_tiny_study_end_to_end_and_resume(tmp_path, monkeypatch):
    cfg = S.tiny_config()
    res = S.run_study(cfg, tmp_path, progress=False)
    n = len(cfg.kinds) * cfg.replicates
    assert len(res["records"]) == n
    for name in ("scatter_study.json", "threshold.json", "scatter_vs_accuracy.png"):
        assert (tmp_path / name).stat().st_size > 0
    saved = json.loads((tmp_path / "scatter_study.json").read_text())
    summ = saved["summary"]["morse"]
    assert summ["all"]["n"] == n and summ["ordinary_only"]["n"] == 4
    assert set(summ["components"]) == {"J1.f", "J1.b", "J2.f", "J2.b", "net.f", "net.b"}
    thr = S.recommended_threshold(tmp_path / "threshold.json")
    assert thr == S.recommended_threshold(tmp_path / "scatter_study.json") and 0 <= thr <= 1
    thr_f = S.recommended_threshold(tmp_path / "threshold.json", entry="net.f")
    assert thr_f == S.recommended_threshold(tmp_path / "scatter_study.json", entry="net.f")
    assert thr_f == S.recommended_threshold(saved, tol=saved["config"]["tol"], entry="net.f")
    assert saved["versions"]["torch"] and saved["config"]["seed"] == 0
    # a rerun with the same settings trains nothing and gives the same records
    import predsparse.train.loop as L

    def boom(*a, **k):
        raise AssertionError("resume should not train again")

    monkeypatch.setattr(L, "fit", boom)
    assert (tmp_path / "results.db").is_file()  # the trainings live in a results store
    again = S.run_study(cfg, tmp_path, progress=False)
    assert [r["test_acc"] for r in again["records"]] == [r["test_acc"] for r in res["records"]]


def test_two_worker_processes_store_the_same_records_as_one(tmp_path):
    cfg = S.tiny_config()
    serial = S.run_study(cfg, tmp_path / "serial", progress=False)
    parallel = S.run_study(cfg, tmp_path / "parallel", progress=False, jobs=2)
    timing = ("train_seconds", "train_cpu_seconds")

    def numbers(res):
        return [{k: v for k, v in r.items() if k not in timing} for r in res["records"]]

    assert numbers(parallel) == numbers(serial)  # scatter values and accuracies, record by record
    from predsparse.experiments.store import ResultStore

    st = ResultStore(tmp_path / "parallel" / "results.db")
    claims = st.claim_rows(S.STORE_SWEEP)
    st.close()
    assert len(claims) == len(serial["records"]) and all(c["attempts"] == 1 for c in claims)  # none trained twice


def test_study_rejects_bad_settings_before_work(tmp_path):
    cfg = S.tiny_config()
    cfg.kinds = ("structured", "bogus")
    with pytest.raises(InputError, match="bogus"):
        S.run_study(cfg, tmp_path, progress=False)
    assert not any(tmp_path.iterdir())


def test_cli_count_and_scatter():
    r = CliRunner().invoke(
        main,
        [
            "pattern",
            "count",
            "--n-in",
            "9",
            "--n-out",
            "6",
            "--d-out",
            "2",
            "--z",
            "3",
            "--clash-type",
            "2",
            "--enumerate",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert (out["d_out"], out["clash_type"], out["d_in"]) == (2, 2, 3)
    assert out["count"] == 729 and out["enumeration"]["distinct"] == 729 and out["spec_formula_agrees"]
    r = CliRunner().invoke(
        main, ["pattern", "scatter", "--layers", "1024,64,16", "--kind", "fc", "--matter", "784,64,10", "--json"]
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["scatter"] == 1.0
    r = CliRunner().invoke(
        main,
        [
            "pattern",
            "scatter",
            "--layers",
            "1024,64,16",
            "--d-out",
            "1,2",
            "--kind",
            "clash-free",
            "--z",
            "64,32",
            "--matter",
            "784,64,10",
            "--window",
            "0:2d:28,28,7,14",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["windows"][0]["windows"] == 8 and 0 < out["scatter"] < 1 and set(out["vector"]) >= {"net.f", "net.b"}


@pytest.mark.parametrize(
    "args, needle",
    [
        (["count", "--n-in", "10", "--n-out", "5", "--d-out", "1", "--z", "3"], "does not divide"),
        (["scatter", "--layers", "64,32", "--d-out", "4", "--kind", "clash-free", "--z", "5"], "z = 5"),
        (["scatter", "--layers", "64,32", "--d-out", "4", "--window", "0:2d:8,8,3"], "window spec"),
        (["scatter", "--layers", "64,32", "--d-out", "4", "--matter", "10"], "--matter"),
        (["scatter", "--layers", "64,32", "--kind", "structured"], "--d-out"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(args, needle):
    r = CliRunner().invoke(main, ["pattern", *args])
    assert r.exit_code == 2
    lines = [ln for ln in r.output.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and needle in lines[0], r.output


def test_cli_study_tiny(tmp_path, monkeypatch):
    monkeypatch.setattr(S, "reduced_config", lambda seed=0: S.tiny_config(seed))
    r = CliRunner().invoke(main, ["pattern", "study", "--out", str(tmp_path / "s"), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["summary"]["morse"]["all"]["n"] == 6 and np.isfinite(out["threshold"]["threshold"])
