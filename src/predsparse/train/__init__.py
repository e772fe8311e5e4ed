"""Training sparse networks: model descriptions and the factory (:mod:`.spec`), config, loop, model files.

The one run function is :func:`predsparse.train.run.run` (not re-exported here: the name would hide the module).
"""

from predsparse.train.distributed import fit_distributed
from predsparse.train.loop import OPTIMIZERS, TrainConfig, TrainResult, build_model, evaluate, fit, seed_everything
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
    "save_model",
    "seed_everything",
]
