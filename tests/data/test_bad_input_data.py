"""Bad data files: every kind of damage is one InputError (library) or one ``error:`` line, exit 2 (CLI)."""

from __future__ import annotations

import gzip
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bad_input import (
    assert_refused,
    idx_bytes,
    run,
    save_npz,
    toy_arrays,
    write_idx_dir,
)
from predsparse.data import Dataset, load_dataset, load_idx_dir, load_npz, read_idx
from predsparse.errors import InputError

TRAIN = ["--layers", "6,4,3", "--d-out", "2,3", "--epochs", "1", "--no-progress"]


def refused(fn, *args, **kwargs) -> str:
    with pytest.raises(InputError) as info:
        fn(*args, **kwargs)
    msg = str(info.value)
    assert "\n" not in msg
    return msg


# --- IDX ---------------------------------------------------------------------------------------------------


def test_idx_round_trip_plain_and_gz(tmp_path):
    d = write_idx_dir(tmp_path / "plain")
    g = write_idx_dir(tmp_path / "gz", gz=True)
    a, b = load_idx_dir(d, val_size=5), load_idx_dir(g, val_size=5)
    assert a.xtr.shape == (25, 4, 4) and np.array_equal(a.xtr, b.xtr) and np.array_equal(a.yte, b.yte)


def test_idx_corrupted_deflate_body(tmp_path):
    data = gzip.compress(idx_bytes(np.arange(200).reshape(50, 4)))
    bad = bytearray(data)
    bad[10] |= 0b110  # the first deflate block gets the reserved block type 11: zlib.error
    (tmp_path / "x.gz").write_bytes(bytes(bad))
    assert "unreadable IDX" in refused(read_idx, tmp_path / "x.gz")


def test_idx_header_ndim_255_and_overflowing_dims(tmp_path):
    (tmp_path / "a").write_bytes(bytes([0, 0, 8, 255]) + b"\x00\x00\x00\x01" * 255)
    assert "255 dimensions" in refused(read_idx, tmp_path / "a")
    # 4 x 2^31 x 2^31 x 2^31 elements overflows int64 products: must be refused, not wrapped around
    (tmp_path / "b").write_bytes(bytes([0, 0, 8, 4]) + (4).to_bytes(4, "big") + (2**31).to_bytes(4, "big") * 3)
    assert "file can hold" in refused(read_idx, tmp_path / "b")
    with pytest.MonkeyPatch.context() as mp:  # a header that fits the file but not the memory limit
        mp.setenv("PREDSPARSE_MEMORY_LIMIT", "1K")
        (tmp_path / "m").write_bytes(idx_bytes(np.zeros((2, 1024))))
        assert "PREDSPARSE_MEMORY_LIMIT" in refused(read_idx, tmp_path / "m")
    (tmp_path / "c").write_bytes(bytes([0, 0, 0x0D, 2]) + (2).to_bytes(4, "big") * 2 + b"\x00" * 5)
    assert "needs 16" in refused(read_idx, tmp_path / "c")


def test_label_file_shorter_than_images(tmp_path):
    d = write_idx_dir(tmp_path, overrides={"train-labels-idx1-ubyte": idx_bytes(np.zeros(20))})
    assert "30 images but 20 labels" in refused(load_idx_dir, d, val_size=5)
    res = run(["train", "--dataset", d, *TRAIN])
    assert_refused(res, "labels")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_idx_random_damage_is_clean(tmp_path, data):
    """Truncate, flip bytes or rewrite header fields of an IDX file (plain or gzipped): a clean InputError, or
    an array whose size is what its header says."""
    arr = np.arange(60, dtype=np.uint8).reshape(5, 3, 4)
    raw = bytearray(idx_bytes(arr))
    op = data.draw(st.sampled_from(["truncate", "flip", "header", "dims"]))
    if op == "truncate":
        raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
    elif op == "flip":
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] ^= data.draw(st.integers(1, 255))
    elif op == "header":
        raw[data.draw(st.integers(0, 3))] = data.draw(st.integers(0, 255))
    else:
        i = data.draw(st.integers(0, 2))
        raw[4 + 4 * i : 8 + 4 * i] = data.draw(st.integers(0, 2**32 - 1)).to_bytes(4, "big")
    gz = data.draw(st.booleans())
    path = tmp_path / ("f.gz" if gz else "f")
    payload = bytes(raw)
    if gz:
        payload = gzip.compress(payload)
        if data.draw(st.booleans()):  # damage the compressed stream too
            p = bytearray(payload)
            p[data.draw(st.integers(0, len(p) - 1))] ^= 0xFF
            payload = bytes(p)
    path.write_bytes(payload)
    try:
        out = read_idx(path)
    except InputError as exc:
        assert "\n" not in str(exc)
        return
    assert out.size * out.dtype.itemsize + 4 + 4 * out.ndim == len(raw)


