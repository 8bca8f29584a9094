"""Zero-cost proxies (Abdelfattah et al. 2021; NASWOT, Mellor et al. 2021): one look at an untrained network.

Each cell's network is `TinyNetwork(cell, C, N, classes, dead_edges)` built right after
`torch.manual_seed(context.seed)`, so a score depends only on (cell, seed, settings). Settings: "channels" (C,
default 16), "cells" (N, default 5), "dead_edges" (default "compute"), "batch_size" (default 64; 128 for naswot). The proxies that need images score ONE batch: the first batch of the
seeded, augmented "train" split of `context.dataset`, as the zero-cost code takes it from its train loader.

The plain functions (`synflow_score(net, input_shape)`, `snip_score(net, x, y)`, ...) score any module, so the
definitions can be checked on hand-built networks; the registered proxies loop them over cells.

Choices where the NB201 networks differ from the reference code's:
- synflow: the reference builds NB201 networks without BN (`bn=False`); here BN stays and the network is put in
  eval mode, where BN at initialisation (running mean 0, var 1, weight 1, bias 0) is the identity up to
  1/sqrt(1 + eps). The registered proxy computes it by one forward pass that carries the path sums
  (`harness.proxies.synflow_pass`; `method: autograd` builds and differentiates each network, as before).
- fisher: the reference hooks identity layers after each ReLU; here the hooked activations are every conv's output.
- naswot: the reference hooks every nn.ReLU; NB201's `ReLUConvBN` applies ReLU functionally, so the codes are read
  at every `ReLUConvBN` conv's input (a ReLU output, once per conv as with one nn.ReLU per ReLUConvBN) and at every
  nn.ReLU module's output (the head's).
- dead edges: the reference networks (NB201's `InferCell`) run every edge, a conv edge that cannot reach the output
  or that reads a node no input reaches (all zeros) included, and so does `dead_edges: compute` (the default);
  `skip` runs only the edges that can change the output. The output is the same either way, so are the gradients
  of every weight (a dead conv's is zero) and hence synflow, snip, grad_norm, fisher, grasp and jacob_cov (tested
  on cells with dead conv edges); NASWOT differs, since it reads the binary codes at every conv's input: a dead
  conv adds its codes, an all-zero input all-zero codes.
- A network whose output ignores its input (e.g. all-`none` cells) scores -inf in jacob_cov and naswot: its
  Jacobian has no correlation to measure, its codes no diversity.
"""
from __future__ import annotations

import copy
import functools

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from harness.data import DeviceBatches, load_split
from harness.nets import ReLUConvBN, TinyNetwork
from harness.proxies.costs import network_head
from harness.proxies.registry import ProxyContext, Setting, register_proxy
from harness.proxies.synflow_pass import synflow_pass

__all__ = ["fisher_score", "grad_norm_score", "grasp_score", "jacob_cov_score", "naswot_score", "snip_score",
           "synflow_score"]


