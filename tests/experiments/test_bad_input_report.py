"""``predsparse report``: it opens its input read-only and refuses anything that is not a results store (an empty
file, another SQLite database such as an Optuna study, a text file), with one line, exit 2, and the file unchanged
byte for byte; a bad ``--plot`` path is refused before the store is read."""

from __future__ import annotations

import sqlite3

import pytest

from bad_input import assert_refused, files_in, run
from predsparse.experiments.store import ResultStore


def stored(tmp_path):
    """A real results store with one sweep of two runs (written through the store's own API)."""
    path = tmp_path / "r.db"
    st = ResultStore(path)
    for i, kind in enumerate(("structured", "random")):
        st.put(
            "t",
            {"kind": kind},
            {
                "test_acc": 0.8 + i / 100,
                "best_val_acc": 0.8,
                "rho_net": 0.5,
                "parameters": 10,
                "varied": {"network.kind": kind},
                "seed": 0,
                "run_index": i,
            },
        )
    st.close()
    return path


def optuna_study(path):
    optuna = pytest.importorskip("optuna")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=f"sqlite:///{path}", study_name="s")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    return path


def bytes_file(path, content: bytes):
    path.write_bytes(content)
    return path


def other_sqlite(path):
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE notes (id INTEGER, text TEXT)")
    con.execute("INSERT INTO notes VALUES (1, 'keep me')")
    con.commit()
    con.close()
    return path


def runs_with_other_columns(path):
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE runs (id INTEGER)")
    con.commit()
    con.close()
    return path


@pytest.mark.parametrize(
    "make, needle",
    [
        (lambda p: bytes_file(p, b""), "not a predsparse results"),
        (lambda p: bytes_file(p, b"some notes\n"), "not a predsparse results"),
        (lambda p: bytes_file(p, b"SQLite format 3\x00" + b"\x00" * 84), "not a predsparse results"),
        (other_sqlite, "not a predsparse results"),
        (runs_with_other_columns, "not a predsparse results"),
        (optuna_study, "not a predsparse results"),
    ],
)
def test_not_a_results_store_is_refused_unchanged(tmp_path, make, needle):
    path = make(tmp_path / "in.db")
    before, listing = path.read_bytes(), files_in(tmp_path)
    assert_refused(run(["report", path]), needle)
    assert path.read_bytes() == before  # no 'runs' table added, nothing touched
    assert files_in(tmp_path) == listing  # no journal or -wal file left behind


def test_missing_input_and_directory(tmp_path):
    assert_refused(run(["report", tmp_path / "absent.db"]), "no such")
    assert not (tmp_path / "absent.db").exists()
    assert_refused(run(["report", tmp_path]), "")


def test_bad_plot_path_refused_before_reading(tmp_path):
    path = stored(tmp_path)
    before, listing = path.read_bytes(), files_in(tmp_path)
    for plot, needle in ((tmp_path / "missing" / "p.png", "does not exist"), (tmp_path, "directory")):
        assert_refused(run(["report", path, "--plot", plot]), "--plot", needle)
    assert path.read_bytes() == before and files_in(tmp_path) == listing


def test_unknown_sweep_and_bad_pivot(tmp_path):
    path = stored(tmp_path)
    before = path.read_bytes()
    assert_refused(run(["report", path, "--sweep", "nope"]), "nope")
    assert_refused(run(["report", path, "--pivot", "train.lr"]), "--pivot")
    assert path.read_bytes() == before


def test_good_store_still_reports_and_stays_unchanged(tmp_path):
    path = stored(tmp_path)
    before = path.read_bytes()
    res = run(["report", path])
    assert res.exit_code == 0, res.output
    assert "structured" in res.stdout and "random" in res.stdout
    assert path.read_bytes() == before
