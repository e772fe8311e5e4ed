"""The fast CPU kernels (numba, panel layout) against the dense masked computation, and their fallbacks.

Tiny shapes only: the point is exactness on every pattern kind, degree remainder (the kernels take
edges 8 at a time, then the forward 4, 2, 1 and the weight gradient 1 by 1), batch size (1,
non-multiples of the panel width 16/32/64/128, several panels) and dtype; speed lives in
``benchmarks/bench_kernels.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from predsparse import patterns as P
from predsparse.nn import SparseLinear, SparseMLP, kernels_cpu, ops
from predsparse.nn.ops import BACKENDS, NumbaCPU, select_backend, sparse_matmul

needs_numba = pytest.mark.skipif(not kernels_cpu.available(), reason=f"numba unavailable: {kernels_cpu.import_error()}")


def pattern(kind: str, seed: int = 0) -> P.Pattern:
    if kind == "random":  # varying degrees, some neurons without edges
        return P.random(29, 19, density=0.25, seed=seed)
    if kind == "structured":  # d_in = 21: two groups of 8, then 4 and 1
        return P.structured(42, 26, 13, seed=seed)
    if kind == "clash_free":  # d_in = 6 (4 + 2)
        return P.clash_free(36, 24, 4, 6, type=2, seed=seed)
    if kind == "fc":  # d_in = 15 (8 + 4 + 2 + 1), d_out = 11 (transposed: 8 + 2 + 1)
        return P.fully_connected(15, 11)
    raise AssertionError(kind)


KINDS = ["random", "structured", "clash_free", "fc"]
BATCHES = [1, 7, 16, 19, 33, 64, 70, 130]


def dense_reference(layer: SparseLinear, pat: P.Pattern, x: torch.Tensor, g: torch.Tensor):
    w = layer.dense_weight().clone().requires_grad_(True)
    m = torch.from_numpy(pat.to_dense()).to(w.dtype)
    b = layer.bias.detach().clone().requires_grad_(True)
    x2 = x.detach().clone().requires_grad_(True)
    y2 = x2 @ (w * m).T + b
    y2.backward(g)
    return y2, x2.grad, w.grad[layer.rows, layer.cols], b.grad


@needs_numba
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("batch", BATCHES)
def test_numba_layer_equals_dense_masked_float64(kind, batch):
    pat = pattern(kind, seed=batch)
    torch.manual_seed(batch)
    layer = SparseLinear(pat, backend="numba").double()
    x = torch.randn(batch, pat.n_in, dtype=torch.float64, requires_grad=True)
    assert layer.uses_panels(x)
    y = layer(x)
    g = torch.randn_like(y)
    y.backward(g)
    y2, gx2, gw2, gb2 = dense_reference(layer, pat, x, g)
    torch.testing.assert_close(y, y2)
    torch.testing.assert_close(x.grad, gx2)
    torch.testing.assert_close(layer.weight.grad, gw2)
    torch.testing.assert_close(layer.bias.grad, gb2)


@needs_numba
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("batch", [1, 19, 70])
def test_numba_layer_equals_dense_masked_float32(kind, batch):
    pat = pattern(kind, seed=3)
    torch.manual_seed(0)
    layer = SparseLinear(pat, backend="numba")
    x = torch.randn(batch, pat.n_in, requires_grad=True)
    y = layer(x)
    g = torch.randn_like(y)
    y.backward(g)
    y2, gx2, gw2, gb2 = dense_reference(layer, pat, x, g)
    tol = {"rtol": 1e-4, "atol": 1e-4}
    torch.testing.assert_close(y, y2, **tol)
    torch.testing.assert_close(x.grad, gx2, **tol)
    torch.testing.assert_close(layer.weight.grad, gw2, **tol)
    torch.testing.assert_close(layer.bias.grad, gb2, **tol)


@needs_numba
@pytest.mark.parametrize("d_in", range(1, 18))
def test_every_degree_remainder(d_in):
    """Fixed in-degree 1..17 (and the out-degree it implies) hits every unrolled block combination."""
    n_out, n_in = 12, 17
    rng = np.random.default_rng(d_in)
    rows = np.repeat(np.arange(n_out), d_in)
    cols = np.concatenate([np.sort(rng.choice(n_in, d_in, replace=False)) for _ in range(n_out)])
    pat = P.Pattern(n_in, n_out, rows, cols)
    layer = SparseLinear(pat, backend="numba").double()
    assert layer.in_degree == d_in
    x = torch.randn(21, n_in, dtype=torch.float64, requires_grad=True)
    y = layer(x)
    g = torch.randn_like(y)
    y.backward(g)
    y2, gx2, gw2, gb2 = dense_reference(layer, pat, x, g)
    torch.testing.assert_close(y, y2)
    torch.testing.assert_close(x.grad, gx2)
    torch.testing.assert_close(layer.weight.grad, gw2)


@needs_numba
@pytest.mark.parametrize("batch", [1, 5, 16, 17, 33, 64, 65, 130])
def test_panel_round_trip_and_zero_padding(batch):
    x = torch.randn(batch, 37)
    for bc in kernels_cpu.PANEL_WIDTHS:
        xp = NumbaCPU.to_panels(x, bc)
        p = -(-batch // bc)
        assert xp.shape == (p, 37, bc)
        # xp[p, k, b] = x[p*bc + b, k]; padding columns are zero
        padded = torch.zeros(p * bc, 37)
        padded[:batch] = x
        torch.testing.assert_close(xp, padded.view(p, bc, 37).transpose(1, 2), rtol=0, atol=0)
        torch.testing.assert_close(NumbaCPU.from_panels(xp, batch), x, rtol=0, atol=0)


class FeatureDrop(torch.nn.Dropout):
    """Deterministic stand-in for dropout: drops every third feature, scales the rest by 1/(1-p)."""

    def forward(self, x):
        if not self.training:
            return x
        keep = (torch.arange(x.shape[1]) % 3 != 0).to(x.dtype) / (1 - self.p)
        return x * keep.view(1, -1, *([1] * (x.dim() - 2)))


@needs_numba
@pytest.mark.parametrize(
    "batch,activation,dropout",
    [(3, "relu", 0.0), (40, "relu", 0.0), (70, "sigmoid", 0.0), (17, "tanh", 0.0), (40, "relu", 0.3)],
)
def test_mlp_on_panels_equals_torch_backend(batch, activation, dropout):
    """A 3-junction SparseMLP kept in panel layout end to end (one autograd node without dropout, one
    per junction with it) equals the same MLP on torch's CSR: logits, parameter and input gradients."""
    layers = [30, 24, 20, 5]
    pats = [P.random(30, 24, density=0.3, seed=1), P.structured(24, 20, 5, seed=2), P.fully_connected(20, 5)]
    torch.manual_seed(0)
    fast = SparseMLP(layers, pats, activation=activation, dropout=dropout, backend="numba").double()
    ref = SparseMLP(layers, pats, activation=activation, dropout=dropout, backend="torch").double()
    ref.load_state_dict(fast.state_dict())
    if dropout:  # the same "dropout" for both layouts: a fixed mask per feature (dim 1 in (B, n) and (P, n, bc))
        fast.drop = ref.drop = FeatureDrop(dropout)
    x = torch.randn(batch, 30, dtype=torch.float64)
    y = torch.randint(0, 5, (batch,))
    outs = []
    for model in (fast, ref):
        model.zero_grad()
        xx = x.clone().requires_grad_(True)
        out = model(xx)
        torch.nn.functional.cross_entropy(out, y).backward()
        outs.append((out, xx.grad, [p.grad.clone() for p in model.parameters()]))
    torch.testing.assert_close(outs[0][0], outs[1][0])
    torch.testing.assert_close(outs[0][1], outs[1][1])
    for a, b in zip(outs[0][2], outs[1][2]):
        torch.testing.assert_close(a, b)
    # evaluation mode (no dropout) runs the one-node path and agrees too
    fast.eval()
    ref.eval()
    torch.testing.assert_close(fast(x), ref(x))


