"""SynFlow by one forward pass (`harness.proxies.synflow_pass`) against the autograd definition on built networks, in
the variant it computes: the benchmark's network with every BN in eval mode."""
import numpy as np
import pytest
import torch

import harness.proxies.zero_cost as zc
from harness.errors import HarnessError
from harness.nets import TinyNetwork, plan_of
from harness.proxies import ProxyContext, get_proxy
from harness.proxies.synflow_pass import initial_weights, synflow_pass

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# none, skip, conv1x1, conv3x3, avgpool = 0..4: all-none, all-pool, all-conv, dead conv edges (3<-1 reads node 1,
# fed by none; 1<-0 conv reaches nothing), the output cut off with live convs before it, and mixed cells
CELLS = [(0, 0, 0, 0, 0, 0), (4, 4, 4, 4, 4, 4), (3, 3, 3, 3, 3, 3), (0, 3, 2, 1, 3, 0), (3, 2, 0, 0, 0, 0),
         (1, 2, 3, 4, 1, 2), (2, 0, 4, 3, 1, 1), (4, 3, 0, 2, 3, 1)]


def _built(cell, C, N, classes, seed):
    torch.manual_seed(seed)
    return TinyNetwork(cell, C=C, N=N, num_classes=classes, dead_edges="compute")


@pytest.mark.parametrize("C, N, classes, resolution", [(16, 5, 10, 32), (4, 1, 100, 16), (8, 2, 120, 16)])
def test_pass_equals_autograd_synflow_of_the_built_network(C, N, classes, resolution):
    for seed, cell in enumerate(CELLS):
        expected = zc.synflow_score(_built(cell, C, N, classes, seed), (3, resolution, resolution), bn="eval")
        assert synflow_pass(cell, C, N, classes, resolution, seed) == pytest.approx(expected, rel=1e-12, abs=1e-300)


def test_initial_weights_are_the_built_networks_own():
    """Every conv and linear weight, drawn without the modules, equals the seeded network's, dead edges' included in
    the draws (a live edge after a dead one gets the same values)."""
    for cell in CELLS:
        net = _built(cell, 8, 2, 10, 7)
        weights = initial_weights(cell, 8, 2, 10, 7)
        assert torch.equal(weights["stem"], net.stem[0].weight.double().abs())
        for block, module in zip(weights["blocks"], net.cells):
            if isinstance(block, tuple):
                mine = [module.conv_a.conv.weight, module.conv_b.conv.weight, module.downsample[1].weight]
                assert all(torch.equal(w, m.double().abs()) for w, m in zip(block, mine))
            else:
                convs = {name: m.conv.weight for name, m in module.edges.items() if hasattr(m, "conv")}
                assert len(convs) == len(block)
                assert all(torch.equal(w, convs[name].double().abs())
                           for w, name in zip(block.values(), convs))
        assert torch.equal(weights["classifier"], net.classifier.weight.double().abs())


def test_registered_synflow_methods_agree():
    variant = {"channels": 4, "cells": 1, "network": "nb201", "bn": "eval"}
    context = ProxyContext(dataset="cifar100", seed=4, settings={**variant, "method": "path-sum"})
    cells = np.array(CELLS)
    fast = get_proxy("synflow")(cells, context)
    slow = get_proxy("synflow")(cells, ProxyContext(dataset="cifar100", seed=4, settings=variant))
    np.testing.assert_allclose(fast, slow, rtol=1e-12)
    cut_off = [plan_of(cell).output_is_zero for cell in CELLS]
    assert (fast[cut_off] == 0).all() and (fast[np.logical_not(cut_off)] > 0).all()  # no path: nothing flows


def test_the_path_sum_pass_refuses_the_reference_variant():
    """The zero-cost code's synflow (its network, the reductions' BNs in train mode) is not a sum over paths."""
    with pytest.raises(HarnessError, match="method=path-sum computes the nb201 network with eval-mode BNs, not "
                                           "network='zero-cost' with bn='zero-cost'"):
        get_proxy("synflow")(np.array(CELLS[:1]), ProxyContext(dataset="cifar10", settings={"method": "path-sum"}))
