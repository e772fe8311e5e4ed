"""Deeper processor pipelines: a hand-checked schedule on a tiny junction, results equal to the ideal model;
the timing model's register placement against brute force."""

import itertools

import numpy as np
import pytest

from predsparse.hardware.config import HwConfig
from predsparse.hardware.cycle import CycleSimulator
from predsparse.hardware.delays import Op, partition, timing
from predsparse.hardware.pipeline import pipeline_study
from predsparse.hardware.simulator import ArchSimulator

SMALL = dict(layers=(16, 8, 4), out_degrees=(2, 2), z=(8, 4))  # junction 2: p=8, z=4, D=2, C=4


def _data(cfg, m, seed=1):
    rng = np.random.default_rng(seed)
    return cfg.fmt.from_pixels(rng.integers(0, 256, (m, cfg.layers[0]))), rng.integers(0, cfg.layers[-1], m)


@pytest.mark.parametrize("P", [3, 4, 6])
def test_deeper_pipeline_schedule_by_hand_and_equal_to_ideal(P):
    cfg = HwConfig(**SMALL, P=P, seed_vectors=("random", "zero"))
    pat = cfg.build_patterns()[1]
    # zero seed vectors: memory m reads address r in row r of every sweep, so cycle c reads left neurons
    # (c mod 2) * 4 + 0..3: every neuron is read in cycles r and r + 2 (one clock per cycle, no stalls)
    assert pat.cols.reshape(4, 4).tolist() == [[0, 1, 2, 3], [4, 5, 6, 7], [0, 1, 2, 3], [4, 5, 6, 7]]
    # by hand: a read at clock t writes back at t + 1 + P, visible from t + 2 + P; the re-read at t + 2
    # comes within 1 + P clocks for every P >= 1, so without forwarding each neuron's first contribution
    # is lost (8 of 16 per input) and with forwarding each re-read takes the in-flight sum (8 per input);
    # a block lasts C + 2 + P = 6 + P clocks and the last write-back (cycle 3 at clock 4 + P) fits in it
    m = 12
    x, y = _data(cfg, m)
    ideal = ArchSimulator(cfg, bp_hazard="ideal")
    byp = CycleSimulator(cfg, ideal.patterns, mode="bypass", weights=(ideal.w, ideal.b))
    exact = CycleSimulator(cfg, ideal.patterns, mode="exact", weights=(ideal.w, ideal.b))
    ri = ideal.train_samples(x, y)
    rb = byp.train_samples(x, y)
    exact.train_samples(x, y)
    assert byp.block_clocks == [6 + P] * (m + 2 * cfg.L)
    assert byp.forwarded[1] == 8 * m and byp.lost == [0, 0]
    assert exact.lost[1] == 8 * m
    assert ri["correct"] == rb["correct"]
    assert all(np.array_equal(a, b) for a, b in zip(ideal.w, byp.weights))
    assert all(np.array_equal(a, b) for a, b in zip(ideal.b, byp.biases))
    assert not all(np.array_equal(a, b) for a, b in zip(ideal.w, exact.weights))


def test_partition_matches_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(30):
        ops = [Op(str(k), float(v)) for k, v in enumerate(rng.uniform(0.1, 3.0, rng.integers(1, 8)))]
        for regs in range(0, 5):
            best, segs = partition(ops, regs)
            n = len(ops)
            brute = min(
                max(sum(o.ns for o in ops[a:b]) for a, b in zip((0, *cuts), (*cuts, n)))
                for k in range(0, min(regs, n - 1) + 1)
                for cuts in itertools.combinations(range(1, n), k)
            )
            assert best == pytest.approx(brute)
            assert [o for s in segs for o in s] == ops and len(segs) <= regs + 1


def test_deeper_pipelines_never_slow_the_clock_and_the_tree_limits_plain_ones():
    J = [(128, 64), (32, 32)]
    f = [timing(10, J, p)["fmax_mhz"] for p in range(0, 7)]
    assert all(b >= a - 1e-9 for a, b in zip(f, f[1:]))
    assert timing(10, J, 4)["critical_ops"] == ["adder tree (6 levels)"]  # atomic tree: deeper P cannot help
    assert timing(10, J, 4, tree_pipelined=True)["fmax_mhz"] > f[4]


def test_study_rows_on_a_tiny_network():
    cfg = HwConfig(**SMALL, seed_vectors=("random", "zero"))
    x, y = _data(cfg, 6)
    st = pipeline_study(cfg, x, y, max_P=4)
    rows = {r["design"]: r for r in st["rows"]}
    assert rows["released RTL (P=2, no forwarding)"]["lost_per_input"] == 8
    for r in st["rows"]:
        if r["bypass"]:
            assert r["lost_per_input"] == 0 and r["bit_exact_with_ideal"]
            assert r["clocks_per_input"] == 4 + 2 + r["P"] == r["clocks_per_input_measured"]
        assert r["inputs_per_s"] == pytest.approx(r["fmax_mhz"] * 1e6 / r["clocks_per_input"])
