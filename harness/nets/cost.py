"""Analytic cost model: parameters and FLOPs of the standalone network, without building modules.

FLOPs follow the benchmark's counter (AutoDL-Projects `get_model_infos`, batch 1): multiply-adds of Conv2d,
out_h * out_w * k * k * C_in * C_out (convs have no bias), plus in * out + out for the Linear head; BN, ReLU,
pooling and additions count nothing. The benchmark's `InferCell` runs every edge (ours skips dead ones), so
convs on dead edges count too; the sample records cannot tell, as none of their dead edges is a conv.
"""
from __future__ import annotations

from harness.errors import HarnessError
from harness.nets.cells import as_cell
from harness.nets.macro import check_sizes, layout
from harness.space.ops import CONV1X1, CONV3X3

_KERNEL = {CONV1X1: 1, CONV3X3: 3}


def count_params(cell, C: int = 16, N: int = 5, num_classes: int = 10) -> int:
    """Parameters of `TinyNetwork(cell, C, N, num_classes)` (affine BNs); x 1e-6 is the table's `params_mb`."""
    cell = as_cell(cell)
    check_sizes(C, N, num_classes)
    total = 3 * 9 * C + 2 * C  # stem conv + BN
    C_prev = C
    for C_out, reduction in layout(C, N):
        if reduction:  # conv_a, conv_b with their BNs, shortcut 1x1
            total += 9 * C_prev * C_out + 9 * C_out * C_out + 4 * C_out + C_prev * C_out
        else:
            total += sum(_KERNEL[op] ** 2 * C_out * C_out + 2 * C_out for op in cell if op in _KERNEL)
        C_prev = C_out
    return total + 2 * C_prev + C_prev * num_classes + num_classes  # last BN, classifier


def count_flops(cell, C: int = 16, N: int = 5, num_classes: int = 10, resolution: int = 32) -> float:
    """FLOPs in millions of one `resolution` x `resolution` image, the benchmark's convention (module docstring)."""
    cell = as_cell(cell)
    check_sizes(C, N, num_classes)
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 4 or resolution % 4:
        raise HarnessError(f"resolution must be a positive multiple of 4 (the network halves it twice), "
                           f"got {resolution!r}; the benchmark uses 32 for CIFAR and 16 for ImageNet16-120")
    hw = resolution * resolution
    total = hw * 9 * 3 * C  # stem
    C_prev = C
    for C_out, reduction in layout(C, N):
        if reduction:
            hw //= 4
            total += hw * (9 * C_prev * C_out + 9 * C_out * C_out + C_prev * C_out)
        else:
            total += sum(hw * _KERNEL[op] ** 2 * C_out * C_out for op in cell if op in _KERNEL)
        C_prev = C_out
    return (total + C_prev * num_classes + num_classes) / 1e6
