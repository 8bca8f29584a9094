"""Zero-cost proxies (Abdelfattah et al. 2021; NASWOT, Mellor et al. 2021): one look at an untrained network.

Each proxy follows its released code by default: synflow, snip, grad_norm, fisher, grasp and jacob_cov the
zero-cost code (`foresight/pruners/measures/` with `nasbench2_pred.py` and `foresight/models/nasbench2.py`), naswot
Mellor et al.'s `search.py`. Each cell's network is built right after `torch.manual_seed` of a seed made from
(seed, cell) (`init: per-cell`) or of the seed itself (`init: shared`), so a score depends only on (cell, seed,
settings), never on the other cells scored with it. The plain functions (`synflow_score(net, input_shape)`,
`snip_score(net, x, y)`, ...) score any module, so the definitions can be checked on hand-built networks; the
registered proxies loop them over cells.

Shared by every proxy (settings "channels", "cells", "dead_edges", "network", "init", and for the image proxies
"batch_size", "batch", "augment", "normalisation"):
- network. As the reference: C=16, N=5; PyTorch's default initialisation (`--init_w_type none`); every edge runs,
  dead convs and `none` (`x * 0`) included (`dead_edges: compute`; with `network: nb201`, `skip` runs only the edges
  that can change the output: the same output and weight gradients, so only naswot's codes differ). The zero-cost
  code's NB201 network (`NAS201Model`) is not the benchmark's: its cells' convs have a bias and their BNs neither
  affine parameters nor running statistics (`network: zero-cost`, the default of its proxies); NASWOT scores the
  benchmark's own network (`network: nb201`, its default).
- initialisation (`init`). The zero-cost code seeds torch once (`torch.manual_seed(args.seed)`) and builds each
  architecture's network from the RNG as its loop over architectures (and each measure's network copy) left it, so
  the draws of different cells are independent: as the reference, `init: per-cell` seeds each cell's network from
  (seed, cell), its own stream, apart from its batch's. Within a cell every proxy scores the same network on the
  same batch, as the reference's measures all score one network and one batch per architecture. NASWOT's
  `search.py` restores its saved RNG state before drawing each architecture's batch and builds the next network
  after that draw, so every network but the first is built from one and the same RNG state: as the reference,
  naswot's `init: shared` builds every cell's network right after `torch.manual_seed(seed)`. A shared seed gives
  different cells the same stem and, wherever their construction order agrees, the same weights (common random
  numbers), which takes part of the initialisation's noise out of the comparison between cells and so raises the
  correlation of a proxy that depends on its draw (measured in `reports/zoo/README.md`). Differs, both: the random
  numbers themselves are the harness's own seeding's, not the reference's stream.
- mode and loss: train mode (batch statistics), as both references (the zero-cost code's network copy is put in
  train mode; NASWOT's network is never put in eval mode); cross-entropy of the logits, as the zero-cost code.
- passes: one forward pass over the whole batch, and the gradients of that one pass, as the zero-cost code with
  `split_data` 1 (it splits the batch into several passes only after a CUDA out-of-memory error).
- layers summed: every conv and linear layer, stem and classifier included, as the reference
  (`get_layer_metric_array`); a layer that gets no gradient (a dead conv) adds zero, as the reference's zeros.
- batch. As the zero-cost code: one batch of 64 from the train loader (`--dataload random --dataload_info 1`),
  a new loader iteration per architecture, hence a fresh shuffle and augmentation (random crop with 4 px padding,
  flip) per cell (`batch: per-cell`, drawn from a seed of (seed, cell)); `batch: fixed` gives every cell the same
  batch (the harness's earlier choice). As NASWOT: 128 images, the RNG reset before each draw so every
  architecture sees the same batch (`batch: fixed`), without augmentation (`--augtype none`: `augment: false`).
  The images come from the dataset's train split (all 50,000 of CIFAR-10's), as the references'. Normalised as
  each reference's loader (`normalisation`): the zero-cost code's (`foresight/dataset.py`: for both CIFARs CIFAR-10's
  mean and the std 0.2023, 0.1994, 0.2010; for ImageNet16 the benchmark's) for its proxies, the benchmark's (CIFAR-10
  std 0.247, 0.243, 0.261) for naswot, whose loader is NB201's. Differs: the random picks, crops and flips are the
  harness's own generator's.

Per proxy:
- synflow: as the reference, every parameter (biases and BN buffers too) replaced by its absolute value, float64,
  one all-ones image, R = sum of the output, score = sum over conv/linear weights of |w * dR/dw|, the zero-cost
  code's BN-free copy (`bn=False`), which removes the BNs of the stem, the cells and the head but not those of the
  reduction blocks (its `reduction` builds them whatever `use_bn` says), which stay in train mode
  (`bn: zero-cost`). `bn: eval` keeps every BN in eval mode, where BN at initialisation is the identity up to
  1/sqrt(1 + eps) (the harness's earlier definition); with `network: nb201` it may be computed by one forward pass
  carrying the path sums (`method: path-sum`, `harness.proxies.synflow_pass`).
- snip: as the reference, sum of |w * dL/dw| (the gradient of a weight mask of ones), cross-entropy, one pass.
- grad_norm: as the reference, sum over layers of ||dL/dw||_2.
- fisher: as the reference, each conv and linear layer's output a (its bias included) and its gradient g, per
  channel k: 0.5 * batch mean of (sum_spatial a * g)^2, its absolute value spread over the channel's weights, so a
  layer adds fan-in (C_in * k * k, or in_features) times its channel sum (`aggregation: fan-in`). `aggregation:
  channels` sums the conv layers' channel values unweighted (the harness's earlier definition). In the zero-cost
  network a cell conv reading a node that nothing reaches outputs its bias, which the cell's train-mode BN maps to
  zero with its gradient scaled by 1/sqrt(eps): such cells score far above the rest, in the reference as here.
- grasp: as the reference, T = 1, one iteration, the weights of every conv and linear layer: g = dL/dw (held
  constant), Hg = d(sum g * dL/dw)/dw by double backprop, score = sum of -w * Hg. Differs, in cost only: the
  reference runs two forward passes, one for g without a graph and one for the graph it differentiates again;
  in train mode both give the same values (batch statistics; no dropout), so here one pass with a graph gives both,
  to the bit, in two thirds of the time.
- jacob_cov: as the reference, x the batch, J the per-image gradients of sum(f(x)), v the eigenvalues of
  corrcoef(J), score = -sum(log(v + k) + 1/(v + k)), k = 1e-5. Differs: eigenvalues by `eigvalsh` (the
  reference's `eig` on the same symmetric matrix, real by construction), and a network whose output ignores its
  input scores -inf where the reference's corrcoef divides by zero and it records nan.
- naswot: as the reference, K = sum over the hooked modules of c c^T + (1 - c)(1 - c)^T, c the binary codes
  (input > 0) of each image, score = log|K| from `slogdet` whatever its sign. The reference hooks every module
  whose class name contains "ReLU": each nn.ReLU and each `ReLUConvBN`, whose input is its ReLU's, so a conv's
  codes count twice and the head's ReLU once (`hooks: class-name`; `hooks: relu` counts each ReLU once, the
  harness's earlier definition). The reference counts only the modules its backward pass visited; in NB201 every
  one is on the output's graph (each node has an edge to the output, a `none` edge multiplying by zero), so every
  one counts. The harness's `ReLUConvBN` applies ReLU functionally, so the codes are read at every `ReLUConvBN`
  conv's input and at every nn.ReLU module (the head's); a network whose output ignores its input scores -inf
  (its codes have no diversity).
"""
from __future__ import annotations

