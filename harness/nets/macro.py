"""The macro skeleton shared by the standalone network and the supernet (REFERENCE section 2).

Stem Conv3x3 + BN; N cells at C; reduction to 2C; N cells at 2C; reduction to 4C; N cells at 4C;
BN + ReLU, global average pooling, Linear(4C, classes).
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from harness.errors import HarnessError
from harness.nets.ops import ResNetBasicblock


def check_sizes(C: int, N: int, num_classes: int) -> None:
    for name, value in (("C", C), ("N", N), ("num_classes", num_classes)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise HarnessError(f"{name} must be a positive int (the benchmark uses C=16, N=5), got {value!r}")


def layout(C: int, N: int) -> list[tuple[int, bool]]:
    """(output channels, is a reduction block) of each of the 3N + 2 blocks after the stem."""
    stages = [[(C * 2**s, False)] * N for s in range(3)]
    return stages[0] + [(2 * C, True)] + stages[1] + [(4 * C, True)] + stages[2]


class MacroNetwork(nn.Module):
    """Stem, blocks and head; subclasses make the cells and say how to run them."""

    def __init__(self, C: int, N: int, num_classes: int, make_cell: Callable[[int], nn.Module]):
        super().__init__()
        check_sizes(C, N, num_classes)
        self.C, self.N, self.num_classes = C, N, num_classes
        self.stem = nn.Sequential(nn.Conv2d(3, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        blocks, C_prev = [], C
        for C_out, reduction in layout(C, N):
            blocks.append(ResNetBasicblock(C_prev, C_out) if reduction else make_cell(C_out))
            C_prev = C_out
        self.cells = nn.ModuleList(blocks)
        self.lastact = nn.Sequential(nn.BatchNorm2d(C_prev), nn.ReLU())
        self.classifier = nn.Linear(C_prev, num_classes)
        # Channels-last weights and activations: CPU training steps ~1.4-1.8x faster (measured, 2 threads).
        self.to(memory_format=torch.channels_last)

    def run(self, x: torch.Tensor, run_cell: Callable[[nn.Module, torch.Tensor], torch.Tensor]) -> torch.Tensor:
        x = self.stem(x.contiguous(memory_format=torch.channels_last))
        for block in self.cells:
            x = block(x) if isinstance(block, ResNetBasicblock) else run_cell(block, x)
        return self.classifier(self.lastact(x).mean((2, 3)))
