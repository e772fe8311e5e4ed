"""Morse code datasets of tunable difficulty and dataset difficulty metrics (``docs/design/morse.md``).

>>> from predsparse.morse import generate, difficulty
>>> ds = generate("difficult", seed=1, train_per_class=50, val_per_class=10, test_per_class=10)
>>> sorted(difficulty(ds))
['V_dist', 'V_lower', 'V_thresh', 'V_upper']

This package uses nothing of the project except :mod:`predsparse.errors` and the dataset format
:mod:`predsparse.data.format`.  The difficulty study, which trains, lives in :mod:`predsparse.experiments.morse_study`.
"""

from predsparse.morse.codebook import CODEBOOK, CODES, NUM_CLASSES, SYMBOLS
from predsparse.morse.generator import DEFAULTS, PRESETS, generate, parse_overrides, resolve_params
from predsparse.morse.metrics import difficulty

__all__ = [
    "CODEBOOK",
    "CODES",
    "DEFAULTS",
    "NUM_CLASSES",
    "PRESETS",
    "SYMBOLS",
    "difficulty",
    "generate",
    "parse_overrides",
    "resolve_params",
]