import copy
import dataclasses
import functools
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from harness.data import DeviceBatches, ImageSet, load_split
from harness.errors import HarnessError
from harness.nets import ReLUConvBN, ResNetBasicblock, TinyNetwork
from harness.proxies.costs import network_head
from harness.proxies.registry import ProxyContext, Setting, register_proxy
from harness.proxies.synflow_pass import synflow_pass
from harness.space import encode

__all__ = ["fisher_score", "grad_norm_score", "grasp_score", "jacob_cov_score", "naswot_score", "snip_score",
           "synflow_score", "zero_cost_network"]


def zero_cost_network(cell, C: int = 16, N: int = 5, num_classes: int = 10, dead_edges: str = "compute") -> TinyNetwork:
    """The zero-cost code's NB201 network (`NAS201Model`): the benchmark's, but each cell conv has a bias (drawn as
    `nn.Conv2d` draws it) and each cell BN neither affine parameters nor running statistics."""
    net = TinyNetwork(cell, C, N, num_classes, affine=False, track_running_stats=False, dead_edges=dead_edges)
    reductions = _in_reduction_blocks(net)
    for op in net.modules():
        if isinstance(op, ReLUConvBN) and id(op) not in reductions:
            bound = 1.0 / math.sqrt(op.conv.weight[0].numel())
            op.conv.bias = nn.Parameter(torch.empty(op.conv.out_channels).uniform_(-bound, bound))
    return net


