"""Architecture- and cycle-level simulators: rules, stalls, schedule, hazard, float tracking."""

import numpy as np
import pytest

from predsparse.errors import InputError
from predsparse.hardware.config import HwConfig, fpga_reference, seed_vectors
from predsparse.hardware.cycle import CycleSimulator
from predsparse.hardware.reference import FloatReference
from predsparse.hardware.simulator import ArchSimulator
from predsparse.hardware.timing import clash_stalls, hazard_report, hazard_survivors, padding_report, read_clocks
from predsparse.patterns import Pattern, structured

SMALL = dict(layers=(16, 8, 4), out_degrees=(2, 2), z=(8, 4))  # D = (2, 2), C = 4


def data(cfg, m, seed=1, classes=None):
    rng = np.random.default_rng(seed)
    pix = rng.integers(0, 256, (m, cfg.layers[0]))
    return pix, cfg.fmt.from_pixels(pix), rng.integers(0, classes or cfg.layers[-1], m)


# --- configuration rules ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kw,words",
    [
        (dict(layers=(1024, 64, 32), out_degrees=(4, 16), z=(100, 32)), "z = 100 does not divide N_0 = 1024"),
        (dict(layers=(16, 8, 4), out_degrees=(2, 2), z=(2, 4)), "d_in = 4 does not divide z = 2"),
        (dict(layers=(16, 32), out_degrees=(4,), z=(2,)), "d_out = 4 does not divide z = 2"),
        (dict(layers=(16, 8, 4), out_degrees=(2, 2), z=(16, 4)), "D = p/z = 16/16 = 1 < 2"),
        (dict(layers=(64, 32, 16), out_degrees=(4, 4), z=(16, 16)), "unbalanced pipeline"),
        (dict(layers=(16, 6), out_degrees=(2,), z=(8,)), "16*2/6 = 5.33333 is not a whole number"),
        (dict(layers=(16, 8, 4), out_degrees=(2, 2), z=(8, 4), lr_shift=40), "eta = 2^-k"),
        (dict(layers=(16, 8, 4), out_degrees=(2, 2), z=(8, 4), activation="tanh"), "activation"),
        (dict(layers=(16, 8, 4), out_degrees=(2, 2), z=(8, 4), seed_vectors="safe"), "D >= P + 2"),
        (dict(layers=(16, 8, 4), out_degrees=(2,), z=(8, 4)), "one per junction"),
    ],
)
def test_every_rule_is_one_clear_error(kw, words):
    with pytest.raises(InputError) as exc:
        HwConfig(**kw)
    assert words in str(exc.value) and "\n" not in str(exc.value)


def test_power_of_two_only_at_cycle_level():
    cfg = HwConfig(layers=(24, 24), out_degrees=(3,), z=(6,))  # fine for the architecture model
    ArchSimulator(cfg)
    with pytest.raises(InputError, match="power of two"):
        CycleSimulator(cfg)


def test_fpga_reference_numbers_and_padding_only_neurons():
    cfg = fpga_reference()
    assert cfg.d_in == (64, 32) and cfg.depth == (8, 2) and cfg.C == 32 and sum(cfg.z) == 160
    assert cfg.clocks_per_input == 36 and abs(cfg.rho_net - 5120 / 67584) < 1e-12
    sim = ArchSimulator(cfg)
    rep = sim.hardware_report(live_inputs=784, live_outputs=10)
    assert rep["us_per_input_at_clock"] == pytest.approx(2.4)
    assert rep["neurons"]["hidden_padding_only"] == 12  # zero seed vectors in junction 1: 12 of 64
    assert rep["neurons"]["layers"][1]["padding_only"] == [13, 14, 15, 29, 30, 31, 45, 46, 47, 61, 62, 63]
    rnd = ArchSimulator(fpga_reference(seed_vectors=("random", "random")))
    assert rnd.hardware_report(784, 10)["neurons"]["hidden_padding_only"] < 12


def test_padding_report_counts_dead_and_padding_only_neurons():
    p = Pattern(4, 3, rows=[0, 0, 2], cols=[0, 3, 3])  # right 1: no input; right 2 sees input 3 only
    q = Pattern(3, 2, rows=[0, 1], cols=[1, 2])  # hidden 0: no output; hidden 2 feeds output 1 only
    rep = padding_report([p, q], live_inputs=3, live_outputs=1)  # input 3 and output 1 are padding
    l1 = rep["layers"][1]
    assert l1["no_input"] == [1] and l1["padding_only"] == [2]
    assert l1["no_output"] == [0] and l1["to_padding_only"] == [2]
    assert rep["layers"][2]["padding_outputs"] == 1
    rep = padding_report([p, q], live_inputs=None, live_outputs=None)
    assert rep["hidden_padding_only"] == 0 and rep["hidden_no_input"] == 1 and rep["hidden_to_padding_only"] == 0


