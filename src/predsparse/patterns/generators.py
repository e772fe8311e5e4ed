"""Pattern generators: random, structured, clash-free (types 1/2/3, memory dither), fully connected.

Notation follows ``docs/design/patterns.md``: ``p = n_in`` left neurons, ``n = n_out`` right neurons,
``d_out`` edges per left neuron, ``d_in = p d_out / n`` per right neuron, parallelism ``z``,
memory depth ``D = p / z``. Every generator is seeded and validated before any work.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from predsparse.errors import InputError
from predsparse.patterns.core import Pattern, check_size


# --- validation ------------------------------------------------------------------------------
def in_degree_for(n_in: int, n_out: int, out_degree: int) -> int:
    """``d_in = n_in * d_out / n_out``, which must be a whole number (fixed-degree patterns)."""
    check_size(n_in, "n_in")
    check_size(n_out, "n_out")
    check_size(out_degree, "out_degree")
    if out_degree > n_out:
        raise InputError(f"out_degree {out_degree} exceeds n_out {n_out}: a left neuron has at most n_out edges")
    if (n_in * out_degree) % n_out:
        raise InputError(
            f"d_in = n_in*d_out/n_out = {n_in}*{out_degree}/{n_out} = {n_in * out_degree / n_out:g} is not whole: "
            "choose d_out so that n_out divides n_in*d_out"
        )
    return n_in * out_degree // n_out


# --- random ----------------------------------------------------------------------------------
def random(n_in: int, n_out: int, *, density: float | None = None, edges: int | None = None, seed: int = 0) -> Pattern:
    """Exactly ``edges`` (or ``round(density * n_in * n_out)``) edges placed uniformly at random.

    Degrees vary; neurons left without edges are reported by :meth:`Pattern.dead_neurons`, not an error.
    """
    check_size(n_in, "n_in")
    check_size(n_out, "n_out")
    total = n_in * n_out
    if (density is None) == (edges is None):
        raise InputError("give exactly one of density or edges for a random pattern")
    if density is not None:
        if not (isinstance(density, (int, float)) and np.isfinite(density) and 0 < density <= 1):
            raise InputError(f"density {density!r} is outside (0, 1]")
        edges = int(round(density * total))
        if edges == 0:
            raise InputError(f"density {density} of {n_out}x{n_in} gives 0 edges: a pattern needs at least one edge")
    assert edges is not None
    check_size(edges, "edges")
    if edges > total:
        raise InputError(f"edges {edges} exceeds n_in*n_out = {total}")
    rng = np.random.default_rng(seed)
    if edges > total // 2:
        keep = np.ones(total, dtype=bool)
        keep[rng.choice(total, size=total - edges, replace=False)] = False
        flat = np.flatnonzero(keep)
    else:
        flat = np.sort(rng.choice(total, size=edges, replace=False))
    rows, cols = np.divmod(flat.astype(np.int64), n_in)
    return Pattern(n_in, n_out, rows, cols, kind="random", params={"edges": edges, "seed": seed})


# --- structured ------------------------------------------------------------------------------
def structured(n_in: int, n_out: int, out_degree: int, *, seed: int = 0) -> Pattern:
    """Every left neuron has ``d_out`` edges, every right neuron ``d_in``, no repeated edge.

    Random biregular bipartite graph by stub matching, duplicates repaired by degree-preserving edge
    swaps. Above half density the complement (also biregular) is drawn instead, so the repair never
    struggles on dense cases.
    """
    d_in = in_degree_for(n_in, n_out, out_degree)
    params = {"out_degree": out_degree, "seed": seed}
    if out_degree == n_out:
        return _full(n_in, n_out, "structured", params)
    rng = np.random.default_rng(seed)
    if 2 * out_degree > n_out:
        comp = _stub_match(n_in, n_out, n_out - out_degree, n_in - d_in, rng)
        mask = np.ones(n_out * n_in, dtype=bool)
        mask[comp] = False
        flat = np.flatnonzero(mask)
    else:
        flat = _stub_match(n_in, n_out, out_degree, d_in, rng)
    rows, cols = np.divmod(np.sort(flat), n_in)
    return Pattern(n_in, n_out, rows, cols, kind="structured", params=params)


def _stub_match(n_in: int, n_out: int, d_out: int, d_in: int, rng: np.random.Generator) -> np.ndarray:
    """Flat indices ``row * n_in + col`` of a simple biregular graph (d_out <= n_out / 2)."""
    rows = np.repeat(np.arange(n_out, dtype=np.int64), d_in)
    cols = rng.permutation(np.repeat(np.arange(n_in, dtype=np.int64), d_out))
    key = rows * n_in + cols
    order = np.argsort(key, kind="stable")
    sk = key[order]
    dup_pos = order[1:][sk[1:] == sk[:-1]]
    if dup_pos.size:
        counts: dict[int, int] = {}
        for k in key.tolist():
            counts[k] = counts.get(k, 0) + 1
        m = rows.size
        for i in dup_pos.tolist():
            ri = int(rows[i])
            for _ in range(100000):
                t = int(rng.integers(m))
                rt, ci, ct = int(rows[t]), int(cols[i]), int(cols[t])
                if rt == ri or ct == ci:
                    continue
                a, b = ri * n_in + ct, rt * n_in + ci
                if counts.get(a, 0) or counts.get(b, 0):
                    continue
                # swap left ends: (ri,ci),(rt,ct) -> (ri,ct),(rt,ci); degrees unchanged
                for old in (ri * n_in + ci, rt * n_in + ct):
                    counts[old] -= 1
                counts[a] = 1
                counts[b] = 1
                cols[i], cols[t] = ct, ci
                break
            else:  # pragma: no cover - only for pathological tiny cases
                raise InputError(
                    f"could not build a simple {n_out}x{n_in} pattern with d_out={d_out}; try another seed"
                )
        key = rows * n_in + cols
    return key


def fully_connected(n_in: int, n_out: int) -> Pattern:
    """Every left neuron joined to every right neuron (``d_out = n_out``)."""
    check_size(n_in, "n_in")
    check_size(n_out, "n_out")
    return _full(n_in, n_out, "fc", {})


def _full(n_in: int, n_out: int, kind: str, params: dict[str, Any]) -> Pattern:
    rows = np.repeat(np.arange(n_out, dtype=np.int64), n_in)
    cols = np.tile(np.arange(n_in, dtype=np.int64), n_out)
    return Pattern(n_in, n_out, rows, cols, kind=kind, params=params)


# --- clash-free ------------------------------------------------------------------------------
def check_clash_free(n_in: int, n_out: int, out_degree: int, z: int, type_: int) -> tuple[int, int]:
    """Validate a clash-free junction; returns ``(d_in, D)`` with memory depth ``D = n_in / z``."""
    d_in = in_degree_for(n_in, n_out, out_degree)
    check_size(z, "z")
    if type_ not in (1, 2, 3):
        raise InputError(f"clash-free type {type_!r} is not one of 1, 2, 3")
    if n_in % z:
        raise InputError(
            f"z = {z} does not divide n_in = {n_in}: clash-free patterns need z | n_in (memory depth n_in/z)"
        )
    return d_in, n_in // z


def clash_free(
    n_in: int,
    n_out: int,
    out_degree: int,
    z: int,
    *,
    type: int = 2,
    dither: bool = False,
    seed: int = 0,
    seeds: Any = None,
    perms: Any = None,
    clash_type: int | None = None,
) -> Pattern:
    """Hardware-friendly interleaver pattern: every clock cycle reads each of the ``z`` memories once.

    Left neuron ``l`` lives in memory ``l % z`` at address ``l // z``. Edge ``e`` (right neuron
    ``e // d_in``) is read in cycle ``c = e // z`` by lane ``j = e % z``; sweep ``s = c // D``, row
    ``r = c % D``; the lane reads memory ``v_s[j]`` at address ``t_s[r, v_s[j]]``.

    Type 1: each memory visits its addresses in its own random order per sweep; ``seeds`` shape
    ``(d_out, z, D)`` (a permutation of ``0..D-1`` per sweep and memory). Type 2: one seed vector per
    sweep, memory ``m`` reads ``(phi_s[m] + r) mod D``; ``seeds`` shape ``(d_out, z)``. Type 3: one
    seed vector for all sweeps; ``seeds`` shape ``(z,)``. ``dither`` permutes which memory each lane
    reads (``perms`` shape ``(d_out, z)`` for types 1-2, ``(z,)`` for type 3).

    Explicit ``seeds``/``perms`` replace the random draw (``seed`` is then unused). When ``d_in`` does
    not divide ``n_in`` a right neuron can straddle two sweeps; random draws that would repeat an edge
    there are redrawn, explicit ones are rejected with an error.

    ``clash_type`` is the project's spelling of ``type`` (the design's fixed name, kept): give either.
    """
    if clash_type is not None:
        if type != 2 and type != clash_type:
            raise InputError(f"clash_type={clash_type!r} and type={type!r} disagree: give one")
        type = clash_type
    d_in, depth = check_clash_free(n_in, n_out, out_degree, z, type)
    rng = np.random.default_rng(seed)
    explicit = seeds is not None
    if explicit and dither and perms is None:
        raise InputError("explicit seeds with dither on need explicit perms too (the compact form stores both)")
    addr = _addresses(type, out_degree, z, depth, seeds, rng)  # (d_out, D, z): address read from memory m
    mem = _memories(type, out_degree, z, dither, perms, rng)  # (d_out, z): memory read by lane j
    left = _left_neurons(addr, mem, z)
    if n_in % d_in:
        # A right neuron straddles each sweep boundary. Type 3 never repeats an edge there (a lane reads the
        # same memory at the same offset in every sweep, and a neuron's tail and head use different lanes
        # or rows); types 1 and 2 draw each later sweep's addresses per memory among those that do not.
        for s in range(1, out_degree):
            if not _repeats_at_boundary(left, s, n_in, d_in):
                continue
            if explicit:
                raise InputError(
                    f"the given seed vectors repeat an edge of the right neuron that straddles sweeps {s - 1} and {s} "
                    f"(d_in = {d_in} does not divide n_in = {n_in}); choose other seeds"
                )
            addr[s], mem[s] = _redraw_sweep(type, addr, mem, s, n_in, d_in, z, depth, dither, perms is None, rng)
            left[s] = _left_neurons(addr[s : s + 1], mem[s : s + 1], z)[0]
    cols = left.reshape(-1)
    rows = np.arange(cols.size, dtype=np.int64) // d_in
    params: dict[str, Any] = {
        "n_in": n_in,
        "n_out": n_out,
        "out_degree": out_degree,
        "z": z,
        "type": type,
        "dither": bool(dither),
        "seed": None if explicit else seed,
        "seeds": _compact_seeds(type, addr),
        "perms": (mem[0] if type == 3 else mem).tolist() if dither else None,
    }
    return Pattern(n_in, n_out, rows, cols, kind="clash_free", params=params)


def _addresses(type_: int, d_out: int, z: int, depth: int, seeds: Any, rng: np.random.Generator) -> np.ndarray:
    """Address table ``addr[s, r, m]`` read from memory ``m`` in row ``r`` of sweep ``s``."""
    r = np.arange(depth)
    if type_ == 1:
        if seeds is None:
            perm = rng.permuted(np.broadcast_to(r, (d_out, z, depth)).copy(), axis=2)
        else:
            perm = np.asarray(seeds, dtype=np.int64)
            if perm.shape != (d_out, z, depth):
                raise InputError(f"type-1 seeds have shape {perm.shape}: need (d_out, z, D) = {(d_out, z, depth)}")
            if not (np.sort(perm, axis=2) == r).all():
                raise InputError("type-1 seeds must hold a permutation of 0..D-1 for every sweep and memory")
        return np.ascontiguousarray(perm.transpose(0, 2, 1))
    if seeds is None:
        phi = rng.integers(0, depth, size=(1 if type_ == 3 else d_out, z))
    else:
        phi = np.asarray(seeds, dtype=np.int64)
        if type_ == 3 and phi.ndim == 1:
            phi = phi[None, :]
        want = (1 if type_ == 3 else d_out, z)
        if phi.shape != want:
            raise InputError(f"type-{type_} seed vectors have shape {phi.shape}: need {want}")
        if phi.min() < 0 or phi.max() >= depth:
            raise InputError(f"seed vector entries must lie in 0..D-1 = 0..{depth - 1}")
    if type_ == 3:
        phi = np.repeat(phi, d_out, axis=0)
    return (phi[:, None, :] + r[None, :, None]) % depth


def _memories(type_: int, d_out: int, z: int, dither: bool, perms: Any, rng: np.random.Generator) -> np.ndarray:
    """``mem[s, j]``: memory read by lane ``j`` in sweep ``s`` (identity without dither)."""
    if not dither:
        if perms is not None:
            raise InputError("perms given but dither is off: pass dither=True to use dither permutations")
        return np.broadcast_to(np.arange(z), (d_out, z)).copy()
    if perms is None:
        if type_ == 3:
            return np.broadcast_to(rng.permutation(z), (d_out, z)).copy()
        return np.stack([rng.permutation(z) for _ in range(d_out)])
    v = np.asarray(perms, dtype=np.int64)
    if type_ == 3 and v.ndim == 1:
        v = np.broadcast_to(v, (d_out, z)).copy()
    if v.shape != (d_out, z) or not (np.sort(v, axis=1) == np.arange(z)).all():
        raise InputError(f"dither perms must be permutations of 0..z-1 with shape {(d_out, z)} (or (z,) for type 3)")
    return v


def _left_neurons(addr: np.ndarray, mem: np.ndarray, z: int) -> np.ndarray:
    """Left neuron per (sweep, row, lane): ``addr[s, r, mem[s, j]] * z + mem[s, j]``."""
    s_count, depth, _ = addr.shape
    a = np.take_along_axis(addr, np.broadcast_to(mem[:, None, :], (s_count, depth, z)), axis=2)
    return (a * z + mem[:, None, :]).reshape(s_count, depth * z)


def _repeats_at_boundary(left: np.ndarray, s: int, n_in: int, d_in: int) -> bool:
    """Does the right neuron straddling the start of sweep ``s`` get the same left neuron twice?"""
    start = s * n_in
    first = (start // d_in) * d_in
    if first == start:
        return False
    flat_prev = left[s - 1]
    tail = flat_prev[first - (s - 1) * n_in :]
    head = left[s][: first + d_in - start]
    return bool(np.intersect1d(tail, head).size)


def _boundary_reads(mem: np.ndarray, s: int, n_in: int, d_in: int, z: int, depth: int) -> tuple[np.ndarray, np.ndarray]:
    """For the right neuron straddling the start of sweep ``s``: ``tail[m, r]`` (memory ``m`` read in row
    ``r`` of sweep ``s-1`` for it) and ``head[m, r]`` (the same in sweep ``s``), as boolean ``(z, D)``."""
    start = s * n_in
    first = (start // d_in) * d_in
    tail_pos = np.arange(first - (s - 1) * n_in, n_in)
    head_pos = np.arange(0, first + d_in - start)
    tail = np.zeros((z, depth), bool)
    head = np.zeros((z, depth), bool)
    tail[mem[s - 1][tail_pos % z], tail_pos // z] = True
    head[mem[s][head_pos % z], head_pos // z] = True
    return tail, head


def _redraw_sweep(
    type_: int,
    addr: np.ndarray,
    mem: np.ndarray,
    s: int,
    n_in: int,
    d_in: int,
    z: int,
    depth: int,
    dither: bool,
    may_redither: bool,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Sweep ``s``'s address table drawn memory by memory so that the straddling right neuron gets no
    left neuron twice: each memory's head addresses avoid the addresses it gave that neuron in sweep ``s-1``.
    Type 2 draws each seed entry uniformly among the safe ones; type 1 draws a uniform permutation whose
    head rows hold only safe addresses.

    With the drawn dither permutation kept, this can fail; with dither (and random perms) sweep ``s``'s
    permutation is then chosen systematically: a lane reading ``k`` head rows may read memory ``m`` only if
    ``m`` has room for ``k`` safe addresses (type 1: ``k`` free addresses; type 2: a cyclic run of ``k``
    free addresses), and a perfect lane-to-memory matching under that rule is found with seeded random
    costs (``scipy.optimize.linear_sum_assignment``). Such a matching always exists for tails and heads
    formed by consecutive edges (each memory's free count/run is ``D - a`` or ``D - a - 1`` with
    ``a + k < D``), so a random draw never fails; the error remains for explicit perms."""
    drawn = _draw_addresses(type_, addr, mem, mem[s], s, n_in, d_in, z, depth, rng)
    if drawn is not None:
        return drawn, mem[s].copy()
    if dither and may_redither:
        cur_mem = _match_lanes(type_, addr, mem, s, n_in, d_in, z, depth, rng)
        if cur_mem is not None:
            drawn = _draw_addresses(type_, addr, mem, cur_mem, s, n_in, d_in, z, depth, rng)
            if drawn is not None:
                return drawn, cur_mem
        how = "no assignment of memories to lanes gives every head lane enough safe addresses"
    else:
        how = "with the lanes' memories fixed (no dither, or explicit perms) some memory has too few safe addresses"
    raise InputError(
        f"no clash-free type-{type_} sweep {s} avoids repeating an edge of the right neuron straddling sweeps "
        f"{s - 1} and {s} (d_in = {d_in} does not divide n_in = {n_in}, memory depth {depth}): {how}"
    )


