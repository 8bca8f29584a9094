"""Each zero-cost proxy against an independent implementation that follows the released code step by step: the
zero-cost code's `NAS201Model` (foresight/models/nasbench2.py: every op built on every edge, a keep mask, `none` as
x * 0) and its measures (foresight/pruners/measures/), NASWOT's hooks (nas-without-training's search.py), on three
NB201 cells scored by the registered proxies with the harness's weights copied in."""
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import harness.proxies.zero_cost as zc
from harness.data import load_split
from harness.errors import HarnessError
from harness.nets import TinyNetwork
from harness.proxies import ProxyContext, get_proxy
from harness.space import EDGE_NAMES

pytestmark = pytest.mark.usefixtures("one_torch_thread")

C, N, SEED = 4, 1, 5
#: a dead conv edge (3<-1 and 2<-1 read node 1, which `none` cuts from the input), all avg_pool, all conv
CELLS = np.array([[0, 3, 2, 3, 3, 0], [4, 4, 4, 4, 4, 4], [3, 2, 3, 2, 3, 3]])
#: the reference's op order on an edge, and the harness's op id of each (none, skip, 1x1, 3x3, pool = 0..4)
REF_OPS = ("none", "avg_pool_3x3", "nor_conv_3x3", "nor_conv_1x1", "skip_connect")
REF_INDEX = {0: 0, 4: 1, 3: 2, 2: 3, 1: 4}


# ---- the reference network, written as foresight/models/nasbench2*.py builds it ----------------------------------

class Zero(nn.Module):
    def forward(self, x):
        return x.mul(0.)


class ReLUConvBN(nn.Module):
    """Named as released: NASWOT hooks every module whose class name contains "ReLU", this one too."""

    def __init__(self, c_in, c_out, k, stride, pad, affine, track, use_bn):
        super().__init__()
        layers = [nn.ReLU(inplace=False), nn.Conv2d(c_in, c_out, k, stride=stride, padding=pad, bias=not affine)]
        if use_bn:
            layers.append(nn.BatchNorm2d(c_out, affine=affine, track_running_stats=track))
        self.op = nn.Sequential(*layers)

    def forward(self, x):
        return self.op(x)


class RefSearchCell(nn.Module):
    def __init__(self, c, keep, affine, track, use_bn):
        super().__init__()
        self.keep, self.options = keep, nn.ModuleList()
        for _ in range(6):
            self.options.extend([Zero(), nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False),
                                 ReLUConvBN(c, c, 3, 1, 1, affine, track, use_bn),
                                 ReLUConvBN(c, c, 1, 1, 0, affine, track, use_bn), nn.Identity()])

    def forward(self, x):
        outs, idx = [x], 0
        for node in range(3):
            total = 0
            for prev in range(node + 1):
                for _ in REF_OPS:
                    if self.keep[idx]:
                        total = total + self.options[idx](outs[prev])
                    idx += 1
            outs.append(total)
        return outs[-1]


class RefReduction(nn.Module):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.residual = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(c_in, c_out, 1, bias=False))
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, 1, True, True, True)  # use_bn left at True, as released
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1, True, True, True)

    def forward(self, x):
        return self.residual(x) + self.conv_b(self.conv_a(x))


class RefModel(nn.Module):
    """zero_cost=True: NAS201Model (cell BNs affine=False, no running statistics, so cell convs with a bias);
    False: the benchmark's TinyNetwork as NASWOT builds it. use_bn=False: the copy synflow scores."""

    def __init__(self, cell, classes, zero_cost=True, use_bn=True):
        super().__init__()
        keep = [False] * 30
        for e, op in enumerate(cell):
            keep[5 * e + REF_INDEX[int(op)]] = True
        affine = track = not zero_cost
        stem = [nn.Conv2d(3, C, 3, padding=1, bias=False)] + ([nn.BatchNorm2d(C)] if use_bn else [])
        self.stem = nn.Sequential(*stem)
        blocks, c = [], C
        for stage in range(3):
            if stage:
                blocks.append(RefReduction(c, 2 * c))
                c *= 2
            blocks += [RefSearchCell(c, keep, affine, track, use_bn) for _ in range(N)]
        self.blocks = nn.Sequential(*blocks)
        # the released head's ReLU is in place; out of place here, the same values, so backward hooks may watch it
        self.lastact = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU()) if use_bn else nn.ReLU()
        self.classifier = nn.Linear(c, classes)

    def forward(self, x):
        x = nn.functional.adaptive_avg_pool2d(self.lastact(self.blocks(self.stem(x))), 1)
        return self.classifier(x.view(x.size(0), -1))


