"""Pattern generators: degrees, edge counts, clash freedom per cycle, the worked example, bad input."""

from __future__ import annotations

import itertools

import pytest

from predsparse import patterns as P
from predsparse.errors import InputError

SHAPES = [(8, 4), (4, 8), (12, 12), (30, 20), (20, 30), (64, 16), (7, 7), (1, 5), (5, 1)]


def valid_out_degrees(p: int, n: int) -> list[int]:
    return [d for d in range(1, n + 1) if (p * d) % n == 0]


@pytest.mark.parametrize("p,n", SHAPES)
def test_structured_exact_degrees_all_valid_d_out(p, n):
    for d_out in valid_out_degrees(p, n):
        for seed in range(3):
            pat = P.structured(p, n, d_out, seed=seed)
            a = pat.to_dense()
            assert (a.sum(axis=0) == d_out).all()
            assert (a.sum(axis=1) == p * d_out // n).all()
            assert pat.edges == p * d_out == a.sum()
            assert not pat.has_duplicates()
            assert pat.in_degree == p * d_out // n and pat.out_degree == d_out


def test_structured_extremes_and_dense_cases_do_not_hang():
    full = P.structured(50, 40, 40, seed=0)
    assert full.to_dense().all()
    one = P.structured(40, 40, 1, seed=0)
    assert (one.to_dense().sum(0) == 1).all() and (one.to_dense().sum(1) == 1).all()
    near_full = P.structured(100, 100, 99, seed=1)
    assert (near_full.to_dense().sum(0) == 99).all() and (near_full.to_dense().sum(1) == 99).all()
    half = P.structured(200, 100, 50, seed=2)
    assert (half.to_dense().sum(1) == 100).all()


def test_structured_differs_by_seed_and_repeats_by_seed():
    a, b, c = (P.structured(30, 20, 4, seed=s) for s in (0, 0, 1))
    assert a == b
    assert not a.same_matrix(c)


@pytest.mark.parametrize("p,n", SHAPES)
def test_random_exact_edge_count(p, n):
    for seed in range(3):
        for edges in {1, max(1, p * n // 3), p * n}:
            pat = P.random(p, n, edges=edges, seed=seed)
            assert pat.edges == edges == pat.to_dense().sum()
            assert not pat.has_duplicates()


def test_random_density_and_reports_dead_neurons():
    pat = P.random(100, 50, density=0.01, seed=0)
    assert pat.edges == 50
    dead = pat.dead_neurons()
    assert len(dead["no_input"]) > 0 and len(dead["no_output"]) > 0  # 50 edges cannot cover 100 left neurons
    assert pat.summary()["left_without_output"] == len(dead["no_output"])


def test_worked_interleaver_example():
    pat = P.clash_free(8, 4, 2, 4, type=2, seeds=[[1, 0, 1, 0], [0, 0, 1, 1]])
    assert pat.cols.reshape(4, 4).tolist() == [[4, 1, 6, 3], [0, 5, 2, 7], [0, 1, 6, 7], [4, 5, 2, 3]]
    rows = ["".join(map(str, r)) for r in pat.to_dense()]
    assert rows == ["01011010", "10100101", "11000011", "00111100"]
    assert (pat.to_dense().sum(1) == 4).all() and (pat.to_dense().sum(0) == 2).all()


def cycles_are_clash_free(pat: P.Pattern, z: int) -> bool:
    """Every clock cycle's z reads hit z different memories (left neuron mod z)."""
    mem = (pat.cols % z).reshape(-1, z)
    return all(len(set(row.tolist())) == z for row in mem)


CLASH_CASES = [
    (8, 4, 2, 4),
    (9, 6, 2, 3),
    (12, 12, 2, 4),
    (12, 8, 2, 4),
    (16, 8, 4, 8),
    (10, 4, 2, 5),
    (24, 16, 4, 6),
    (32, 4, 1, 8),
    (12, 6, 3, 6),
    (8, 8, 8, 4),
]


@pytest.mark.parametrize("p,n,d_out,z", CLASH_CASES)
@pytest.mark.parametrize("ctype", [1, 2, 3])
@pytest.mark.parametrize("dither", [False, True])
def test_clash_free_per_cycle_and_degrees(p, n, d_out, z, ctype, dither):
    for seed in range(4):
        pat = P.clash_free(p, n, d_out, z, type=ctype, dither=dither, seed=seed)
        assert cycles_are_clash_free(pat, z)
        a = pat.to_dense()
        assert (a.sum(0) == d_out).all() and (a.sum(1) == p * d_out // n).all()
        assert not pat.has_duplicates()
        # each sweep (D cycles) reads every left neuron exactly once
        sweeps = pat.cols.reshape(d_out, p)
        assert all(sorted(s.tolist()) == list(range(p)) for s in sweeps)


def test_clash_free_types_structure():
    p, n, d_out, z = 12, 6, 3, 4
    depth = p // z
    t3 = P.clash_free(p, n, d_out, z, type=3, seed=5)
    addr3 = (t3.cols // z).reshape(d_out, depth, z)
    assert (addr3 == addr3[0]).all()  # type 3: the same seed vector every sweep
    t2 = P.clash_free(p, n, d_out, z, type=2, seed=5)
    addr2 = (t2.cols // z).reshape(d_out, depth, z)
    assert ((addr2[:, 1:, :] - addr2[:, :-1, :]) % depth == 1).all()  # +1 mod D each cycle
    t3d = P.clash_free(p, n, d_out, z, type=3, dither=True, seed=5)
    mem = (t3d.cols % z).reshape(d_out, depth, z)
    assert (mem == mem[0, 0]).all()  # type 3 keeps one dither permutation


def test_clash_free_compact_roundtrip(tmp_path):
    for ctype, dither in itertools.product((1, 2, 3), (False, True)):
        pat = P.clash_free(24, 16, 4, 6, type=ctype, dither=dither, seed=7)
        f = tmp_path / f"p{ctype}{dither}.json"
        P.save(pat, f)
        assert P.load(f) == pat
        again = P.clash_free(
            24, 16, 4, 6, type=ctype, dither=dither, seeds=pat.params["seeds"], perms=pat.params["perms"]
        )
        assert again == pat


def test_pattern_npz_roundtrip(tmp_path):
    for pat in (P.random(20, 10, density=0.3, seed=1), P.structured(20, 10, 3, seed=2), P.fully_connected(3, 4)):
        f = tmp_path / "x.npz"
        P.save(pat, f)
        back = P.load(f)
        assert back == pat and back.kind == pat.kind


def test_d_in_greater_than_z_no_repeated_edges():
    # d_in = 8 > z = 4 : a right neuron spans two cycles
    for ctype in (1, 2, 3):
        for seed in range(5):
            pat = P.clash_free(16, 4, 2, 4, type=ctype, seed=seed)
            assert not pat.has_duplicates()
            assert cycles_are_clash_free(pat, 4)


@pytest.mark.parametrize(
    "call,needle",
    [
        (lambda: P.structured(10, 4, 3), "not whole"),
        (lambda: P.clash_free(10, 5, 2, 3), "does not divide"),
        (lambda: P.structured(0, 4, 1), "positive whole number"),
        (lambda: P.structured(-3, 4, 1), "positive whole number"),
        (lambda: P.random(4, 4, density=0.0), "outside (0, 1]"),
        (lambda: P.random(4, 4, density=1.5), "outside (0, 1]"),
        (lambda: P.random(4, 4, density=float("nan")), "outside (0, 1]"),
        (lambda: P.structured(4, 4, 5), "exceeds n_out"),
        (lambda: P.clash_free(8, 4, 2, 4, type=4), "type"),
        (lambda: P.clash_free(8, 4, 2, 4, seeds=[[5, 0, 0, 0], [0, 0, 0, 0]]), "0..D-1"),
        (lambda: P.make("banana", 4, 4, 1), "not one of"),
        (lambda: P.network([784, 100, 10], [10, 10]), "junction 1"),
        (lambda: P.network([8, 4], [2], "clash-free"), "need z"),
    ],
)
def test_invalid_inputs_one_clear_message(call, needle):
    with pytest.raises(InputError) as exc:
        call()
    msg = str(exc.value)
    assert needle in msg and "\n" not in msg


def test_network_helpers():
    net = P.network([784, 112, 10], [16, 10], "clash-free", z=[112, 56], seed=3)
    assert net.d_in_net == [112, 112]
    assert net.d_out_net == [16, 10]
    assert net.edges == 784 * 16 + 112 * 10
    assert net.rho_net == pytest.approx((784 * 16 + 1120) / (784 * 112 + 1120))
    assert net.densities == pytest.approx([16 / 112, 1.0])
    assert net.parameters == net.edges + 122
    fc = P.network([5, 3, 2], None, "fc")
    assert fc.rho_net == 1.0
    s = P.network([20, 10, 5], [5, 5], "random", seed=0).summary()
    assert set(s) >= {"N_net", "d_in_net", "rho_net", "junction_densities", "dead_neurons"}


def test_out_degrees_for_density():
    from predsparse.patterns.network import out_degrees_for_density

    # 784 * d_out must be a multiple of 100, so d_out is a multiple of 25: 25 is the smallest valid one
    assert out_degrees_for_density([784, 100, 10], 0.2) == [25, 2]
    assert out_degrees_for_density([784, 200, 10], 0.2) == [25, 2]  # 784*25/200 = 98 in-degree
    assert out_degrees_for_density([64, 1024, 64], [0.125, 0.5]) == [128, 32]


@pytest.mark.parametrize(
    "p,n,d_out,z", [(9, 6, 4, 3), (12, 8, 6, 4), (20, 8, 6, 4), (24, 16, 6, 4), (800, 100, 40, 200)]
)
@pytest.mark.parametrize("ctype", [1, 2, 3])
@pytest.mark.parametrize("dither", [False, True])
def test_straddling_right_neurons_get_no_repeated_edge(p, n, d_out, z, ctype, dither):
    # d_out does not divide n, so d_in does not divide p: a right neuron spans the end of one sweep and
    # the start of the next (800->100 with d_out 40 needs the per-memory draw: random redraws never succeed)
    for seed in range(3):
        pat = P.clash_free(p, n, d_out, z, type=ctype, dither=dither, seed=seed)
        assert not pat.has_duplicates()
        assert cycles_are_clash_free(pat, z)
        a = pat.to_dense()
        assert (a.sum(0) == d_out).all() and (a.sum(1) == p * d_out // n).all()
        again = P.clash_free(
            p, n, d_out, z, type=ctype, dither=dither, seeds=pat.params["seeds"], perms=pat.params["perms"]
        )
        assert again == pat


def test_explicit_seeds_that_repeat_an_edge_are_rejected():
    # p=9, n=6, d_out=4 (d_in=6), z=3, D=3: right neuron 1 takes sweep 0's last 3 reads and sweep 1's first 3;
    # type 2 with the same seed vector in both sweeps reads row 2 then row 0 of each memory: addresses
    # phi+2 and phi differ, so make sweep 1's seed phi+2 to force a repeat
    with pytest.raises(InputError, match="straddles sweeps 0 and 1"):
        P.clash_free(9, 6, 4, 3, type=2, seeds=[[0, 0, 0], [2, 2, 2], [0, 0, 0], [0, 0, 0]])
