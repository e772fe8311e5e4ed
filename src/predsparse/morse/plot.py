"""Pictures of Morse datasets: example frames of every class (like the talk's slide)."""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np

from predsparse.errors import InputError


def examples_png(dataset: Any, *, per_class: int = 4, split: str = "tr", symbols: list[str] | None = None) -> bytes:
    """PNG bytes: one panel per class showing ``per_class`` example frames as gray strips (white = 1).

    Panels are titled with the symbol and its code when the dataset's ``meta`` carries the codebook.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if isinstance(per_class, bool) or not isinstance(per_class, int) or per_class < 1:
        raise InputError(f"per_class={per_class!r} is not valid: it must be a whole number >= 1")
    x = np.asarray(getattr(dataset, "x" + split))
    y = np.asarray(getattr(dataset, "y" + split))
    x = x.reshape(x.shape[0], -1)
    meta = getattr(dataset, "meta", {}) or {}
    symbols = symbols or meta.get("symbols")
    codes = meta.get("codes")
    k = int(getattr(dataset, "num_classes", 0) or (int(y.max()) + 1 if y.size else 0))
    cols = int(math.ceil(math.sqrt(k))) or 1
    rows = int(math.ceil(k / cols)) or 1
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.9, rows * 0.9), dpi=100, squeeze=False)
    for m in range(rows * cols):
        ax = axes[m // cols][m % cols]
        ax.set_xticks([])
        ax.set_yticks([])
        if m >= k:
            ax.axis("off")
            continue
        frames = x[y == m][:per_class]
        if frames.shape[0]:
            ax.imshow(frames, cmap="gray", vmin=0.0, vmax=1.0, aspect="auto", interpolation="nearest")
        title = symbols[m] if symbols else str(m)
        if codes:
            title += "  " + codes[m]
        ax.set_title(title, fontsize=7, pad=2)
    fig.suptitle(str(meta.get("name", "dataset")) + f" ({x.shape[1]} values per frame)", fontsize=9)
    fig.tight_layout(pad=0.3, h_pad=0.4, w_pad=0.3, rect=(0, 0, 1, 0.96))
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()
