"""The training loop: Adam or SGD, L2, mini-batches, validation-based model selection, seeds, checkpoints."""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from predsparse import threads
from predsparse.data.augment import AUGMENTATIONS, make_augmenter
from predsparse.data.format import Dataset
from predsparse.errors import InputError
from predsparse.nn import SparseMLP
from predsparse.patterns import Pattern
from predsparse.train.identity import run_identity
from predsparse.train.runbook import RunBook

OPTIMIZERS = ("adam", "sgd")
LR_SCHEDULES = ("constant", "cosine")


@dataclass
class TrainConfig:
    """Training hyperparameters. ``l2`` adds ``l2 * sum(w^2)`` over weights (not biases) to the loss;
    ``label_smoothing`` mixes that share of a uniform target into the training loss's labels; ``augment``
    transforms each training batch of images (:mod:`predsparse.data.augment`)."""

    epochs: int = 10
    batch_size: int = 256
    lr: float = 1e-3
    optimizer: str = "adam"
    momentum: float = 0.9
    l2: float = 0.0
    seed: int = 0
    device: str = "cpu"
    lr_schedule: str = "constant"
    label_smoothing: float = 0.0
    augment: str = "none"
    eval_batch_size: int = 4096
    stop_on_divergence: bool = (
        True  # False: a diverged run (loss far beyond its start, stuck at chance) goes on, flagged
    )

    def __post_init__(self) -> None:
        if not isinstance(self.epochs, int) or self.epochs < 1:
            raise InputError(f"epochs {self.epochs!r} must be a whole number >= 1")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise InputError(f"batch size {self.batch_size!r} must be a whole number >= 1")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise InputError(f"learning rate {self.lr!r} must be a positive finite number")
        if not (math.isfinite(self.l2) and self.l2 >= 0):
            raise InputError(f"L2 coefficient {self.l2!r} must be >= 0")
        if not isinstance(self.stop_on_divergence, bool):
            raise InputError(f"stop_on_divergence {self.stop_on_divergence!r} must be True or False")
        if self.optimizer not in OPTIMIZERS:
            raise InputError(f"optimizer {self.optimizer!r} is not one of {OPTIMIZERS}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise InputError(f"learning-rate schedule {self.lr_schedule!r} is not one of {LR_SCHEDULES}")
        if not (isinstance(self.label_smoothing, (int, float)) and 0 <= self.label_smoothing < 1):
            raise InputError(f"label smoothing {self.label_smoothing!r} must lie in [0, 1)")
        if self.augment not in AUGMENTATIONS:
            raise InputError(f"augmentation {self.augment!r} is not one of {AUGMENTATIONS}")

    def epoch_lr(self, epoch: int) -> float:
        """The learning rate of ``epoch`` (1-based): ``lr`` throughout, or cosine-annealed from ``lr`` towards 0
        over ``epochs`` (per epoch, so a resumed run needs no scheduler state)."""
        if self.lr_schedule == "constant":
            return self.lr
        return self.lr * 0.5 * (1 + math.cos(math.pi * (epoch - 1) / self.epochs))


@dataclass
class TrainResult:
    """What a training run produced; ``history`` has one record per epoch."""

    best_epoch: int
    best_val_acc: float
    test_acc: float
    final_train_acc: float
    seconds: float
    history: list[dict[str, float]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    diverged: str | None = None  # why the run looks diverged (only when stop_on_divergence=False let it go on)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_model(
    layers: Sequence[int],
    patterns: Sequence[Pattern],
    *,
    activation: str = "relu",
    dropout: float = 0.0,
    init: str = "glorot",
    backend: str = "auto",
    seed: int = 0,
) -> SparseMLP:
    """A :class:`SparseMLP` for ``layers`` with one pattern per junction; ``seed`` draws the initial weights."""
    torch.manual_seed(seed)
    return SparseMLP(layers, patterns, activation=activation, dropout=dropout, init=init, backend=backend)


def _tensors(ds: Dataset, split: str, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.from_numpy(ds.flat(split)).to(device), torch.from_numpy(getattr(ds, "y" + split)).to(device)


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 4096) -> tuple[float, float]:
    """Accuracy and mean cross-entropy of ``model`` on ``(x, y)``."""
    if len(x) == 0:
        return float("nan"), float("nan")
    was_training = model.training
    model.eval()
    correct, loss = 0, 0.0
    for i in range(0, len(x), batch_size):
        out = model(x[i : i + batch_size])
        loss += float(nn.functional.cross_entropy(out, y[i : i + batch_size], reduction="sum"))
        correct += int((out.argmax(1) == y[i : i + batch_size]).sum())
    model.train(was_training)
    return correct / len(x), loss / len(x)


def _fused_ok(model: nn.Module) -> bool:
    """torch's fused Adam handles floating-point parameters on CPU and CUDA."""
    params = list(model.parameters())
    return bool(params) and all(p.dtype.is_floating_point and p.device.type in ("cpu", "cuda") for p in params)


def _l2_term(model: nn.Module) -> torch.Tensor:
    """``sum(w^2)`` over connection weights: every module's ``weight`` except normalisation layers' scales."""
    norms = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)
    weights = [w for m in model.modules() if not isinstance(m, norms) if (w := m._parameters.get("weight")) is not None]
    return torch.stack([w.square().sum() for w in weights]).sum() if weights else torch.zeros(())


