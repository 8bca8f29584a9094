"""Per-cell cost of the proxies that run a network: synflow, jacob_cov, grasp and Re-BN, at the benchmark's size
(C=16, N=5, 32 px, CIFAR-10 head), on the CPU and, when one is present, on a GPU. grasp is timed beside the
reference's two forward passes (its baseline), which give the same score.

Each round scores the same seeded sample of cells; `extra_info` holds seconds per cell. Re-BN is timed with 1,024
calibration and 1,024 validation images (random; the values do not change the cost) and also reported as the
extrapolated seconds per cell at ABS's 20,000 + 25,000 images (`seconds_per_cell_abs_setting`; target on an
H200-class GPU: <= 0.2 s). Run: `pytest benchmarks/test_proxy_speed.py`.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from harness.nets import Supernet, TinyNetwork
from harness.proxies.supernet_accuracy import child_accuracy, recalibrate
from harness.proxies.zero_cost import grasp_score, jacob_cov_score, synflow_score, zero_cost_network
from harness.space import all_cells

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
CELLS = all_cells()[np.random.default_rng(0).choice(15625, 4, replace=False)]
REBN_IMAGES, ABS_IMAGES = 1024 + 1024, 20_000 + 25_000


def _per_cell(benchmark, fn, n_cells: int = len(CELLS)) -> float:
    benchmark.pedantic(fn, rounds=3, iterations=1, warmup_rounds=1)
    seconds = benchmark.stats.stats.mean / n_cells
    benchmark.extra_info["seconds_per_cell"] = seconds
    return seconds


def _networks(device):
    torch.manual_seed(0)
    return [TinyNetwork(tuple(int(op) for op in cell), C=16, N=5, num_classes=10).to(device) for cell in CELLS]


@pytest.mark.parametrize("device", DEVICES)
def test_synflow_per_cell(benchmark, device):
    nets = _networks(device)
    _per_cell(benchmark, lambda: [synflow_score(net, (3, 32, 32)) for net in nets])


@pytest.mark.parametrize("device", DEVICES)
def test_jacob_cov_per_cell(benchmark, device):
    nets = _networks(device)
    x = torch.randn(64, 3, 32, 32, device=device)
    _per_cell(benchmark, lambda: [jacob_cov_score(net, x) for net in nets])


def two_pass_grasp(net, x, y) -> float:
    """GraSP as the zero-cost code runs it: g from a forward pass without a graph, the graph from a second one."""
    weights = [m.weight for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    net.train()
    net.zero_grad(set_to_none=True)
    grads = torch.autograd.grad(F.cross_entropy(net(x), y), weights, allow_unused=True)
    graph = torch.autograd.grad(F.cross_entropy(net(x), y), weights, create_graph=True, allow_unused=True)
    sum((g.detach() * h).sum() for g, h in zip(grads, graph) if g is not None).backward()
    return float(sum(-(m.weight.detach() * m.weight.grad).sum() for m in net.modules()
                     if isinstance(m, (nn.Conv2d, nn.Linear)) and m.weight.grad is not None))


@pytest.mark.parametrize("passes", ["one", "two"])
def test_grasp_per_cell(benchmark, record_mean, passes):
    """The harness's one pass against the reference's two, on the zero-cost network and a batch of 64."""
    torch.manual_seed(0)
    nets = [zero_cost_network(tuple(int(op) for op in cell)) for cell in CELLS[:2]]
    x, y = torch.randn(64, 3, 32, 32), torch.randint(0, 10, (64,))
    score = grasp_score if passes == "one" else two_pass_grasp
    _per_cell(benchmark, lambda: [score(net, x, y) for net in nets], 2)
    record_mean(f"grasp_{passes}_pass")


@pytest.mark.parametrize("device", DEVICES)
def test_rebn_per_cell(benchmark, device):
    torch.manual_seed(0)
    model = Supernet(16, 5, num_classes=10).to(device)
    calibration = [(torch.randn(512, 3, 32, 32, device=device), None) for _ in range(2)]
    valid = [(torch.randn(512, 3, 32, 32, device=device), torch.randint(0, 10, (512,), device=device))
             for _ in range(2)]

    def score_all():
        for cell in CELLS[:2]:  # two cells a round: each takes seconds on a CPU
            recalibrate(model, cell, calibration)
            child_accuracy(model, cell, valid)
        if device == "cuda":
            torch.cuda.synchronize()
    seconds = _per_cell(benchmark, score_all, 2)
    benchmark.extra_info["seconds_per_cell_abs_setting"] = seconds * ABS_IMAGES / REBN_IMAGES
