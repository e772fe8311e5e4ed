"""A run's bookkeeping: history, best epoch, divergence watch and checkpoints (``fit``'s resumable format).

A checkpoint carries the run's identity (:func:`predsparse.train.identity.run_identity`: network, patterns'
fingerprints, dataset, training config); resuming into anything else is refused with one line naming the
difference. Checkpoints are read with ``torch.load(weights_only=True)``: only tensors and plain data, never code.
"""

from __future__ import annotations

import copy
import math
import pickle
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from predsparse.atomic import atomic_path
from predsparse.errors import DivergenceError, InputError
from predsparse.train.identity import RESUMABLE_CONFIG, difference

if TYPE_CHECKING:
    from predsparse.train.loop import TrainConfig, TrainResult

# a finite training loss this many times its start (or ln K, whichever is larger) is divergence
DIVERGENCE_FACTOR = 10.0
# a network whose output does not depend on its input, at or below a constant guess's accuracy, for this many
# epochs in a row, sits at chance
COLLAPSE_EPOCHS = 2
_KEYS = {
    "model": dict,
    "optimizer": dict,
    "generator": torch.Tensor,
    "history_keys": list,
    "history": torch.Tensor,
    "best_epoch": int,
    "config": dict,
}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:160]}" if text else type(exc).__name__