def _used_addresses(addr: np.ndarray, mem: np.ndarray, s: int, n_in: int, d_in: int, z: int, depth: int) -> np.ndarray:
    """``used[m, a]``: memory ``m`` gave the neuron straddling into sweep ``s`` address ``a`` in sweep ``s-1``."""
    tail, _ = _boundary_reads(mem, s, n_in, d_in, z, depth)
    used = np.zeros((z, depth), bool)
    mm, rr = np.nonzero(tail)
    used[mm, addr[s - 1][rr, mm]] = True
    return used


def _draw_addresses(
    type_: int,
    addr: np.ndarray,
    mem: np.ndarray,
    cur_mem: np.ndarray,
    s: int,
    n_in: int,
    d_in: int,
    z: int,
    depth: int,
    rng: np.random.Generator,
) -> np.ndarray | None:
    """Sweep ``s``'s addresses for lane memories ``cur_mem`` avoiding the straddling neuron's tail, or None."""
    m_all = mem.copy()
    m_all[s] = cur_mem
    _, head = _boundary_reads(m_all, s, n_in, d_in, z, depth)
    used = _used_addresses(addr, mem, s, n_in, d_in, z, depth)
    rows = np.arange(depth)
    if type_ == 2:
        phi = np.arange(depth)
        # clash[m, f]: seed f for memory m would repeat an address of the tail
        clash = np.zeros((z, depth), bool)
        for r in rows:
            clash |= head[:, r, None] & used[:, (phi + r) % depth]
        if not (~clash).any(axis=1).all():
            return None
        pick = np.where(clash, -1.0, rng.random((z, depth))).argmax(axis=1)
        return (pick[None, :] + rows[:, None]) % depth
    perm = np.empty((depth, z), np.int64)
    for m in range(z):
        hrows = np.flatnonzero(head[m])
        free = np.flatnonzero(~used[m])
        if free.size < hrows.size:
            return None
        chosen = rng.permutation(free)[: hrows.size]
        rest = rng.permutation(np.setdiff1d(rows, chosen))
        col = np.empty(depth, np.int64)
        col[hrows] = chosen
        col[np.setdiff1d(rows, hrows)] = rest
        perm[:, m] = col
    return perm


