"""Training recipe options: batch augmentation of images and label smoothing, checked by hand-worked examples,
against the loss computed from its definition, and through fit's resume and the CLI's refusals."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from bad_input import assert_refused, run, save_npz
from helpers import StopTraining, bright_rows, stop_at
from predsparse import patterns as P
from predsparse.data import Dataset
from predsparse.data.augment import SHIFT_PIXELS, make_augmenter
from predsparse.errors import InputError
from predsparse.train import TrainConfig, build_model, fit
from predsparse.train.loop import train_step


def _images(n: int = 64, h: int = 5, w: int = 7, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, h * w, generator=torch.Generator().manual_seed(seed))


def test_flip_mirrors_each_image_or_leaves_it():
    x = _images()
    out = make_augmenter("flip", (5, 7), torch.Generator().manual_seed(1))(x)
    img, got = x.reshape(-1, 5, 7), out.reshape(-1, 5, 7)
    mirrored = [bool(torch.equal(g, i.flip(-1))) for g, i in zip(got, img)]
    kept = [bool(torch.equal(g, i)) for g, i in zip(got, img)]
    assert all(m or k for m, k in zip(mirrored, kept))
    assert 10 < sum(mirrored) < 54  # about half of 64


def test_shift_moves_a_single_pixel_within_the_bound_and_fills_with_zeros():
    h, w = 9, 9
    x = torch.zeros(200, h * w)
    x[:, 4 * w + 4] = 1.0  # one lit pixel at the centre
    out = make_augmenter("shift", (h, w), torch.Generator().manual_seed(2))(x).reshape(200, h, w)
    moves = set()
    for img in out:
        assert float(img.sum()) == 1.0  # the pixel moved, nothing wrapped or smeared
        r, c = (int(v) for v in torch.nonzero(img)[0])
        moves.add((r - 4, c - 4))
    p = SHIFT_PIXELS
    assert moves == {(dy, dx) for dy in range(-p, p + 1) for dx in range(-p, p + 1)}
    # at the border, what moves out is lost and zeros come in
    edge = torch.zeros(200, h * w)
    edge[:, 0] = 1.0
    out = make_augmenter("shift", (h, w), torch.Generator().manual_seed(2))(edge)
    assert set(out.sum(1).tolist()) == {0.0, 1.0}


def test_augmentation_repeats_with_the_generator_seed_and_needs_images():
    x = _images()
    a = make_augmenter("flip-shift", (5, 7), torch.Generator().manual_seed(3))(x)
    b = make_augmenter("flip-shift", (5, 7), torch.Generator().manual_seed(3))(x)
    assert torch.equal(a, b)
    assert make_augmenter("none", (5, 7), torch.Generator()) is None
    with pytest.raises(InputError, match=r"shape \(35,\)"):
        make_augmenter("flip", (35,), torch.Generator())
    with pytest.raises(InputError, match="'tilt' is not one of"):
        make_augmenter("tilt", (5, 7), torch.Generator())


def test_label_smoothing_loss_is_the_mixture_of_cross_entropy_and_uniform_target():
    net = P.network([6, 8, 3], [4, 3], "structured", seed=0)
    x = torch.from_numpy(np.random.default_rng(0).normal(size=(10, 6)).astype(np.float32))
    y = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
    s = 0.2
    model = build_model(net.layers, net.patterns, seed=0)
    with torch.no_grad():
        logp = torch.log_softmax(model(x), 1).double()
    nll = -logp[torch.arange(10), y].mean()
    uniform = -logp.mean()  # cross-entropy against the uniform target, averaged over samples
    expected = (1 - s) * float(nll) + s * float(uniform)
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    cfg = TrainConfig(label_smoothing=s, lr=1e-9)
    loss, _ = train_step(model, x, y, torch.arange(10), opt, cfg, 1, takes_rows=False)
    assert math.isclose(loss, expected, rel_tol=1e-5)


def test_augmented_training_repeats_and_resumes_exactly(tmp_path):
    ds = Dataset.from_mapping(bright_rows())
    net = P.network([16, 12, 3], [6, 3], "structured", seed=0)
    cfg = TrainConfig(epochs=5, batch_size=16, lr=1e-2, seed=1, augment="flip-shift", label_smoothing=0.1)
    full = fit(build_model(net.layers, net.patterns, seed=0), ds, cfg, progress=False)
    again = fit(build_model(net.layers, net.patterns, seed=0), ds, cfg, progress=False)
    plain = fit(
        build_model(net.layers, net.patterns, seed=0),
        ds,
        TrainConfig(epochs=5, batch_size=16, lr=1e-2, seed=1),
        progress=False,
    )
    losses = [h["train_loss"] for h in full.history]
    assert losses == [h["train_loss"] for h in again.history]
    assert losses != [h["train_loss"] for h in plain.history]  # the options change training

    ck = tmp_path / "ck.pt"
    with pytest.raises(StopTraining):
        fit(build_model(net.layers, net.patterns, seed=0), ds, cfg, progress=False, checkpoint=ck, on_epoch=stop_at(2))
    resumed = fit(build_model(net.layers, net.patterns, seed=0), ds, cfg, progress=False, checkpoint=ck)
    assert [h["train_loss"] for h in resumed.history] == losses
    # a checkpoint written with one recipe is not resumed with another
    with pytest.raises(InputError, match="augment"):
        fit(
            build_model(net.layers, net.patterns, seed=0),
            ds,
            TrainConfig(epochs=5, batch_size=16, lr=1e-2, seed=1, augment="flip", label_smoothing=0.1),
            progress=False,
            checkpoint=ck,
        )


@pytest.mark.parametrize("value", [-0.1, 1.0, float("nan")])
def test_label_smoothing_outside_0_1_is_refused(value):
    with pytest.raises(InputError, match="label smoothing"):
        TrainConfig(label_smoothing=value)


def test_train_cli_refuses_recipe_it_cannot_apply(tmp_path):
    data = save_npz(tmp_path / "toy.npz")  # samples of shape (6,): not images
    base = ["train", "--dataset", data, "--layers", "6,4,3", "--d-out", "2,3", "--epochs", "1", "--no-progress"]
    assert_refused(run([*base, "--augment", "flip"]), "shape (6,)", "images")
    assert_refused(run([*base, "--label-smoothing", "1.5"]), "label smoothing 1.5", "[0, 1)")
    assert_refused(run([*base, "--augment", "flip", "--workers", "2"]), "--augment flip", "--workers 2")
