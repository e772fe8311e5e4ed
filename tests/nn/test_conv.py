"""The CNN front end with a sparse MLP classifier: shapes, exactness against a dense masked reference,
errors, learning, model files and the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from predsparse import patterns as P
from predsparse.cli import main
from predsparse.data import Dataset
from predsparse.errors import InputError
from predsparse.nn import ConvFrontEnd, SparseCNN, build_cnn, front_end_output_shape, input_shape_for
from predsparse.train import TrainConfig, fit, load_model, save_model


@pytest.mark.parametrize(
    "shape,channels,pool,expected",
    [
        ((1, 28, 28), [8, 16], 2, (16, 7, 7)),
        ((1, 64), [4], 2, (4, 32)),
        ((3, 7, 9), [5], 2, (5, 3, 4)),
        ((1, 10), [], 2, (1, 10)),
        ((2, 12, 12), [4, 4], 3, (4, 1, 1)),
        ((1, 8, 8), [6], 1, (6, 8, 8)),
    ],
)
def test_front_end_output_shape_hand_worked(shape, channels, pool, expected):
    assert front_end_output_shape(shape, channels, pool=pool) == expected
    fe = ConvFrontEnd(shape, channels, pool=pool)
    out = fe(torch.randn(3, int(np.prod(shape))))
    assert out.shape == (3, int(np.prod(expected)))


def test_input_shape_for_feature_shapes():
    assert input_shape_for((64,)) == (1, 64)
    assert input_shape_for((28, 28)) == (1, 28, 28)
    assert input_shape_for((3, 32, 32)) == (3, 32, 32)
    with pytest.raises(InputError, match="4 dimensions"):
        input_shape_for((1, 2, 3, 4))


def test_sparse_cnn_equals_front_end_plus_dense_masked_classifier():
    """Logits and every gradient equal the same conv blocks followed by dense layers whose weights are
    multiplied by the patterns' 0/1 masks."""
    torch.manual_seed(0)
    shape = (1, 12, 12)
    feats = int(np.prod(front_end_output_shape(shape, [4, 6])))  # 6 * 3 * 3 = 54
    pats = [P.structured(feats, 18, 4, seed=1), P.random(18, 5, density=0.4, seed=2)]
    model = SparseCNN(shape, [4, 6], [feats, 18, 5], pats).double()
    model.train()
    x = torch.randn(9, 144, dtype=torch.float64)
    y = torch.randint(0, 5, (9,))
    torch.nn.functional.cross_entropy(model(x), y).backward()

    ref_front = ConvFrontEnd(shape, [4, 6]).double()
    ref_front.load_state_dict(model.front.state_dict())
    ws, bs = [], []
    for j in model.junctions:
        ws.append(j.dense_weight().clone().requires_grad_(True))
        bs.append(j.bias.detach().clone().requires_grad_(True))
    masks = [torch.from_numpy(p.to_dense()).double() for p in pats]
    h = ref_front(x)
    h = torch.relu(h @ (ws[0] * masks[0]).T + bs[0])
    out = h @ (ws[1] * masks[1]).T + bs[1]
    torch.nn.functional.cross_entropy(out, y).backward()

    torch.testing.assert_close(model(x), out.detach())  # (BN in train mode both times: same batch statistics)
    for a, b in zip(model.front.parameters(), ref_front.parameters()):
        torch.testing.assert_close(a.grad, b.grad)
    for j, w, b in zip(model.junctions, ws, bs):
        torch.testing.assert_close(j.weight.grad, w.grad[j.rows, j.cols])
        torch.testing.assert_close(j.bias.grad, b.grad)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(kernel_size=4), "kernel size 4 must be odd"),
        (dict(channels=[4, 4, 4, 4, 4]), "pools the input"),
        (dict(channels=[0]), "0 channels"),
        (dict(classifier=[99, 5]), "classifier's input layer is 99 but the conv front end gives 64"),
        (dict(input_shape=(64,)), r"input shape \(64,\) must be \(C, L\) or \(C, H, W\)"),
    ],
)
def test_bad_cnn_configs_are_one_clear_error(kwargs, message):
    args = dict(input_shape=(1, 8, 8), channels=[4], classifier=[64, 5], kernel_size=3)
    args.update(kwargs)
    with pytest.raises(InputError, match=message):
        SparseCNN(
            args["input_shape"],
            args["channels"],
            args["classifier"],
            [P.fully_connected(args["classifier"][0], 5)],
            kernel_size=args["kernel_size"],
        )


