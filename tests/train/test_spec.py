"""ModelSpec + build + run: hand-worked sizes, the default z, one-line validation, and the same model
from the train CLI, a sweep and the search for one description."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from helpers import toy
from predsparse.cli import main
from predsparse.errors import InputError
from predsparse.train import TrainConfig
from predsparse.train.run import run
from predsparse.train.spec import ModelSpec, build, default_z


def _weights(model: torch.nn.Module) -> list[np.ndarray]:
    return [v.detach().numpy().copy() for v in model.state_dict().values()]


def test_default_z_by_hand():
    # z = N / gcd(N, 4): depth 4 where 4 divides the layer, else the largest divisor of 4 that does
    assert default_z([64, 1024, 64]) == [16, 256]  # the demo's z_net
    assert default_z([6, 4]) == [3]  # depth 2 (the old demo rule gave 6, the old search rule 3)
    assert default_z([7, 3]) == [7]  # depth 1
    assert default_z([12, 6, 4]) == [3, 3]
    spec = ModelSpec(layers=(12, 6, 4), d_out=(2, 2), kind="clash-free")
    assert spec.resolve((12,)).z == (3, 3)


@pytest.mark.parametrize(
    "spec, edges, params",
    [
        # 12*2 + 6*2 = 36 edges; biases 6 + 4
        (ModelSpec(layers=(12, 6, 4), d_out=(2, 2)), 36, 46),
        (ModelSpec(layers=(12, 6, 4), d_out=(2, 2), kind="clash-free"), 36, 46),
        (ModelSpec(layers=(12, 6, 4), d_out=(2, 2), kind="random"), 36, 46),
        # fully connected: 12*6 + 6*4 = 96 edges
        (ModelSpec(layers=("auto", 6, 4), kind="fc"), 96, 106),
    ],
)
def test_build_sizes_by_hand(spec, edges, params):
    model, net = build(spec, (12,))
    assert net.edges == edges == spec.edges((12,))
    assert sum(p.numel() for p in model.parameters()) == params


def test_density_resolves_to_out_degrees_by_hand():
    # junction 1: 12 -> 6, d_out with 12 d / 6 whole: any d; d/6 <= 0.5 -> 3. junction 2: 6 -> 4, 6 d / 4 whole:
    # d even; d/4 <= 0.5 -> 2
    r = ModelSpec(layers=(12, 6, 4), density=0.5).resolve((12,))
    assert r.d_out == (3, 2) and r.density is None


def test_conv_spec_by_hand():
    # (1, 8, 8) image, one conv block of 2 channels, pool 2 -> (2, 4, 4) = 32 features; classifier 32 -> 4 fc
    spec = ModelSpec(layers=("auto", 4), kind="fc", conv=(2,), kernel_size=3, pool=2)
    model, net = build(spec, (8, 8))
    assert net.layers == [32, 4]
    conv = 1 * 2 * 9 + 2 + 2  # weights (no bias under batch norm), BN scale and shift
    assert sum(p.numel() for p in model.parameters()) == conv + 32 * 4 + 4


@pytest.mark.parametrize(
    "kw, shape, needle",
    [
        (dict(layers=(784, 100, 10), d_out=(10, 10)), (784,), "78.4 is not whole"),
        (dict(layers=(12, 6, 4), d_out=(2, 2), kind="clash-free", z=(5, 3)), (12,), "z = 5 does not divide"),
        (dict(layers=(12, 6, 4), d_out=(2, 2)), (10,), "the dataset has 10 features"),
        (dict(layers=("auto", 4), kind="fc", conv=(2, 2, 2, 2)), (8, 8), "pools the input"),
        (dict(layers=("auto", 4), kind="fc", conv=(2,), kernel_size=2), (8, 8), "must be odd"),
        (dict(layers=("auto", 4), kind="bogus"), (8,), "'bogus' is not one of"),
        (dict(layers=("auto", 4), d_out=(2,), density=0.5), (8,), "not both"),
        (dict(layers=("auto", 4)), (8,), "needs d_out"),
        (dict(layers=("auto", 4), d_out=(5,)), (8,), "exceeds"),
        (dict(layers=(100_000_000, 10), kind="fc"), (100_000_000,), "GiB"),
        (dict(layers=("auto", 4), kind="fc", dropout=1.5), (8,), "dropout"),
    ],
)
def test_validation_is_one_line(kw, shape, needle):
    with pytest.raises(InputError, match=needle) as exc:
        ModelSpec(**kw).validate(shape)
    assert "\n" not in str(exc.value)


def test_memory_limit_names_estimate_and_limit_and_can_be_raised(monkeypatch):
    """ModelSpec uses predsparse.limits, the one limit (PREDSPARSE_MEMORY_LIMIT / --memory-limit)."""
    spec = ModelSpec(layers=(100_000_000, 10), kind="fc")
    monkeypatch.setenv("PREDSPARSE_MEMORY_LIMIT", "8G")
    with pytest.raises(InputError) as exc:
        spec.validate((100_000_000,))
    msg = str(exc.value)
    # predsparse.limits' estimate: 1e9 edges x 56 B + 16 B per neuron
    assert f"{(56e9 + 160) / 2**30:.1f} GiB" in msg and "8.0 GiB" in msg
    assert "PREDSPARSE_MEMORY_LIMIT" in msg and "--memory-limit" in msg and "\n" not in msg
    monkeypatch.setenv("PREDSPARSE_MEMORY_LIMIT", "100G")
    spec.validate((100_000_000,))  # raised by the environment (which --memory-limit sets)
    monkeypatch.setenv("PREDSPARSE_MEMORY_LIMIT", "1M")  # 610,000 edges x 56 B = 34 MB > 1 MiB
    with pytest.raises(InputError, match="1.0 MiB"):
        ModelSpec(layers=(1000, 1000, 10), d_out=(600, 10)).validate((1000,))


def test_memory_limit_option_on_the_command_line(monkeypatch, tmp_path):
    monkeypatch.setenv("PREDSPARSE_MEMORY_LIMIT", "none")  # restored after the test (the option sets it)
    args = ["train", "--dataset", str(tmp_path / "missing.npz"), "--layers", "1000,1000,10", "--d-out", "600,10"]
    r = CliRunner().invoke(main, [*args, "--memory-limit", "1M"])
    assert r.exit_code == 2 and "1.0 MiB" in r.stderr and len(r.stderr.splitlines()) == 1
    r = CliRunner().invoke(main, ["--memory-limit", "lots", *args])
    assert r.exit_code == 2 and "--memory-limit" in r.stderr and "not a size" in r.stderr


def test_train_cli_refuses_absurd_sizes_before_loading_data(tmp_path):
    r = CliRunner().invoke(
        main, ["train", "--dataset", str(tmp_path / "absent.npz"), "--layers", "100000000,10", "--kind", "fc"]
    )
    assert r.exit_code == 2 and "GiB" in r.output and "absent" not in r.output


def test_to_dict_round_trip():
    spec = ModelSpec(layers=("auto", 6, 4), d_out=(2, 2), kind="clash-free", z=(3, 3), conv=(4,), seed=3)
    d = spec.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert ModelSpec.from_dict(d) == spec
    with pytest.raises(InputError, match="unknown model key"):
        ModelSpec.from_dict({**d, "out_degrees": [2, 2]})


def test_same_seed_same_model_different_seed_different_model():
    spec = ModelSpec(layers=(12, 6, 4), d_out=(2, 2), kind="random", seed=1)
    a, b = build(spec, (12,))[0], build(spec, (12,))[0]
    assert all(np.array_equal(x, y) for x, y in zip(_weights(a), _weights(b)))
    c = build(ModelSpec(layers=(12, 6, 4), d_out=(2, 2), kind="random", seed=2), (12,))[0]
    assert not all(np.array_equal(x, y) for x, y in zip(_weights(a), _weights(c)))


def test_one_description_one_model_from_train_sweep_and_search(tmp_path):
    """The train CLI, a sweep run and a search candidate describe 6-12-3 clash-free (6, 3), seed 4,
    tanh, with the same spec and so the same initial weights, and train to the same numbers."""
    from predsparse.cli.train_cmd import spec_from_options
    from predsparse.data import load_dataset
    from predsparse.experiments.sweep import run_one, run_spec
    from predsparse.search.runner import candidate_spec
    from predsparse.search.space import SearchSpace

    np.savez(tmp_path / "x.npz", **toy())
    from_cli = spec_from_options("6,12,3", "6,3", None, "clash-free", None, 2, False, None, 3, 2, "tanh", 0.0, 4)
    sweep_run = {
        "dataset": {"name": str(tmp_path / "x.npz")},
        "network": {"layers": ["auto", 12, 3], "d_out": [6, 3], "kind": "clash-free", "activation": "tanh"},
        "train": {"epochs": 2, "batch_size": 32},
        "seed": 4,
        "varied": {},
    }
    from_sweep = run_spec(sweep_run)
    cand = {"conv": [], "layers": [6, 12, 3], "d_out": [6, 3], "kind": "clash-free", "dropout": 0.0}
    from_search = candidate_spec(cand, SearchSpace(activation="tanh"), 4)
    shape = (6,)
    resolved = {s.resolve(shape) for s in (from_cli, from_sweep, from_search)}
    assert len(resolved) == 1 and next(iter(resolved)).z == (3, 3)
    models = [build(s, shape)[0] for s in (from_cli, from_sweep, from_search)]
    for m in models[1:]:
        assert all(np.array_equal(x, y) for x, y in zip(_weights(models[0]), _weights(m)))
    # and trained end to end through each path, the same numbers
    r = CliRunner().invoke(
        main,
        [
            "train",
            "--dataset",
            str(tmp_path / "x.npz"),
            "--layers",
            "6,12,3",
            "--d-out",
            "6,3",
            "--kind",
            "clash-free",
            "--activation",
            "tanh",
            "--epochs",
            "2",
            "--batch-size",
            "32",
            "--seed",
            "4",
            "--no-progress",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    cli = json.loads(r.output)
    swept = run_one(sweep_run, {})
    direct = run(from_search, TrainConfig(epochs=2, batch_size=32, seed=4), load_dataset(str(tmp_path / "x.npz")))
    assert cli["test_acc"] == swept["test_acc"] == direct["test_acc"]
    assert cli["best_val_acc"] == swept["best_val_acc"] == direct["best_val_acc"]
    assert swept["parameters"] == direct["parameters"] == 6 * 6 + 12 * 3 + 12 + 3  # edges + biases


def test_run_record_fields(toy_npz):
    from predsparse.data import load_dataset

    ds = load_dataset(str(toy_npz()))
    rec = run(ModelSpec(layers=("auto", 12, 3), d_out=(6, 3), seed=1), TrainConfig(epochs=1, seed=1), ds)
    for k in (
        "test_acc",
        "best_val_acc",
        "best_epoch",
        "final_train_acc",
        "rho_net",
        "junction_densities",
        "d_out_net",
        "d_in_net",
        "edges",
        "parameters",
        "seconds",
        "dataset",
        "versions",
        "seeds",
        "spec",
        "history",
    ):
        assert k in rec
    assert (
        rec["spec"]["layers"] == [6, 12, 3] and rec["d_out_net"] == [6, 3] and rec["d_in_net"] == [3, 12]
    )  # d_in = n_in d_out / n_out: 6*6/12, 12*3/3
    assert rec["rho_net"] == pytest.approx((36 + 36) / (72 + 36))
    assert rec["seeds"] == {"model": 1, "train": 1}
