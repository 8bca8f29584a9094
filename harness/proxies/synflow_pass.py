"""SynFlow of a cell's seeded network by one forward pass, without building the network or running autograd.

SynFlow scores the network with every weight replaced by its absolute value on an all-ones input, in eval mode at
initialisation, where every BN is a positive scale (running mean 0, variance 1, weight 1, bias 0). Every
activation is then positive, so every ReLU is the identity and the network is linear in its input and multilinear
in its layers: R = sum(f(1)) is a sum over the paths from input to output of the product of the weights on the
path. A path uses one weight of each conv or linear layer it crosses, so the SynFlow sum over a layer,
sum |w * dR/dw| = sum w * dR/dw, is the total of the paths through that layer (Euler), and the score, summed over
all layers, is the sum over paths of (conv and linear layers on the path) * (path value).

That sum is carried forward beside the activation: the batch is [v; d], v the activation of the ones input and d
that sum over the paths reaching each unit, starting at [1; 0]. Every op is linear and applies to both; a conv or
linear layer also adds its output on v to d (each path through it crosses one more layer), and the classifier's
bias enters v only. The score is sum(d) at the output: the autograd definition (`zero_cost.synflow_score`) to float64
rounding, in one forward pass at batch 2 instead of a forward and a backward pass at batch 1, on the cell's live
edges only (`plan_of`: a dead conv's weights get no gradient, a `none` edge adds nothing), with avg_pool as sums of
shifted copies. The weights are drawn as `TinyNetwork(cell, ...)` draws them right after `torch.manual_seed(seed)`:
the same init calls on the same shapes in its construction order, without its modules (a test checks every one).
"""
from __future__ import annotations

import math
from functools import cache

import torch
import torch.nn.functional as F
from torch import nn

from harness.nets.cells import plan_of
from harness.nets.macro import layout
from harness.space.ops import AVGPOOL, CONV1X1, CONV3X3, NUM_NODES, SKIP

#: eval-mode BN at initialisation: x / sqrt(running_var + eps), running_var 1, eps PyTorch's default
_BN_SCALE = 1.0 / math.sqrt(1.0 + 1e-5)


def _conv_weight(C_in: int, C_out: int, kernel: int) -> torch.Tensor:
    """A bias-free `nn.Conv2d`'s weight as its `reset_parameters` draws it."""
    weight = torch.empty(C_out, C_in, kernel, kernel)
    nn.init.kaiming_uniform_(weight, a=math.sqrt(5))
    return weight


def initial_weights(cell: tuple[int, ...], C: int, N: int, num_classes: int, seed: int) -> dict:
    """The conv and linear weights of `TinyNetwork(cell, C, N, num_classes)` built right after
    `torch.manual_seed(seed)`, as absolute float64 values: {"stem", "blocks" (per block: a cell's {edge: weight} or a
    reduction's (conv_a, conv_b, downsample)), "classifier"}. The classifier's bias adds to R on no path
    through a weight, so it is not needed."""
    torch.manual_seed(seed)
    stem, blocks, C_prev = _conv_weight(3, C, 3), [], C
    for C_out, reduction in layout(C, N):
        if reduction:
            blocks.append((_conv_weight(C_prev, C_out, 3), _conv_weight(C_out, C_out, 3),
                           _conv_weight(C_prev, C_out, 1)))
        else:
            blocks.append({e: _conv_weight(C_out, C_out, 1 if op == CONV1X1 else 3)
                           for e, op in enumerate(cell) if op in (CONV1X1, CONV3X3)})
        C_prev = C_out
    classifier = nn.Linear(C_prev, num_classes).weight.detach()  # the last draws: its weight, then its bias
    absolute = lambda w: w.double().abs_()  # noqa: E731
    return {"stem": absolute(stem),
            "blocks": [tuple(map(absolute, b)) if isinstance(b, tuple) else {e: absolute(w) for e, w in b.items()}
                       for b in blocks],
            "classifier": absolute(classifier)}


def _weighted(x: torch.Tensor, weight: torch.Tensor, stride: int = 1) -> torch.Tensor:
    """A conv layer on [v; d]: [w*v; w*d + w*v]."""
    out = F.conv2d(x, weight, stride=stride, padding=weight.shape[-1] // 2)
    out[1] += out[0]
    return out


def _avg_pool_3x3(x: torch.Tensor) -> torch.Tensor:
    """avg_pool_3x3 (stride 1, padding 1, count_include_pad=False) as 3x3 box sums of shifted copies times
    1 / (in-image neighbours): `avg_pool2d`'s values to float64 rounding, at a fraction of its float64 CPU time."""
    padded = F.pad(x, (1, 1, 1, 1))
    rows = padded[..., :-2, :] + padded[..., 1:-1, :] + padded[..., 2:, :]
    return (rows[..., :-2] + rows[..., 1:-1] + rows[..., 2:]) * _inverse_counts(*x.shape[-2:])


@cache
def _inverse_counts(H: int, W: int) -> torch.Tensor:
    ones = torch.ones(1, 1, H, W, dtype=torch.float64)
    return 1.0 / F.avg_pool2d(ones, 3, stride=1, padding=1, divisor_override=1)


def _cell(x: torch.Tensor, cell: tuple[int, ...], weights: dict) -> torch.Tensor:
    plan = plan_of(cell)
    if plan.output_is_zero:
        return torch.zeros_like(x)
    nodes = [x] + [None] * (NUM_NODES - 1)
    for node, terms in plan.nodes:
        total = None
        for edge, op, src in terms:
            h = nodes[src]
            if op == SKIP:
                out = h
            elif op == AVGPOOL:
                out = _avg_pool_3x3(h)
            else:
                out = _weighted(h, weights[edge]) * _BN_SCALE
            total = out if total is None else total + out
        nodes[node] = total
    return nodes[-1]


@torch.no_grad()
def synflow_pass(cell: tuple[int, ...], C: int, N: int, num_classes: int, resolution: int, seed: int) -> float:
    """SynFlow of `TinyNetwork(cell, C, N, num_classes)` seeded with `seed`, on a (3, resolution, resolution) input."""
    weights = initial_weights(cell, C, N, num_classes, seed)
    x = torch.zeros(2, 3, resolution, resolution, dtype=torch.float64)
    x[0] = 1.0
    x = _weighted(x, weights["stem"]) * _BN_SCALE
    for block, (_, reduction) in zip(weights["blocks"], layout(C, N)):
        if reduction:
            conv_a, conv_b, downsample = block
            x = (_weighted(_weighted(x, conv_a, stride=2) * _BN_SCALE, conv_b) * _BN_SCALE
                 + _weighted(F.avg_pool2d(x, 2, stride=2), downsample))
        else:
            x = _cell(x, cell, block)
    features = (x * _BN_SCALE).mean((2, 3))  # the head's BN and ReLU (the identity), global average pooling
    return float((features.sum(0) @ weights["classifier"].T).sum())  # [w*v; w*d + w*v]: sum(d) at the output
