"""The ``pattern`` commands: zero sizes, NaN thresholds, absurd sizes and unwritable outputs are one line, exit 2,
before any work and with no file written."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bad_input import assert_refused, files_in, run


@pytest.mark.parametrize(
    "args, needle",
    [
        (["show", "--n-in", "0", "--n-out", "4", "--d-out", "1"], "--n-in"),
        (["show", "--n-in", "4", "--n-out", "-1", "--d-out", "1"], "--n-out"),
        (["show", "--n-in", "4", "--n-out", "4", "--d-out", "0"], "--d-out"),
        (["show", "--n-in", "4", "--n-out", "4", "--kind", "random", "--density", "nan"], "--density"),
        (["show", "--n-in", "4", "--n-out", "4", "--kind", "random", "--density", "0"], "--density"),
        (["show", "--n-in", "4", "--n-out", "4", "--kind", "random", "--density", "1.5"], "--density"),
        (["show", "--n-in", "8", "--n-out", "4", "--d-out", "2", "--kind", "clash-free", "--z", "0"], "--z"),
        (["show", "--n-in", "4"], "--n-in and --n-out"),
        (["scatter", "--layers", "8,4", "--d-out", "2", "--threshold", "nan"], "--threshold"),
        (["scatter", "--layers", "8,4", "--d-out", "2", "--threshold", "inf"], "--threshold"),
        (["show", "--n-in", "four", "--n-out", "4", "--d-out", "1"], "--n-in"),
    ],
)
def test_bad_values(args, needle):
    assert_refused(run(["pattern", *args]), needle)


@pytest.mark.parametrize("option", ["--save", "--plot"])
def test_unwritable_outputs_refused_before_work(tmp_path, option):
    before = files_in(tmp_path)
    base = ["pattern", "show", "--n-in", "8", "--n-out", "4", "--d-out", "2"]
    assert_refused(run([*base, option, tmp_path / "no" / "p.npz"]), option, "does not exist")
    assert_refused(run([*base, option, tmp_path]), option, "directory")
    assert files_in(tmp_path) == before


def test_scatter_plot_and_study_outputs(tmp_path):
    (tmp_path / "f").write_text("")
    assert_refused(
        run(["pattern", "scatter", "--layers", "8,4", "--d-out", "2", "--plot", tmp_path / "x" / "s.png"]), "--plot"
    )
    assert_refused(run(["pattern", "study", "--out", tmp_path / "f"]), "--out", "is a file")


def test_absurd_sizes_refused_with_estimate_and_limit(tmp_path):
    env = {"PREDSPARSE_MEMORY_LIMIT": "64M"}
    line = assert_refused(
        run(
            ["pattern", "show", "--n-in", "100000000", "--n-out", "10", "--d-out", "1", "--save", tmp_path / "p.npz"],
            env=env,
        ),
        "memory",
    )
    assert "64.0 MiB" in line and "PREDSPARSE_MEMORY_LIMIT" in line and "100,000,000 edges" in line
    assert_refused(run(["pattern", "show", "--n-in", "100000", "--n-out", "100000", "--kind", "fc"], env=env), "memory")
    assert_refused(run(["pattern", "scatter", "--layers", "100000000,10", "--d-out", "1"], env=env), "memory")
    assert files_in(tmp_path) == set()


def test_good_input_still_works(tmp_path):
    out = tmp_path / "p.npz"
    res = run(["pattern", "show", "--n-in", "8", "--n-out", "4", "--d-out", "2", "--save", out, "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    with np.load(out) as z:
        assert len(z["rows"]) == summary["edges"] == 16


@pytest.mark.parametrize("content", [b"", b"garbage", b"PK\x03\x04junk"])
def test_damaged_pattern_file(tmp_path, content):
    p = tmp_path / "p.npz"
    p.write_bytes(content)
    assert_refused(run(["pattern", "show", "--file", p]))


# --- pattern files (patterns.load): every damage is one InputError, nothing executed ----------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from predsparse import patterns as P  # noqa: E402
from predsparse.errors import InputError  # noqa: E402


def _refused_load(path) -> str:
    with pytest.raises(InputError) as info:
        P.load(path)
    msg = str(info.value)
    assert "\n" not in msg and str(path) in msg, msg
    return msg


def _npz(path, **arrays):
    good = P.structured(8, 4, 2, seed=0)
    base = {
        "shape": np.array([4, 8]),
        "rows": good.rows,
        "cols": good.cols,
        "meta": np.frombuffer(json.dumps({"kind": "structured", "params": {}}).encode(), np.uint8),
    }
    base.update(arrays)
    np.savez(path, **{k: v for k, v in base.items() if v is not None})
    return path


@pytest.mark.parametrize(
    "arrays, needle",
    [
        ({"rows": None}, "missing"),
        ({"shape": np.array([4.0, 8.0])}, "shape"),
        ({"shape": np.array([4, 8, 1])}, "shape"),
        ({"rows": np.zeros(16)}, "rows"),
        ({"cols": np.zeros((4, 4), np.int64)}, "cols"),
        ({"rows": np.arange(16)}, "right-neuron index"),
        ({"cols": np.full(16, -1)}, "left-neuron index"),
        ({"rows": np.arange(5)}, "equal length"),
        ({"meta": np.frombuffer(b"{not json", np.uint8)}, "meta"),
        ({"meta": np.frombuffer(b"[1, 2]", np.uint8)}, "meta"),
        ({"meta": np.array([1.5])}, "meta"),
        ({"shape": np.array([0, 8])}, ""),
    ],
)
def test_wrong_arrays_in_pattern_npz(tmp_path, arrays, needle):
    assert needle in _refused_load(_npz(tmp_path / "p.npz", **arrays))


@pytest.mark.parametrize(
    "content, needle",
    [
        (b"", "JSON"),
        (b"{", "JSON"),
        (b"\xff\xfe", "JSON"),
        (b"[]", "format"),
        (b'{"format": "x"}', "format"),
        (b'{"format": "predsparse-pattern/1", "kind": "random"}', "compact form"),
        (b'{"format": "predsparse-pattern/1", "kind": "fc", "n_in": "8", "n_out": 4}', "n_in"),
        (b'{"format": "predsparse-pattern/1", "kind": "fc", "n_in": 8}', "n_out"),
        (b'{"format": "predsparse-pattern/1", "kind": "fc", "n_in": 100000000, "n_out": 100000000}', "limit"),
        (
            (
                b'{"format": "predsparse-pattern/1", "kind": "clash_free", "n_in": 8, "n_out": 4, "out_degree": 2, "z": 4,'
                b' "type": 2, "seeds": "x"}'
            ),
            "",
        ),
        (b"[" * 100000, "JSON"),
    ],
)
def test_damaged_compact_json(tmp_path, content, needle):
    p = tmp_path / "p.json"
    p.write_bytes(content)
    assert needle in _refused_load(p)


def test_pickle_in_pattern_npz_not_executed(tmp_path):
    marker = tmp_path / "ran"
    import pickle

    class Payload:
        def __reduce__(self):
            import os

            return (os.system, (f"touch {marker}",))

    np.savez(
        tmp_path / "p.npz", shape=np.array([4, 8]), rows=np.array([Payload()], dtype=object), cols=np.zeros(1, int)
    )
    _refused_load(tmp_path / "p.npz")
    assert not marker.exists()
    (tmp_path / "q.json").write_bytes(pickle.dumps(Payload()))
    _refused_load(tmp_path / "q.json")
    assert not marker.exists()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), compact=st.booleans())
def test_pattern_random_damage_is_clean(tmp_path_factory, data, compact):
    """Truncate a pattern file or flip its bytes: one InputError naming the file, or a pattern within its sizes."""
    d = tmp_path_factory.mktemp("pat")
    path = d / ("p.json" if compact else "p.npz")
    P.save(P.clash_free(8, 4, 2, 4, seed=0) if compact else P.structured(8, 4, 2, seed=0), path)
    raw = bytearray(path.read_bytes())
    if data.draw(st.booleans()):
        raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
    else:
        for _ in range(data.draw(st.integers(1, 4))):
            raw[data.draw(st.integers(0, len(raw) - 1))] ^= data.draw(st.integers(1, 255))
    path.write_bytes(bytes(raw))
    try:
        p = P.load(path)
    except InputError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)
    else:  # a load that succeeds is a consistent pattern
        assert len(p.rows) == len(p.cols) and (p.rows < p.n_out).all() and (p.cols < p.n_in).all()