def check_model_fits_data(model: nn.Module, dataset: Dataset) -> None:
    """Raise :class:`InputError` when a model with ``layers`` (a :class:`SparseMLP`) cannot take ``dataset``."""
    n_out = getattr(model, "layers", [None])[-1]
    if n_out is not None and dataset.num_classes > n_out:
        raise InputError(f"dataset has {dataset.num_classes} classes but the network has {n_out} outputs")
    if n_out is not None and dataset.num_features != model.layers[0]:
        raise InputError(
            f"dataset has {dataset.num_features} features but the network's input layer has {model.layers[0]} neurons"
        )


def takes_rows_of(model: nn.Module) -> bool:
    """True when ``model(x, rows=r)`` gives the outputs of ``x[r]`` (a model that gathers its batch itself,
    e.g. :class:`~predsparse.nn.SparseMLP`, says so with a ``takes_rows = True`` attribute)."""
    return bool(getattr(model, "takes_rows", False))


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """The optimiser ``config`` names, over ``model``'s parameters."""
    if config.optimizer == "adam":
        # fused: one kernel for all parameters instead of a Python loop per tensor (a fixed ~0.3 ms per
        # step on CPU that would otherwise dominate small sparse models)
        return torch.optim.Adam(model.parameters(), lr=config.lr, fused=_fused_ok(model))
    return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum)


def set_epoch_lr(opt: torch.optim.Optimizer, config: TrainConfig, epoch: int) -> None:
    """Give every parameter group the learning rate of ``epoch`` (:meth:`TrainConfig.epoch_lr`)."""
    for group in opt.param_groups:
        group["lr"] = config.epoch_lr(epoch)