def reference_copy(net: TinyNetwork, cell, classes, zero_cost=True, use_bn=True) -> RefModel:
    """The reference network holding `net`'s parameters and buffers, layer for layer."""
    ref = RefModel(cell, classes, zero_cost, use_bn)
    pairs = [(net.stem[0], ref.stem[0]), (net.classifier, ref.classifier)]
    if use_bn:
        pairs += [(net.stem[1], ref.stem[1]), (net.lastact[0], ref.lastact[0])]
    for mine, theirs in zip(net.cells, ref.blocks):
        if isinstance(theirs, RefReduction):
            pairs += [(mine.conv_a.conv, theirs.conv_a.op[1]), (mine.conv_a.bn, theirs.conv_a.op[2]),
                      (mine.conv_b.conv, theirs.conv_b.op[1]), (mine.conv_b.bn, theirs.conv_b.op[2]),
                      (mine.downsample[1], theirs.residual[1])]
            continue
        for e, op in enumerate(cell):
            if op in (2, 3):
                edge = mine.edges[EDGE_NAMES[e]]
                target = theirs.options[5 * e + REF_INDEX[int(op)]].op
                pairs.append((edge.conv, target[1]))
                if use_bn:
                    pairs.append((edge.bn, target[2]))
    with torch.no_grad():
        for mine, theirs in pairs:
            for name, tensor in [*theirs.named_parameters(recurse=False), *theirs.named_buffers(recurse=False)]:
                tensor.copy_(getattr(mine, name))
    return ref.train()


# ---- the reference measures, step by step as released -----------------------------------------------------------

