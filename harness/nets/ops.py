"""The benchmark's building blocks: the cell operations and the residual reduction block.

They keep the module layout of NB201's `ReLUConvBN`, `POOLING` and `ResNetBasicblock`, so parameter counts
match the benchmark's table one for one. `none` and `skip_connect` have no module: cells skip or pass the term.
"""
from __future__ import annotations

from functools import cache

import torch
import torch.nn.functional as F
from torch import nn

from harness.space.ops import AVGPOOL, CONV1X1, CONV3X3, OPS

#: The op ids that own a module.
MODULE_OPS = (CONV1X1, CONV3X3, AVGPOOL)


class ReLUConvBN(nn.Module):
    """ReLU -> Conv kxk (padding k//2, no bias) -> BN.

    `conv` and `bn` are public so that a cell can apply one ReLU to a node that feeds several convs.
    """

    def __init__(self, C_in: int, C_out: int, kernel: int, stride: int = 1, affine: bool = True,
                 track_running_stats: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(C_in, C_out, kernel, stride=stride, padding=kernel // 2, bias=False)
        self.bn = nn.BatchNorm2d(C_out, affine=affine, track_running_stats=track_running_stats)

    def forward(self, x):
        return self.bn(self.conv(x.relu()))


class AvgPool3x3(nn.Module):
    """`avg_pool_3x3`: AvgPool 3x3, stride 1, padding 1, count_include_pad=False, computed as a depthwise conv
    with a ones kernel times 1 / (valid neighbours): the same values, 2-4x faster than `avg_pool2d` on CPU."""

    def __init__(self, C: int):
        super().__init__()
        self.register_buffer("ones", torch.ones(C, 1, 3, 3), persistent=False)

    def forward(self, x):
        H, W = x.shape[-2:]
        return F.conv2d(x, self.ones, padding=1, groups=x.shape[1]) * _inverse_counts(H, W, x.device, x.dtype)


@cache
def _inverse_counts(H: int, W: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """(1, 1, H, W): 1 / the number of in-image cells of each 3x3 window."""
    ones = torch.ones(1, 1, H, W, dtype=torch.float64)
    return (1.0 / F.avg_pool2d(ones, 3, stride=1, padding=1, divisor_override=1)).to(device, dtype)


def make_op(op: int, C: int, affine: bool, track_running_stats: bool) -> nn.Module:
    """The module of op id `op` (one of `MODULE_OPS`) on C channels, named by `OPS[op]` in its edge."""
    if op == AVGPOOL:
        return AvgPool3x3(C)
    assert op in (CONV1X1, CONV3X3), f"op {OPS[op]!r} has no module"
    return ReLUConvBN(C, C, 1 if op == CONV1X1 else 3, affine=affine, track_running_stats=track_running_stats)


class ResNetBasicblock(nn.Module):
    """The reduction block between stages: b(a(x)) + shortcut(x), doubling channels and halving resolution.

    Its BNs are always affine with running statistics, in the standalone network and in the supernet alike.
    """

    def __init__(self, C_in: int, C_out: int):
        super().__init__()
        self.conv_a = ReLUConvBN(C_in, C_out, 3, stride=2)
        self.conv_b = ReLUConvBN(C_out, C_out, 3)
        self.downsample = nn.Sequential(nn.AvgPool2d(2, stride=2, padding=0),
                                        nn.Conv2d(C_in, C_out, 1, bias=False))

    def forward(self, x):
        return self.conv_b(self.conv_a(x)) + self.downsample(x)