def _in_reduction_blocks(net: nn.Module) -> set[int]:
    """ids of the modules inside the reduction blocks, which the zero-cost code builds as the benchmark does."""
    return {id(m) for block in net.modules() if isinstance(block, ResNetBasicblock) for m in block.modules()}


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


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def synflow_score(net: nn.Module, input_shape: tuple[int, ...], bn: str = "zero-cost") -> float:
    """SynFlow: sum of |w * dR/dw|, R = sum(f(1)) of the net with |parameters|, float64. bn: zero-cost, the
    reference's BN-free copy, whose reduction blocks keep their BNs in train mode; eval, every BN at its running
    statistics. Works on a copy: the caller's net keeps its signs and dtype."""
    if bn not in SYNFLOW_BN:
        raise HarnessError(f"synflow bn={bn!r}: expected one of {', '.join(SYNFLOW_BN)}")
    net = copy.deepcopy(net).double()
    if bn == "eval":
        net.eval()
    else:
        net.train()
        kept = _in_reduction_blocks(net)
        for m in net.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and id(m) not in kept:
                m.forward = _identity
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    net.zero_grad(set_to_none=True)
    x = torch.ones((1, *input_shape), dtype=torch.float64, device=next(net.parameters()).device)
    net(x).sum().backward()
    return _sum_over_weights(net, lambda w, g: (w * g).abs().sum())


#: synflow's BN handling: the zero-cost code's BN-free copy (reduction BNs kept, train mode), or all BNs in eval mode
SYNFLOW_BN = ("zero-cost", "eval")


