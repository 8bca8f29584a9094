"""Zero-cost proxies: definitions on hand-built nets, determinism and sanity on real CIFAR-10 at tiny sizes."""
import csv
from dataclasses import replace

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr
from torch import nn

import harness.proxies.zero_cost as zc
from harness.errors import HarnessError
from harness.nets import TinyNetwork
from harness.proxies import ProxyContext, get_proxy
from harness.space import parse_archs

pytestmark = pytest.mark.usefixtures("one_torch_thread")

IMAGE_PROXIES = ("snip", "grad_norm", "fisher", "grasp", "jacob_cov", "naswot")
TINY = {"channels": 4, "cells": 1, "batch_size": 16}
# none, skip, conv1x1, conv3x3, avgpool = 0..4
CELLS = np.array([[3, 3, 3, 3, 3, 3], [1, 2, 3, 4, 1, 2], [2, 0, 4, 3, 1, 1], [4, 3, 0, 2, 3, 1]])


@pytest.fixture(scope="module")
def context(cifar10_root, nb201_dir):
    return ProxyContext(dataset="cifar10", data_root=str(cifar10_root), splits_dir=str(nb201_dir / "splits"),
                        seed=3, settings=TINY)


@pytest.mark.parametrize("name", ("synflow",) + IMAGE_PROXIES)
def test_proxy_is_finite_deterministic_and_tells_cells_apart(name, context):
    proxy = get_proxy(name)
    if name == "synflow":  # no images: no batch
        context = replace(context, settings={k: v for k, v in TINY.items() if k != "batch_size"})
    scores = proxy(CELLS, context)
    assert np.all(np.isfinite(scores)), scores
    assert np.array_equal(scores, proxy(CELLS, context))
    assert len(np.unique(scores)) == len(CELLS), scores


def test_synflow_of_a_linear_chain_is_its_analytic_value():
    """With |weights| and a ones input, R = 1^T |W2| |W1| 1 and each bias-free layer's sum of |w * dR/dw| is R."""
    W1 = torch.tensor([[1.0, -2.0], [0.5, 3.0], [-1.0, 0.0]])
    W2 = torch.tensor([[2.0, -1.0, 4.0]])
    net = nn.Sequential(nn.Linear(2, 3, bias=False), nn.Linear(3, 1, bias=False))
    with torch.no_grad():
        net[0].weight.copy_(W1)
        net[1].weight.copy_(W2)
    R = (W2.abs() @ W1.abs() @ torch.ones(2)).item()  # 2*3 + 1*3.5 + 4*1 = 13.5
    assert zc.synflow_score(net, (2,)) == pytest.approx(2 * R)
    assert torch.equal(net[0].weight, W1)  # scored on a copy: the caller's signs stay


def test_synflow_ranks_an_empty_cell_below_a_conv_heavy_one(context):
    scores = get_proxy("synflow")(np.array([[0] * 6, [3] * 6]), replace(context, settings={"channels": 4, "cells": 1}))
    assert scores[0] < scores[1]


def test_naswot_is_the_log_determinant_of_the_code_kernel():
    """On a net with one ReLU, K is c c^T + (1-c)(1-c)^T of its codes; the score is slogdet(K)[1]."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 40), nn.ReLU(), nn.Linear(40, 3))
    x = torch.randn(8, 5)
    c = (net[1](net[0](x)) > 0).double()
    K = c @ c.T + (1 - c) @ (1 - c).T
    assert zc.naswot_score(net, x) == pytest.approx(torch.linalg.slogdet(K)[1].item())


def test_jacob_cov_and_naswot_on_a_real_network(context):
    x, _ = zc._batch("cifar10", context.data_root, context.splits_dir, 0, 128)
    torch.manual_seed(0)
    net = TinyNetwork((1, 2, 3, 4, 1, 2), C=4, N=1)
    assert np.isfinite(zc.jacob_cov_score(net, x[:32]))
    assert np.isfinite(zc.naswot_score(net, x))  # naswot's own batch size, 128


def test_a_network_ignoring_its_input_scores_worst():
    torch.manual_seed(0)
    net = TinyNetwork((0,) * 6, C=4, N=1)
    x = torch.randn(8, 3, 32, 32)
    assert zc.jacob_cov_score(net, x) == zc.naswot_score(net, x) == float("-inf")


@pytest.mark.parametrize("name", IMAGE_PROXIES)
def test_image_proxies_without_data_root_refuse_clearly(name):
    with pytest.raises(HarnessError, match="--data-root"):
        get_proxy(name)(CELLS, ProxyContext(dataset="cifar10", settings=TINY))


def test_synflow_correlates_with_parameter_count(nb201_dir):
    """A sanity check of the ranking only (not the published correlations): bigger nets carry more synaptic flow."""
    with open(nb201_dir / "table.csv") as f:
        rows = list(csv.DictReader(f))
    pick = np.random.default_rng(0).choice(len(rows), 60, replace=False)
    cells = parse_archs([rows[i]["arch"] for i in pick])
    params = [float(rows[i]["params_mb@cifar10"]) for i in pick]
    scores = get_proxy("synflow")(cells, ProxyContext(dataset="cifar10", settings={"channels": 8, "cells": 1}))
    assert spearmanr(scores, params)[0] > 0


def test_grasp_is_minus_w_dot_hessian_gradient():
    """Against torch's own Hessian-vector product of the loss as a function of the flat weights."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 6, bias=False), nn.Tanh(), nn.Linear(6, 3, bias=False))
    x, y = torch.randn(10, 4), torch.randint(0, 3, (10,))
    W1, W2 = net[0].weight.detach().clone(), net[2].weight.detach().clone()
    w = torch.cat([W1.flatten(), W2.flatten()])

    def loss(flat):
        a, b = flat[:24].view(6, 4), flat[24:].view(3, 6)
        return nn.functional.cross_entropy(torch.tanh(x @ a.T) @ b.T, y)

    g = torch.func.grad(loss)(w)
    hg = torch.autograd.functional.hvp(loss, w, g)[1]
    assert zc.grasp_score(net, x, y) == pytest.approx(-(w * hg).sum().item(), rel=1e-5)


@pytest.mark.parametrize("name", ["snip", "grad_norm", "fisher", "grasp", "jacob_cov", "naswot"])
def test_scoring_frees_every_activation_it_made(name):
    """A proxy keeps nothing alive once it returns: fisher's gradient hooks once held their own activation in a
    reference cycle through torch's C++ side, which no collector frees (a 100-cell run grew by 400 MB a second)."""
    import gc
    import weakref

    torch.manual_seed(0)
    net = TinyNetwork((3, 3, 3, 1, 1, 2), C=4, N=1)
    x, y = torch.randn(8, 3, 8, 8), torch.randint(0, 10, (8,))
    made = []
    handles = [m.register_forward_hook(lambda module, inputs, output: made.append(weakref.ref(output)))
               for m in net.modules() if isinstance(m, nn.Conv2d)]
    getattr(zc, f"{name}_score")(*((net, x) if name in ("jacob_cov", "naswot") else (net, x, y)))
    for h in handles:
        h.remove()
    gc.collect()
    assert made and not [ref for ref in made if ref() is not None]
