"""Checkpoints and model files: damage is one InputError (never code run on load), and a checkpoint or model
of another network or dataset is refused naming the difference."""

from __future__ import annotations

import json
import os
import pickle
import struct

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bad_input import assert_refused, files_in, run, save_npz, toy_arrays
from predsparse import patterns as P
from predsparse.data import Dataset
from predsparse.errors import InputError
from predsparse.train import TrainConfig, build_model, fit, load_model, save_model
from predsparse.train.loop import make_optimizer
from predsparse.train.runbook import RunBook

TRAIN = ["--layers", "6,4,3", "--d-out", "2,3", "--epochs", "1", "--no-progress"]


def model(kind: str = "structured", layers=(6, 4, 3), d_out=(2, 3), seed: int = 0):
    net = P.network(list(layers), list(d_out), kind, seed=seed)
    return build_model(net.layers, net.patterns, seed=seed)


def dataset(**changes) -> Dataset:
    return Dataset.from_mapping({**toy_arrays(), **changes}, meta={"name": "toy"})


class Payload:
    """Unpickling this runs ``os.system``: a checkpoint must never do that."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def refused(fn, *args, **kwargs) -> str:
    with pytest.raises(InputError) as info:
        fn(*args, **kwargs)
    assert "\n" not in str(info.value)
    return str(info.value)


# --- checkpoints ------------------------------------------------------------------------------------------------


def test_pickle_checkpoint_refused_unexecuted(tmp_path):
    marker = tmp_path / "ran"
    ck = tmp_path / "ck.pt"
    torch.save({"model": Payload(str(marker))}, ck)
    assert "never loaded" in refused(fit, model(), dataset(), TrainConfig(epochs=1), progress=False, checkpoint=ck)
    ck2 = tmp_path / "ck2.pt"
    ck2.write_bytes(pickle.dumps(Payload(str(marker))))
    refused(fit, model(), dataset(), TrainConfig(epochs=1), progress=False, checkpoint=ck2)
    assert not marker.exists()
    data = save_npz(tmp_path / "d.npz")
    assert_refused(run(["train", "--dataset", data, *TRAIN, "--checkpoint", ck]), "never loaded")
    assert not marker.exists()


@pytest.mark.parametrize("content", [b"", b"not a checkpoint", b"PK\x03\x04" + b"\x00" * 40])
def test_unreadable_checkpoint(tmp_path, content):
    ck = tmp_path / "ck.pt"
    ck.write_bytes(content)
    assert "checkpoint" in refused(fit, model(), dataset(), TrainConfig(epochs=1), progress=False, checkpoint=ck)


def test_truncated_checkpoint_and_directory(tmp_path):
    ck = tmp_path / "ck.pt"
    fit(model(), dataset(), TrainConfig(epochs=1), progress=False, checkpoint=ck)
    raw = ck.read_bytes()
    ck.write_bytes(raw[: len(raw) // 2])
    assert "truncated" in refused(fit, model(), dataset(), TrainConfig(epochs=2), progress=False, checkpoint=ck)
    data = save_npz(tmp_path / "d.npz")
    before = files_in(tmp_path)
    assert_refused(run(["train", "--dataset", data, *TRAIN, "--checkpoint", tmp_path]), "directory")
    assert files_in(tmp_path) == before


def test_checkpoint_of_another_run_refused(tmp_path):
    """The issue's case: a structured checkpoint resumed as random, other layers, other data or config."""
    ck = tmp_path / "ck.pt"
    fit(model(), dataset(), TrainConfig(epochs=1), progress=False, checkpoint=ck)
    msg = refused(fit, model("random"), dataset(), TrainConfig(epochs=2), progress=False, checkpoint=ck)
    assert "'structured' in the file, 'random' here" in msg
    assert "layers" in refused(
        fit, model(layers=(6, 6, 3), d_out=(3, 3)), dataset(), TrainConfig(epochs=2), progress=False, checkpoint=ck
    )
    assert "fingerprint" in refused(fit, model(seed=1), dataset(), TrainConfig(epochs=2), progress=False, checkpoint=ck)
    other = toy_arrays(seed=1)
    assert "dataset" in refused(
        fit,
        model(),
        dataset(xtr=other["xtr"][:30], ytr=other["ytr"][:30]),
        TrainConfig(epochs=2),
        progress=False,
        checkpoint=ck,
    )
    assert "lr" in refused(fit, model(), dataset(), TrainConfig(epochs=2, lr=0.01), progress=False, checkpoint=ck)
    # the same run resumes, and more epochs continue it with the numbers of one uninterrupted run
    resumed = fit(model(), dataset(), TrainConfig(epochs=2), progress=False, checkpoint=ck)
    straight = fit(model(), dataset(), TrainConfig(epochs=2), progress=False)
    assert [r["train_loss"] for r in resumed.history] == [r["train_loss"] for r in straight.history]
    # and on the command line: one line, exit 2
    data = save_npz(tmp_path / "d.npz")
    ck2 = tmp_path / "ck2.pt"
    assert run(["train", "--dataset", data, *TRAIN, "--checkpoint", ck2]).exit_code == 0
    assert_refused(run(["train", "--dataset", data, *TRAIN, "--checkpoint", ck2, "--kind", "random"]), "random")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_checkpoint_random_damage_is_clean(tmp_path_factory, data):
    """Truncate or flip bytes of a checkpoint: reading and resuming give one InputError or a consistent state."""
    d = tmp_path_factory.mktemp("ck")
    ck = d / "ck.pt"
    m, ds, cfg = model(), dataset(), TrainConfig(epochs=1)
    fit(m, ds, cfg, progress=False, checkpoint=ck)
    raw = bytearray(ck.read_bytes())
    if data.draw(st.booleans()):
        raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
    else:
        for _ in range(data.draw(st.integers(1, 3))):
            raw[data.draw(st.integers(0, len(raw) - 1))] ^= data.draw(st.integers(1, 255))
    ck.write_bytes(bytes(raw))
    fresh = model()
    try:
        state = RunBook.read_checkpoint(ck, cfg)
        if state is not None:
            book = RunBook()
            book.resume(state, fresh, make_optimizer(fresh, cfg), torch.Generator())
    except InputError as exc:
        assert "\n" not in str(exc)


