"""SparseLinear against the dense masked computation; FC against torch.nn.Linear; memory ~ |W|."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from predsparse import patterns as P
from predsparse.errors import InputError
from predsparse.nn import SparseLinear, SparseMLP
from predsparse.nn.ops import BACKENDS


def make_patterns():
    return {
        "random": P.random(37, 23, density=0.2, seed=1),
        "structured": P.structured(36, 24, 4, seed=2),
        "clash_free": P.clash_free(36, 24, 4, 6, type=1, dither=True, seed=3),
        "clash_free_t3": P.clash_free(36, 24, 8, 12, type=3, seed=4),
        "fc": P.fully_connected(13, 9),
    }


@pytest.mark.parametrize("kind", list(make_patterns()))
@pytest.mark.parametrize("backend", ["auto", "torch"])
@pytest.mark.parametrize("batch", [1, 5, 33])
def test_forward_and_gradients_equal_dense_masked(kind, backend, batch):
    pat = make_patterns()[kind]
    torch.manual_seed(0)
    layer = SparseLinear(pat, backend=backend).double()
    x = torch.randn(batch, pat.n_in, dtype=torch.double, requires_grad=True)
    y = layer(x)
    g = torch.randn_like(y)
    y.backward(g)

    w = layer.dense_weight().clone().requires_grad_(True)
    m = torch.from_numpy(pat.to_dense()).double()
    x2 = x.detach().clone().requires_grad_(True)
    y2 = x2 @ (w * m).T + layer.bias.detach()
    y2.backward(g)

    torch.testing.assert_close(y, y2)
    torch.testing.assert_close(x.grad, x2.grad)
    # weight gradient at the present edges equals the dense gradient there
    torch.testing.assert_close(layer.weight.grad, w.grad[layer.rows, layer.cols])
    torch.testing.assert_close(layer.bias.grad, g.sum(0))


def test_dense_weight_has_zeros_off_pattern():
    pat = P.structured(20, 10, 3, seed=0)
    layer = SparseLinear(pat)
    dw = layer.dense_weight()
    assert dw.shape == (10, 20)
    mask = torch.from_numpy(pat.to_dense()).bool()
    assert (dw[~mask] == 0).all()
    assert (dw[mask] != 0).all()
    assert layer.weight.numel() == pat.edges  # only |W| weights are stored


def test_only_present_weights_are_parameters_and_adam_state_is_sparse():
    pat = P.structured(100, 50, 5, seed=0)
    model = SparseMLP([100, 50], [pat])
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params == pat.edges + 50
    opt = torch.optim.Adam(model.parameters())
    model(torch.randn(4, 100)).sum().backward()
    opt.step()
    state_numel = sum(v.numel() for s in opt.state.values() for v in s.values() if torch.is_tensor(v) and v.dim() > 0)
    assert state_numel == 2 * n_params


def test_fc_pattern_matches_torch_linear_training_curve():
    torch.manual_seed(0)
    dense = torch.nn.Sequential(torch.nn.Linear(12, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3)).double()
    sparse = SparseMLP([12, 8, 3], [P.fully_connected(12, 8), P.fully_connected(8, 3)]).double()
    with torch.no_grad():
        for lin, sl in zip([dense[0], dense[2]], sparse.junctions):
            sl.load_dense(lin.weight)
            sl.bias.copy_(lin.bias)
    x = torch.randn(64, 12, dtype=torch.double)
    y = torch.randint(0, 3, (64,))
    opt_d = torch.optim.Adam(dense.parameters(), lr=1e-2)
    opt_s = torch.optim.Adam(sparse.parameters(), lr=1e-2)
    for _ in range(30):
        for model, opt in ((dense, opt_d), (sparse, opt_s)):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        ld = torch.nn.functional.cross_entropy(dense(x), y)
        ls = torch.nn.functional.cross_entropy(sparse(x), y)
        assert abs(ld.item() - ls.item()) < 1e-9
    torch.testing.assert_close(sparse.junctions[0].dense_weight(), dense[0].weight.detach())


def test_large_sparse_junction_builds_and_trains_a_step():
    # 20,000 x 20,000 at 0.5 % density: the dense matrix (1.6 GB) is never formed
    pat = P.structured(20000, 20000, 100, seed=0)
    layer = SparseLinear(pat)
    assert layer.weight.numel() == 2_000_000
    opt = torch.optim.Adam(layer.parameters())
    x = torch.randn(8, 20000)
    layer(x).square().mean().backward()
    opt.step()
    assert torch.isfinite(layer.weight).all()


def test_bad_shapes_are_rejected():
    from predsparse.errors import InputError

    layer = SparseLinear(P.structured(10, 5, 2))
    with pytest.raises(InputError, match=r"expects \(batch, 10\)"):
        layer(torch.randn(3, 11))
    with pytest.raises(InputError, match="patterns for 2 junctions"):
        SparseMLP([10, 5, 2], [P.structured(10, 5, 2)])
    with pytest.raises(InputError, match="layers say"):
        SparseMLP([10, 6], [P.structured(10, 5, 2)])


def test_torch_backend_is_always_available():
    assert "torch" in BACKENDS


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
def test_inference_matches_dense_at_batch_one_and_more(dtype, activation):
    """Without gradients (eval, batch 1 in one serial kernel call; larger batches without an autograd node)
    the logits equal the dense masked computation (a random junction: varying in-degrees)."""
    layers = [30, 24, 20, 5]
    pats = [P.random(30, 24, density=0.2, seed=3), P.structured(24, 20, 5, seed=4), P.fully_connected(20, 5)]
    torch.manual_seed(0)
    model = SparseMLP(layers, pats, activation=activation).to(dtype).eval()
    act = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}[activation]

    def dense(x):
        for i, j in enumerate(model.junctions):
            x = x @ j.dense_weight().T + j.bias.detach()
            x = act(x) if i < len(model.junctions) - 1 else x
        return x

    data = torch.randn(9, 30, dtype=dtype)
    tol = {"rtol": 1e-5, "atol": 1e-5} if dtype == torch.float32 else {}
    with torch.no_grad():
        for xb in (data[:1], data[4:5], data):
            out = model(xb)
            assert out.grad_fn is None and out.shape == (len(xb), 5)
            torch.testing.assert_close(out, dense(xb), **tol)
        torch.testing.assert_close(model(data, rows=torch.tensor([7])), dense(data[7:8]), **tol)
    # with gradients the same values come through the autograd node
    torch.testing.assert_close(model(data[:1]).detach(), dense(data[:1]).detach(), **tol)


def _dense_logits(model, x, act=torch.relu):
    """The dense masked computation: each junction as its (n_out, n_in) weight matrix with zeros."""
    for i, j in enumerate(model.junctions):
        x = x @ j.dense_weight().T + j.bias.detach()
        x = act(x) if i < len(model.junctions) - 1 else x
    return x


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_batch_one_equals_batched_path_and_dense(dtype):
    """Batch-1 inference (input by input, skipping zero inputs, uint16 output indices) gives every row of a
    batched call and the dense masked computation, to float rounding; so does x[rows] for one row."""
    from predsparse.nn import inference

    layers = [64, 48, 40, 7]
    pats = [P.clash_free(64, 48, 6, 8, type=1, seed=1), P.random(48, 40, density=0.3, seed=2), P.fully_connected(40, 7)]
    torch.manual_seed(0)
    model = SparseMLP(layers, pats).to(dtype).eval()
    data = torch.randn(12, 64, dtype=dtype)
    data[::2, ::3] = 0  # exact zeros, as in images: skipped inputs
    data[5] = 0  # an all-zero input: the logits come from the biases alone
    with torch.no_grad():
        for j in model.junctions:
            j.bias.normal_()
    tol = {"rtol": 2e-5, "atol": 2e-5} if dtype == torch.float32 else {}
    with torch.no_grad():
        batched = model(data)
        single = torch.cat([model(data[i : i + 1]) for i in range(len(data))])
        plan = model.junctions[0].__dict__["_numba_plan"][1]
        assert plan is not None and list(plan[1]) == [48, 40, 7]  # output widths
        assert plan[3][0].dtype == inference.index_dtype(48) == np.uint16
        torch.testing.assert_close(single, batched, **tol)
        torch.testing.assert_close(single, _dense_logits(model, data), **tol)
        torch.testing.assert_close(model(data, rows=torch.tensor([5])), batched[5:6], **tol)
        # a weight changed in place (as an optimiser does) is seen: its version changed, the copy is rebuilt
        model.junctions[1].weight.mul_(-1.5)
        torch.testing.assert_close(model(data[3:4]), _dense_logits(model, data[3:4]), **tol)
        model.junctions[2].bias.add_(1.0)  # a bias too
        torch.testing.assert_close(model(data[3:4]), _dense_logits(model, data[3:4]), **tol)
        # a write through .data bypasses the version counter; model.eval() drops the copy
        model.junctions[0].weight.data.mul_(0.5)
        model.eval()
        torch.testing.assert_close(model(data[3:4]), _dense_logits(model, data[3:4]), **tol)


def test_batch_one_sees_every_optimiser_step():
    """Batch-1 forwards between training steps use the weights of the latest step (fused Adam and SGD)."""
    layers = [20, 16, 4]
    pats = [P.random(20, 16, density=0.3, seed=1), P.structured(16, 4, 2, seed=2)]
    x, y = torch.rand(8, 20), torch.arange(8) % 4
    x[x < 0.3] = 0
    for opt_cls in (lambda p: torch.optim.Adam(p, lr=0.05, fused=True), lambda p: torch.optim.SGD(p, lr=0.5)):
        torch.manual_seed(0)
        model = SparseMLP(layers, pats)
        opt = opt_cls(model.parameters())
        for _ in range(3):
            with torch.no_grad():
                torch.testing.assert_close(model(x[1:2]), _dense_logits(model, x[1:2]), rtol=1e-5, atol=1e-5)
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()


def test_batch_one_wide_layer_uses_uint32_indices():
    """More than 65,536 outputs: 32-bit output indices, same logits as the dense masked computation."""
    from predsparse.nn import inference

    n_hidden = 70_000
    assert inference.index_dtype(n_hidden) == np.uint32 and inference.index_dtype(1 << 16) == np.uint16
    pats = [P.random(6, n_hidden, density=0.002, seed=5), P.random(n_hidden, 3, density=0.01, seed=6)]
    torch.manual_seed(1)
    model = SparseMLP([6, n_hidden, 3], pats).eval()
    x = torch.randn(1, 6)
    with torch.no_grad():
        model.junctions[0].bias.normal_()
    with torch.no_grad():
        torch.testing.assert_close(model(x), _dense_logits(model, x), rtol=1e-5, atol=1e-5)
    assert model.junctions[0].__dict__["_numba_plan"][1][3][0].dtype == np.uint32


def test_batch_one_with_gradient_takes_the_batched_path_and_a_wrong_width_is_refused():
    """With a gradient wanted the result has an autograd node; an input of the wrong width is refused (the
    kernels would read past its end)."""
    pats = [P.structured(20, 10, 4, seed=1), P.fully_connected(10, 3)]
    model = SparseMLP([20, 10, 3], pats)
    out = model(torch.randn(1, 20))
    assert out.grad_fn is not None
    for batch in (1, 4):
        with torch.no_grad(), pytest.raises(InputError, match="expects 20"):
            model(torch.randn(batch, 19))
