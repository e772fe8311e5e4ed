"""`predsparse hw` commands: output, JSON, exports, and one-line errors with exit code 2."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from predsparse.cli import main

SMALL = ["--layers", "16,8,4", "--d-out", "2,2", "--z", "8,4"]


@pytest.fixture()
def tiny_npz(tmp_path):
    rng = np.random.default_rng(0)

    def split(m):
        y = rng.integers(0, 3, m)
        x = rng.integers(0, 40, (m, 12)).astype(np.uint8)
        x[np.arange(m), 4 * y] = 255
        return x, y

    xtr, ytr = split(120)
    xva, yva = split(10)
    xte, yte = split(30)
    p = tmp_path / "tiny.npz"
    np.savez(p, xtr=xtr, ytr=ytr, xva=xva, yva=yva, xte=xte, yte=yte)
    return str(p)


def run(args):
    return CliRunner().invoke(main, ["hw", *args])


@pytest.mark.parametrize(
    "args,words",
    [
        (["cost", "--layers", "1024,64,32", "--d-out", "4,16", "--z", "100,32"], "z = 100 does not divide N_0 = 1024"),
        (["cost", "--layers", "16,8,4", "--d-out", "2,2"], "missing --z"),
        (["cost", *SMALL, "--format", "1,3"], "three fields"),
        (["cost", *SMALL, "--seed-vectors", "safe"], "D >= P + 2"),
        (["export", "--layers", "64,32,16", "--d-out", "4,4", "--z", "16,16", "--out", "x"], "unbalanced pipeline"),
        (["simulate", *SMALL, "--dataset", "nope.npz"], "nope.npz"),
    ],
)
def test_bad_configuration_exits_2_with_one_line(args, words):
    r = run(args)
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and words in lines[0]


def test_cost_fpga_preset_text_and_json():
    r = run(["cost", "--preset", "fpga"])
    assert r.exit_code == 0, r.output
    assert "384 multipliers" in r.output and "98880 memory bits" in r.output and "36 clocks/input = 2.4 us" in r.output
    r = run(["cost", "--preset", "fpga", "--json"])
    rep = json.loads(r.output)
    assert rep["sparse"]["totals"]["parallelism"] == 160 and rep["fc"]["clocks_per_input"] == 516


def test_simulate_small_network_json(tiny_npz):
    r = run(["simulate", *SMALL, "--dataset", tiny_npz, "--epochs", "2", "--json", "--seed", "1"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.output)
    assert len(res["epochs"]) == 2 and 0 <= res["epochs"][-1]["test_acc"] <= 1
    assert "float_test_acc" in res["epochs"][0]
    assert res["data"]["features"] == 12 and res["data"]["input_neurons"] == 16 and res["data"]["classes"] == 3
    assert res["hardware"]["clocks_per_input"] == 4 + 2 + 2
    assert res["hardware"]["neurons"]["layers"][0]["padding"] == 4
    again = json.loads(
        run(["simulate", *SMALL, "--dataset", tiny_npz, "--epochs", "2", "--json", "--seed", "1"]).output
    )
    assert [e["test_acc"] for e in again["epochs"]] == [e["test_acc"] for e in res["epochs"]]


def test_simulate_cycle_level_text_and_export(tiny_npz, tmp_path):
    out = tmp_path / "mem"
    r = run(
        [
            "simulate",
            *SMALL,
            "--dataset",
            tiny_npz,
            "--level",
            "cycle",
            "--bp-hazard",
            "exact",
            "--no-progress",
            "--limit-train",
            "20",
            "--export",
            str(out),
        ]
    )
    assert r.exit_code == 0, r.output
    assert "test%" in r.output and "cycle model" in r.output
    man = json.loads((out / "manifest.json").read_text())
    assert man["trained_epochs"] == 1


def test_export_writes_hex_memories(tmp_path):
    out = tmp_path / "mem"
    r = run(["export", *SMALL, "--format", "1,2,7", "--seed-vectors", "zero", "--out", str(out)])
    assert r.exit_code == 0, r.output
    man = json.loads((out / "manifest.json").read_text())
    assert man["files"]["weights/j1"] == {"memories": 8, "depth": 4, "bits": 10, "signed": True}
    words = (out / "weights" / "j1" / "m000.hex").read_text().split()
    assert len(words) == 4 and all(len(w) == 3 and int(w, 16) < 1024 for w in words)
    act = (out / "tables" / "act.hex").read_text().split()
    der = (out / "tables" / "der.hex").read_text().split()
    assert len(act) == 1024 and act[0] == "040" and der[0] == "01F"  # address 0 is s = 0
    assert (out / "seeds" / "j1.hex").read_text().split() == ["0"] * 16  # d_out = 2 sweeps x z = 8, zeros
    assert len((out / "addresses" / "j2.hex").read_text().split()) == 16
    assert not list(tmp_path.glob(".mem.*"))  # no temporary left behind


def test_sweep_and_hazard_commands(tiny_npz):
    r = run(
        ["sweep", *SMALL, "--dataset", tiny_npz, "--formats", "1,2,5;1,3,8", "--activations", "sigmoid,relu", "--json"]
    )
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)["rows"]
    assert [(x["activation"], x["format"]) for x in rows] == [
        ("sigmoid", "(1,2,5)"),
        ("sigmoid", "(1,3,8)"),
        ("relu", "(1,2,5)"),
        ("relu", "(1,3,8)"),
    ]
    r = run(["hazard", *SMALL])
    assert r.exit_code == 0, r.output
    assert "released" in r.output and "bypass" in r.output
    r = run(["hazard", *SMALL, "--dataset", tiny_npz, "--json", "--no-progress"])
    rows = json.loads(r.output)["rows"]
    assert rows[0]["design"] == "released" and "test_acc" in rows[0]
    r = run(["sweep", *SMALL, "--dataset", tiny_npz, "--activations", "tanh"])
    assert r.exit_code == 2