def _match_lanes(
    type_: int,
    addr: np.ndarray,
    mem: np.ndarray,
    s: int,
    n_in: int,
    d_in: int,
    z: int,
    depth: int,
    rng: np.random.Generator,
) -> np.ndarray | None:
    """A dither permutation for sweep ``s`` (lane -> memory) under which every head lane's memory can give it
    safe addresses; uniform random costs make the choice seeded and varied. None when no matching exists."""
    from scipy.optimize import linear_sum_assignment

    used = _used_addresses(addr, mem, s, n_in, d_in, z, depth)
    start = s * n_in
    first = (start // d_in) * d_in
    h = first + d_in - start  # head length: the straddling neuron's edges in sweep s
    lanes = np.arange(z)
    need = h // z + (lanes < h % z)  # head rows per lane (rows 0..need-1)
    if type_ == 2:
        # room[m]: longest cyclic run of free addresses (a type-2 memory reads consecutive addresses)
        room = np.empty(z, np.int64)
        for m in range(z):
            free = ~used[m]
            if free.all():
                room[m] = depth
                continue
            run = best = 0
            for v in np.concatenate([free, free]):
                run = run + 1 if v else 0
                best = max(best, run)
            room[m] = min(best, depth)
    else:
        room = depth - used.sum(axis=1)
    ok = need[:, None] <= room[None, :]
    cost = np.where(ok, rng.random((z, z)), float(z + 1))
    r, c = linear_sum_assignment(cost)
    if not ok[r, c].all():
        return None
    out = np.empty(z, np.int64)
    out[r] = c
    return out


def _compact_seeds(type_: int, addr: np.ndarray) -> list:
    if type_ == 1:
        return addr.transpose(0, 2, 1).tolist()
    phi = addr[:, 0, :]
    return (phi[0] if type_ == 3 else phi).tolist()


KINDS = ("clash-free", "structured", "random", "local", "fc")


def make(
    kind: str,
    n_in: int,
    n_out: int,
    out_degree: int,
    *,
    z: int | None = None,
    seed: int = 0,
    clash_type: int = 2,
    dither: bool = False,
    image_shape: Sequence[int] | None = None,
    window: int | None = None,
) -> Pattern:
    """One junction of the given kind; ``random`` gets the same edge count as the structured pattern, and so
    does ``local`` (:func:`predsparse.patterns.windows.local`, over a left layer of ``image_shape``)."""
    k = kind.replace("_", "-")
    if k == "fc":
        return fully_connected(n_in, n_out)
    if k == "structured":
        return structured(n_in, n_out, out_degree, seed=seed)
    if k == "random":
        check_size(out_degree, "out_degree")
        if out_degree > n_out:
            raise InputError(f"out_degree {out_degree} exceeds n_out {n_out}")
        return random(n_in, n_out, edges=n_in * out_degree, seed=seed)
    if k == "local":
        from predsparse.patterns.windows import local  # windows builds on this module

        if image_shape is None or window is None:
            raise InputError("local patterns need the left layer's image shape and a window size (--window)")
        return local(n_in, n_out, out_degree, image_shape, window, seed=seed)
    if k == "clash-free":
        if z is None:
            raise InputError("clash-free patterns need z (edges per clock) for every junction: pass --z")
        return clash_free(n_in, n_out, out_degree, z, type=clash_type, dither=dither, seed=seed)
    raise InputError(f"pattern kind {kind!r} is not one of {', '.join(KINDS)}")
