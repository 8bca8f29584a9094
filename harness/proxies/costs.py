"""Proxies that need nothing but the cell: the network's parameter count and FLOPs on the dataset's head and size."""
from __future__ import annotations

import numpy as np

from harness.errors import HarnessError
from harness.nets import count_flops, count_params
from harness.proxies.registry import ProxyContext, register_proxy

_HEADS = {"cifar10-valid": (10, 32), "cifar10": (10, 32), "cifar100": (100, 32), "ImageNet16-120": (120, 16)}


def network_head(context: ProxyContext) -> tuple[int, int]:
    """(classes, input resolution) of the benchmark network for the context's dataset."""
    if context.dataset not in _HEADS:
        raise HarnessError(f"unknown dataset {context.dataset!r}; datasets are {', '.join(_HEADS)}")
    return _HEADS[context.dataset]


@register_proxy("params", description="parameter count (millions) of the standalone network, C=16, N=5")
def params(cells: np.ndarray, context: ProxyContext) -> np.ndarray:
    classes, _ = network_head(context)
    return np.array([count_params(cell, num_classes=classes) / 1e6 for cell in cells])


@register_proxy("flops", description="FLOPs (millions) of the standalone network, C=16, N=5, the dataset's input size")
def flops(cells: np.ndarray, context: ProxyContext) -> np.ndarray:
    classes, resolution = network_head(context)
    return np.array([count_flops(cell, num_classes=classes, resolution=resolution) for cell in cells])