@dataclass
class RunBook:
    """History and best epoch of a run, restored from and written to checkpoints; watches for divergence."""

    history: list[dict[str, float]] = field(default_factory=list)
    best_val: float = -1.0
    best_epoch: int = 0
    best_state: dict[str, torch.Tensor] | None = None
    elapsed_before: float = 0.0
    identity: dict[str, Any] | None = None
    start_loss: float | None = None
    diverged: str | None = None
    collapsed_epochs: int = 0

    @property
    def next_epoch(self) -> int:
        return len(self.history) + 1

    @staticmethod
    def read_checkpoint(
        path: Path, config: TrainConfig, identity: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """The checkpoint at ``path`` (None when there is none). InputError, one line, when it is unreadable,
        damaged, not a checkpoint (a pickle with objects is refused unexecuted), or belongs to another run."""
        path = Path(path)
        if not path.exists():
            return None
        try:
            with warnings.catch_warnings():  # torch warns about foreign pickle protocols: the one line below says it
                warnings.simplefilter("ignore")
                state = torch.load(path, weights_only=True, map_location="cpu")
        except pickle.UnpicklingError:
            raise InputError(
                f"{path}: not a predsparse checkpoint: it holds Python objects other than tensors and "
                "plain data, which are never loaded (nothing was executed)"
            ) from None
        except Exception as exc:
            raise InputError(
                f"{path}: unreadable or truncated checkpoint ({_first_line(exc)}); remove it or use another path"
            ) from None
        if not isinstance(state, dict):
            raise InputError(f"{path}: not a predsparse checkpoint (holds a {type(state).__name__}, not a dict)")
        for key, typ in _KEYS.items():
            if not isinstance(state.get(key), typ):
                raise InputError(f"{path}: damaged checkpoint: entry {key!r} is missing or not a {typ.__name__}")
        mine = {k: v for k, v in asdict(config).items() if k not in RESUMABLE_CONFIG}
        diff = difference({k: v for k, v in state["config"].items() if k not in RESUMABLE_CONFIG}, mine)
        if diff:
            raise InputError(
                f"{path}: checkpoint was written with a different training config ({diff}); "
                "remove it or use another path"
            )
        if identity is not None and isinstance(state.get("identity"), dict):
            diff = difference(state["identity"], identity)
            if diff:
                raise InputError(f"{path}: checkpoint belongs to another run ({diff}); remove it or use another path")
        return state

    def resume(self, state: dict[str, Any], model: nn.Module, opt: torch.optim.Optimizer, gen: torch.Generator) -> None:
        """Load a checkpoint's model, optimiser, batch-order generator and bookkeeping (InputError if they do not fit)."""
        try:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            gen.set_state(state["generator"])
            keys, rows = state["history_keys"], state["history"]
            if rows.numel() and (rows.ndim != 2 or rows.shape[1] != len(keys)):
                raise ValueError(f"history of shape {tuple(rows.shape)} for {len(keys)} keys")
            self.history = [dict(zip(keys, row)) for row in rows.tolist()]
            if any(int(r.get("epoch", -1)) != i + 1 for i, r in enumerate(self.history)):
                raise ValueError("history epochs are not 1, 2, ...")
            self.best_val, self.best_epoch = float(state["best_val"]), int(state["best_epoch"])
            self.best_state = state["best_model"]
            if self.best_state is not None:
                copy.deepcopy(model).load_state_dict(self.best_state)  # checks the best epoch's tensors fit too
            self.elapsed_before = float(state["elapsed"])
        except (RuntimeError, ValueError, KeyError, TypeError, IndexError) as exc:
            raise InputError(
                f"checkpoint does not fit this model and optimiser ({_first_line(exc)}); remove it or use another path"
            ) from None
        self.start_loss = state.get("start_loss")
        self.diverged = state.get("diverged")
        self.collapsed_epochs = int(state.get("collapsed_epochs", 0))

    def begin(self, model: nn.Module, xva: torch.Tensor, yva: torch.Tensor, config: TrainConfig) -> None:
        """Measure the untrained model's validation loss: the start that divergence is judged against."""
        if self.start_loss is None and len(xva):
            from predsparse.train.loop import evaluate

            self.start_loss = evaluate(model, xva, yva, config.eval_batch_size)[1]

    def end_epoch(
        self,
        epoch: int,
        loss_sum: float,
        correct: float,
        n_train: int,
        seconds: float,
        model: nn.Module,
        xva: torch.Tensor,
        yva: torch.Tensor,
        config: TrainConfig,
    ) -> dict[str, float]:
        """Validate ``model``, record the epoch (training loss/accuracy from sums over ``n_train`` samples),
        check for divergence and return its record."""
        from predsparse.train.loop import evaluate

        val_acc, val_loss = evaluate(model, xva, yva, config.eval_batch_size)
        rec = {
            "epoch": epoch,
            "train_loss": loss_sum / n_train,
            "train_acc": correct / n_train,
            "val_acc": val_acc,
            "val_loss": val_loss,
            "seconds": seconds,
        }
        self.add(rec, model)
        self.watch(rec, model, xva, yva, config)
        return rec

    def watch(
        self, rec: dict[str, float], model: nn.Module, xva: torch.Tensor, yva: torch.Tensor, config: TrainConfig
    ) -> None:
        """Flag divergence (``self.diverged``); raise :class:`DivergenceError` when ``config.stop_on_divergence``."""
        reason = divergence(rec, model, xva, yva, self.start_loss, self)
        if reason is None:
            return
        if getattr(config, "stop_on_divergence", True):
            raise DivergenceError(
                f"training diverged: {reason}: lower the learning rate (now {config.lr}), or let it "
                "run on, flagged, with TrainConfig(stop_on_divergence=False)",
                reason=reason,
            )
        self.diverged = self.diverged or reason

    def add(self, rec: dict[str, float], model: nn.Module) -> None:
        """Record an epoch; keep the model's state when its validation accuracy is the best so far."""
        self.history.append(rec)
        val_acc = rec["val_acc"]
        if val_acc > self.best_val or self.best_state is None or (math.isnan(val_acc)):
            self.best_val, self.best_epoch = val_acc, rec["epoch"]
            self.best_state = copy.deepcopy(model.state_dict())

    def save(
        self,
        path: Path,
        model: nn.Module,
        opt: torch.optim.Optimizer,
        gen: torch.Generator,
        config: TrainConfig,
        elapsed: float,
    ) -> None:
        """Write the checkpoint atomically: model, optimiser, generator, history, best epoch, identity."""
        keys = list(self.history[0].keys()) if self.history else []
        state = {
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "generator": gen.get_state(),
            "history_keys": keys,
            "history": torch.tensor([[r[k] for k in keys] for r in self.history], dtype=torch.float64),
            "best_val": self.best_val,
            "best_epoch": self.best_epoch,
            "best_model": self.best_state,
            "config": asdict(config),
            "elapsed": self.elapsed_before + elapsed,
            "identity": self.identity,
            "start_loss": self.start_loss,
            "diverged": self.diverged,
            "collapsed_epochs": self.collapsed_epochs,
        }
        with atomic_path(path) as tmp:
            torch.save(state, tmp)

    def finish(
        self, model: nn.Module, xte: torch.Tensor, yte: torch.Tensor, config: TrainConfig, elapsed: float
    ) -> TrainResult:
        """Load the best epoch's state into ``model``, test it once and return the run's result."""
        from predsparse.train.loop import TrainResult, evaluate

        if self.best_state is not None:
            model.load_state_dict(self.best_state)
        test_acc, _ = evaluate(model, xte, yte, config.eval_batch_size)
        return TrainResult(
            best_epoch=self.best_epoch,
            best_val_acc=self.best_val,
            test_acc=test_acc,
            final_train_acc=self.history[-1]["train_acc"] if self.history else float("nan"),
            seconds=self.elapsed_before + elapsed,
            history=self.history,
            config=asdict(config),
            diverged=self.diverged,
        )


@torch.no_grad()
def divergence(
    rec: dict[str, float],
    model: nn.Module,
    xva: torch.Tensor,
    yva: torch.Tensor,
    start_loss: float | None,
    book: RunBook,
) -> str | None:
    """Why the epoch ``rec`` looks diverged, or None: a finite training loss over :data:`DIVERGENCE_FACTOR` times
    its start (the untrained validation loss, at least ln K), or a network that has predicted one class for
    every validation sample because its output no longer depends on its input, no better than a constant guess,
    :data:`COLLAPSE_EPOCHS` epochs in a row."""
    n = len(yva)
    k = max(int(yva.max()) + 1 if n else 2, 2)
    ref = max(start_loss if start_loss is not None and math.isfinite(start_loss) else 0.0, math.log(k))
    loss = rec["train_loss"]
    if math.isfinite(loss) and loss > DIVERGENCE_FACTOR * ref:
        return f"training loss {loss:.4g} at epoch {rec['epoch']} is over {DIVERGENCE_FACTOR:g}x its start ({ref:.3g})"
    majority = float(torch.bincount(yva).max()) / n if n else 1.0
    if n < 2 or not rec["val_acc"] <= majority + 1e-12:
        book.collapsed_epochs = 0
        return None
    was_training = model.training
    model.eval()
    out = model(xva[:2048]).float()
    model.train(was_training)
    # collapsed: the output no longer depends on the input (dead ReLUs, saturated units), so every sample gets
    # the same class; a healthy network that merely starts slowly still has input-dependent outputs
    spread = float(out.std(0).max()) if len(out) > 1 else 0.0
    dead = math.isfinite(spread) and spread <= 1e-5 * (1.0 + float(out.abs().mean()))
    book.collapsed_epochs = book.collapsed_epochs + 1 if dead else 0
    if book.collapsed_epochs >= COLLAPSE_EPOCHS:
        cls = int(out[0].argmax())
        return (
            f"accuracy sits at chance at epoch {rec['epoch']}: the network's output no longer depends on its "
            f"input (class {cls} for every validation sample; val acc {rec['val_acc']:.3f}, a constant guess "
            f"gets {majority:.3f})"
        )
    return None