@needs_numba
def test_empty_batch():
    layer = SparseLinear(P.structured(20, 10, 3, seed=0))
    x = torch.randn(0, 20, requires_grad=True)
    y = layer(x)
    assert y.shape == (0, 10)
    y.sum().backward()
    assert (layer.weight.grad == 0).all() and (layer.bias.grad == 0).all() and x.grad.shape == (0, 20)
    mlp = SparseMLP([20, 10, 5], [P.structured(20, 10, 3, seed=0), P.fully_connected(10, 5)])
    out = mlp(torch.randn(0, 20))
    assert out.shape == (0, 5)
    out.sum().backward()
    assert all((p.grad == 0).all() for p in mlp.parameters())


@needs_numba
def test_batch_major_backend_protocol_matches_torch():
    """``sparse_matmul`` with the numba backend (converting to panels inside each call) equals torch's CSR."""
    pat = P.random(23, 31, density=0.2, seed=5)
    layer = SparseLinear(pat).double()
    x = torch.randn(9, 23, dtype=torch.float64)
    outs = []
    for name in ("numba", "torch"):
        xx = x.clone().requires_grad_(True)
        w = layer.weight.detach().clone().requires_grad_(True)
        y = sparse_matmul(xx, w, layer, name)
        y.backward(torch.ones_like(y))
        outs.append((y, xx.grad, w.grad))
    for a, b in zip(*outs):
        torch.testing.assert_close(a, b)