# --- clashes and stalls ------------------------------------------------------------------------------
def test_clash_free_patterns_never_stall():
    for kw in (SMALL, dict(layers=(1024, 64, 32), out_degrees=(4, 16), z=(128, 32))):
        for t in (1, 2, 3):
            sim = ArchSimulator(HwConfig(**kw, clash_type=t, dither=t == 2))
            assert sim.stall_cycles == [0, 0]


def test_stalls_on_hand_checked_patterns():
    # z = 4 memories (l mod 4). Cycle 0 reads 0,4,8,1: memory 0 three times -> 2 stalls.
    # Cycle 1 reads 2,3,5,6: memory 2 twice -> 1. Cycle 2 reads 7,9,10,11: memory 3 twice -> 1.
    pat = Pattern(12, 3, rows=[0] * 4 + [1] * 4 + [2] * 4, cols=[0, 4, 8, 1, 2, 3, 5, 6, 7, 9, 10, 11])
    assert clash_stalls(pat, 4).tolist() == [2, 1, 1]
    # reads queue on their memory in lane order: cycle 0 starts at 0 and lasts 3 clocks
    assert read_clocks(pat, 4).tolist() == [0, 1, 2, 0, 3, 3, 3, 4, 5, 5, 5, 6]
    cfg = HwConfig(layers=(12, 3), out_degrees=(1,), z=(4,))
    sim = ArchSimulator(cfg, [pat])
    assert sim.stall_cycles == [4] and sim.clocks_per_block == 3 + 4 + 2 + 2


def test_cycle_model_counts_the_same_stalls_and_clocks():
    pat = Pattern(8, 2, rows=[0] * 4 + [1] * 4, cols=[0, 4, 1, 2, 3, 5, 6, 7])  # one stall per cycle
    cfg = HwConfig(layers=(8, 2), out_degrees=(1,), z=(4,))
    assert clash_stalls(pat, 4).tolist() == [1, 1]
    _, x, y = data(cfg, 5)
    cyc = CycleSimulator(cfg, [pat])
    cyc.train_samples(x, y)
    arch = ArchSimulator(cfg, [pat])
    arch.train_samples(x, y)
    assert cyc.stalls == [2 * 6]  # 2 stall clocks per block; 5 inputs, L = 1: blocks 1..6 do work
    assert set(cyc.block_clocks) == {arch.clocks_per_block} == {2 + 2 + 2 + 2}
    assert all(np.array_equal(a, b) for a, b in zip(arch.w, cyc.weights))


def test_sequential_schedule_has_one_input_in_flight():
    sim = ArchSimulator(fpga_reference(), schedule="sequential")
    rep = sim.hardware_report()
    assert rep["clocks_per_input"] == 5 * 36 and rep["inputs_in_flight"] == 1


def test_structured_and_random_patterns_stall():
    cfg = HwConfig(layers=(64, 32, 16), out_degrees=(4, 4), z=(16, 8), pattern=("structured", "random"))
    sim = ArchSimulator(cfg)
    for j, s in zip(sim.junctions, sim.stall_cycles):
        assert s == int(clash_stalls(j.pattern, j.z).sum()) > 0


# --- schedule: stale weights ---------------------------------------------------------------------------
def _hand_net(schedule):
    cfg = HwConfig(layers=(4, 2), out_degrees=(1,), z=(2,), activation="relu", lr_shift=1)
    pat = Pattern(4, 2, rows=[0, 0, 1, 1], cols=[0, 1, 2, 3])
    w0 = ([np.array([128, 128, 128, 128])], [np.array([0, 0])])  # 0.5 each, (1,3,8)
    return cfg, pat, w0


