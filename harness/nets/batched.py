"""K children of one supernet in a single pass, each exactly as it runs alone.

The K children's copies of a batch travel together as one (K, B, H, W, C) tensor: child-major, channels last, so
that K*B images are one channels-last batch for a convolution and each child's images are one contiguous block for
its BatchNorm. On each edge every op runs once, on the children that chose it (their rows gathered, the result
added back into their nodes), with the supernet's shared weights; a child's `none` edges, dead nodes and all-zero
output are skipped or zero as in its own plan (`harness.nets.cells.plan_of`), and its terms are added in its plan's
order, so a node's value is the same sum. Every BatchNorm normalises each child by its own statistics
(`ChildStatistics`): in train mode by the child's batch statistics, updating its own running statistics (PyTorch's
momentum, or the cumulative average with momentum None); in eval mode by its own running statistics, or by the
supernet's when none are given. So Re-BN calibration and evaluation give each child what the one-child path
gives, to float rounding: the convolutions see other batch sizes, and the statistics are reduced in another order.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from harness.errors import HarnessError
from harness.nets.cells import as_cell, plan_of
from harness.nets.ops import ResNetBasicblock
from harness.space.ops import AVGPOOL, EDGE_NAMES, NUM_NODES, OPS, SKIP

OUTPUT = NUM_NODES - 1


class ChildStatistics:
    """Each child's running statistics of every BatchNorm that tracks them: (K, C) means and variances and a (K,)
    count of batches, reset as `reset_running_stats` resets a module's (mean 0, variance 1, count 0)."""

    def __init__(self, model: nn.Module, children: int):
        self.children = children
        self.of = {m: (torch.zeros(children, m.num_features, device=m.running_mean.device),
                       torch.ones(children, m.num_features, device=m.running_var.device),
                       torch.zeros(children, dtype=torch.long))
                   for m in model.modules()
                   if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats}


def _images(x: torch.Tensor) -> torch.Tensor:
    """(G, B, H, W, C) as the channels-last batch (G*B, C, H, W) it is in memory (a view)."""
    G, B, H, W, C = x.shape
    return x.view(G * B, H, W, C).permute(0, 3, 1, 2)


def _children(y: torch.Tensor, G: int) -> torch.Tensor:
    """A channels-last batch (G*B, C, H, W) back as (G, B, H, W, C)."""
    return y.permute(0, 2, 3, 1).contiguous().view(G, -1, *y.shape[2:], y.shape[1])


