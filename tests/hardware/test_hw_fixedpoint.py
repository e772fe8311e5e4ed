"""Fixed-point arithmetic and activation tables against the RTL testbench vectors of design/hardware.md."""

import numpy as np
import pytest
from scipy.special import expit

from predsparse.errors import InputError
from predsparse.hardware.fixedpoint import FixedFormat
from predsparse.hardware.tables import ActivationTables

F127 = FixedFormat(2, 7)


def h(word: str) -> int:
    return int(F127.from_hex(word)[0])


def hx(raw) -> str:
    return F127.to_hex(raw)[0]


@pytest.mark.parametrize(
    "a,b,out",
    [("1FF", "180", "1FF"), ("1FF", "300", "200"), ("1FF", "380", "201"), ("2AA", "380", "156"), ("2AA", "080", "2AA")],
)
def test_rtl_multiplier_vectors(a, b, out):
    assert hx(F127.mult(h(a), h(b))) == out
    # vectorised path gives the same
    assert hx(F127.mult(np.array([h(a)]), np.array([h(b)]))) == out


@pytest.mark.parametrize(
    "a,b,out", [("1FF", "1FF", "1FF"), ("1FF", "300", "0FF"), ("200", "1FF", "3FF"), ("201", "349", "200")]
)
def test_rtl_adder_vectors(a, b, out):
    assert hx(F127.add(h(a), h(b))) == out


@pytest.mark.parametrize(
    "s,act,der",
    [(0.0, "040", "01F"), (1 / 128, "040", "01F"), (-2.0, "00F", "00D"), (1.0, "05E", "019"), (0.3125, "04A", "01F")],
)
def test_rtl_sigmoid_vectors(s, act, der):
    t = ActivationTables(F127, "sigmoid")
    a, d = t(np.array([F127.quantize(s)]))
    assert (hx(a), hx(d)) == (act, der)


@pytest.mark.parametrize("delta,ad,w,partial,out", [(1, 1.5, 1.5, -1, 1.25), (1, -1.25, -1.25, -1, 0.5625)])
def test_rtl_bp_edge_vectors(delta, ad, w, partial, out):
    q = F127.quantize
    res = F127.add(q(partial), F127.mult(F127.mult(q(delta), q(ad)), q(w)))
    assert F127.to_float(res) == out


def test_multiplier_rounding_rule_by_hand():
    f = FixedFormat(3, 8)  # 12 bit, lo -2048, hi 2047
    # 0.5 LSB exactly: 1 * 128 = 128 = 2^(F-1): floor 0, bit F-1 set -> 1 (round half up)
    assert f.mult(1, 128) == 1
    assert f.mult(1, 127) == 0
    # negative half: -1 * 128 = -128: floor(-0.5) = -1, bit F-1 of -128 (two's complement ...10000000) is 1 -> 0
    assert f.mult(-1, 128) == 0
    assert f.mult(-1, 129) == -1  # -0.504 LSB -> floor -1, bit 7 of -129 is 0 -> -1
    # positive saturation never rounds above the maximum
    assert f.mult(2047, 2047) == 2047
    # negative saturation, then the round bit is still added (the spec's rule, literally): min + 1
    p = -2047 * 1984  # = -4061248 = -15865 * 256 + 192: floor far below min, bit 7 of p set
    assert (p >> 8) < f.lo and ((p >> 7) & 1) == 1
    assert f.mult(-2047, 1984) == f.lo + 1


def test_multiplier_negative_saturation_with_round_bit_in_rtl_format():
    # 0x201 (-3.99) x 0x1C0 (3.5): exact -13.97, floor << min, bit 6 set: min + 1 = 0x201
    assert hx(F127.mult(h("201"), h("1C0"))) == "201"


def test_multiplier_matches_scalar_definition_everywhere():
    f = FixedFormat(2, 5)  # 8 bit: brute force all pairs
    a, b = np.meshgrid(np.arange(f.lo, f.hi + 1), np.arange(f.lo, f.hi + 1))
    a, b = a.ravel(), b.ravel()
    got = f.mult(a, b)
    prod = a * b
    q = np.clip(prod >> f.F, f.lo, f.hi)
    want = q + (((prod >> (f.F - 1)) & 1) & (q < f.hi))
    assert np.array_equal(got, want)