@pytest.mark.parametrize("schedule,w0_end,b0_end", [("pipelined", 224, 192), ("sequential", 194, 132)])
def test_two_sample_hand_example_of_stale_weights(schedule, w0_end, b0_end):
    """Two inputs a0 = (0.5, 0, 0, 0), label 0, eta = 1/2, ReLU, L = 1.

    Input 0: s = mult(0.5, 0.5) = 0.25, delta = 0.25 - 1 = -0.75, g = 0.375: w0 = 0.5 + 0.1875 = 0.6875
    (176), b0 = 0.375 (96). Pipelined, input 1 is fed forward in the block where input 0 is updated,
    so it sees the old weights: same g, w0 = 0.875 (224), b0 = 0.75 (192). Sequential, it sees
    w0 = 0.6875, b0 = 0.375: s = 0.34375 + 0.375 = 0.71875 (184), delta = -0.28125 (-72), g = 36:
    w0 = 176 + 18 = 194, b0 = 96 + 36 = 132."""
    cfg, pat, w0 = _hand_net(schedule)
    x = np.array([[128, 0, 0, 0], [128, 0, 0, 0]])
    y = np.array([0, 0])
    sim = ArchSimulator(cfg, [pat], schedule=schedule, weights=w0)
    sim.train_samples(x, y)
    assert sim.w[0].tolist() == [w0_end, 128, 128, 128] and sim.b[0].tolist() == [b0_end, 0]
    ref = FloatReference(cfg, [pat], schedule=schedule, weights=([w0[0][0] / 256], [w0[1][0] / 256]))
    ref.train_samples(x / 256, y)
    if schedule == "pipelined":  # all values are exact binary fractions here
        assert ref.w[0].tolist() == [0.875, 0.5, 0.5, 0.5] and ref.b[0].tolist() == [0.75, 0.0]
    if schedule == "pipelined":
        cyc = CycleSimulator(cfg, [pat], weights=w0)
        cyc.train_samples(x, y)
        assert cyc.weights[0].tolist() == [w0_end, 128, 128, 128] and cyc.biases[0].tolist() == [b0_end, 0]


# --- cycle level == architecture level -----------------------------------------------------------------
@pytest.mark.parametrize("mode", ["ideal", "exact"])
@pytest.mark.parametrize("variant", ["clash-free", "structured-j2", "relu", "type1-dither"])
def test_cycle_and_architecture_models_agree_bit_exactly(mode, variant):
    kw = dict(SMALL, seed=3)
    patterns = None
    if variant == "relu":
        kw["activation"] = "relu"
    if variant == "type1-dither":
        kw.update(clash_type=1, dither=True, fmt="1,2,7")
    cfg = HwConfig(**kw)
    if variant == "structured-j2":  # clashes: stalls shift the read clocks, and with them the hazard
        patterns = [cfg.build_patterns()[0], structured(8, 4, 2, seed=5)]
    _, x, y = data(cfg, 24)
    arch = ArchSimulator(cfg, patterns, bp_hazard=mode)
    cyc = CycleSimulator(cfg, arch.patterns, mode=mode)
    ra = arch.train_samples(x, y)
    rc = cyc.train_samples(x, y)
    assert ra["correct"] == rc["correct"]
    assert all(np.array_equal(a, b) for a, b in zip(arch.w, cyc.weights))
    assert all(np.array_equal(a, b) for a, b in zip(arch.b, cyc.biases))
    static = sum(r["lost"] for r in arch.lost_contributions())
    assert cyc.lost[1] == (static * 24 if mode == "exact" else 0)
    assert cyc.contributions[1] == arch.patterns[1].edges * 24


def test_cycle_model_bypass_equals_ideal_and_counts_forwards():
    cfg = HwConfig(**SMALL, seed=2)
    _, x, y = data(cfg, 10)
    a = CycleSimulator(cfg, mode="ideal")
    b = CycleSimulator(cfg, a.patterns, mode="bypass")
    a.train_samples(x, y)
    b.train_samples(x, y)
    assert all(np.array_equal(u, v) for u, v in zip(a.weights, b.weights))
    assert b.forwarded[1] > 0 and b.lost == [0, 0]


# --- the BP read-modify-write hazard ---------------------------------------------------------------------
def test_hazard_rule_by_hand_on_d2_zero_seeds():
    # junction 2 of SMALL with zero seeds: left neuron l read in cycles r and r + 2 (gap 2).
    cfg = HwConfig(**SMALL, seed_vectors=("random", "zero"))
    pat = cfg.build_patterns()[1]
    # P = 2: the 2nd read comes before the 1st write is visible (t + 4): the 1st contribution is lost
    assert hazard_survivors(pat, 4, 2).reshape(2, 8).tolist() == [[False] * 8, [True] * 8]
    assert hazard_survivors(pat, 4, 1).sum() == 8  # visible from t + 3 > t + 2: still lost
    assert hazard_survivors(pat, 4, 0).all()  # P = 0: visible from t + 2: nothing lost


def test_hazard_on_fpga_second_junction_geometry():
    """D = 2, P = 2: with all-zero seed vectors every re-read comes 2 clocks later: half is lost."""
    zero = ArchSimulator(fpga_reference(seed_vectors=("zero", "zero")))
    rep = zero.lost_contributions()[0]
    assert rep["contributions"] == 1024 and rep["lost"] == 512 and rep["min_reread_gap"] == 2
    rnd = ArchSimulator(fpga_reference()).lost_contributions()[0]
    assert rnd["lost"] > 0 and rnd["min_reread_gap"] == 1
    assert ArchSimulator(fpga_reference(P=0, seed_vectors=("zero", "zero"))).lost_contributions()[0]["lost"] == 0