# --- npz and datasets ----------------------------------------------------------------------------------------


def test_npz_empty_validation_or_test_split(tmp_path):
    a = toy_arrays()
    for k in ("va", "te"):
        p = save_npz(tmp_path / f"{k}.npz", **{"x" + k: a["x" + k][:0], "y" + k: a["y" + k][:0]})
        assert "is empty" in refused(load_npz, p)
        assert_refused(run(["train", "--dataset", p, *TRAIN]), "empty")


def test_complex_features_and_absurd_labels(tmp_path):
    a = toy_arrays()
    p = save_npz(tmp_path / "c.npz", xtr=a["xtr"] + 1j)
    assert "complex" in refused(load_npz, p)
    y = a["ytr"].copy()
    y[0] = 10**12
    p = save_npz(tmp_path / "l.npz", ytr=y)
    assert "classes" in refused(load_npz, p)
    assert_refused(run(["train", "--dataset", p, *TRAIN]), "classes")
    assert "complex" in refused(Dataset, *(a[k] if k != "yte" else a[k] + 0j for k in a))


def test_npz_pickled_objects_are_not_loaded(tmp_path):
    a = toy_arrays()
    p = tmp_path / "o.npz"
    np.savez(p, **{**a, "xtr": np.array([object()] * len(a["xtr"]))})
    assert "not a readable npz" in refused(load_npz, p)


def test_zero_limits_and_pca_refused(tmp_path):
    p = save_npz(tmp_path / "d.npz")
    for opts, frag in (
        ({"limit_train": 0}, "limit_train"),
        ({"limit_val": -3}, "limit_val"),
        ({"pca_k": -1}, "pca"),
        ({"pad_to": 0}, "pad_to"),
    ):
        assert frag in refused(load_dataset, str(p), **opts)
    for opt in ("--limit-train", "--limit-val", "--limit-test", "--pca", "--pad-to"):
        assert_refused(run(["train", "--dataset", p, *TRAIN, opt, "0"]), opt)
    assert load_dataset(str(p), pca_k=0).num_features == 6  # configs' "0: raw features" stays
    assert "memory" in refused(load_dataset, str(p), pad_to=10**12)  # refused before allocating 60 x 10^12 floats


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_npz_random_damage_is_clean(tmp_path, data):
    """Truncate or flip bytes of a dataset npz (compressed or not): a clean InputError or a valid Dataset."""
    p = tmp_path / "d.npz"
    (np.savez_compressed if data.draw(st.booleans()) else np.savez)(p, **toy_arrays(n=20))
    raw = bytearray(p.read_bytes())
    if data.draw(st.booleans()):
        raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
    else:
        for _ in range(data.draw(st.integers(1, 4))):
            raw[data.draw(st.integers(0, len(raw) - 1))] ^= data.draw(st.integers(1, 255))
    p.write_bytes(bytes(raw))
    try:
        ds = load_npz(p)
    except InputError as exc:
        assert "\n" not in str(exc)
        return
    assert ds.xtr.shape[0] == ds.ytr.shape[0] and ds.num_classes >= 1


def test_zlib_error_is_not_an_oserror():
    """Why read_idx catches more than OSError: a bad deflate stream raises zlib.error."""
    assert not issubclass(zlib.error, OSError)
