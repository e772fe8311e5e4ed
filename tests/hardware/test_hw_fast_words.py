"""The compiled engine's word types: float32 up to 12 bits, float64 beyond; both bit-identical to the reference."""

import numpy as np
import pytest

from predsparse.hardware.config import HwConfig
from predsparse.hardware.simulator import ArchSimulator


@pytest.mark.parametrize(
    "fmt,activation,lr_rounding", [("1,4,11", "sigmoid", "half-up"), ("1,5,14", "relu", "half-even")]
)
@pytest.mark.parametrize("schedule", ["pipelined", "sequential"])
def test_wide_formats_bit_identical(fmt, activation, lr_rounding, schedule):
    cfg = HwConfig(
        layers=(64, 32, 16),
        out_degrees=(4, 4),
        z=(16, 8),
        seed=3,
        fmt=fmt,
        activation=activation,
        lr_rounding=lr_rounding,
    )
    assert cfg.fmt.width > 12  # the float64 words
    rng = np.random.default_rng(2)
    x = cfg.fmt.from_pixels(rng.integers(0, 256, (200, 64)))
    y = rng.integers(0, 10, 200)
    for bp in ("ideal", "exact"):
        a = ArchSimulator(cfg, schedule=schedule, bp_hazard=bp)
        b = ArchSimulator(cfg, schedule=schedule, bp_hazard=bp)
        ra = a.train_samples(x, y, num_classes=10, engine="reference")
        rb = b.train_samples(x, y, num_classes=10, engine="fast")
        assert ra["correct"] == rb["correct"]
        assert all(np.array_equal(u, v) for u, v in zip(a.w, b.w)) and all(
            np.array_equal(u, v) for u, v in zip(a.b, b.b)
        )
