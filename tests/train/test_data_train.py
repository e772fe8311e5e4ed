"""Dataset format, loaders, transforms, training loop, model files and the train command."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from helpers import StopTraining, stop_at, toy
from predsparse import patterns as P
from predsparse.cli import main
from predsparse.data import Dataset, load_dataset, load_npz, pad, pca, read_idx
from predsparse.errors import InputError
from predsparse.train import TrainConfig, build_model, fit, load_model, save_model

FMNIST = Path("/usr/share/datasets/fashion-mnist")


def test_onehot_and_integer_labels_agree():
    arrays = toy()
    a = Dataset.from_mapping(arrays)
    onehot = dict(arrays)
    for s in ("tr", "va", "te"):
        onehot["y" + s] = np.eye(3)[arrays["y" + s]]
    b = Dataset.from_mapping(onehot)
    assert np.array_equal(a.ytr, b.ytr) and a.num_classes == b.num_classes == 3


@pytest.mark.parametrize(
    "mutate,needle",
    [
        (lambda a: a.pop("yte"), "missing keys"),
        (lambda a: a.__setitem__("ytr", a["ytr"][:-1]), "same length"),
        (lambda a: a["xtr"].__setitem__((0, 0), np.nan), "NaN"),
        (lambda a: a["xva"].__setitem__((1, 1), np.inf), "NaN or infinite"),
        (lambda a: a["ytr"].__setitem__(0, -1), ">= 0"),
        (lambda a: a.__setitem__("ytr", a["ytr"] + 0.5), "non-integer"),
        (lambda a: a.__setitem__("yva", np.zeros((40, 3, 2))), "labels must be"),
        (lambda a: a.__setitem__("xte", np.zeros((40, 7))), "feature shapes differ"),
    ],
)
def test_bad_datasets_one_line_errors(mutate, needle):
    arrays = {k: np.array(v, dtype=float) if k.startswith("x") else np.array(v) for k, v in toy().items()}
    mutate(arrays)
    with pytest.raises(InputError) as exc:
        Dataset.from_mapping(arrays)
    assert needle in str(exc.value) and "\n" not in str(exc.value)


def test_npz_roundtrip_and_truncated_file(tmp_path):
    f = tmp_path / "d.npz"
    np.savez(f, **toy())
    ds = load_npz(f)
    assert ds.num_features == 6 and len(ds.xtr) == 120
    bad = tmp_path / "bad.npz"
    bad.write_bytes(f.read_bytes()[:100])
    with pytest.raises(InputError, match="not a readable npz"):
        load_npz(bad)


def test_idx_reader_hand_made_and_truncated(tmp_path):
    body = np.arange(6, dtype=np.uint8)
    raw = bytes([0, 0, 0x08, 2]) + (2).to_bytes(4, "big") + (3).to_bytes(4, "big") + body.tobytes()
    (tmp_path / "a.idx").write_bytes(raw)
    with gzip.open(tmp_path / "a.idx.gz", "wb") as g:
        g.write(raw)
    assert read_idx(tmp_path / "a.idx").tolist() == [[0, 1, 2], [3, 4, 5]]
    assert read_idx(tmp_path / "a.idx.gz").tolist() == [[0, 1, 2], [3, 4, 5]]
    (tmp_path / "t.idx").write_bytes(raw[:-1])
    with pytest.raises(InputError, match="truncated"):
        read_idx(tmp_path / "t.idx")
    (tmp_path / "m.idx").write_bytes(b"\x01\x02" + raw[2:])
    with pytest.raises(InputError, match="magic"):
        read_idx(tmp_path / "m.idx")


def test_transforms_pad_and_pca():
    ds = Dataset.from_mapping(toy())
    padded = pad(ds, 10)
    assert padded.num_features == 10 and (padded.xtr[:, 6:] == 0).all()
    assert np.allclose(padded.xtr[:, :6], ds.xtr)
    reduced = pca(ds, 2)
    assert reduced.num_features == 2
    # projections of the centred training data onto orthonormal directions have zero mean
    assert np.allclose(reduced.xtr.mean(axis=0), 0, atol=1e-4)
    with pytest.raises(InputError, match="smaller than"):
        pad(ds, 3)


def test_training_is_reproducible_and_learns_toy():
    ds = Dataset.from_mapping(toy())
    net = P.network([6, 12, 3], [6, 3], "structured", seed=0)
    res = []
    for _ in range(2):
        model = build_model(net.layers, net.patterns)
        res.append(fit(model, ds, TrainConfig(epochs=15, batch_size=16, lr=1e-2, seed=3), progress=False))

    def without_timing(history):
        return [{k: v for k, v in h.items() if k != "seconds"} for h in history]

    assert without_timing(res[0].history) == without_timing(res[1].history)
    assert res[0].test_acc == res[1].test_acc
    assert res[0].test_acc > 0.8
    assert 1 <= res[0].best_epoch <= 15


def test_fused_batch_gather_trains_exactly_like_gathering_first():
    """fit hands a SparseMLP the whole training matrix and the batch's row numbers; the result must be
    the same, bit for bit, as giving it the gathered batch (a wrapper hides the ``rows`` argument)."""

    class Gathered(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return self.inner(x)

    ds = Dataset.from_mapping(toy(n=400))
    net = P.network([6, 40, 3], [20, 3], "structured", seed=0)
    histories = []
    for wrap in (False, True):
        model = build_model(net.layers, net.patterns, seed=1)
        r = fit(Gathered(model) if wrap else model, ds, TrainConfig(epochs=3, batch_size=100, seed=3), progress=False)
        histories.append([{k: v for k, v in h.items() if k != "seconds"} for h in r.history])
    assert histories[0] == histories[1]


def test_checkpoint_resume_gives_same_result(tmp_path):
    ds = Dataset.from_mapping(toy())
    net = P.network([6, 12, 3], [6, 3], "structured", seed=0)
    cfg = TrainConfig(epochs=6, batch_size=16, lr=1e-2, seed=1)
    full = fit(build_model(net.layers, net.patterns), ds, cfg, progress=False)
    ck = tmp_path / "ck.pt"

    torch.manual_seed(0)
    with pytest.raises(StopTraining):
        fit(build_model(net.layers, net.patterns), ds, cfg, progress=False, checkpoint=ck, on_epoch=stop_at(3))
    torch.manual_seed(0)
    resumed = fit(build_model(net.layers, net.patterns), ds, cfg, progress=False, checkpoint=ck)
    assert len(resumed.history) == 6
    assert resumed.test_acc == full.test_acc
    assert [h["val_acc"] for h in resumed.history] == [h["val_acc"] for h in full.history]


def test_model_file_roundtrip(tmp_path):
    net = P.network([10, 8, 4], [4, 2], "clash-free", z=[5, 4], seed=0)
    model = build_model(net.layers, net.patterns, activation="tanh")
    save_model(tmp_path / "m.safetensors", model, info={"note": "x"})
    back, meta = load_model(tmp_path / "m.safetensors")
    x = torch.randn(5, 10)
    torch.testing.assert_close(model(x), back(x))
    assert meta["info"]["note"] == "x" and meta["activation"] == "tanh"
    (tmp_path / "junk.safetensors").write_bytes(b"not a model")
    with pytest.raises(InputError):
        load_model(tmp_path / "junk.safetensors")


@pytest.mark.skipif(not FMNIST.is_dir(), reason="Fashion-MNIST package not installed")
def test_sparse_mlp_learns_fashion_mnist_subset():
    ds = load_dataset("fashion-mnist", limit_train=6000, limit_val=1000, limit_test=2000)
    net = P.network([784, 100, 10], [25, 10], "structured", seed=0)  # rho_net ~ 26 %
    model = build_model(net.layers, net.patterns)
    res = fit(model, ds, TrainConfig(epochs=4, batch_size=64, lr=2e-3), progress=False)
    assert res.test_acc > 0.70  # chance is 0.10


def test_train_cli_malformed_npz_exit_2(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 definitely not a zip")
    r = CliRunner().invoke(main, ["train", "--dataset", str(bad), "--layers", "6,3", "--kind", "fc", "--epochs", "1"])
    assert r.exit_code == 2
    assert r.output.strip().count("\n") == 0 and r.output.startswith("error:")


def test_train_cli_bad_degrees_exit_2(tmp_path):
    f = tmp_path / "d.npz"
    np.savez(f, **toy())
    r = CliRunner().invoke(main, ["train", "--dataset", str(f), "--layers", "6,4,3", "--d-out", "3,1", "--epochs", "1"])
    assert r.exit_code == 2 and "not whole" in r.output
    r = CliRunner().invoke(
        main,
        [
            "train",
            "--dataset",
            str(f),
            "--layers",
            "6,4,3",
            "--d-out",
            "2,3",
            "--kind",
            "clash-free",
            "--z",
            "4,2",
            "--epochs",
            "1",
        ],
    )
    assert r.exit_code == 2 and "does not divide" in r.output
    r = CliRunner().invoke(main, ["train", "--dataset", str(f), "--layers", "7,3", "--kind", "fc", "--epochs", "1"])
    assert r.exit_code == 2 and "features" in r.output


def test_train_cli_json_and_saved_model(tmp_path):
    f = tmp_path / "d.npz"
    np.savez(f, **toy())
    out = tmp_path / "m.safetensors"
    r = CliRunner().invoke(
        main,
        [
            "train",
            "--dataset",
            str(f),
            "--layers",
            "6,12,3",
            "--d-out",
            "6,3",
            "--kind",
            "clash-free",
            "--z",
            "3,6",
            "--epochs",
            "3",
            "--json",
            "--save",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["parameters"] == 6 * 6 + 12 * 3 + 15
    assert 0 <= data["test_acc"] <= 1 and data["versions"]["torch"]
    assert out.exists()


def test_l2_shrinks_weights_only():
    ds = Dataset.from_mapping(toy())
    net = P.network([6, 12, 3], [6, 3], "structured", seed=0)
    norms = {}
    for l2 in (0.0, 0.1):
        model = build_model(net.layers, net.patterns, seed=0)
        fit(model, ds, TrainConfig(epochs=5, batch_size=16, lr=1e-2, l2=l2, seed=0), progress=False)
        norms[l2] = sum(j.weight.detach().square().sum().item() for j in model.junctions)
    assert norms[0.1] < 0.5 * norms[0.0]
