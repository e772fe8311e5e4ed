"""Counting clash-free patterns: the closed form against exhaustive enumeration on a grid of small cases."""

from __future__ import annotations

import math

import pytest

from predsparse.errors import InputError
from predsparse.patterns.counting import (
    configurations,
    count_clash_free,
    count_terms,
    enumerate_clash_free,
    spec_formula,
)

MAX_CONFIGS = 1000  # keeps each enumeration well under a second


def regime(p: int, n: int, d_out: int, z: int) -> str:
    d_in = p * d_out // n
    if d_in == p:
        return "complete"  # d_in = p: every right neuron joined to every left neuron
    if p % d_in:
        return "straddle"  # right neurons straddle sweeps
    if z % d_in == 0:
        return "d_in|z"  # z >= d_in
    if d_in % z == 0:
        return "z|d_in"  # z < d_in: one right neuron spans several cycles
    return "neither"


def small_cases(per_group: int = 2) -> list[tuple[int, int, int, int, int, bool]]:
    """Up to ``per_group`` cases for every (regime, type, dither), with 1 < configurations <= MAX_CONFIGS."""
    groups: dict[tuple[str, int, bool], list] = {}
    for p in range(2, 13):
        for n in range(1, 13):
            for d_out in range(1, n + 1):
                if (p * d_out) % n:
                    continue
                for z in range(1, p + 1):
                    if p % z:
                        continue
                    for t in (1, 2, 3):
                        for dither in (False, True):
                            if not 1 < configurations(p, n, d_out, z, type=t, dither=dither) <= MAX_CONFIGS:
                                continue
                            g = groups.setdefault((regime(p, n, d_out, z), t, dither), [])
                            if len(g) < per_group:
                                g.append((p, n, d_out, z, t, dither))
    return [c for g in groups.values() for c in g]


CASES = small_cases()


def test_grid_covers_every_type_dither_and_regime():
    seen = {(regime(*c[:4]), c[4], c[5]) for c in CASES}
    for r in ("d_in|z", "z|d_in", "neither", "straddle", "complete"):
        for t in (1, 2, 3):
            for dither in (False, True):
                if (r, t, dither) in {("complete", 1, True)}:  # no case small enough: 1 < configs
                    continue
                assert (r, t, dither) in seen, (r, t, dither)


@pytest.mark.parametrize(
    "case", CASES, ids=lambda c: "p{}-n{}-dout{}-z{}-t{}-{}".format(*c[:5], "dither" if c[5] else "plain")
)
def test_closed_form_matches_enumeration(case):
    p, n, d_out, z, t, dither = case
    enum = enumerate_clash_free(p, n, d_out, z, type=t, dither=dither)
    assert enum["built"] + enum["rejected"] == enum["configurations"]
    if regime(p, n, d_out, z) == "straddle" and t in (1, 2) and dither:
        with pytest.raises(InputError, match="no closed form"):
            count_clash_free(p, n, d_out, z, type=t, dither=dither)
        return
    assert count_clash_free(p, n, d_out, z, type=t, dither=dither) == enum["distinct"]


def test_spec_table_values():
    # design/patterns.md: (p, d_out, n, z) = (9, 2, 6, 3): 46656 / 729 / 27; (12, 2, 12, 4): 6561 / 81; (8, 2, 8, 4): 256 / 16
    assert count_clash_free(9, 6, 2, 3, type=1) == 46656
    assert count_clash_free(9, 6, 2, 3, type=2) == 729
    assert count_clash_free(9, 6, 2, 3, type=3) == 27
    assert count_clash_free(12, 12, 2, 4, type=2) == 6561
    assert count_clash_free(12, 12, 2, 4, type=3) == 81
    assert count_clash_free(8, 8, 2, 4, type=2) == 256
    assert count_clash_free(8, 8, 2, 4, type=3) == 16
    assert enumerate_clash_free(9, 6, 2, 3, type=2)["distinct"] == 729
    assert enumerate_clash_free(9, 6, 2, 3, type=3)["distinct"] == 27
    assert enumerate_clash_free(8, 8, 2, 4, type=2)["distinct"] == 256
    assert enumerate_clash_free(12, 12, 2, 4, type=3)["distinct"] == 81