@needs_numba
def test_auto_picks_numba_on_cpu_float_and_torch_otherwise():
    layer = SparseLinear(P.structured(16, 8, 2, seed=0))
    assert select_backend("auto", layer, torch.randn(2, 16)).name == "numba-cpu"
    assert select_backend("auto", layer.double(), torch.randn(2, 16, dtype=torch.float64)).name == "numba-cpu"
    # a dtype the kernels do not take, a dtype that differs from the weights, and a non-CPU device
    assert select_backend("auto", layer, torch.randn(2, 16).half()).name == "torch-csr"
    assert select_backend("auto", layer, torch.randn(2, 16)).name == "torch-csr"  # layer is float64 now
    assert select_backend("auto", layer, torch.empty(2, 16, device="meta", dtype=torch.float64)).name == "torch-csr"
    # an explicit request that cannot be honoured falls back rather than failing
    assert select_backend("numba", layer, torch.randn(2, 16).half()).name == "torch-csr"


def _train_two_steps(layer: SparseLinear, x: torch.Tensor) -> torch.Tensor:
    opt = torch.optim.SGD(layer.parameters(), lr=0.1)
    for _ in range(2):
        opt.zero_grad()
        layer(x).square().mean().backward()
        opt.step()
    return layer.weight.detach().clone()


@pytest.mark.parametrize("how", ["env", "import-error"])
def test_falls_back_to_torch_when_numba_is_unavailable(monkeypatch, how):
    pat = P.structured(20, 10, 3, seed=0)
    torch.manual_seed(0)
    x = torch.randn(6, 20)
    ref_layer = SparseLinear(pat, backend="torch")
    layer = SparseLinear(pat)  # backend "auto"
    layer.load_state_dict(ref_layer.state_dict())
    expected = _train_two_steps(ref_layer, x)
    if how == "env":  # read on the first availability check
        monkeypatch.setenv("PREDSPARSE_NO_NUMBA", "1")
        monkeypatch.setattr(kernels_cpu, "_STATE", {})
    else:  # what a failed ``import numba`` leaves behind
        monkeypatch.setattr(kernels_cpu, "_STATE", {"numba": None, "error": "ImportError: no numba"})
    assert not kernels_cpu.available()
    assert select_backend("auto", layer, x) is BACKENDS["torch"]
    assert select_backend("numba", layer, x) is BACKENDS["torch"]
    assert not layer.uses_panels(x)
    got = _train_two_steps(layer, x)
    torch.testing.assert_close(got, expected)
    mlp = SparseMLP([20, 10], [pat])
    assert mlp(x).shape == (6, 10)
    if how == "import-error":
        with pytest.raises(RuntimeError, match="no numba"):
            kernels_cpu.kernels(64)


