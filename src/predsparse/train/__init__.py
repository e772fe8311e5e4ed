"""Training sparse networks: config, loop with validation-based model selection, model files."""

from predsparse.train.distributed import fit_distributed
from predsparse.train.loop import OPTIMIZERS, TrainConfig, TrainResult, build_model, evaluate, fit, seed_everything
from predsparse.train.store import load_model, save_model

__all__ = [
    "OPTIMIZERS",
    "TrainConfig",
    "TrainResult",
    "build_model",
    "evaluate",
    "fit",
    "fit_distributed",
    "load_model",
    "save_model",
    "seed_everything",
]