def _weighted(net: nn.Module) -> list[nn.Module]:
    """The layers the zero-cost proxies sum over: convolutions and linear layers."""
    return [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def _sum_over_weights(net: nn.Module, term) -> float:
    """sum over conv/linear layers of term(weight, grad); layers with no gradient (never run) add nothing."""
    return float(sum(term(m.weight.detach(), m.weight.grad).item()
                     for m in _weighted(net) if m.weight.grad is not None))


def _loss_backward(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
    net.train()
    net.zero_grad(set_to_none=True)
    F.cross_entropy(net(x), y).backward()


def synflow_score(net: nn.Module, input_shape: tuple[int, ...]) -> float:
    """SynFlow: sum of |w * dR/dw|, R = sum(f(1)) of the net with |weights|, float64, eval mode (BN at its running
    statistics). Works on a copy: the caller's net keeps its signs and dtype."""
    net = copy.deepcopy(net).double().eval()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    net.zero_grad(set_to_none=True)
    x = torch.ones((1, *input_shape), dtype=torch.float64, device=next(net.parameters()).device)
    net(x).sum().backward()
    return _sum_over_weights(net, lambda w, g: (w * g).abs().sum())


def snip_score(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """SNIP: sum of |w * dL/dw|, cross-entropy on one batch in train mode."""
    _loss_backward(net, x, y)
    return _sum_over_weights(net, lambda w, g: (w * g).abs().sum())


def grad_norm_score(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """grad_norm: sum over layers of ||dL/dw||_2."""
    _loss_backward(net, x, y)
    return _sum_over_weights(net, lambda w, g: g.norm())


def fisher_score(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Fisher: over every conv output a, 0.5 * sum over channels of the batch mean of (sum_spatial a * dL/da)^2."""
    outputs, grads = [], {}

    def keep(module, inputs, output):
        if output.requires_grad:
            # the hook must not hold `output`: a tensor <-> hook cycle outlives the call until Python's cyclic
            # collector runs, which object counts trigger, not the gigabytes such cycles hold
            output.register_hook(functools.partial(grads.__setitem__, len(outputs)))
            outputs.append(output.detach())

    handles = [m.register_forward_hook(keep) for m in net.modules() if isinstance(m, nn.Conv2d)]
    try:
        _loss_backward(net, x, y)
    finally:
        for h in handles:
            h.remove()
    return float(sum((a * grads[i]).sum((2, 3)).pow(2).mean(0).mul(0.5).sum().item()
                     for i, a in enumerate(outputs) if i in grads))


def grasp_score(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """GraSP: -sum(w * Hg), g = dL/dw (constant), Hg = d(sum(g * dL/dw))/dw by double backprop."""
    net.train()
    net.zero_grad(set_to_none=True)
    weights = [m.weight for m in _weighted(net)]
    grads = torch.autograd.grad(F.cross_entropy(net(x), y), weights, allow_unused=True)
    grads_graph = torch.autograd.grad(F.cross_entropy(net(x), y), weights, create_graph=True, allow_unused=True)
    z = sum((g.detach() * gg).sum() for g, gg in zip(grads, grads_graph) if g is not None)
    if not torch.is_tensor(z) or not z.requires_grad:
        return 0.0  # no weight reaches the loss: no curvature to measure
    z.backward()
    return _sum_over_weights(net, lambda w, hg: -(w * hg).sum())


def jacob_cov_score(net: nn.Module, x: torch.Tensor) -> float:
    """jacob_cov: -sum(log(v + k) + 1/(v + k)), v the eigenvalues of the correlation matrix of the per-image
    Jacobians d(sum f(x))/dx, k = 1e-5."""
    net.train()
    net.zero_grad(set_to_none=True)
    x = x.detach().clone().requires_grad_(True)
    net(x).sum().backward()
    if x.grad is None:  # the output does not depend on the input at all
        return float("-inf")
    jacob = x.grad.reshape(len(x), -1).double().cpu().numpy()
    if np.any(jacob.std(axis=1) == 0):
        return float("-inf")
    v = np.linalg.eigvalsh(np.corrcoef(jacob))
    k = 1e-5
    return float(-np.sum(np.log(v + k) + 1.0 / (v + k)))


def naswot_score(net: nn.Module, x: torch.Tensor) -> float:
    """NASWOT: log|K|, K = sum over ReLU layers of c c^T + (1 - c)(1 - c)^T, c the binary codes (activation > 0)
    of each image."""
    n = len(x)
    K = torch.zeros(n, n, dtype=torch.float64)

    def add(codes: torch.Tensor) -> None:
        c = (codes.detach().reshape(n, -1) > 0).double().cpu()
        K.add_(c @ c.T + (1 - c) @ (1 - c).T)

    convs = [m.conv for m in net.modules() if isinstance(m, ReLUConvBN)]
    handles = [m.register_forward_pre_hook(lambda module, inputs: add(inputs[0])) for m in convs]
    handles += [m.register_forward_hook(lambda module, inputs, output: add(output))
                for m in net.modules() if isinstance(m, nn.ReLU)]
    net.train()
    try:
        with torch.no_grad():
            net(x)
    finally:
        for h in handles:
            h.remove()
    sign, logdet = torch.linalg.slogdet(K)
    return float(logdet) if sign > 0 else float("-inf")


@functools.lru_cache(maxsize=4)
def _batch(dataset: str, data_root: str, splits_dir: str | None, seed: int, batch_size: int):
    """The first batch of the seeded, augmented train split (cached on CPU: loading a split takes seconds)."""
    data = load_split(dataset, "train", data_root, splits_dir)
    return next(iter(DeviceBatches(data, batch_size, "cpu", train=True, seed=seed)))


def _networks(cells: np.ndarray, context: ProxyContext):
    """Each cell's seeded network on the context's device, one at a time, so only one is alive."""
    classes, _ = network_head(context)
    C, N, dead_edges = context.settings["channels"], context.settings["cells"], context.settings["dead_edges"]
    for cell in np.asarray(cells):
        torch.manual_seed(context.seed)
        yield TinyNetwork(tuple(int(op) for op in cell), C=C, N=N, num_classes=classes,
                          dead_edges=dead_edges).to(context.device)


#: the settings every zero-cost proxy takes: the network's size
NETWORK_SETTINGS = {"channels": Setting(int, 16, "C, the channels of the first stage"),
                    "cells": Setting(int, 5, "N, the cells per stage"),
                    "dead_edges": Setting(str, "compute", "compute: every edge runs, as the reference networks "
                                                          "(NB201's InferCell); skip: only those that reach the "
                                                          "output (the same output; NASWOT's codes differ)",
                                          choices=("compute", "skip"))}


def _image_proxy(score, labels: bool = True):
    """fn(cells, context) scoring each cell's network with `score(net, x[, y])` on the context's batch."""
    def fn(cells: np.ndarray, context: ProxyContext) -> np.ndarray:
        batch_size = context.settings["batch_size"]
        x, y = _batch(context.dataset, str(context.data_root), context.splits_dir and str(context.splits_dir),
                      int(context.seed), batch_size)
        x, y = x.to(context.device), y.to(context.device)
        return np.array([score(net, x, y) if labels else score(net, x) for net in _networks(cells, context)])
    return fn


@register_proxy("synflow", description="SynFlow at initialisation: |w * dR/dw| of the |weights| network on an "
                                       "all-ones float64 input, BN in eval mode (no images)",
                settings={**NETWORK_SETTINGS,
                          "method": Setting(str, "path-sum", "path-sum: one forward pass carrying the path sums "
                                                             "(harness.proxies.synflow_pass; dead edges never run, "
                                                             "which changes no score); autograd: each network built "
                                                             "and differentiated (synflow_score)",
                                            choices=("path-sum", "autograd"))})
def synflow(cells: np.ndarray, context: ProxyContext) -> np.ndarray:
    classes, resolution = network_head(context)
    if context.settings["method"] == "autograd":
        return np.array([synflow_score(net, (3, resolution, resolution)) for net in _networks(cells, context)])
    C, N = context.settings["channels"], context.settings["cells"]
    return np.array([synflow_pass(tuple(int(op) for op in cell), C, N, classes, resolution, int(context.seed))
                     for cell in np.asarray(cells)])


_DESCRIPTIONS = {
    "snip": (snip_score, 64, True, "SNIP at initialisation: sum |w * dL/dw| on one train batch"),
    "grad_norm": (grad_norm_score, 64, True, "sum of per-layer gradient L2 norms on one train batch"),
    "fisher": (fisher_score, 64, True, "Fisher at initialisation over conv outputs, one train batch"),
    "grasp": (grasp_score, 64, True, "GraSP at initialisation: -sum(w * Hg), one train batch"),
    "jacob_cov": (jacob_cov_score, 64, False, "input-Jacobian correlation score at initialisation, one train batch"),
    "naswot": (naswot_score, 128, False, "NASWOT: log-determinant of the ReLU-code kernel, one train batch of 128"),
}
for _name, (_score, _batch_size, _labels, _description) in _DESCRIPTIONS.items():
    register_proxy(_name, needs=("images",), description=_description,
                   settings={**NETWORK_SETTINGS, "batch_size": Setting(int, _batch_size, "images in the one batch")})(
        _image_proxy(_score, _labels))
