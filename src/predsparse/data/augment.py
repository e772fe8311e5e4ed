"""Training-time data augmentation of image batches: horizontal flips and small random translations.

Applied to each training batch after it is drawn (never to validation or test data); the random draws come
from the run's own generator, so a seed repeats them and a resumed run goes on with the same draws.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from predsparse.errors import InputError

if TYPE_CHECKING:  # torch is imported where it is used, so the CLI can read AUGMENTATIONS cheaply
    import torch

AUGMENTATIONS = ("none", "flip", "shift", "flip-shift")
SHIFT_PIXELS = 2  # largest translation in each direction; Fashion-MNIST's items sit centred with a 2-4 px margin


def image_size(feature_shape: Sequence[int], need: str = "augmentation") -> tuple[int, int, int]:
    """``(channels, height, width)`` of images stored as ``(H, W)`` or ``(C, H, W)`` samples; ``need`` names
    what asks, for the one-line refusal of anything else."""
    shape = tuple(int(s) for s in feature_shape)
    if len(shape) == 2:
        return 1, shape[0], shape[1]
    if len(shape) == 3:
        return shape
    raise InputError(f"{need} needs images (samples of shape (H, W) or (C, H, W)); these samples have shape {shape}")


def make_augmenter(
    kind: str, feature_shape: Sequence[int], generator: torch.Generator
) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """A function that augments a batch (flattened or not) of images of ``feature_shape``, or None for 'none'.

    ``flip`` mirrors each image left-right with probability 1/2; ``shift`` translates it by a whole number of
    pixels drawn uniformly from ``-SHIFT_PIXELS..SHIFT_PIXELS`` in each direction, filling with zeros
    (the background of unit-scaled images; of standardised ones, the mean); ``flip-shift`` does both.
    """
    if kind not in AUGMENTATIONS:
        raise InputError(f"augmentation {kind!r} is not one of {AUGMENTATIONS}")
    if kind == "none":
        return None
    import torch

    c, h, w = image_size(feature_shape, f"augmentation {kind!r}")
    flip, shift = "flip" in kind, "shift" in kind
    p = SHIFT_PIXELS

    def augment(x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        img = x.reshape(n, c, h, w)
        if flip:
            mirror = torch.rand(n, generator=generator) < 0.5
            img = torch.where(mirror.to(img.device)[:, None, None, None], img.flip(-1), img)
        if shift:
            dy = torch.randint(0, 2 * p + 1, (n,), generator=generator).to(img.device)
            dx = torch.randint(0, 2 * p + 1, (n,), generator=generator).to(img.device)
            padded = torch.nn.functional.pad(img, (p, p, p, p))
            rows = (dy[:, None] + torch.arange(h, device=img.device))[:, None, :, None]
            cols = (dx[:, None] + torch.arange(w, device=img.device))[:, None, None, :]
            batch = torch.arange(n, device=img.device)[:, None, None, None]
            chan = torch.arange(c, device=img.device)[None, :, None, None]
            img = padded[batch, chan, rows, cols]
        return img.reshape(x.shape)

    return augment
