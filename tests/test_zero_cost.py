"""Zero-cost proxies: definitions on hand-built nets, determinism and sanity on real CIFAR-10 at tiny sizes."""
import copy
import csv
from dataclasses import replace

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr
import torch.nn.functional as F
from torch import nn

import harness.proxies.zero_cost as zc
from harness.data import load_split
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
    x, _ = zc.draw_batch(load_split("cifar10", "train", context.data_root, context.splits_dir), 128, 0, augment=True)
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


def _small_net():
    """conv -> BN -> ReLU -> conv -> pool -> linear: every kind of layer the gradient proxies weigh or skip."""
    torch.manual_seed(1)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.Conv2d(4, 5, 1, bias=False), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(5, 3))


#: the conv and linear weights of `_small_net`: what snip and grad_norm sum over (no bias, no BN)
WEIGHTS = ("0.weight", "3.weight", "6.weight")


def _loss_gradient(net, x, y):
    """dL/dw of every parameter by torch.func on the functional network: no hooks, no .grad, no zero_grad."""
    params = {k: v.detach() for k, v in net.named_parameters()}
    buffers = {k: v.detach().clone() for k, v in net.named_buffers()}
    net.train()

    def loss(p, b):  # the buffers are an input: train-mode BN updates its running statistics in place
        return F.cross_entropy(torch.func.functional_call(net, (p, b), (x,)), y)
    return params, torch.func.grad(loss)(params, buffers)


def _batch_of(n=6, side=5):
    torch.manual_seed(2)
    return torch.randn(n, 3, side, side), torch.randint(0, 3, (n,))


def test_snip_is_the_sum_of_abs_weight_times_gradient():
    net, (x, y) = _small_net(), _batch_of()
    w, g = _loss_gradient(net, x, y)
    products = [(w[k] * g[k]) for k in WEIGHTS]
    assert min(p.min() for p in products) < 0 < max(p.max() for p in products)  # mixed signs: abs matters
    expected = sum(p.abs().sum().item() for p in products)
    assert zc.snip_score(net, x, y) == pytest.approx(expected, rel=1e-6)


def test_grad_norm_is_the_sum_of_per_layer_gradient_norms():
    net, (x, y) = _small_net(), _batch_of()
    _, g = _loss_gradient(net, x, y)
    norms = [g[k].pow(2).sum().sqrt().item() for k in WEIGHTS]
    assert any(abs(n - 1) > 0.1 for n in norms)  # so a squared norm would differ
    assert zc.grad_norm_score(net, x, y) == pytest.approx(sum(norms), rel=1e-6)


def test_fisher_is_the_fan_in_weighted_channel_sum_of_the_batch_mean_of_squared_activation_gradients():
    """Written out by hand: the network run layer by layer, each conv and linear output's gradient taken by
    autograd.grad; a layer's channel values count once per weight of the channel (fan-in 27, 4 and 5 here), the
    classifier included; `aggregation: channels` sums the conv layers' values alone."""
    net, (x, y) = _small_net(), _batch_of()
    expected_net = copy.deepcopy(net).train()
    conv1, bn, relu, conv2, pool, flatten, linear = expected_net
    a1 = conv1(x)
    a2 = conv2(relu(bn(a1)))
    a3 = linear(flatten(pool(a2)))
    g1, g2, g3 = torch.autograd.grad(F.cross_entropy(a3, y), (a1, a2, a3))
    per_layer = [0.5 * ((a * g).sum(dim=(2, 3)) ** 2).mean(dim=0).sum().item() for a, g in ((a1, g1), (a2, g2))]
    per_layer.append(0.5 * ((a3 * g3) ** 2).mean(dim=0).sum().item())
    fan_in = (3 * 3 * 3, 4, 5)
    assert zc.fisher_score(net, x, y) == pytest.approx(sum(f * v for f, v in zip(fan_in, per_layer)), rel=1e-5)
    assert zc.fisher_score(net, x, y, "channels") == pytest.approx(sum(per_layer[:2]), rel=1e-5)
    with pytest.raises(HarnessError, match="fisher aggregation='weights': expected one of fan-in, channels"):
        zc.fisher_score(net, x, y, "weights")


def test_jacob_cov_matches_its_closed_form_on_a_relu_network():
    """f(x) = W2 relu(W1 x): the Jacobian of sum(f(x_i)) is ((W1 x_i > 0) * (W2^T 1)) W1 per image; the score is
    -sum(log(v + k) + 1/(v + k)) over the eigenvalues v of their correlation matrix, k = 1e-5 (numpy, by hand)."""
    torch.manual_seed(3)
    net = nn.Sequential(nn.Flatten(), nn.Linear(12, 7, bias=False), nn.ReLU(), nn.Linear(7, 4, bias=False))
    x = torch.randn(5, 3, 2, 2)
    W1, W2 = net[1].weight.detach().double().numpy(), net[3].weight.detach().double().numpy()
    flat = x.reshape(5, -1).double().numpy()
    jacobians = ((flat @ W1.T > 0) * W2.sum(axis=0)) @ W1
    v = np.linalg.eigvalsh(np.corrcoef(jacobians))
    expected = -np.sum(np.log(v + 1e-5) + 1 / (v + 1e-5))
    assert expected < 0 and zc.jacob_cov_score(net, x) == pytest.approx(expected, rel=1e-6)


#: cells with dead conv edges: 3<-1 reads node 1, which no input reaches (1<-0 is none); 2<-1 and 1<-0 lead to a
#: node 2 that reaches nothing (3<-2 is none); the edge 2<-0 leaves a node cut from the output
DEAD_EDGE_CELLS = np.array([[0, 3, 2, 3, 3, 0], [2, 4, 3, 1, 0, 0], [3, 3, 3, 2, 0, 0]])


@pytest.mark.parametrize("name", ["synflow", "snip", "grad_norm", "fisher", "grasp", "jacob_cov", "naswot"])
def test_computing_dead_edges_changes_naswot_only(name, context):
    """As NB201's InferCell, `dead_edges: compute` runs the conv edges that cannot change the output; their
    gradients are zero, so only NASWOT, which reads every conv's input codes, sees them."""
    settings = {**TINY, "batch_size": 16} if name != "synflow" else {"channels": 4, "cells": 1}
    settings["network"] = "nb201"  # the zero-cost network's cell convs have a bias: a conv of a zero node is not zero
    proxy = get_proxy(name)
    computed = proxy(DEAD_EDGE_CELLS, replace(context, settings={**settings, "dead_edges": "compute"}))
    skipped = proxy(DEAD_EDGE_CELLS, replace(context, settings={**settings, "dead_edges": "skip"}))
    assert proxy.resolve_settings({})["dead_edges"] == "compute"  # the reference's behaviour is the default
    if name == "naswot":
        assert (computed != skipped).all(), (computed, skipped)
    else:
        np.testing.assert_allclose(computed, skipped, rtol=1e-6, atol=0)


def test_a_network_computing_dead_edges_gives_the_same_output():
    x = torch.randn(4, 3, 8, 8)
    for cell in DEAD_EDGE_CELLS:
        torch.manual_seed(0)
        skip = TinyNetwork(tuple(cell), C=4, N=1, dead_edges="skip").train()
        torch.manual_seed(0)
        compute = TinyNetwork(tuple(cell), C=4, N=1, dead_edges="compute").train()
        torch.testing.assert_close(skip(x), compute(x), atol=1e-6, rtol=1e-5)
    with pytest.raises(HarnessError, match="dead_edges='all': expected one of skip, compute"):
        TinyNetwork((3,) * 6, C=4, N=1, dead_edges="all")