def snip_score(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """SNIP: sum of |w * dL/dw|, cross-entropy on one batch in train mode."""
    _loss_backward(net, x, y)
    return _sum_over_weights(net, lambda w, g: (w * g).abs().sum())


def grad_norm_score(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """grad_norm: sum over layers of ||dL/dw||_2."""
    _loss_backward(net, x, y)
    return _sum_over_weights(net, lambda w, g: g.norm())


#: fisher's aggregation: the reference's (conv and linear layers, channel values times fan-in) or unweighted conv
FISHER_AGGREGATION = ("fan-in", "channels")


def fisher_score(net: nn.Module, x: torch.Tensor, y: torch.Tensor, aggregation: str = "fan-in") -> float:
    """Fisher: over each layer's output a, per channel 0.5 * batch mean of (sum_spatial a * dL/da)^2. fan-in: the
    reference's, over conv and linear layers, each channel's |value| counted once per weight of the channel;
    channels: over conv layers, the channel values summed."""
    if aggregation not in FISHER_AGGREGATION:
        raise HarnessError(f"fisher aggregation={aggregation!r}: expected one of {', '.join(FISHER_AGGREGATION)}")
    layers = _weighted(net) if aggregation == "fan-in" else [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    outputs, grads = {}, {}

    def keep(module, inputs, output):
        if output.requires_grad:
            # the hook must not hold `output`: a tensor <-> hook cycle outlives the call until Python's cyclic
            # collector runs, which object counts trigger, not the gigabytes such cycles hold
            output.register_hook(functools.partial(grads.__setitem__, id(module)))
            outputs[id(module)] = output.detach()

    handles = [m.register_forward_hook(keep) for m in layers]
    try:
        _loss_backward(net, x, y)
    finally:
        for h in handles:
            h.remove()
    total = 0.0
    for m in layers:
        if id(m) in grads:
            product = outputs[id(m)] * grads[id(m)]
            channel = (product.sum(tuple(range(2, product.ndim))) if product.ndim > 2 else product).pow(2).mean(0) / 2
            total += (channel.abs().sum() * m.weight[0].numel() if aggregation == "fan-in" else channel.sum()).item()
    return float(total)


def grasp_score(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """GraSP: -sum(w * Hg), g = dL/dw (constant), Hg = d(sum(g * dL/dw))/dw by double backprop; g and the graph
    from one forward pass (the reference's two passes compute the same values in train mode)."""
    net.train()
    net.zero_grad(set_to_none=True)
    weights = [m.weight for m in _weighted(net)]
    grads = torch.autograd.grad(F.cross_entropy(net(x), y), weights, create_graph=True, allow_unused=True)
    z = sum((g.detach() * g).sum() for g in grads if g is not None)
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


#: NASWOT's hooks: the reference's, on every module whose class name contains "ReLU" (a ReLUConvBN's codes twice),
#: or each ReLU once
NASWOT_HOOKS = ("class-name", "relu")


def naswot_score(net: nn.Module, x: torch.Tensor, hooks: str = "class-name") -> float:
    """NASWOT: log|K| whatever its sign, K = sum over the hooked layers of c c^T + (1 - c)(1 - c)^T, c the binary
    codes (ReLU input > 0) of each image; class-name: a ReLUConvBN's codes count twice, as the reference's hooks on
    both it and its ReLU; relu: each ReLU once."""
    if hooks not in NASWOT_HOOKS:
        raise HarnessError(f"naswot hooks={hooks!r}: expected one of {', '.join(NASWOT_HOOKS)}")
    n = len(x)
    K = torch.zeros(n, n, dtype=torch.float64)

    def add(codes: torch.Tensor, times: int = 1) -> None:
        # c c^T + (1 - c)(1 - c)^T = 2 c c^T - r_i - r_j + d (r the codes' row sums, d their length): one product,
        # in float32 while that is exact (its entries are counts of at most d < 2^24)
        flat = codes.detach().reshape(n, -1)
        d = flat.shape[1]
        c = (flat > 0).to(torch.float32 if d < 2 ** 24 else torch.float64)
        r = c.sum(dim=1, dtype=torch.float64).cpu()
        K.add_((2 * (c @ c.T).double().cpu() - r[:, None] - r[None, :] + d) * times)

    times = 2 if hooks == "class-name" else 1
    convs = [m.conv for m in net.modules() if isinstance(m, ReLUConvBN)]
    handles = [m.register_forward_pre_hook(lambda module, inputs: add(inputs[0], times)) for m in convs]
    handles += [m.register_forward_hook(lambda module, inputs, output: add(output))
                for m in net.modules() if isinstance(m, nn.ReLU)]
    net.train()
    try:
        with torch.no_grad():
            net(x)
    finally:
        for h in handles:
            h.remove()
    return float(torch.linalg.slogdet(K)[1])


@functools.lru_cache(maxsize=2)
def _train_split(dataset: str, data_root: str, splits_dir: str | None) -> ImageSet:
    """The train split, cached: loading one takes seconds."""
    return load_split(dataset, "train", data_root, splits_dir)


def draw_batch(data: ImageSet, batch_size: int, seed: int, augment: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """`batch_size` images of `data` drawn at random by a generator seeded from `seed`: the first batch of a
    shuffled train epoch, cropped and flipped as the benchmark's train loader does when `augment`."""
    if augment:
        return next(iter(DeviceBatches(data, batch_size, "cpu", train=True, seed=seed)))
    pick = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:batch_size]
    subset = ImageSet(data.images[pick], data.labels[pick], data.num_classes, data.mean, data.std, data.name)
    return next(iter(DeviceBatches(subset, batch_size, "cpu", train=False)))


#: a cell's own draws, each from its own stream of (seed, cell): its batch and its network's initial weights
CELL_DRAWS = {"batch": (), "network": (1,)}


def cell_seed(seed: int, cell, draw: str = "batch") -> int:
    """A well-mixed seed of (seed, cell) for one of the cell's own draws (`CELL_DRAWS`)."""
    code = int(encode(np.asarray(cell)[None])[0])
    return int(np.random.SeedSequence([int(seed), code, *CELL_DRAWS[draw]]).generate_state(1, np.uint32)[0])


def network_seed(cell, context: ProxyContext) -> int:
    """The seed a cell's network is built from: its own (`init: per-cell`) or the context's (`init: shared`)."""
    return cell_seed(context.seed, cell, "network") if context.settings["init"] == "per-cell" else int(context.seed)


#: the networks the proxies score: the zero-cost code's `NAS201Model` or the benchmark's `TinyNetwork`
NETWORKS = ("zero-cost", "nb201")


def _network(cell, context: ProxyContext) -> nn.Module:
    classes, _ = network_head(context)
    s = context.settings
    if s["network"] == "zero-cost" and s["dead_edges"] == "skip":
        raise HarnessError("dead_edges=skip drops the cell edges whose output is zero, but in network=zero-cost a "
                           "conv of a zero node outputs its bias: use dead_edges compute (the default) or network "
                           "nb201")
    build = zero_cost_network if s["network"] == "zero-cost" else TinyNetwork
    torch.manual_seed(network_seed(cell, context))
    return build(tuple(int(op) for op in cell), C=s["channels"], N=s["cells"], num_classes=classes,
                 dead_edges=s["dead_edges"]).to(context.device)


#: how the cells' networks are drawn: each from its own seed, or all from the one seed
INITS = ("per-cell", "shared")


def network_settings(network: str, init: str) -> dict:
    """The settings every zero-cost proxy takes: which network, its size, and how it is drawn."""
    return {"network": Setting(str, network, "zero-cost: the zero-cost code's NB201 network (cell convs with a "
                                             "bias, cell BNs without affine parameters or running statistics); "
                                             "nb201: the benchmark's", choices=NETWORKS),
            "init": Setting(str, init, "per-cell: each cell's network drawn from its own seed of (seed, cell), "
                                       "independent draws as the zero-cost code's; shared: every cell's network "
                                       "drawn right after seeding with seed, as NASWOT's search.py, so cells share "
                                       "the weights their construction order agrees on", choices=INITS),
            "channels": Setting(int, 16, "C, the channels of the first stage"),
            "cells": Setting(int, 5, "N, the cells per stage"),
            "dead_edges": Setting(str, "compute", "compute: every edge runs, as the reference networks; skip: only "
                                                  "those that reach the output (the same output; NASWOT's codes "
                                                  "differ)", choices=("compute", "skip"))}


#: the zero-cost code's loader normalisation of both CIFARs (`foresight/dataset.py`), 0..255 units as `ImageSet`'s:
#: CIFAR-10's mean with the std 0.2023, 0.1994, 0.2010; its ImageNet16 constants are the benchmark's
ZERO_COST_CIFAR_MEAN_STD = (tuple(255 * m for m in (0.4914, 0.4822, 0.4465)),
                            tuple(255 * s for s in (0.2023, 0.1994, 0.2010)))
NORMALISATIONS = ("zero-cost", "nb201")


def normalised_as(data: ImageSet, dataset: str, normalisation: str) -> ImageSet:
    """`data` with the mean and std its batches are normalised by: the zero-cost code's or the benchmark's."""
    if normalisation == "zero-cost" and "cifar" in dataset:
        mean, std = ZERO_COST_CIFAR_MEAN_STD
        return dataclasses.replace(data, mean=mean, std=std)
    return data


def _image_proxy(score, labels: bool, options: tuple[str, ...] = ()):
    """fn(cells, context) scoring each cell's network with `score(net, x[, y], **options)` on its batch."""
    def fn(cells: np.ndarray, context: ProxyContext) -> np.ndarray:
        s = context.settings
        data = normalised_as(_train_split(context.dataset, str(context.data_root),
                                          context.splits_dir and str(context.splits_dir)),
                             context.dataset, s["normalisation"])
        kwargs = {name: s[name] for name in options}
        fixed = draw_batch(data, s["batch_size"], int(context.seed), s["augment"]) if s["batch"] == "fixed" else None
        values = []
        for cell in np.asarray(cells):
            x, y = fixed or draw_batch(data, s["batch_size"], cell_seed(context.seed, cell), s["augment"])
            x, y = x.to(context.device), y.to(context.device)
            net = _network(cell, context)
            values.append(score(net, x, y, **kwargs) if labels else score(net, x, **kwargs))
            del net
        return np.array(values)
    return fn


@register_proxy("synflow", description="SynFlow at initialisation: |w * dR/dw| of the |parameters| network on an "
                                       "all-ones float64 input, the zero-cost code's BN-free network (no images)",
                settings={**network_settings("zero-cost", "per-cell"),
                          "bn": Setting(str, "zero-cost", "zero-cost: the reference's BN-free copy, which keeps the "
                                                          "reduction blocks' BNs, in train mode; eval: every BN in "
                                                          "eval mode", choices=SYNFLOW_BN),
                          "method": Setting(str, "autograd", "autograd: each network built and differentiated "
                                                             "(synflow_score); path-sum: one forward pass carrying "
                                                             "the path sums (harness.proxies.synflow_pass, 10x "
                                                             "faster; network nb201 and bn eval only)",
                                            choices=("autograd", "path-sum"))})
def synflow(cells: np.ndarray, context: ProxyContext) -> np.ndarray:
    classes, resolution = network_head(context)
    s = context.settings
    if s["method"] == "autograd":
        return np.array([synflow_score(_network(cell, context), (3, resolution, resolution), s["bn"])
                         for cell in np.asarray(cells)])
    if (s["network"], s["bn"]) != ("nb201", "eval"):
        raise HarnessError(f"synflow method=path-sum computes the nb201 network with eval-mode BNs, not network="
                           f"{s['network']!r} with bn={s['bn']!r}; set {{\"network\": \"nb201\", \"bn\": \"eval\"}} "
                           f"or method autograd")
    return np.array([synflow_pass(tuple(int(op) for op in cell), s["channels"], s["cells"], classes, resolution,
                                  network_seed(cell, context)) for cell in np.asarray(cells)])


def _batch_settings(size: int, batch: str, augment: bool, normalisation: str) -> dict:
    return {"batch_size": Setting(int, size, "images in the one batch"),
            "batch": Setting(str, batch, "per-cell: a fresh random batch for each cell, seeded by (seed, cell), as "
                                         "the zero-cost code's new loader iteration per architecture; fixed: one "
                                         "batch for every cell, as NASWOT", choices=("per-cell", "fixed")),
            "augment": Setting(bool, augment, "crop and flip the batch as the train loader does (the zero-cost "
                                              "code); false: the images as they are (NASWOT's --augtype none)"),
            "normalisation": Setting(str, normalisation, "zero-cost: the zero-cost code's loader's mean and std "
                                                         "(both CIFARs: CIFAR-10's mean, std 0.2023, 0.1994, 0.2010); "
                                                         "nb201: the benchmark's", choices=NORMALISATIONS)}


_DESCRIPTIONS = {
    "snip": (snip_score, True, (), "SNIP at initialisation: sum |w * dL/dw| on one train batch"),
    "grad_norm": (grad_norm_score, True, (), "sum of per-layer gradient L2 norms on one train batch"),
    "fisher": (fisher_score, True, ("aggregation",), "Fisher at initialisation over conv and linear outputs, "
                                                     "weighted by fan-in, one train batch"),
    "grasp": (grasp_score, True, (), "GraSP at initialisation: -sum(w * Hg), one train batch"),
    "jacob_cov": (jacob_cov_score, False, (), "input-Jacobian correlation score at initialisation, one train batch"),
}
_FISHER = {"aggregation": Setting(str, "fan-in", "fan-in: the reference's, conv and linear layers, each channel "
                                                 "counted once per weight; channels: conv layers' channel values "
                                                 "summed", choices=FISHER_AGGREGATION)}
for _name, (_score, _labels, _options, _description) in _DESCRIPTIONS.items():
    register_proxy(_name, needs=("images",), description=_description,
                   settings={**network_settings("zero-cost", "per-cell"),
                             **_batch_settings(64, "per-cell", True, "zero-cost"), **(_FISHER if _options else {})})(
        _image_proxy(_score, _labels, _options))
_NASWOT = {"hooks": Setting(str, "class-name", "class-name: the reference's hooks on every module whose class "
                                              "name has ReLU, so a ReLUConvBN's codes count twice; relu: each ReLU "
                                              "once", choices=NASWOT_HOOKS)}
register_proxy("naswot", needs=("images",),
               description="NASWOT: log-determinant of the ReLU-code kernel, one fixed batch of 128 unaugmented images",
               settings={**network_settings("nb201", "shared"), **_batch_settings(128, "fixed", False, "nb201"),
                         **_NASWOT})(_image_proxy(naswot_score, False, ("hooks",)))