def test_adders_saturate_without_rounding():
    f = FixedFormat(3, 8)
    assert f.add(2000, 100) == 2047
    assert f.add(-2000, -100) == -2048
    assert f.add(5, -7) == -2


def test_learning_rate_shift_rounds_half_up():
    f = FixedFormat(3, 8)
    # g = round(-delta / 8): delta = -12 -> 1.5 -> 2; delta = 12 -> -1.5 -> -1; delta = -4 -> 0.5 -> 1; delta = 4 -> -0.5 -> 0
    assert f.lr_step(np.array([-12, 12, -4, 4, 0, -2048]), 3).tolist() == [2, -1, 1, 0, 0, 256]
    assert f.lr_step(np.array([f.lo]), 0).tolist() == [f.hi]  # -(-2048) saturates
    # the half-even experiment (not the RTL): ties go to the even neighbour
    assert f.lr_step(np.array([-12, 12, -4, 4, -20, 20, -13]), 3, "half-even").tolist() == [2, -2, 0, 0, 2, -2, 2]


def test_pixels_at_top_of_fraction():
    pix = np.array([0, 1, 2, 3, 128, 255])
    assert FixedFormat(3, 8).from_pixels(pix).tolist() == pix.tolist()  # pix / 256
    assert FixedFormat(2, 7).from_pixels(pix).tolist() == (pix // 2).tolist()  # floor(pix/2)/128
    assert FixedFormat(3, 10).from_pixels(pix).tolist() == (pix * 4).tolist()


def test_hex_round_trip_and_format_parsing():
    f = FixedFormat.parse("1,3,8")
    assert (f.I, f.F, f.width, f.lo, f.hi) == (3, 8, 12, -2048, 2047)
    raw = np.array([f.lo, -1, 0, 1, f.hi])
    assert f.to_hex(raw) == ["800", "FFF", "000", "001", "7FF"]
    assert f.from_hex(f.to_hex(raw)).tolist() == raw.tolist()
    assert str(FixedFormat.parse("(1,2,7)")) == "(1,2,7)"
    for bad in ("1,3", "0,3,8", "1,a,8", "1,3,1", "1,20,20"):
        with pytest.raises(InputError):
            FixedFormat.parse(bad)


def test_sigmoid_tables_follow_the_formula_and_caps():
    f = FixedFormat(3, 8)
    t = ActivationTables(f, "sigmoid")
    s = np.arange(f.lo, f.hi + 1)
    sig = expit(s / 256)
    assert np.array_equal(t.act, np.minimum(np.floor(sig * 256 + 0.5), 255))
    assert np.array_equal(t.der, np.minimum(np.floor(sig * (1 - sig) * 256 + 0.5), 63))
    assert t.act.max() == 255 and t.der.max() == 63 and np.all(np.diff(t.act) >= 0)
    act, der = t.table()  # address order: s as an unsigned W-bit word
    assert act.size == 4096 and act[0] == t.act[-f.lo] and act[4095] == t.act[-f.lo - 1]


def test_relu_tables():
    f = FixedFormat(3, 8)
    t = ActivationTables(f, "relu")
    a, d = t(np.array([-5, 0, 1, 100, 255, 256, 2000]))
    assert a.tolist() == [1, 1, 1, 100, 255, 255, 255]
    assert d.tolist() == [1, 1, 255, 255, 255, 1, 1]


def test_wide_formats_compute_entries_directly():
    f = FixedFormat(7, 24)  # 32 bit: no table, same formula
    t = ActivationTables(f, "sigmoid")
    assert not t.tabulated
    s = f.quantize(np.array([-3.0, 0.0, 0.7]))
    a, d = t(s)
    assert np.allclose(f.to_float(a), expit([-3.0, 0.0, 0.7]), atol=2**-24)
    with pytest.raises(InputError):
        t.table()
    with pytest.raises(InputError):
        ActivationTables(f, "tanh")