@needs_numba
def test_thread_count_follows_torch_and_is_left_unchanged():
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        layer = SparseLinear(P.structured(16, 8, 2, seed=0))
        layer(torch.randn(4, 16)).sum().backward()
        assert kernels_cpu.numba_module().get_num_threads() == 1
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    layer(torch.randn(4, 16)).sum().backward()
    assert torch.get_num_threads() == before
    assert ops._tls.threads == min(before, kernels_cpu.numba_module().config.NUMBA_NUM_THREADS)


@needs_numba
def test_large_sparse_layer_uses_memory_in_proportion_to_edges():
    """60,000 x 60,000 at 0.005 % density: 180,000 weights; nothing of size n_in * n_out is made."""
    pat = P.structured(60000, 60000, 3, seed=0)
    layer = SparseLinear(pat)
    assert layer.weight.numel() == 180_000
    x = torch.randn(3, 60000)
    layer(x).square().mean().backward()
    assert layer.weight.grad.shape == (180_000,)
    assert torch.isfinite(layer.weight.grad).all()


@pytest.mark.parametrize(
    "batch,width,itemsize,expected",
    [
        (1, 4096, 4, 16),
        (17, 4096, 4, 32),
        (64, 4096, 4, 64),
        (65, 1024, 4, 128),
        (256, 800, 4, 128),
        (256, 1025, 4, 64),
        (256, 600, 8, 64),
        (256, 512, 8, 128),
        (130, 100, 4, 64),
        (200, 100, 4, 128),
    ],
)
def test_panel_width_rule(batch, width, itemsize, expected):
    """128 columns only when a panel of the widest layer fits in 512 KiB and pads no more than 64 would."""
    assert kernels_cpu.panel_width(batch, width, itemsize) == expected


@needs_numba
@pytest.mark.parametrize("batch", [1, 19, 65, 130])
def test_to_panels_gathers_rows(batch):
    x = torch.randn(300, 37)
    rows = torch.randperm(300)[:batch]
    for bc in kernels_cpu.PANEL_WIDTHS:
        torch.testing.assert_close(NumbaCPU.to_panels(x, bc, rows), NumbaCPU.to_panels(x[rows], bc), rtol=0, atol=0)


@needs_numba
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("batch,dropout", [(1, 0.0), (40, 0.0), (65, 0.0), (130, 0.0), (40, 0.3)])
def test_mlp_rows_equals_gathered_batch(dtype, batch, dropout):
    """``model(x, rows=r)`` (the gather fused into the layout change) gives the same logits and
    parameter gradients as ``model(x[r])``, on the numba kernels and on torch's CSR."""
    layers = [30, 24, 20, 5]
    pats = [P.random(30, 24, density=0.3, seed=1), P.structured(24, 20, 5, seed=2), P.fully_connected(20, 5)]
    data = torch.randn(200, 30, dtype=dtype)
    rows = torch.randint(0, 200, (batch,), generator=torch.Generator().manual_seed(batch))
    y = torch.randint(0, 5, (batch,))
    for backend in ("numba", "torch"):
        torch.manual_seed(0)
        model = SparseMLP(layers, pats, dropout=dropout, backend=backend).to(dtype)
        if dropout:
            model.drop = FeatureDrop(dropout)
        outs = []
        for call in (lambda: model(data, rows=rows), lambda: model(data[rows])):
            model.zero_grad()
            out = call()
            torch.nn.functional.cross_entropy(out, y).backward()
            outs.append((out.detach(), [p.grad.clone() for p in model.parameters()]))
        torch.testing.assert_close(outs[0][0], outs[1][0], rtol=0, atol=0)
        for a, b in zip(outs[0][1], outs[1][1]):
            torch.testing.assert_close(a, b, rtol=0, atol=0)