def train_step(
    model: nn.Module,
    xtr: torch.Tensor,
    ytr: torch.Tensor,
    idx: torch.Tensor,
    opt: torch.optim.Optimizer,
    config: TrainConfig,
    epoch: int,
    *,
    takes_rows: bool,
    scale: float = 1.0,
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> tuple[float, int]:
    """One optimiser step on the rows ``idx`` of ``(xtr, ytr)``; returns the loss value and the correct count.

    The loss is ``scale * (mean cross-entropy + l2 term)``; ``scale != 1`` is how a data-parallel rank
    weights its share of a global batch. ``takes_rows``: the model gathers the rows itself
    (``model(xtr, rows=idx)``: :func:`takes_rows_of`). ``augment`` transforms the batch before the model sees it.
    """
    yb = ytr[idx]
    if augment is not None:
        out = model(augment(xtr[idx]))
    else:
        # a SparseMLP gathers the batch's rows itself, fused with its change of layout
        out = model(xtr, rows=idx) if takes_rows else model(xtr[idx])
    loss = nn.functional.cross_entropy(out, yb, label_smoothing=float(config.label_smoothing))
    if config.l2 > 0:
        loss = loss + config.l2 * _l2_term(model)
    if scale != 1.0:
        loss = loss * scale
    loss_value = float(loss.detach())
    if not math.isfinite(loss_value):
        raise InputError(
            f"training diverged at epoch {epoch} (loss {loss_value}): lower the learning rate (now {config.lr})"
        )
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss_value, int((out.argmax(1) == yb).sum())


def fit(
    model: nn.Module,
    dataset: Dataset,
    config: TrainConfig,
    *,
    progress: bool = True,
    checkpoint: str | os.PathLike | None = None,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
    desc: str = "train",
) -> TrainResult:
    """Train ``model`` on ``dataset``; the epoch with the best validation accuracy is kept and tested.

    With ``checkpoint``, the state after every epoch is written atomically there and a rerun with the
    same path resumes after the last finished epoch. ``on_epoch`` may raise to stop early (pruning).
    """
    check_model_fits_data(model, dataset)
    late = threads.late_warning(torch.get_num_threads()) if config.device == "cpu" else None
    if late:
        warnings.warn(late, RuntimeWarning, stacklevel=2)
    torch.manual_seed(config.seed)
    device = config.device
    model.to(device)
    xtr, ytr = _tensors(dataset, "tr", device)
    xva, yva = _tensors(dataset, "va", device)
    xte, yte = _tensors(dataset, "te", device)
    opt = make_optimizer(model, config)
    gen = torch.Generator().manual_seed(config.seed)
    takes_rows = takes_rows_of(model)
    # draws from the batch generator, so a checkpoint's generator state covers them too
    augment = make_augmenter(config.augment, dataset.feature_shape, gen)
    book = RunBook(identity=run_identity(model, dataset, config))
    ck = Path(checkpoint) if checkpoint else None
    state = RunBook.read_checkpoint(ck, config, book.identity) if ck is not None else None
    if state is not None:
        book.resume(state, model, opt, gen)
    book.begin(model, xva, yva, config)
    t0 = time.perf_counter()
    bar = tqdm(
        range(book.next_epoch, config.epochs + 1), desc=desc, disable=not progress, leave=False, dynamic_ncols=True
    )
    for epoch in bar:
        model.train()
        set_epoch_lr(opt, config, epoch)
        te = time.perf_counter()
        perm = torch.randperm(len(xtr), generator=gen).to(device)
        tot_loss, tot_correct = 0.0, 0
        for i in range(0, len(xtr), config.batch_size):
            idx = perm[i : i + config.batch_size]
            loss_value, correct = train_step(
                model, xtr, ytr, idx, opt, config, epoch, takes_rows=takes_rows, augment=augment
            )
            tot_loss += loss_value * len(idx)
            tot_correct += correct
        epoch_seconds = time.perf_counter() - te
        rec = book.end_epoch(epoch, tot_loss, tot_correct, len(xtr), epoch_seconds, model, xva, yva, config)
        bar.set_postfix(loss=f"{rec['train_loss']:.3f}", val=f"{rec['val_acc']:.4f}")
        if ck is not None:
            book.save(ck, model, opt, gen, config, time.perf_counter() - t0)
        if on_epoch is not None:
            on_epoch(rec)
    bar.close()
    return book.finish(model, xte, yte, config, time.perf_counter() - t0)


def seed_everything(seed: int) -> None:
    """Seed torch and numpy's legacy global state (all predsparse code takes explicit seeds too)."""
    torch.manual_seed(seed)
    np.random.seed(seed % (2**32))
