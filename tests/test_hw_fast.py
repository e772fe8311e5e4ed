"""The compiled architecture-level engine is bit-identical to the numpy reference loop."""

import numpy as np
import pytest

from predsparse.hardware.config import HwConfig, fpga_reference
from predsparse.hardware.simulator import ArchSimulator
from predsparse.patterns import structured


def _run(cfg, x, y, order, engine, **kw):  # noqa: ANN001, ANN202
    sim = ArchSimulator(cfg, **kw)
    r = sim.train_samples(x, y, order, num_classes=10, engine=engine)
    return sim, r


@pytest.mark.parametrize("schedule", ["pipelined", "sequential"])
@pytest.mark.parametrize("bp", ["ideal", "exact"])
def test_fpga_network_300_inputs_bit_identical(schedule, bp):
    cfg = fpga_reference()
    rng = np.random.default_rng(7)
    pix = rng.integers(0, 256, (300, 1024))
    pix[:, 784:] = 0  # padding pixels, as Fashion-MNIST sees the network
    x, y = cfg.fmt.from_pixels(pix), rng.integers(0, 10, 300)
    order = rng.permutation(300)
    a, ra = _run(cfg, x, y, order, "reference", schedule=schedule, bp_hazard=bp)
    b, rb = _run(cfg, x, y, order, "fast", schedule=schedule, bp_hazard=bp)
    assert ra["correct"] == rb["correct"]
    assert all(np.array_equal(u, v) for u, v in zip(a.w, b.w))
    assert all(np.array_equal(u, v) for u, v in zip(a.b, b.b))
    assert a.blocks == b.blocks
    assert any(not np.array_equal(u, v) for u, v in zip(a.w, ArchSimulator(cfg).w))  # training did change weights


@pytest.mark.parametrize("variant", ["relu-1,3,8", "half-even", "structured", "lr0-1,1,4"])
def test_variants_bit_identical(variant):
    kw = dict(layers=(64, 32, 16), out_degrees=(4, 4), z=(16, 8), seed=3)
    patterns = None
    if variant == "relu-1,3,8":
        kw.update(activation="relu", fmt="1,3,8")
    elif variant == "half-even":
        kw.update(fmt="1,2,7", lr_rounding="half-even")
    elif variant == "lr0-1,1,4":
        kw.update(fmt="1,1,4", lr_shift=0)  # saturates constantly: every partial sum path is exercised
    cfg = HwConfig(**kw)
    if variant == "structured":  # clashes and non-uniform BP occurrence layout
        patterns = [structured(64, 32, 4, seed=1), structured(32, 16, 4, seed=2)]
    rng = np.random.default_rng(1)
    x = cfg.fmt.from_pixels(rng.integers(0, 256, (200, 64)))
    y = rng.integers(0, 10, 200)
    for bp in ("ideal", "exact"):
        a, ra = _run(cfg, x, y, None, "reference", patterns=patterns, bp_hazard=bp)
        b, rb = _run(cfg, x, y, None, "fast", patterns=patterns, bp_hazard=bp)
        assert ra["correct"] == rb["correct"]
        assert all(np.array_equal(u, v) for u, v in zip(a.w, b.w)) and all(np.array_equal(u, v) for u, v in zip(a.b, b.b))
