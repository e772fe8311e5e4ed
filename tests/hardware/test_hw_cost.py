"""Cost model: the FPGA reference configuration worked out by hand from the spec's formulas."""

import pytest

from predsparse.hardware.config import HwConfig, fpga_reference
from predsparse.hardware.cost import bypass_cost, cost_report, hazard_fixes, network_cost, safe_variants


def test_fpga_reference_by_hand():
    rep = cost_report(fpga_reference())
    s = rep["sparse"]
    W, L = 10, 2
    # junction 1: p=1024, n=64, d_out=4, d_in=64, z=128 (z/d_in = 2), D=8, C=32; no BP
    # junction 2: p=64, n=32, d_out=16, d_in=32, z=32 (z/d_in = 1), D=2, C=32
    j1, j2 = s["junctions"]
    assert (j1["d_in"], j1["D"], j1["C"], j2["d_in"], j2["D"], j2["C"]) == (64, 8, 32, 32, 2, 32)
    assert j1["multipliers"] == {"ff": 128, "bp": 0, "up": 128, "total": 256}
    assert j1["adders"] == {"ff": 128, "bp": 0, "up": 128 + 2, "total": 258}
    assert j2["multipliers"] == {"ff": 32, "bp": 64, "up": 32, "total": 128}
    assert j2["adders"] == {"ff": 32, "bp": 32, "up": 33, "total": 97}
    assert (j1["table_pairs"], j2["table_pairs"]) == (2, 1)
    assert j1["weight_bits"] + j1["bias_bits"] == (128 + 2) * 32 * W == 41600
    assert j2["weight_bits"] + j2["bias_bits"] == (32 + 1) * 32 * W == 10560
    l0, l1, l2 = s["layers"]
    assert l0["bits"] == (2 * L + 1) * 1024 * 8 == 40960
    assert l1["bits"] == 2 * (2 * (L - 1) + 1) * 64 * W + 2 * 64 * W == 3840 + 1280
    assert l2["bits"] == 2 * 32 * W == 640
    t = s["totals"]
    assert t["multipliers"] == 384 and t["adders"] == 355 and t["table_pairs"] == 3
    assert t["memory_bits"] == 41600 + 10560 + 40960 + 5120 + 640 == 98880
    assert t["parallelism"] == 160 and t["edges"] == 5120 and t["neurons"] == 1120
    assert round(100 * t["rho_net"], 2) == 7.58
    assert s["C"] == 32 and s["clocks_per_input"] == 36
    assert s["us_per_input"] == pytest.approx(2.4) and s["inputs_per_s"] == pytest.approx(15e6 / 36)


def test_fully_connected_comparison_row():
    fc = cost_report(fpga_reference())["fc"]
    # same z: C_1 = 1024*64/128 = 512, C_2 = 64*32/32 = 64; weights+biases (|W| + n) W
    assert [j["C"] for j in fc["junctions"]] == [512, 64]
    assert fc["clocks_per_input"] == 512 + 2 + 2
    assert fc["totals"]["weight_bias_bits"] == (65536 + 64 + 2048 + 32) * 10
    assert fc["totals"]["multipliers"] == 384  # same z, same arithmetic
    assert "d_in | z" in fc["architecture_rules"]


def test_cost_of_other_widths_and_clock():
    c = network_cost((16, 8, 4), (2, 2), (8, 4), width=12, P=0, clock_hz=100e6)
    assert c["C"] == 4 and c["clocks_per_input"] == 6 and c["inputs_per_s"] == pytest.approx(100e6 / 6)


