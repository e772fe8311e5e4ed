"""Sweeps: config validation, expansion, resume after interruption, reports."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from predsparse.cli import main
from predsparse.errors import InputError
from predsparse.experiments.report import best_by, summary_table
from predsparse.experiments.store import ResultStore
from predsparse.experiments.sweep import expand, parse_config, run_sweep

BASE = {
    "name": "t",
    "seeds": [0, 1],
    "base": {"dataset": {"name": "x.npz"}, "network": {"layers": [6, 12, 3]}, "train": {"epochs": 2}},
    "grid": {"network.kind": ["structured", "random"], "train.l2": [0.0, 1e-4]},
    "variants": [{"network.kind": "fc"}, {"network.d_out": [6, 3]}],
}


def fake_runner(run, cache):
    l2 = run["train"].get("l2", 0.0)
    kind = run["network"].get("kind")
    acc = 0.9 - 100 * l2 + (0.05 if kind == "fc" else 0) + 0.01 * run["seed"]
    return {"test_acc": acc, "best_val_acc": acc - 0.01, "rho_net": 1.0 if kind == "fc" else 0.5, "parameters": 10}


def test_expand_crosses_grid_zips_variants_and_dedupes():
    runs = expand(parse_config(BASE))
    # fc variant: its kind wins over the grid -> 2 l2 values x 2 seeds; sparse variant: 2 kinds x 2 l2 x 2 seeds
    assert len(runs) == 4 + 8
    assert sum(r["network"]["kind"] == "fc" for r in runs) == 4


@pytest.mark.parametrize(
    "mutate,needle",
    [
        (lambda c: c.update(epochs=3), "unknown top-level key"),
        (lambda c: c["base"]["train"].update(epoch=3), "base.train"),
        (lambda c: c["grid"].update({"train.lr_typo": [1]}), "unknown sweep key 'train.lr_typo'"),
        (lambda c: c.update(seeds=[]), "seeds"),
        (lambda c: c["base"]["network"].pop("layers"), "layers is required"),
    ],
)
def test_config_typos_are_named(mutate, needle):
    cfg = json.loads(json.dumps(BASE))
    mutate(cfg)
    with pytest.raises(InputError, match=needle):
        parse_config(cfg)


def test_interrupted_sweep_resumes_and_reports(tmp_path):
    cfg = parse_config(BASE)
    store = ResultStore(tmp_path / "r.db")
    calls = []

    def flaky(run, cache):
        if len(calls) == 5:
            raise KeyboardInterrupt
        calls.append(run)
        return fake_runner(run, cache)

    with pytest.raises(KeyboardInterrupt):
        run_sweep(cfg, store, progress=False, runner=flaky)
    assert len(list(store.rows("t"))) == 5
    counts = run_sweep(cfg, store, progress=False, runner=fake_runner)
    assert counts == {"runs": 12, "skipped": 5, "ran": 7, "jobs": 1}
    rows = list(store.rows("t"))
    assert len(rows) == 12
    header, body = summary_table(rows)
    assert header[-1] == "n" and all(r[-1] == "2" for r in body)
    header, body = best_by(rows, "train.l2")
    assert all(r[header.index("best train.l2")] == "0" for r in body)  # fake accuracy falls with l2
    header, body = summary_table(rows, pivot="network.kind")
    assert "fc" in header and "structured" in header


def test_real_tiny_sweep_through_cli(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 90)
    x = np.eye(3)[y] @ rng.normal(0, 2, (3, 6)) + rng.normal(0, 0.5, (90, 6))
    np.savez(tmp_path / "x.npz", xtr=x[:50], ytr=y[:50], xva=x[50:70], yva=y[50:70], xte=x[70:], yte=y[70:])
    cfg = json.loads(json.dumps(BASE))
    cfg["base"]["dataset"]["name"] = str(tmp_path / "x.npz")
    cfg["grid"] = {"network.kind": ["structured"]}
    cfg["seeds"] = [0]
    (tmp_path / "c.json").write_text(json.dumps(cfg))
    db = tmp_path / "r.db"
    r = CliRunner().invoke(main, ["sweep", str(tmp_path / "c.json"), "--store", str(db), "--no-progress"])
    assert r.exit_code == 0, r.output
    assert "2 runs done" in r.output
    r = CliRunner().invoke(main, ["report", str(db), "--json"])
    assert r.exit_code == 0
    assert len(json.loads(r.output)["t"]["rows"]) == 2
    r = CliRunner().invoke(main, ["report", str(tmp_path / "missing.db")])
    assert r.exit_code == 2 and "no such results file" in r.output


def test_report_never_writes_to_its_input_and_refuses_other_files(tmp_path):
    import sqlite3

    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    other = tmp_path / "other.db"  # another SQLite database (a search store, say)
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE trials (id INTEGER)")
    text = tmp_path / "notes.db"
    text.write_text("not a database at all\n" * 10)
    for path in (empty, other, text):
        before = path.read_bytes()
        r = CliRunner().invoke(main, ["report", str(path)])
        assert r.exit_code == 2, r.output
        assert r.output.startswith("error: ") and "not a predsparse results" in r.output
        assert len(r.output.strip().splitlines()) == 1
        assert path.read_bytes() == before  # no table added, nothing changed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.db", "notes.db", "other.db"]  # no journal left


def test_store_url_errors_are_one_line(tmp_path):
    with pytest.raises(InputError, match="unsupported database 'mysql'"):
        ResultStore("mysql://u@h/db")
    with pytest.raises(InputError, match="cannot connect"):
        ResultStore("postgresql://nobody@127.0.0.1:1/x")
    with pytest.raises(InputError, match="is a directory"):
        ResultStore(tmp_path)


def test_estimated_weights_by_hand_for_every_way_a_network_is_given():
    from predsparse.experiments.sweep import estimated_weights

    def cfg(network):
        return parse_config({"name": "w", "base": {"dataset": {"name": "toy"}, "network": network}})

    assert estimated_weights(cfg({"layers": [10, 8, 4], "kind": "fc"})) == 10 * 8 + 8 * 4
    assert estimated_weights(cfg({"layers": [10, 8, 4], "kind": "random", "d_out": [2, 4]})) == 10 * 2 + 8 * 4
    assert estimated_weights(cfg({"layers": [10, 8, 4], "kind": "random", "density": 0.5})) == 56
    # one density per junction (the reproduce PCA config): 0.25 * 80 + 1.0 * 32
    assert estimated_weights(cfg({"layers": [10, 8, 4], "kind": "random", "density": [0.25, 1.0]})) == 52
