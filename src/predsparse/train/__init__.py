"""Training sparse networks: model descriptions and the factory, config, the one run function, loop, model files."""

from predsparse.train.distributed import fit_distributed
from predsparse.train.loop import OPTIMIZERS, TrainConfig, TrainResult, build_model, evaluate, fit, seed_everything
from predsparse.train.run import run
from predsparse.train.spec import ModelSpec, build, default_z
from predsparse.train.store import load_model, save_model

__all__ = [
    "OPTIMIZERS",
    "ModelSpec",
    "TrainConfig",
    "TrainResult",
    "build",
    "build_model",
    "default_z",
    "evaluate",
    "fit",
    "fit_distributed",
    "load_model",
    "run",
    "save_model",
    "seed_everything",
]
