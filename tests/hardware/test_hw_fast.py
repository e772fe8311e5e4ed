"""The compiled architecture-level engine is bit-identical to the numpy reference loop."""

import numpy as np
import pytest

from predsparse.hardware.config import HwConfig, fpga_reference
from predsparse.hardware.simulator import ArchSimulator
from predsparse.patterns import structured


def _run(cfg, x, y, order, engine, **kw):
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
        assert all(np.array_equal(u, v) for u, v in zip(a.w, b.w)) and all(
            np.array_equal(u, v) for u, v in zip(a.b, b.b)
        )


# --- the compiled cycle-level block against the numpy reference ----------------------------------------
@pytest.mark.parametrize("mode", ["exact", "ideal", "bypass"])
@pytest.mark.parametrize("variant", ["fpga", "structured-j2", "relu-type1-dither", "deep-P"])
def test_cycle_engines_bit_identical(mode, variant):
    from predsparse.hardware.cycle import CycleSimulator

    patterns = None
    if variant == "fpga":
        cfg = fpga_reference()
    else:
        kw = dict(layers=(16, 8, 4), out_degrees=(2, 2), z=(8, 4), seed=3)
        if variant == "relu-type1-dither":
            kw.update(activation="relu", clash_type=1, dither=True, fmt="1,3,8")
        if variant == "deep-P":
            kw.update(P=5, seed_vectors=("random", "zero"))
        cfg = HwConfig(**kw)
        if variant == "structured-j2":  # clashes: stalls and queued reads
            patterns = [cfg.build_patterns()[0], structured(8, 4, 2, seed=5)]
    rng = np.random.default_rng(2)
    n = 10 if variant == "fpga" else 30
    x = cfg.fmt.from_pixels(rng.integers(0, 256, (n, cfg.layers[0])))
    y = rng.integers(0, min(10, cfg.layers[-1]), n)
    a = CycleSimulator(cfg, patterns, mode=mode, engine="reference")
    b = CycleSimulator(cfg, a.patterns, mode=mode, engine="fast")
    assert b.engine == "fast"
    assert a.train_samples(x, y, num_classes=10) == b.train_samples(x, y, num_classes=10)
    assert a.report() == b.report() and a.block_clocks == b.block_clocks
    assert all(np.array_equal(u, v) for u, v in zip(a.weights, b.weights))
    assert all(np.array_equal(u, v) for u, v in zip(a.biases, b.biases))