def bars(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """8x8 images of a vertical (class 0) or horizontal (class 1) bar at a random place, with noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.normal(0, 0.3, (n, 8, 8)).astype(np.float32)
    pos = rng.integers(0, 8, n)
    for i in range(n):
        if y[i] == 0:
            x[i, :, pos[i]] += 1
        else:
            x[i, pos[i], :] += 1
    return x, y


def bars_dataset() -> Dataset:
    x, y = bars(600, 0)
    return Dataset.from_mapping(
        {"xtr": x[:400], "ytr": y[:400], "xva": x[400:500], "yva": y[400:500], "xte": x[500:], "yte": y[500:]}
    )


def test_sparse_cnn_learns_bars_and_round_trips_through_a_model_file(tmp_path):
    ds = bars_dataset()
    model = build_cnn(input_shape_for(ds.feature_shape), [4], [16, 2], [4, 2], "structured", seed=0)
    res = fit(model, ds, TrainConfig(epochs=6, batch_size=32, lr=3e-3, seed=0), progress=False)
    assert res.test_acc > 0.9
    path = tmp_path / "cnn.safetensors"
    save_model(path, model)
    loaded, meta = load_model(path)
    assert isinstance(loaded, SparseCNN) and meta["cnn"]["channels"] == [4]
    model.eval()
    loaded.eval()
    x = torch.from_numpy(ds.flat("te"))
    torch.testing.assert_close(loaded(x), model(x))


def test_train_cli_with_conv_front_end(tmp_path):
    x, y = bars(300, 1)
    path = tmp_path / "bars.npz"
    np.savez(path, xtr=x[:200], ytr=y[:200], xva=x[200:250], yva=y[200:250], xte=x[250:], yte=y[250:])
    r = CliRunner().invoke(
        main,
        [
            "train",
            "--dataset",
            str(path),
            "--conv",
            "4",
            "--layers",
            "8,2",
            "--d-out",
            "2,2",
            "--epochs",
            "2",
            "--batch-size",
            "32",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["network"]["N_net"] == [64, 8, 2] and out["cnn"]["channels"] == [4]
    assert out["parameters"] == 4 * 9 + 2 * 4 + 64 * 2 + 8 + 8 * 2 + 2  # conv, BN, sparse junctions, biases
    bad = CliRunner().invoke(
        main, ["train", "--dataset", str(path), "--conv", "4,4,4,4", "--layers", "2", "--kind", "fc", "--epochs", "1"]
    )
    assert bad.exit_code == 2 and "pools the input" in bad.output and len(bad.output.strip().splitlines()) == 1


def test_search_space_samples_conv_blocks_and_counts_their_parameters():
    import optuna

    from predsparse.search.runner import retrain_command
    from predsparse.search.space import SearchSpace, sample

    space = SearchSpace(max_hidden=1, min_width=4, max_width=16, max_conv=2, conv_channels=[4, 8], kinds=["structured"])
    trial = optuna.trial.FixedTrial(
        {
            "conv_layers": 1,
            "channels_0": 8,
            "hidden_layers": 0,
            "density_0": 0.5,
            "lr": 1e-3,
            "l2": 1e-3,
            "batch_size": 64,
            "dropout": 0.0,
        }
    )
    cand = sample(trial, space, 64, 2, (1, 8, 8))
    assert cand["conv"] == [8] and cand["layers"] == [8 * 4 * 4, 2]
    cmd = retrain_command(dict(cand, seed=3), "bars.npz", 5)
    assert "--conv 8 " in cmd and "--layers 2 " in cmd
    # largest model: two blocks of 8 channels (3x3 kernels) -> 8x2x2 features, one hidden layer of 16, 2 classes
    conv2 = (1 * 9 + 2) * 8 + (8 * 9 + 2) * 8
    conv1 = (1 * 9 + 2) * 8
    mlp = lambda n: n * 16 + 16 * 2 + 16 + 2  # noqa: E731
    assert space.max_parameters(64, 2, (1, 8, 8)) == max(mlp(64), conv1 + mlp(128), conv2 + mlp(32))


def test_search_with_conv_front_ends_runs(tmp_path):
    from predsparse.search import SearchSettings, SearchSpace, run_search

    ds = bars_dataset()
    space = SearchSpace(
        max_hidden=1, min_width=4, max_width=16, max_conv=1, conv_channels=[4], kinds=["structured"], batch_sizes=[64]
    )
    settings = SearchSettings(trials=4, epochs=1, seed=1, storage=f"sqlite:///{tmp_path}/s.db", prune=False)
    out = run_search(ds, space, settings, progress=False)
    assert out["complete"] == 4
    assert all("conv" in r for r in out["candidates"])
    assert any(r["conv"] for r in out["candidates"]) and any(not r["conv"] for r in out["candidates"])
    for r in out["candidates"]:
        if r["conv"]:  # the recorded parameter count includes the dense front end
            assert r["parameters"] > sum(r["layers"][1:])


def test_sweep_runs_conv_front_ends_with_auto_classifier_input(tmp_path):
    from predsparse.experiments.store import ResultStore
    from predsparse.experiments.sweep import parse_config, run_sweep

    x, y = bars(200, 2)
    np.savez(tmp_path / "b.npz", xtr=x[:120], ytr=y[:120], xva=x[120:160], yva=y[120:160], xte=x[160:], yte=y[160:])
    cfg = parse_config(
        {
            "name": "cnn-depth",
            "seeds": [0],
            "base": {
                "dataset": {"name": str(tmp_path / "b.npz")},
                "network": {"layers": ["auto", 2], "d_out": [1]},
                "train": {"epochs": 1, "batch_size": 32},
            },
            "grid": {"network.conv": [[], [4], [4, 4]]},
        }
    )
    store = ResultStore(tmp_path / "r.db")
    run_sweep(cfg, store, progress=False)
    rows = list(store.rows("cnn-depth"))
    params = {tuple(r["key"]["network"].get("conv") or []): r["result"]["parameters"] for r in rows}
    assert params[()] == 64 * 1 + 2  # d_out 1: 64 edges + 2 biases
    assert params[(4,)] == (9 + 2) * 4 + 4 * 4 * 4 + 2  # conv + BN, 4x4x4 features -> 2 classes (d_out 1)
    assert params[(4, 4)] == (9 + 2) * 4 + (4 * 9 + 2) * 4 + 4 * 2 * 2 + 2
    from predsparse.experiments.report import summary_table

    header, body = summary_table(rows, pivot="network.conv")  # list-valued pivot columns
    assert header[-3:] == ["()", "(4)", "(4, 4)"] and len(body) == 1
    bad = parse_config(
        {
            "name": "bad",
            "seeds": [0],
            "base": {
                "dataset": {"name": str(tmp_path / "b.npz")},
                "network": {"layers": [100, 2], "conv": [4]},
                "train": {"epochs": 1},
            },
        }
    )
    with pytest.raises(InputError, match=r"layers start with 100 but the conv front end \[4\] gives 64"):
        run_sweep(bad, ResultStore(tmp_path / "r2.db"), progress=False)


def test_l2_covers_conv_and_sparse_weights_but_not_batch_norm_scales():
    from predsparse.train.loop import _l2_term

    model = build_cnn((1, 8, 8), [4], [2], [1], "structured", seed=0)
    expected = sum(
        m.weight.detach().square().sum()
        for m in model.modules()
        if isinstance(m, (torch.nn.Conv2d,)) or m.__class__.__name__ == "SparseLinear"
    )
    with torch.no_grad():
        model.front.blocks[1].weight.fill_(100.0)  # the batch-norm scale must not count
    torch.testing.assert_close(_l2_term(model).detach(), expected)