@needs_numba
def test_rows_with_input_gradient_falls_back_to_gathering():
    model = SparseMLP([12, 8, 3], [P.structured(12, 8, 2, seed=0), P.fully_connected(8, 3)])
    data = torch.randn(50, 12, requires_grad=True)
    rows = torch.tensor([3, 3, 49, 0])
    model(data, rows=rows).sum().backward()
    data2 = data.detach().clone().requires_grad_(True)
    model(data2[rows]).sum().backward()
    torch.testing.assert_close(data.grad, data2.grad)
    assert data.grad[3].abs().sum() > 0 and data.grad[1].abs().sum() == 0


@pytest.mark.parametrize(
    "rows,message",
    [
        (torch.tensor([0, 50]), "rows has entry 50: row numbers must be in [0, 50)"),
        (torch.tensor([-1, 2]), "rows has entry -1"),
        (torch.tensor([0.0, 1.0]), "rows must be a 1-D integer tensor"),
        (torch.tensor([[0, 1]]), "rows must be a 1-D integer tensor"),
    ],
)
def test_bad_rows_are_one_clear_error(rows, message):
    from predsparse.errors import InputError

    model = SparseMLP([12, 3], [P.structured(12, 3, 1, seed=0)])
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace(")", r"\)")):
        model(torch.randn(50, 12), rows=rows)


@needs_numba
def test_cached_parameter_views_follow_in_place_updates_and_new_tensors():
    """The kernels read cached numpy views of the weights: in-place updates must show, and replaced
    parameters (``.double()``, a new ``nn.Parameter``) must be picked up."""
    pat = P.structured(20, 10, 3, seed=0)
    layer = SparseLinear(pat)
    x = torch.randn(6, 20)

    def check():
        y, *_ = dense_reference(layer, pat, x.to(layer.weight.dtype), torch.ones(6, 10, dtype=layer.weight.dtype))
        torch.testing.assert_close(layer(x.to(layer.weight.dtype)), y.detach())

    check()
    with torch.no_grad():
        layer.weight.mul_(-2.0)
        layer.bias.add_(1.0)
    check()
    layer.weight = torch.nn.Parameter(torch.randn(layer.edges))
    check()
    layer.double()
    check()