# --- model files --------------------------------------------------------------------------------------------------


def _rewrite(path, meta_fn=None, tensor_fn=None):
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(path), framework="pt") as f:
        meta = json.loads(f.metadata()["predsparse"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    if meta_fn:
        meta = meta_fn(meta)
    if tensor_fn:
        tensors = tensor_fn(tensors)
    save_file(tensors, str(path), metadata={"predsparse": meta if isinstance(meta, str) else json.dumps(meta)})


def test_model_round_trip_mode_and_identity(tmp_path):
    old = os.umask(0o022)
    try:
        m = model()
        p = tmp_path / "m.safetensors"
        save_model(p, m, dataset=dataset())
        assert oct(p.stat().st_mode & 0o777) == "0o644"
    finally:
        os.umask(old)
    m2, meta = load_model(p, dataset=dataset())
    x = torch.randn(5, 6)
    assert torch.equal(m(x), m2(x))
    assert meta["identity"]["dataset"]["name"] == "toy" and meta["identity"]["model"]["layers"] == [6, 4, 3]
    assert "other data" in refused(
        load_model, p, dataset=Dataset.from_mapping(toy_arrays(d=6, k=4), meta={"name": "toy"})
    )
    assert files_in(tmp_path) == {"m.safetensors"}


@pytest.mark.parametrize(
    "damage, needle",
    [
        ({"meta_fn": lambda m: "{not json"}, "not valid JSON"),
        ({"meta_fn": lambda m: "[1, 2]"}, "JSON object"),
        ({"meta_fn": lambda m: {**m, "layers": "6,4,3"}}, "layers"),
        ({"meta_fn": lambda m: {**m, "junctions": m["junctions"][:1]}}, "layers"),
        (
            {"meta_fn": lambda m: {**m, "junctions": [{**m["junctions"][0], "n_in": 7}, m["junctions"][1]]}},
            "junction 0",
        ),
        ({"meta_fn": lambda m: {**m, "activation": "gelu"}}, "activation"),
        ({"meta_fn": lambda m: {**m, "layers": [10**12, 4, 3]}}, "junction 0"),
        ({"tensor_fn": lambda t: {k: v for k, v in t.items() if k != "j1.weight"}}, "'j1.weight' is missing"),
        ({"tensor_fn": lambda t: {**t, "j0.weight": t["j0.weight"][:-1].clone()}}, "shape"),
        ({"tensor_fn": lambda t: {**t, "j0.cols": t["j0.cols"][:-2].clone()}}, "shape"),
        ({"tensor_fn": lambda t: {**t, "j0.cols": t["j0.cols"] + 100}}, "junction 0"),
        ({"tensor_fn": lambda t: {**t, "j0.rows": t["j0.rows"].float()}}, "dtype"),
    ],
)
def test_damaged_model_file(tmp_path, damage, needle):
    p = tmp_path / "m.safetensors"
    save_model(p, model())
    _rewrite(p, **damage)
    assert needle in refused(load_model, p)


def test_model_file_that_is_not_safetensors(tmp_path):
    p = tmp_path / "m.safetensors"
    for content in (b"", b"garbage", struct.pack("<Q", 2**60) + b"{}", pickle.dumps({"a": 1})):
        p.write_bytes(content)
        assert "not a readable safetensors" in refused(load_model, p)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_model_random_damage_is_clean(tmp_path_factory, data):
    p = tmp_path_factory.mktemp("m") / "m.safetensors"
    save_model(p, model())
    raw = bytearray(p.read_bytes())
    if data.draw(st.booleans()):
        raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
    else:
        for _ in range(data.draw(st.integers(1, 3))):
            raw[data.draw(st.integers(0, len(raw) - 1))] ^= data.draw(st.integers(1, 255))
    p.write_bytes(bytes(raw))
    try:
        m, _ = load_model(p)
    except InputError as exc:
        assert "\n" not in str(exc)
        return
    assert m.layers == [6, 4, 3] and np.isfinite(m(torch.zeros(1, 6)).detach().numpy()).shape == (1, 3)
