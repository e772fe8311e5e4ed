"""Complete junctions (kind fc) run on torch's dense F.linear: same function and gradients as the
sparse reference backend and as an nn.Linear stack holding the same weights."""

import pytest
import torch
from torch import nn

import predsparse.nn.functional as SF
from predsparse.nn import SparseMLP
from predsparse.patterns import make
from predsparse.patterns.network import network


def _twin(layers, seed=0):
    torch.manual_seed(seed)
    m = SparseMLP(layers, network(layers, None, "fc", seed=seed).patterns)
    ref = nn.Sequential()
    for i, j in enumerate(m.junctions):
        lin = nn.Linear(j.n_in, j.n_out)
        with torch.no_grad():
            lin.weight.copy_(j.dense_weight())
            lin.bias.copy_(j.bias)
        ref.append(lin)
        if i < len(m.junctions) - 1:
            ref.append(nn.ReLU())
    return m, ref


def test_fc_network_takes_the_dense_path_and_only_it():
    m, _ = _twin([12, 9, 5])
    x = torch.randn(4, 12)
    assert all(SF.runs_dense(j, j.weight, j.backend) for j in m.junctions)
    sparse = make("random", 12, 9, 3, seed=0)
    mixed = SparseMLP([12, 9, 5], [sparse, make("structured", 9, 5, 5, seed=0)])
    assert not SF.runs_dense(mixed.junctions[0], mixed.junctions[0].weight, "auto")
    assert SF.runs_dense(mixed.junctions[1], mixed.junctions[1].weight, "auto")  # complete: 9 x 5 edges
    assert not SF.runs_dense(mixed.junctions[1], mixed.junctions[1].weight, "torch")  # an explicit backend wins
    assert mixed(x).shape == (4, 5)


@pytest.mark.parametrize("batch", [1, 7, 256])
def test_dense_path_matches_nn_linear_and_the_sparse_reference(batch):
    layers = [30, 20, 11, 4]
    m, ref = _twin(layers, seed=batch)
    x = torch.randn(batch, layers[0])
    y = torch.randint(0, layers[-1], (batch,))
    out = m(x)
    torch.testing.assert_close(out, ref(x), rtol=1e-5, atol=1e-6)
    nn.functional.cross_entropy(out, y).backward()
    nn.functional.cross_entropy(ref(x), y).backward()
    for j, lin in zip(m.junctions, [mod for mod in ref if isinstance(mod, nn.Linear)]):
        torch.testing.assert_close(j.weight.grad.view(j.n_out, j.n_in), lin.weight.grad, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(j.bias.grad, lin.bias.grad, rtol=1e-5, atol=1e-6)
    # the same network on the sparse reference backend (torch CSR) gives the same logits and gradients
    grads = [j.weight.grad.clone() for j in m.junctions]
    m.zero_grad()
    for j in m.junctions:
        j.backend = "torch"
    assert not any(SF.runs_dense(j, j.weight, j.backend) for j in m.junctions)
    out2 = m(x)
    torch.testing.assert_close(out2, out, rtol=1e-5, atol=1e-6)
    nn.functional.cross_entropy(out2, y).backward()
    for g, j in zip(grads, m.junctions):
        torch.testing.assert_close(j.weight.grad, g, rtol=1e-5, atol=1e-6)


def test_dense_path_gathers_rows_and_applies_dropout_only_in_training():
    layers = [10, 8, 3]
    m, ref = _twin(layers, seed=3)
    x = torch.randn(20, 10)
    rows = torch.tensor([4, 0, 19, 4])
    m.eval()
    torch.testing.assert_close(m(x, rows=rows), ref(x[rows]), rtol=1e-5, atol=1e-6)
    m.drop = nn.Dropout(0.5)
    m.eval()
    torch.testing.assert_close(m(x), ref(x), rtol=1e-5, atol=1e-6)  # no dropout at evaluation
    m.train()
    torch.manual_seed(0)
    assert not torch.allclose(m(x), ref(x))  # dropout acts in training