@pytest.mark.slow
def test_spec_table_type1_by_enumeration():
    assert enumerate_clash_free(9, 6, 2, 3, type=1)["distinct"] == 46656


def test_dither_k_by_hand():
    # d_in | z: k = z! / (d_in!)^(z/d_in). p=8, n=8, d_out=2 (d_in=2), z=4 (D=2): k = 24 / (2*2) = 6
    t = count_terms(8, 8, 2, 4, type=2, dither=True)
    assert t["k"] == 6
    assert t["count"] == (6 * 2**4) ** 2
    # z | d_in (d_in = 2z): every block covers whole rows, dither cannot change the matrix
    assert count_terms(8, 4, 2, 2, type=2, dither=True)["k"] == 1
    # neither: z=4, d_in=6, p=12 (D=3): lanes 0,1 share profile (0,0,1), lanes 2,3 share (0,1,1): k = 4!/(2!2!) = 6
    t = count_terms(12, 2, 1, 4, type=1, dither=True)
    assert t["k"] == 6
    assert t["addresses"] == 3**4  # each lane: 3!/(2!1!) = 3 address splits
    assert t["count"] == 6 * 81


def test_z_divides_d_in_type1_by_hand():
    # d_in = m z with m | D: per sweep (D! / (m!)^(D/m))^z. p=8, z=2 (D=4), d_in=4 (m=2): (24/4)^2 = 36 per sweep
    assert count_clash_free(8, 4, 2, 2, type=1) == 36**2
    assert count_clash_free(8, 4, 2, 2, type=1) == enumerate_clash_free(8, 4, 2, 2, type=1, limit=10**6)["distinct"]


def test_spec_formula_agrees_except_complete_case():
    checked = 0
    for p, n, d_out, z, t, dither in CASES:
        spec = spec_formula(p, n, d_out, z, type=t, dither=dither)
        if spec is None or regime(p, n, d_out, z) == "straddle":
            continue
        ours = count_clash_free(p, n, d_out, z, type=t, dither=dither)
        if regime(p, n, d_out, z) == "complete" and t in (2, 3):
            assert ours == 1 and (spec > 1 or p // z == 1)  # the spec's D^z over-counts identical matrices
        else:
            assert spec == ours, (p, n, d_out, z, t, dither)
        checked += 1
    assert checked > 20


def test_complete_junction_has_one_pattern():
    # d_in = p: n = d_out right neurons, each joined to all p left neurons; the spec's type-2 formula says D^(z d_out)
    assert enumerate_clash_free(4, 2, 2, 2, type=2)["distinct"] == 1
    assert count_clash_free(4, 2, 2, 2, type=2) == 1
    assert spec_formula(4, 2, 2, 2, type=2) == 16


def test_big_integers_are_exact():
    p, n, d_out, z = 1024, 64, 4, 128
    depth, d_in = p // z, p * d_out // n
    k = math.factorial(z) // math.factorial(d_in) ** (z // d_in)
    assert count_clash_free(p, n, d_out, z, type=1, dither=True) == (k * math.factorial(depth) ** z) ** d_out
    assert count_clash_free(p, n, d_out, z, type=2) == depth ** (z * d_out)
    assert count_clash_free(p, n, d_out, z, type=3, dither=True) == k * depth**z


def test_errors():
    with pytest.raises(InputError, match="does not divide"):
        count_clash_free(10, 5, 1, 3)
    with pytest.raises(InputError, match="not whole"):
        count_clash_free(10, 4, 1, 2)
    with pytest.raises(InputError, match="limit"):
        enumerate_clash_free(64, 16, 2, 8, type=1, limit=1000)
    with pytest.raises(InputError, match="type"):
        count_clash_free(8, 8, 2, 4, type=4)