def test_cycle_model_loses_contributions_on_fpga_geometry():
    # same junction-2 geometry at small scale: p = 8, z = 4 -> D = 2, d_out = 2, P = 2
    cfg = HwConfig(**SMALL, seed_vectors=("random", "zero"))
    _, x, y = data(cfg, 6)
    cyc = CycleSimulator(cfg, mode="exact")
    cyc.train_samples(x, y)
    assert cyc.contributions[1] == 16 * 6 and cyc.lost[1] == 8 * 6


def test_safe_seed_vectors_remove_the_hazard():
    for t in (2, 3):
        cfg = HwConfig(
            layers=(64, 32, 16), out_degrees=(4, 4), z=(16, 8), clash_type=t, seed_vectors=("random", "safe")
        )
        pat = cfg.build_patterns()[1]
        rep = hazard_report(pat, 8, cfg.P)
        assert rep["lost"] == 0 and rep["min_reread_gap"] >= cfg.P + 2
    phi = seed_vectors("safe", 2, 16, 8, 6, 2, seed=0)
    delta = (phi[:-1] - phi[1:]) % 6
    assert np.isin(delta, [0, 4, 5]).all()


# --- fixed point tracks floating point -------------------------------------------------------------------
@pytest.mark.parametrize("schedule", ["pipelined", "sequential"])
@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_wide_fixed_point_tracks_float_reference(schedule, activation):
    cfg = HwConfig(
        layers=(64, 32, 16), out_degrees=(4, 4), z=(16, 8), fmt="1,7,24", lr_shift=4, seed=3, activation=activation
    )
    pix, x, y = data(cfg, 200)
    sim = ArchSimulator(cfg, schedule=schedule)
    ref = FloatReference(cfg, sim.patterns, schedule=schedule)
    ra = sim.train_samples(x, y)
    rr = ref.train_samples(pix / 256, y)
    diff = max(np.abs(cfg.fmt.to_float(w) - v).max() for w, v in zip(sim.w, ref.w))
    assert diff < 1e-4
    assert abs(ra["correct"] - rr["correct"]) <= 2
    # the two schedules really differ (so the staleness is what is being matched)
    other = FloatReference(cfg, sim.patterns, schedule="sequential" if schedule == "pipelined" else "pipelined")
    other.train_samples(pix / 256, y)
    assert max(np.abs(cfg.fmt.to_float(w) - v).max() for w, v in zip(sim.w, other.w)) > 100 * diff


def test_float_reference_sequential_step_matches_torch_autograd():
    torch = pytest.importorskip("torch")
    cfg = HwConfig(layers=(16, 8, 4), out_degrees=(2, 2), z=(8, 4), lr_shift=2, seed=4)
    ref = FloatReference(cfg, schedule="sequential")
    masks = [torch.tensor(p.to_dense(), dtype=torch.float64) for p in ref.patterns]
    ws = []
    for p, w in zip(ref.patterns, ref.w):
        d = np.zeros((p.n_out, p.n_in))
        d[p.rows, p.cols] = w
        ws.append(torch.tensor(d, requires_grad=True))
    bs = [torch.tensor(b, requires_grad=True) for b in ref.b]
    x = np.random.default_rng(0).random(16)
    a = torch.tensor(x)
    for i in range(2):
        s = (ws[i] * masks[i]) @ a + bs[i]
        a = torch.sigmoid(s) if i == 0 else s
    target = torch.zeros(4, dtype=torch.float64)
    target[1] = 1
    torch.nn.functional.binary_cross_entropy_with_logits(a, target, reduction="sum").backward()
    ref.train_samples(x[None, :], np.array([1]))
    for p, w, tw, b, tb in zip(ref.patterns, ref.w, ws, ref.b, bs):
        want = (tw - cfg.eta * tw.grad).detach().numpy()[p.rows, p.cols]
        assert np.allclose(w, want) and np.allclose(b, (tb - cfg.eta * tb.grad).detach().numpy())


def test_training_learns_and_is_reproducible():
    cfg = HwConfig(**SMALL, seed=1)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 400)
    pix = np.zeros((400, 16), dtype=np.int64)
    pix[np.arange(400), y * 4] = 255  # class k lights pixel 4k
    x = cfg.fmt.from_pixels(pix)
    a = ArchSimulator(cfg)
    for _ in range(3):
        a.train_samples(x, y)
    assert a.accuracy(x, y) > 0.9
    b = ArchSimulator(cfg)
    for _ in range(3):
        b.train_samples(x, y)
    assert all(np.array_equal(u, v) for u, v in zip(a.w, b.w))