def layers_of(net):
    return [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def ref_snip(net, x, y):
    for layer in layers_of(net):
        layer.weight_mask = nn.Parameter(torch.ones_like(layer.weight))
        layer.weight.requires_grad = False
        if isinstance(layer, nn.Conv2d):
            layer.forward = lambda inp, m=layer: F.conv2d(inp, m.weight * m.weight_mask, m.bias, m.stride, m.padding)
        else:
            layer.forward = lambda inp, m=layer: F.linear(inp, m.weight * m.weight_mask, m.bias)
    net.zero_grad()
    F.cross_entropy(net(x), y).backward()
    return sum(float(m.weight_mask.grad.abs().sum()) if m.weight_mask.grad is not None else 0.0
               for m in layers_of(net))


def ref_grad_norm(net, x, y):
    net.zero_grad()
    F.cross_entropy(net(x), y).backward()
    return sum(float(m.weight.grad.norm()) if m.weight.grad is not None else 0.0 for m in layers_of(net))


def ref_fisher(net, x, y):
    for layer in layers_of(net):
        layer.fisher, layer.dummy = None, nn.Identity()
        conv = isinstance(layer, nn.Conv2d)

        def forward(inp, m=layer, conv=conv):
            out = F.conv2d(inp, m.weight, m.bias, m.stride, m.padding) if conv else F.linear(inp, m.weight, m.bias)
            m.act = m.dummy(out)
            return m.act

        def hook(module, grad_input, grad_output, m=layer):
            act, grad = m.act.detach(), grad_output[0].detach()
            g_nk = (act * grad).sum(list(range(2, act.dim()))) if act.dim() > 2 else act * grad
            del_k = g_nk.pow(2).mean(0).mul(0.5)
            m.fisher = del_k if m.fisher is None else m.fisher + del_k
        layer.forward = forward
        layer.dummy.register_full_backward_hook(hook)
    net.zero_grad()
    F.cross_entropy(net(x), y).backward()
    total = 0.0
    for m in layers_of(net):  # each channel's value broadcast over the channel's weights (reshape_elements)
        channel = m.fisher.abs() if m.fisher is not None else torch.zeros(m.weight.shape[0])
        total += float(torch.stack([torch.full(m.weight.shape[1:], float(v)) for v in channel]).sum())
    return total


def ref_grasp(net, x, y):
    weights = [m.weight for m in layers_of(net)]
    net.zero_grad()
    grad_w = list(torch.autograd.grad(F.cross_entropy(net(x), y), weights, allow_unused=True))
    grad_f = torch.autograd.grad(F.cross_entropy(net(x), y), weights, create_graph=True, allow_unused=True)
    z = 0
    for gw, gf in zip(grad_w, grad_f):
        if gw is not None:
            z += (gw.data * gf).sum()
    z.backward()
    return sum(float((-m.weight.data * m.weight.grad).sum()) if m.weight.grad is not None else 0.0
               for m in layers_of(net))


def ref_jacob_cov(net, x):
    x = x.clone().requires_grad_(True)
    out = net(x)
    out.backward(torch.ones_like(out))
    jacob = x.grad.detach().reshape(len(x), -1).numpy()
    v, _ = np.linalg.eig(np.corrcoef(jacob))
    return float(np.real(-np.sum(np.log(v + 1e-5) + 1. / (v + 1e-5))))


def ref_synflow(net):
    signs = {}
    with torch.no_grad():
        for name, param in net.state_dict().items():
            signs[name] = torch.sign(param)
            param.abs_()
    net.zero_grad()
    net.double()
    net(torch.ones(1, 3, 32, 32, dtype=torch.float64)).sum().backward()
    return sum(float((m.weight.detach() * m.weight.grad).abs().sum()) if m.weight.grad is not None else 0.0
               for m in layers_of(net))


def ref_naswot(net, x):
    K = np.zeros((len(x), len(x)))

    def forward_hook(module, inp, out):
        if not getattr(module, "visited_backwards", False):
            return
        codes = (inp[0].reshape(len(x), -1) > 0).float()
        nonlocal K
        K = K + (codes @ codes.t()).numpy() + ((1. - codes) @ (1. - codes.t())).numpy()

    def backward_hook(module, grad_input, grad_output):
        module.visited_backwards = True
    for module in net.modules():
        if "ReLU" in str(type(module)):
            module.register_forward_hook(forward_hook)
            module.register_full_backward_hook(backward_hook)
    x1 = x.clone().requires_grad_(True)
    out = net(x1)
    out.backward(torch.ones_like(out))
    net(x.clone())
    return float(np.linalg.slogdet(K)[1])


# ---- the comparison ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def context(cifar10_root, nb201_dir):
    return ProxyContext(dataset="cifar10", data_root=str(cifar10_root), splits_dir=str(nb201_dir / "splits"),
                        seed=SEED, settings={"channels": C, "cells": N})


@pytest.fixture(scope="module")
def train(context):
    return load_split("cifar10", "train", context.data_root, context.splits_dir)


@pytest.fixture(scope="module")
def zero_cost_train(train):
    """The train split normalised as the zero-cost code's loader (foresight/dataset.py): Normalize((0.4914, 0.4822,
    0.4465), (0.2023, 0.1994, 0.2010)) of ToTensor's x / 255."""
    mean, std = (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)
    return replace(train, mean=tuple(255 * m for m in mean), std=tuple(255 * v for v in std))


def harness_network(cell, zero_cost=True):
    """The cell's network as the proxy draws it by default: the zero-cost code's proxies each cell's from its own
    seed, naswot every cell's from SEED."""
    torch.manual_seed(zc.cell_seed(SEED, cell, "network") if zero_cost else SEED)
    build = zc.zero_cost_network if zero_cost else TinyNetwork
    return build(tuple(int(op) for op in cell), C=C, N=N, num_classes=10, dead_edges="compute")


REFERENCES = {"snip": ref_snip, "grad_norm": ref_grad_norm, "fisher": ref_fisher, "grasp": ref_grasp,
              "jacob_cov": lambda net, x, y: ref_jacob_cov(net, x), "naswot": lambda net, x, y: ref_naswot(net, x)}
SCORES = {"snip": zc.snip_score, "grad_norm": zc.grad_norm_score, "fisher": zc.fisher_score,
          "grasp": zc.grasp_score, "jacob_cov": lambda net, x, y: zc.jacob_cov_score(net, x),
          "naswot": lambda net, x, y: zc.naswot_score(net, x)}


@pytest.mark.parametrize("name", list(SCORES))
def test_each_image_proxy_equals_the_reference(name, context, train, zero_cost_train):
    """The registered proxy with its defaults scores the cell's network on the cell's batch (the zero-cost code's
    proxies: the zero-cost network and a fresh augmented batch of 64 per cell; naswot: the benchmark's network and
    one unaugmented batch of 128); in float64 that score equals the reference's on the same weights and batch.
    (In float32 the two differ by up to 1% on these C=4 networks, and by 1e-7 in float64: the BN of a channel of
    near-constant values magnifies summation order, as in the dead-edge cell's conv of a zero node.)"""
    naswot = name == "naswot"
    scores = get_proxy(name)(CELLS, context)
    for cell, score in zip(CELLS, scores):
        seed, size = (SEED, 128) if naswot else (zc.cell_seed(SEED, cell), 64)
        x, y = zc.draw_batch(train if naswot else zero_cost_train, size, seed, augment=not naswot)
        assert score == SCORES[name](harness_network(cell, zero_cost=not naswot), x, y)
        mine = harness_network(cell, zero_cost=not naswot).double()
        ref = reference_copy(mine, cell, 10, zero_cost=not naswot).double()
        expected = REFERENCES[name](ref, x.double(), y)
        assert SCORES[name](mine, x.double(), y) == pytest.approx(expected, rel=1e-6, abs=1e-12), cell


def test_synflow_equals_the_reference_bn_free_copy(context):
    """The reference's copy without BN keeps the reduction blocks' BNs (train mode): not the eval-BN value."""
    scores = get_proxy("synflow")(CELLS, context)
    eval_bn = get_proxy("synflow")(CELLS, replace(context, settings={**context.settings, "bn": "eval"}))
    for cell, score, other in zip(CELLS, scores, eval_bn):
        ref = reference_copy(harness_network(cell), cell, 10, use_bn=False)
        assert sum(isinstance(m, nn.BatchNorm2d) for m in ref.modules()) == 4  # two per reduction block
        expected = ref_synflow(ref)
        assert score == pytest.approx(expected, rel=1e-9)
        assert abs(other - expected) > 1e-6 * abs(expected)


def test_a_conv_of_a_zero_node_outputs_its_bias_in_the_zero_cost_network(context):
    """The dead-edge cell's 3<-1 conv reads a node cut from the input: in the zero-cost network it outputs its
    bias, which the cell's BN (batch statistics) maps to zero while it scales that conv's gradient by
    1/sqrt(eps): fisher rates the cell orders of magnitude above the same cell in the benchmark's network."""
    zero_cost = get_proxy("fisher")(CELLS[:1], context)[0]
    nb201 = get_proxy("fisher")(CELLS[:1], replace(context, settings={**context.settings, "network": "nb201"}))[0]
    assert zero_cost > 100 * nb201 > 0
    with pytest.raises(HarnessError, match="dead_edges=skip .* network=zero-cost"):
        get_proxy("fisher")(CELLS[:1], replace(context, settings={**context.settings, "dead_edges": "skip"}))


def test_fisher_channels_is_the_earlier_unweighted_conv_sum(context, zero_cost_train):
    """aggregation channels: the conv layers' channel values summed, no fan-in, no classifier."""
    cell = CELLS[2]
    x, y = zc.draw_batch(zero_cost_train, 64, zc.cell_seed(SEED, cell), augment=True)
    net = harness_network(cell)
    acts = {}
    handles = [m.register_forward_hook(lambda m, i, o: acts.setdefault(m, o)) for m in net.modules()
               if isinstance(m, nn.Conv2d)]
    net.train()
    loss = F.cross_entropy(net(x), y)
    for h in handles:
        h.remove()
    modules = list(acts)
    grads = torch.autograd.grad(loss, [acts[m] for m in modules], allow_unused=True)
    expected = sum(0.5 * float(((acts[m].detach() * g).sum((2, 3)) ** 2).mean(0).sum())
                   for m, g in zip(modules, grads) if g is not None)
    settings = {**context.settings, "aggregation": "channels"}
    assert get_proxy("fisher")(CELLS[2:], replace(context, settings=settings))[0] == pytest.approx(expected, rel=1e-5)


def test_batches_per_cell_and_fixed(context, train):
    """per-cell: each cell its own draw, the same whoever shares the call; fixed: one draw for all; augment false:
    the chosen images exactly as stored, normalised."""
    a, b = zc.draw_batch(train, 64, zc.cell_seed(SEED, CELLS[0]), True), zc.draw_batch(
        train, 64, zc.cell_seed(SEED, CELLS[1]), True)
    assert not torch.equal(a[0], b[0])
    proxy = get_proxy("snip")
    together = proxy(CELLS, context)
    alone = np.array([proxy(CELLS[i:i + 1], context)[0] for i in range(len(CELLS))])
    np.testing.assert_array_equal(together, alone)
    x, y = zc.draw_batch(train, 16, 9, augment=False)
    pick = torch.randperm(len(train), generator=torch.Generator().manual_seed(9))[:16]
    mean, std = torch.tensor(train.mean).view(1, 3, 1, 1), torch.tensor(train.std).view(1, 3, 1, 1)
    torch.testing.assert_close(x, (train.images[pick].float() - mean) / std, rtol=1e-5, atol=1e-5)
    assert torch.equal(y, train.labels[pick])
    fixed = {**context.settings, "batch": "fixed"}
    assert not np.array_equal(proxy(CELLS, replace(context, settings=fixed)), together)


@pytest.mark.parametrize("name", ["snip", "naswot"])
def test_networks_per_cell_and_shared(name, context, monkeypatch):
    """init per-cell (the zero-cost code's proxies' default): each cell's network from its own seed of (seed, cell),
    a stream apart from its batch's, so different cells' stems differ and a cell's network does not depend on the
    cells scored with it; shared (naswot's default, as NASWOT's search.py): every cell's network right after
    seeding with the seed, so all cells share the stem."""
    built = []

    def spy(build):
        def wrapper(*args, **kwargs):
            built.append(build(*args, **kwargs))
            return built[-1]
        return wrapper
    builder = "TinyNetwork" if name == "naswot" else "zero_cost_network"  # naswot scores the benchmark's network
    monkeypatch.setattr(zc, builder, spy(getattr(zc, builder)))
    proxy = get_proxy(name)
    default = proxy.settings["init"].default
    assert default == ("shared" if name == "naswot" else "per-cell")
    stems = {}
    for init in ("per-cell", "shared"):
        built.clear()
        scores = proxy(CELLS, replace(context, settings={**context.settings, "init": init}))
        stems[init] = [net.stem[0].weight.detach().clone() for net in built]
        assert len(stems[init]) == len(CELLS)
        for cell, stem in zip(CELLS, stems[init]):
            torch.manual_seed(zc.cell_seed(SEED, cell, "network") if init == "per-cell" else SEED)
            torch.testing.assert_close(stem, nn.Conv2d(3, C, 3, padding=1, bias=False).weight, rtol=0, atol=0)
        if init == default:
            np.testing.assert_array_equal(scores, proxy(CELLS, context))
        alone = np.array([proxy(CELLS[i:i + 1], replace(context, settings={**context.settings, "init": init}))[0]
                          for i in (2, 1, 0)])[::-1]
        np.testing.assert_array_equal(scores, alone)
    assert not torch.equal(stems["per-cell"][0], stems["per-cell"][1])
    assert torch.equal(stems["shared"][0], stems["shared"][1]) and torch.equal(stems["shared"][1], stems["shared"][2])
    assert len({zc.cell_seed(SEED, cell, draw) for cell in CELLS for draw in zc.CELL_DRAWS}) == 2 * len(CELLS)


def test_normalisation_as_each_reference(context, train):
    """normalisation zero-cost (the zero-cost code's proxies' default): both CIFARs by CIFAR-10's mean and the std
    0.2023, 0.1994, 0.2010, ImageNet16 as the benchmark; nb201 (naswot's default, NASWOT's loader is NB201's): the
    benchmark's constants for each dataset."""
    assert get_proxy("naswot").settings["normalisation"].default == "nb201"
    assert get_proxy("jacob_cov").settings["normalisation"].default == "zero-cost"
    for dataset in ("cifar10", "cifar10-valid", "cifar100"):
        renormalised = zc.normalised_as(train, dataset, "zero-cost")
        assert renormalised.images is train.images
        np.testing.assert_allclose(np.array(renormalised.std) / 255, [0.2023, 0.1994, 0.2010])
        np.testing.assert_allclose(np.array(renormalised.mean) / 255, [0.4914, 0.4822, 0.4465])
        assert zc.normalised_as(train, dataset, "nb201") is train
    assert zc.normalised_as(train, "ImageNet16-120", "zero-cost") is train
    cell = CELLS[2]
    x, y = zc.draw_batch(train, 64, zc.cell_seed(SEED, cell), augment=True)
    nb201 = get_proxy("snip")(CELLS[2:], replace(context, settings={**context.settings, "normalisation": "nb201"}))
    assert nb201[0] == zc.snip_score(harness_network(cell), x, y) != get_proxy("snip")(CELLS[2:], context)[0]