@pytest.mark.parametrize("threads", [1, 2, 3, 8])
def test_row_blocks_partition_rows_with_balanced_edges(threads):
    rng = np.random.default_rng(threads)
    for deg in (np.full(50, 7), rng.integers(0, 30, 61), np.zeros(5, int), np.array([100, 0, 1])):
        crow = np.concatenate([[0], np.cumsum(deg)])
        b = kernels_cpu.row_blocks(crow, threads)
        assert b.dtype == np.int64 and len(b) == threads + 1
        assert b[0] == 0 and b[-1] == len(deg) and (np.diff(b) >= 0).all()
        per_block = crow[b[1:]] - crow[b[:-1]]
        assert per_block.sum() == crow[-1]
        assert per_block.max() <= -(-crow[-1] // threads) + deg.max()  # off by at most one row's edges


def test_cli_threads_option_sets_torch_threads_which_the_kernels_follow():
    from click.testing import CliRunner

    from predsparse.cli import main

    before = torch.get_num_threads()
    try:
        r = CliRunner().invoke(
            main, ["--threads", "1", "pattern", "show", "--n-in", "4", "--n-out", "2", "--d-out", "1"]
        )
        assert r.exit_code == 0, r.output
        assert torch.get_num_threads() == 1
        bad = CliRunner().invoke(
            main, ["--threads", "0", "pattern", "show", "--n-in", "4", "--n-out", "2", "--d-out", "1"]
        )
        assert bad.exit_code == 2
    finally:
        torch.set_num_threads(before)


@needs_numba
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("batch", [20, 150, 256])  # panels of 32, 64 and 128 columns
def test_serial_builds_give_the_same_numbers_as_the_parallel_ones(monkeypatch, dtype, batch):
    """Small calls run on the serial build of a kernel (kernels_cpu.SERIAL_WORK): every output is computed
    by one task either way, so logits and gradients are bitwise those of the parallel build, which match
    the dense masked computation."""
    pats = [P.structured(42, 26, 13, seed=1), P.random(26, 19, density=0.3, seed=2), P.fully_connected(19, 5)]
    torch.manual_seed(0)
    model = SparseMLP([42, 26, 19, 5], pats).to(dtype)
    x = torch.randn(batch, 42, dtype=dtype)

    def run(serial_work: int):
        monkeypatch.setattr(kernels_cpu, "SERIAL_WORK", serial_work)
        model.zero_grad()
        xg = x.clone().requires_grad_(True)
        out = model(xg)
        out.square().sum().backward()
        return [out.detach(), xg.grad, *(p.grad.clone() for p in model.parameters())]

    parallel, serial = run(0), run(1 << 40)
    for a, b in zip(parallel, serial):
        assert torch.equal(a, b)
    dense = x.clone().requires_grad_(True)
    h = dense
    for i, j in enumerate(model.junctions):
        h = h @ j.dense_weight().T + j.bias.detach()
        h = torch.relu(h) if i < 2 else h
    tol = {"rtol": 1e-5, "atol": 1e-5} if dtype == torch.float32 else {}
    torch.testing.assert_close(serial[0], h.detach(), **tol)
    h.square().sum().backward()
    torch.testing.assert_close(serial[1], dense.grad, **tol)


_CACHE_SCRIPT = """
import sys, numpy as np
from predsparse import patterns as P
from predsparse.nn import kernels_cpu as kc
rng = np.random.default_rng(0)
pat = P.random(300, 200, density=0.03, seed=1)
crow, cols = pat.indptr(), np.asarray(pat.cols, np.int64)
out = {}
for bc in (64, 128):
    for serial in (False, True):
        k = kc.kernels(bc, serial=serial)
        x = rng.standard_normal(3 * 300 * bc).astype(np.float32)
        g = rng.standard_normal(3 * 200 * bc).astype(np.float32)
        gw, gb = np.empty(cols.size, np.float32), np.empty(200, np.float32)
        k.sddmm(crow, cols, g, x, gw, 300, kc.row_blocks(crow, 2), gb)
        out[f"{bc}-{serial}-w"], out[f"{bc}-{serial}-b"] = gw, gb
np.savez(sys.argv[1], **out)
"""


@needs_numba
def test_weight_gradient_is_the_same_with_an_empty_and_a_warm_kernel_cache(tmp_path):
    """The first run on a machine compiles the kernels, later runs load them from numba's on-disk cache: both
    must give bitwise the same weight and bias gradients (the cached copy of a vectorised reduction inside
    a parallel loop used to differ in the last bits, so a first training differed from its reruns)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    for name in ("fresh", "warm"):
        subprocess.run([sys.executable, "-c", _CACHE_SCRIPT, str(tmp_path / name)], env=env, check=True)
    fresh, warm = np.load(tmp_path / "fresh.npz"), np.load(tmp_path / "warm.npz")
    assert sorted(fresh.files) == sorted(warm.files)
    for key in fresh.files:
        assert np.array_equal(fresh[key], warm[key]), key