def test_bypass_fix_cost_and_hazard_rows():
    cfg = fpga_reference()
    b = bypass_cost(cfg)
    # junction 2: 32 memories, (P+1) = 3 comparators of ceil(log2 2) = 1 bit each, 3*(1+10) register bits
    assert b["comparators"] == 96 and b["register_bits"] == 32 * 3 * 11 and b["muxes"] == 32
    rows = {r["design"]: r for r in hazard_fixes(cfg)}
    assert rows["released"]["lost_per_input"] > 0 and rows["bypass"]["lost_per_input"] == 0
    # D = 2 < P + 2 and d_in = 32 must divide z_2: the same network cannot get D >= 4 by lowering z,
    # the sparser variant (d_out_2 = 8, z_2 = 16, D = 4) keeps C = 32
    assert "safe-seeds-slower" not in rows
    sp = rows["safe-seeds-sparser"]
    assert (
        sp["z_net"] == [128, 16]
        and sp["d_out_net"] == [4, 8]
        and sp["lost_per_input"] == 0
        and sp["clocks_per_input"] == 36
    )
    assert rows["unpipelined"]["lost_per_input"] == 0 and rows["unpipelined"]["clocks_per_input"] == 34


def test_safe_variants_when_depth_already_suffices():
    cfg = HwConfig(layers=(64, 32, 16), out_degrees=(4, 4), z=(16, 8))  # D_2 = 4 = P + 2
    ((name, c, _),) = safe_variants(cfg)
    assert name == "safe-seeds" and c.z == cfg.z and c.seed_vectors[1] == "safe"


# --- the full cost sheet (resources.py) --------------------------------------------------------------
def test_reference_cost_sheet_dsp_lut_adders_and_fit():
    from predsparse.hardware.devices import device
    from predsparse.hardware.resources import device_check, resource_sheet

    rep = cost_report(fpga_reference(), device="xc7a100t")
    sh = rep["sparse"]["sheet"]
    # FF multipliers z_1 + z_2 = 160 and BP 2 z_2 = 64 on DSPs; UP z_1 + z_2 = 160 in LUTs (the reference mapping)
    assert sh["multipliers"] == {"dsp": 224, "ff_dsp": 160, "bp_dsp": 64, "up_lut": 160, "total": 384}
    assert sh["dsp_slices"] == 224  # W = 10 <= 18: one DSP48E1 per product
    # adders: FF trees (128 - 2) + (32 - 1), FF bias 2 + 1, BP 32, UP 130 + 33, output subtractor 1 (z_2/d_in_2 = 1)
    assert sh["adder_count"] == 126 + 31 + 3 + 32 + 163 + 1 == 356
    assert sh["comparator_count"] == 1
    dev = rep["sparse"]["device"]
    dsp = next(r for r in dev["rows"] if r["resource"] == "DSP48E1")
    assert (dsp["used"], dsp["available"]) == (224, 240) and round(100 * dsp["utilisation"]) == 93
    assert dev["fits"] and dev["limited_by"] == "DSP48E1"
    # doubling z doubles the multipliers: 448 DSPs do not fit on 240, and the check says so
    big = resource_sheet(network_cost((1024, 128, 32), (8, 16), (256, 64), width=10, P=2, clock_hz=15e6))
    assert big["dsp_slices"] == 256 + 64 + 128 == 448
    chk = device_check(big, device("xc7a100t"))
    assert not chk["fits"] and "DSP48E1" in chk["over"]
    # a 20-bit format needs 2 DSPs per product (25 x 18 multiplier)
    wide = resource_sheet(network_cost((1024, 64, 32), (4, 16), (128, 32), width=20, P=2, clock_hz=15e6))
    assert wide["dsp_slices"] == 448
    assert device_check(wide, device("xc7a100t"))["fits"] is False


def test_fc_row_memory_bits_count_stored_biases_only():
    # FC with the same z: weights 65536 + 2048 words, biases 64 + 32 words (N_i W), layers 40960 + 5120 + 640:
    # 723,520 bits. The older 728,320 gave each junction a bias memory of depth C (512 and 64 words) although
    # it holds only n = 64 and 32 biases: (512 - 64 + 64 - 32) * 10 = 4,800 bits of words never written.
    fc = cost_report(fpga_reference())["fc"]
    assert fc["totals"]["memory_bits"] == (65536 + 2048 + 64 + 32) * 10 + 40960 + 5120 + 640 == 723520