def _conv(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    return _children(conv(_images(x)), len(x))


def _norm(x: torch.Tensor, bn: nn.modules.batchnorm._BatchNorm, rows: torch.Tensor | None,
          statistics: ChildStatistics | None, training: bool, momentum: float | None) -> torch.Tensor:
    """BatchNorm of (G, B, H, W, C), group g being child `rows[g]` (None: all K children, in order): normalised by
    its own batch statistics in train mode (updating its running statistics in `statistics`), else by its
    running statistics in `statistics`, or by the module's own when `statistics` is None."""
    G, C = len(x), x.shape[-1]
    if training or not bn.track_running_stats:
        updated = statistics if training and statistics is not None and bn in statistics.of else None
        batch_norm = _norm_each if x.device.type == "cpu" else _norm_at_once
        return batch_norm(x, bn, range(G) if rows is None else rows.tolist(), updated, momentum)
    if statistics is not None:
        running_mean, running_var, _ = statistics.of[bn]
        mean, var = (running_mean, running_var) if rows is None else (running_mean[rows], running_var[rows])
    else:
        mean, var = bn.running_mean.expand(G, C), bn.running_var.expand(G, C)
    return _affine(x, bn, mean, var)


def _affine(x: torch.Tensor, bn, mean: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
    """(x - mean) / sqrt(var + eps) * weight + bias, with (G, C) statistics, one row per group."""
    scale = torch.rsqrt(var + bn.eps)
    if bn.affine:
        scale = scale * bn.weight
    shift = -mean * scale + (bn.bias if bn.affine else 0)
    flat = x.view(len(x), -1, x.shape[-1])
    return torch.addcmul(shift.to(x.dtype).unsqueeze(1), flat, scale.to(x.dtype).unsqueeze(1)).view_as(x)


def _update_factor(statistics: ChildStatistics, bn, child, momentum: float | None) -> float:
    """Count one more batch for the module of the child (or children, who count alike: they see every batch);
    the weight of this batch in their running statistics."""
    count = statistics.of[bn][2]
    count[child] += 1
    return 1.0 / float(count[child].max()) if momentum is None else momentum


def _norm_each(x, bn, children, statistics: ChildStatistics | None, momentum) -> torch.Tensor:
    """Train-mode BN on the CPU: each child's block (a channels-last batch) by PyTorch's own kernel, which updates
    the child's running statistics as the one-child path does; faster than one reduction over all children, whose
    float64 copy of the activations leaves the cache."""
    out = torch.empty_like(x)
    for g, k in enumerate(children):
        running_mean = running_var = None
        factor = 0.0
        if statistics is not None:
            running_mean, running_var = (t[k] for t in statistics.of[bn][:2])
            factor = _update_factor(statistics, bn, k, momentum)
        out[g] = F.batch_norm(_images(x[g:g + 1]), running_mean, running_var, bn.weight, bn.bias, True, factor,
                              bn.eps).permute(0, 2, 3, 1)
    return out


def _norm_at_once(x, bn, children, statistics: ChildStatistics | None, momentum) -> torch.Tensor:
    """Train-mode BN on a GPU: every child's statistics in one reduction (in float64, as PyTorch's CPU kernel
    accumulates; two passes, var_mean being far slower over this axis), one launch instead of one per child."""
    flat = x.view(len(x), -1, x.shape[-1])
    mean = flat.mean(1, dtype=torch.float64)
    var = (flat - mean.unsqueeze(1)).square_().mean(1)
    if statistics is not None:
        running_mean, running_var, _ = statistics.of[bn]
        factor = _update_factor(statistics, bn, children, momentum)  # the children in a pass count alike
        n = flat.shape[1]
        running_mean[children] = (factor * mean + (1 - factor) * running_mean[children]).to(running_mean.dtype)
        running_var[children] = (factor * var * (n / max(n - 1, 1))
                                 + (1 - factor) * running_var[children]).to(running_var.dtype)
    return _affine(x, bn, mean, var)


def _relu_conv_bn(module, x, rows, statistics, training, momentum):
    return _norm(_conv(module.conv, x.relu()), module.bn, rows, statistics, training, momentum)


def children_logits(model, x: torch.Tensor, cells, statistics: ChildStatistics | None = None,
                    training: bool = False, momentum: float | None = 0.1) -> torch.Tensor:
    """(K, B, classes): each of the K `cells` (spos children of the `Supernet` `model`) on the batch `x`, as
    `model(x, cell)` gives them one by one; `x` is one batch (B, 3, H, W) that every child sees, or (K, B, 3, H, W),
    child k's own batch. `training` normalises by batch statistics and updates `statistics` (with `momentum`);
    eval mode reads `statistics`, or the supernet's own statistics when None."""
    plans = [plan_of(as_cell(c)) for c in cells]
    K = len(plans)
    if x.dim() == 5:
        if len(x) != K:
            raise HarnessError(f"children_logits: {len(x)} batches for {K} cells; pass one batch per cell, or one "
                               f"(B, 3, H, W) batch for all")
        h = _children(model.stem[0](x.flatten(0, 1).contiguous(memory_format=torch.channels_last)), K)
    else:
        h = model.stem[0](x.contiguous(memory_format=torch.channels_last))
        h = _children(h, 1).expand(K, -1, -1, -1, -1).contiguous()
    h = _norm(h, model.stem[1], None, statistics, training, momentum)
    for block in model.cells:
        if isinstance(block, ResNetBasicblock):
            a = _relu_conv_bn(block.conv_a, h, None, statistics, training, momentum)
            b = _relu_conv_bn(block.conv_b, a, None, statistics, training, momentum)
            h = b.add_(_children(block.downsample(_images(h)), K))
        else:
            h = _search_cell(block, h, plans, statistics, training, momentum)
    h = _norm(h, model.lastact[0], None, statistics, training, momentum).relu_()
    return model.classifier(h.mean((2, 3)))


def _search_cell(block, x: torch.Tensor, plans, statistics, training, momentum) -> torch.Tensor:
    """The cell outputs of every child: each node the sum of its child's live terms, in its plan's order."""
    K = len(plans)
    nodes = [x] + [None] * (NUM_NODES - 1)
    relus = [None] * NUM_NODES
    for node in range(1, NUM_NODES):
        terms = {}  # (position, edge, op, src) -> the children that add that term to this node
        for k, plan in enumerate(plans):
            for position, term in enumerate(dict(plan.nodes).get(node, ())):
                terms.setdefault((position, term.edge, term.op, term.src), []).append(k)
        if not terms:
            continue
        covered = sum(len(ks) for (position, *_), ks in terms.items() if position == 0)
        total = torch.empty_like(x) if covered == K else torch.zeros_like(x)
        for position, edge, op, src in sorted(terms):  # first terms first: each child adds in its own order
            children = terms[position, edge, op, src]
            rows = None if len(children) == K else torch.tensor(children, device=x.device)
            if op == SKIP:
                out = nodes[src] if rows is None else nodes[src].index_select(0, rows)
            else:
                m = block.edges[EDGE_NAMES[edge]][OPS[op]]
                if op == AVGPOOL:
                    h = nodes[src] if rows is None else nodes[src].index_select(0, rows)
                    out = _children(m(_images(h)), len(h))
                else:
                    if relus[src] is None:
                        relus[src] = nodes[src].relu()
                    h = relus[src] if rows is None else relus[src].index_select(0, rows)
                    out = _norm(_conv(m.conv, h), m.bn, rows, statistics, training, momentum)
            if rows is None:
                total = out.clone() if position == 0 and out is nodes[src] else (
                    out if position == 0 else total.add_(out))
            elif position == 0:
                total.index_copy_(0, rows, out)
            else:
                total.index_add_(0, rows, out)
        nodes[node] = total
    return nodes[OUTPUT] if nodes[OUTPUT] is not None else torch.zeros_like(x)  # no child has a live path


@torch.no_grad()
def recalibrate_children(model, cells, batches, momentum: float | None = 0.1) -> ChildStatistics:
    """Re-BN for K children at once: every BN's statistics reset and re-estimated per child on `batches` in train
    mode, as `harness.proxies.supernet_accuracy.recalibrate` does for one."""
    statistics = ChildStatistics(model, len(cells))
    for x, _ in batches:
        children_logits(model, x, cells, statistics, training=True, momentum=momentum)
    return statistics


@torch.no_grad()
def children_accuracy(model, cells, batches, statistics: ChildStatistics | None = None,
                      batch_statistics: bool = False) -> np.ndarray:
    """(K,) top-1 accuracies (%) of the children: in eval mode with their `statistics` (None: the supernet's), or,
    with `batch_statistics`, each normalised by its own batch statistics and nothing updated."""
    correct = torch.zeros(len(cells), dtype=torch.long)
    seen = 0
    for x, y in batches:
        logits = children_logits(model, x, cells, None if batch_statistics else statistics,
                                 training=batch_statistics)
        correct += (logits.argmax(dim=2) == (y if y.dim() == 2 else y.unsqueeze(0))).sum(dim=1).cpu()
        seen += y.shape[-1]
    return 100.0 * correct.numpy() / max(seen, 1)
