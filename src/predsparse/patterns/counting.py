"""How many distinct clash-free patterns exist: closed form, checked by exhaustive enumeration.

Notation (``docs/design/patterns.md``): ``p = n_in``, ``n = n_out``, ``d_out`` sweeps, ``d_in = p d_out / n``,
parallelism ``z``, depth ``D = p / z``. "Distinct" means distinct biadjacency matrices (edge sets), not
distinct seed vectors: two seed choices that give the same matrix count once.

Derivation (valid whenever ``d_in`` divides ``p``, so every sweep starts on a right-neuron boundary
and all sweeps have the same layout). Within one sweep the edges form a ``D x z`` grid (row = cycle,
column = lane); right neuron ``b`` owns the cells ``b d_in .. (b+1) d_in - 1`` in row-major order.
For lane ``l`` let its *profile* be the block of each of its ``D`` cells, and ``g_{l,b}`` the number of
its cells in block ``b``. A matrix row tells, for each memory, which addresses the right neuron reads
from it; so:

* **Type 1** (a permutation of ``0..D-1`` per memory per sweep): for the memory read by lane ``l``,
  only the *set* of addresses per block is visible, giving ``D! / prod_b g_{l,b}!`` distinct
  outcomes; per sweep ``F1 = prod_l D! / prod_b g_{l,b}!``.
* **Types 2 and 3** (memory ``m`` reads ``(phi[m] + r) mod D``): each block sees a cyclic run of
  ``g`` consecutive addresses of the memory, which fixes ``phi[m]`` unless ``g`` is 0 or ``D``; some
  block has ``0 < g < D`` unless ``d_in = p``. So ``F2 = D^z`` when ``d_in < p`` and ``F2 = 1`` when
  ``d_in = p`` (every right neuron joined to every left neuron: one matrix).
* **Memory dither** (lane ``l`` reads memory ``v[l]``): the matrix reveals which memories share each
  block, so it reveals the lane of each memory up to lanes with the same profile. With lane classes
  of equal profile of sizes ``c_1, c_2, ...``: ``K = z! / prod_i c_i!`` (``K = 1`` without dither).
* Type 1: ``(K F1)^d_out``; type 2: ``(K F2)^d_out``; type 3 (one seed vector and one dither for all
  sweeps, which are then identical): ``K F2``.

Special cases: ``d_in | z`` gives ``g = 1`` everywhere and ``z / d_in`` classes of ``d_in`` lanes, so
``K = z! / (d_in!)^(z/d_in)`` and ``F1 = (D!)^z`` - the spec's formula. ``d_in = m z`` with ``m | D``
gives ``g = m`` for ``D/m`` blocks per lane, ``F1 = (D!/(m!)^(D/m))^z`` and one lane class, ``K = 1``.

When ``d_in`` does not divide ``p`` right neurons straddle sweeps:

* type 3 still has a closed form: its sweeps repeat one seed vector and one dither, so the same
  argument runs over the profiles of all sweeps at once (``K`` from whole-network lane profiles,
  ``F = prod_l D`` over lanes with a block of ``0 < g < D`` of their cells), and no seed is ever
  rejected;
* types 1-2 without dither: lanes stay independent, so the count is an exact product over lanes,
  each factor found by walking that one lane's seed sequences (``D^d_out`` or ``(D!)^d_out``);
  seeds that would give a right neuron the same left neuron twice are not patterns;
* types 1-2 with dither: no closed form here (seeds and dither of neighbouring sweeps couple);
  :func:`enumerate_clash_free` counts small cases exactly.

Where the spec's formulas are wrong: for types 2 and 3 with ``d_in = p`` the spec's ``D^z`` counts
``D^z`` seed vectors that all give the same (complete) matrix: the right count is 1. The spec gives
no ``k`` for dither when neither ``z / d_in`` nor ``d_in / z`` is whole; ``K`` above covers it.
Everything here is checked against enumeration in ``tests/test_counting.py``.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from typing import Any

import numpy as np

from predsparse.errors import InputError
from predsparse.patterns.generators import check_clash_free, clash_free


def lane_profiles(n_in: int, d_in: int, z: int, sweeps: int = 1) -> np.ndarray:
    """``(z, sweeps * D)`` right neuron (block) of every cell of the first ``sweeps`` sweeps, per lane."""
    depth = n_in // z
    cells = np.arange(sweeps * depth)[:, None] * z + np.arange(z)[None, :]
    return (cells // d_in).T


def count_terms(
    n_in: int, n_out: int, out_degree: int, z: int, *, type: int = 2, dither: bool = False
) -> dict[str, Any]:
    """The factors of the closed form: ``k`` (dither), ``F`` (addresses), the exponent and the total.

    Types 1-2 need ``d_in | n_in``. Type 3 repeats one seed vector and one dither in every sweep, so
    it is counted over the profiles of all sweeps together and needs no alignment.
    """
    d_in, depth = check_clash_free(n_in, n_out, out_degree, z, type)
    if type in (1, 2) and n_in % d_in:
        if dither:
            raise InputError(
                f"no closed form for type {type} with dither when d_in = {d_in} does not divide n_in = {n_in} (right "
                "neurons straddle sweeps, coupling seeds and dither): count small cases with enumeration (--enumerate)"
            )
        total = _per_lane_straddle(n_in, d_in, z, out_degree, type)
        return {
            "d_in": d_in,
            "D": depth,
            "k": 1,
            "addresses": total,
            "per_sweep": None,
            "exponent": 1,
            "count": total,
            "method": "per-lane enumeration",
        }
    prof = lane_profiles(n_in, d_in, z, out_degree if type == 3 else 1)
    if dither:
        classes = Counter(tuple(row) for row in prof.tolist())
        k = math.factorial(z)
        for c in classes.values():
            k //= math.factorial(c)
    else:
        k = 1
    f = 1
    for row in prof:
        groups = Counter(row.tolist()).values()
        if type == 1:
            f *= math.factorial(depth)
            for g in groups:
                f //= math.factorial(g)
        elif any(0 < g < depth for g in groups):  # a run of g consecutive addresses fixes phi[m]
            f *= depth
    exponent = 1 if type == 3 else out_degree
    per_sweep = k * f
    return {
        "d_in": d_in,
        "D": depth,
        "k": k,
        "addresses": f,
        "per_sweep": per_sweep,
        "exponent": exponent,
        "count": per_sweep**exponent,
        "method": "closed form",
    }


def _per_lane_straddle(n_in: int, d_in: int, z: int, out_degree: int, type_: int, limit: int = 1_000_000) -> int:
    """Types 1-2 without dither when right neurons straddle sweeps: exact count, lane by lane.

    Without dither lane ``m`` always reads memory ``m``, its addresses depend on its own seeds only, and a
    repeated edge can only pair two cells of the same lane; so the count is the product over lanes of
    the distinct per-block address sets that lane's valid seed sequences produce (lanes with the same
    profile share the factor). Exact, but it walks ``D^d_out`` (type 2) or ``(D!)^d_out`` (type 1)
    seed sequences per distinct profile.
    """
    depth = n_in // z
    per_lane = math.factorial(depth) ** out_degree if type_ == 1 else depth**out_degree
    if per_lane > limit:
        raise InputError(
            f"no closed form for type {type_} when d_in = {d_in} does not divide n_in = {n_in}, and the exact lane-by-lane "
            f"count would walk {per_lane} seed sequences per lane: choose d_out so that d_in divides n_in"
        )
    prof = lane_profiles(n_in, d_in, z, out_degree)  # (z, out_degree * D)
    rows = np.arange(depth)
    cache: dict[tuple, int] = {}
    total = 1
    for row in prof.tolist():
        key = tuple(row)
        if key not in cache:
            blocks = np.array(row)
            seen = set()
            if type_ == 1:
                seqs = itertools.product(itertools.permutations(range(depth)), repeat=out_degree)
                addr_iter = (np.concatenate(sq) for sq in seqs)
            else:
                addr_iter = (
                    np.concatenate([(ph + rows) % depth for ph in phis])
                    for phis in itertools.product(range(depth), repeat=out_degree)
                )
            for addr in addr_iter:
                sets = []
                ok = True
                for b in np.unique(blocks):
                    a = addr[blocks == b]
                    if np.unique(a).size != a.size:  # the same left neuron twice in one right neuron
                        ok = False
                        break
                    sets.append(frozenset(a.tolist()))
                if ok:
                    seen.add(tuple(sets))
            cache[key] = len(seen)
        total *= cache[key]
    return total


def count_clash_free(n_in: int, n_out: int, out_degree: int, z: int, *, type: int = 2, dither: bool = False) -> int:
    """Closed-form number of distinct clash-free biadjacency matrices (Python int, exact)."""
    return count_terms(n_in, n_out, out_degree, z, type=type, dither=dither)["count"]


def spec_formula(n_in: int, n_out: int, out_degree: int, z: int, *, type: int = 2, dither: bool = False) -> int | None:
    """The formula as written in ``docs/design/patterns.md`` (``None`` where it defines no value).

    Kept to show where it agrees with :func:`count_clash_free` (everywhere it is defined, except
    types 2-3 with ``d_in = p``) - see the module notes.
    """
    d_in, depth = check_clash_free(n_in, n_out, out_degree, z, type)
    if not dither or d_in % z == 0:
        k = 1
    elif z % d_in == 0:
        k = math.factorial(z) // math.factorial(d_in) ** (z // d_in)
    else:
        return None
    if type == 1:
        if z >= d_in:
            per = math.factorial(depth) ** z
        elif d_in % z == 0 and depth % (d_in // z) == 0:
            m = d_in // z
            per = (math.factorial(depth) // math.factorial(m) ** (depth // m)) ** z
        else:
            return None
        return (k * per) ** out_degree
    if type == 2:
        return (k * depth**z) ** out_degree
    return k * depth**z


def configurations(n_in: int, n_out: int, out_degree: int, z: int, *, type: int = 2, dither: bool = False) -> int:
    """How many (seed vectors, dither permutations) choices there are (what enumeration walks)."""
    _, depth = check_clash_free(n_in, n_out, out_degree, z, type)
    if type == 1:
        seeds = math.factorial(depth) ** (z * out_degree)
    elif type == 2:
        seeds = depth ** (z * out_degree)
    else:
        seeds = depth**z
    if dither:
        seeds *= math.factorial(z) ** (1 if type == 3 else out_degree)
    return seeds


def enumerate_clash_free(
    n_in: int,
    n_out: int,
    out_degree: int,
    z: int,
    *,
    type: int = 2,
    dither: bool = False,
    limit: int = 200_000,
) -> dict[str, int]:
    """Build every clash-free pattern with ``clash_free(..., seeds=..., perms=...)`` and count distinct
    matrices. Seed choices that repeat an edge (possible only when right neurons straddle sweeps) are
    rejected by the generator and counted as ``rejected``.

    Refuses (with an error) when there are more than ``limit`` choices to walk.
    """
    _, depth = check_clash_free(n_in, n_out, out_degree, z, type)
    total = configurations(n_in, n_out, out_degree, z, type=type, dither=dither)
    if total > limit:
        raise InputError(
            f"enumeration would build {total} patterns (limit {limit}): use the closed form or a smaller case"
        )
    sweeps = 1 if type == 3 else out_degree
    if type == 1:
        per_memory = list(itertools.permutations(range(depth)))
        seed_iter: Any = (
            np.array(c, dtype=np.int64).reshape(out_degree, z, depth)
            for c in itertools.product(per_memory, repeat=z * out_degree)
        )
    else:
        shape = (z,) if type == 3 else (out_degree, z)
        seed_iter = (
            np.array(c, dtype=np.int64).reshape(shape) for c in itertools.product(range(depth), repeat=z * sweeps)
        )
    perm_list: list[Any] = [None]
    if dither:
        one = list(itertools.permutations(range(z)))
        shape_p = (z,) if type == 3 else (out_degree, z)
        perm_list = [np.array(c, dtype=np.int64).reshape(shape_p) for c in itertools.product(one, repeat=sweeps)]
    seen: set[bytes] = set()
    built = rejected = 0
    for seeds in seed_iter:
        for perms in perm_list:
            try:
                pat = clash_free(n_in, n_out, out_degree, z, type=type, dither=dither, seeds=seeds, perms=perms)
            except InputError:
                rejected += 1
                continue
            built += 1
            key = np.sort(pat.rows * n_in + pat.cols)
            seen.add(key.tobytes())
    return {"configurations": total, "built": built, "rejected": rejected, "distinct": len(seen)}
