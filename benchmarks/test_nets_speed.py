"""Supernet training throughput: `harness.nets.Supernet` (spos) against a plain eager supernet, side by side.

One step = forward + backward + SGD step on a batch of 64 random images, for a cell sampled uniformly per step
(the same seeded sequence of cells for both). Images/s go to `benchmark.extra_info`; the harness's entries also
carry `speedup_vs_plain`. Target (issue): >= 1.5x the plain implementation. Timings are not asserted.
Run: `pytest benchmarks/test_nets_speed.py`.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from harness.nets import Supernet
from harness.space import EDGES

BATCH = 64
#: (C, N, resolution, timed steps)
SETTINGS = {"C16-N5-32px": (16, 5, 32, 12), "C8-N2-16px": (8, 2, 16, 60)}
IMAGES_PER_S: dict[tuple[str, str], float] = {}


class PlainCell(nn.Module):
    """Every edge holds all 5 ops and computes its chosen one, zeros for `none`; no dead-node skipping."""

    def __init__(self, C: int):
        super().__init__()

        def conv(k):
            return nn.Sequential(nn.ReLU(), nn.Conv2d(C, C, k, padding=k // 2, bias=False),
                                 nn.BatchNorm2d(C, affine=False))
        self.edges = nn.ModuleList(
            nn.ModuleList([Zero(), nn.Identity(), conv(1), conv(3), nn.AvgPool2d(3, 1, 1, count_include_pad=False)])
            for _ in EDGES)

    def forward(self, x, cell):
        nodes = [x]
        for node in range(1, 4):
            nodes.append(sum(self.edges[e][cell[e]](nodes[src]) for e, (to, src) in enumerate(EDGES) if to == node))
        return nodes[3]


class Zero(nn.Module):
    def forward(self, x):
        return x.mul(0.0)


class PlainReduction(nn.Module):
    def __init__(self, C_in: int, C_out: int):
        super().__init__()
        self.a = nn.Sequential(nn.ReLU(), nn.Conv2d(C_in, C_out, 3, 2, 1, bias=False), nn.BatchNorm2d(C_out))
        self.b = nn.Sequential(nn.ReLU(), nn.Conv2d(C_out, C_out, 3, 1, 1, bias=False), nn.BatchNorm2d(C_out))
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(C_in, C_out, 1, bias=False))

    def forward(self, x):
        return self.b(self.a(x)) + self.shortcut(x)


class PlainSupernet(nn.Module):
    """The straightforward NB201 supernet (NCHW, the benchmark's modules), as a weight-sharing baseline."""

    def __init__(self, C: int, N: int, num_classes: int = 10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        blocks, C_prev = [], C
        for stage in range(3):
            if stage:
                blocks.append(PlainReduction(C_prev, 2 * C_prev))
                C_prev *= 2
            blocks += [PlainCell(C_prev) for _ in range(N)]
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Sequential(nn.BatchNorm2d(C_prev), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classifier = nn.Linear(C_prev, num_classes)

    def forward(self, x, cell):
        x = self.stem(x)
        for block in self.blocks:
            x = block(x, cell) if isinstance(block, PlainCell) else block(x)
        return self.classifier(self.head(x))


@pytest.mark.parametrize("setting", list(SETTINGS))
@pytest.mark.parametrize("implementation", ["plain", "harness"])
def test_spos_training_throughput(benchmark, two_threads, implementation, setting):
    C, N, resolution, steps = SETTINGS[setting]
    torch.manual_seed(0)
    model = Supernet(C, N) if implementation == "harness" else PlainSupernet(C, N)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.025, momentum=0.9, nesterov=True, weight_decay=5e-4)
    x, y = torch.randn(BATCH, 3, resolution, resolution), torch.randint(0, 10, (BATCH,))
    rng = np.random.default_rng(0)

    def step():
        loss = F.cross_entropy(model(x, rng.integers(0, 5, 6)), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.item()

    loss = benchmark.pedantic(step, rounds=steps, iterations=1, warmup_rounds=2)
    assert np.isfinite(loss)
    images_per_s = BATCH / benchmark.stats.stats.mean
    IMAGES_PER_S[implementation, setting] = images_per_s
    benchmark.extra_info["images_per_s"] = round(images_per_s, 1)
    benchmark.extra_info["setting"] = dict(C=C, N=N, resolution=resolution, batch=BATCH, threads=2)
    if implementation == "harness" and ("plain", setting) in IMAGES_PER_S:
        benchmark.extra_info["speedup_vs_plain"] = round(images_per_s / IMAGES_PER_S["plain", setting], 2)
