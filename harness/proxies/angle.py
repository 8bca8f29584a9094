"""The ABS angle proxy (REFERENCE.md section 3): the angle between a child's weight vector at a reference point and
after supernet training; a larger angle ranks higher. ABS's paper says the reference is the initialisation; its
released code takes the checkpoint written after the first epoch (its file "epoch-0"), so that is the default
(`reference: epoch:1`) and the paper's reading the option `reference: init`.

A child's vector concatenates a fixed part (stem conv and BN, both reduction blocks, final BN, classifier) and,
for each searchable cell block, its 4 input->output paths 0->3, 0->2->3, 0->1->2->3, 0->1->3: a conv edge adds
its conv weight, `avg_pool_3x3` a constant (C, 3, 3) tensor of 1/9, `skip_connect` nothing, and a path with a
`none` edge is dropped whole; an edge is counted once per path it lies on. Cell BNs are left out: ABS's
supernet has no affine cell BNs, and when a supernet is built with `affine=True` their parameters are ignored
all the same, to keep ABS's definition.

`angle_reference` builds the two vectors literally, with its own walk of the cell DAG and its own collection of
the fixed parameters (so one mistake cannot pass both). `angle_scores` uses that cos = <v0, v> / (|v0| |v|) and that
every inner product of concatenations is a sum over the pieces: one table of (dot, |.|^2 before, |.|^2 after)
per (cell block, edge, op) scores all 15,625 cells at once with numpy.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from harness.errors import HarnessError
from harness.nets import ResNetBasicblock, Supernet
from harness.nets.supernet import SearchCell
from harness.proxies.registry import ProxyContext, Setting, register_proxy
from harness.space.ops import AVGPOOL, CONV1X1, CONV3X3, EDGE_NAMES, EDGES, NONE, NUM_EDGES, NUM_OPS, OPS

_EDGE = {edge: e for e, edge in enumerate(EDGES)}
#: The 4 input->output paths as edge indices: 0->3, 0->2->3, 0->1->2->3, 0->1->3.
PATHS = ((_EDGE[3, 0],), (_EDGE[2, 0], _EDGE[3, 2]), (_EDGE[1, 0], _EDGE[2, 1], _EDGE[3, 2]),
         (_EDGE[1, 0], _EDGE[3, 1]))
#: (4 paths, 6 edges): how many times each path holds each edge (0 or 1).
_INCIDENCE = np.array([[e in path for e in range(NUM_EDGES)] for path in PATHS], dtype=np.float64)


class AngleTables(NamedTuple):
    """Pieces of <v0, v>, |v0|^2 and |v|^2 (axis 0, in that order) for one pair of models.

    `fixed` (3,): the fixed part. `edges` (3, blocks, 6 edges, 5 ops): one edge's contribution to one path in one
    cell block; zero for `none` and `skip_connect`.
    """
    fixed: np.ndarray
    edges: np.ndarray


def _check_supernet(model) -> None:
    if not isinstance(model, Supernet):
        raise HarnessError(f"the angle proxy needs supernet weights; got a {type(model).__name__} (a standalone run?)"
                           f"; pass a run directory from `harness train supernet`")


def fixed_parts(model: Supernet) -> dict[str, list[torch.Tensor]]:
    """The fixed part of every child's vector, by part: the stem (conv, BN), each reduction block (its convs and
    BNs, the shortcut conv), the last BN and the classifier."""
    parts = {"stem": [model.stem[0].weight, model.stem[1].weight, model.stem[1].bias]}
    reductions = [block for block in model.cells if isinstance(block, ResNetBasicblock)]
    for i, block in enumerate(reductions, 1):
        tensors = []
        for part in (block.conv_a, block.conv_b):
            tensors += [part.conv.weight, part.bn.weight, part.bn.bias]
        parts[f"reduction {i}"] = tensors + [block.downsample[1].weight]
    parts["last BN"] = [model.lastact[0].weight, model.lastact[0].bias]
    parts["classifier"] = [model.classifier.weight, model.classifier.bias]
    return parts


def _fixed_tensors(model: Supernet) -> list[torch.Tensor]:
    """Stem conv + BN, both reduction blocks (convs, BNs, shortcut conv), final BN and classifier, in order."""
    return [t for tensors in fixed_parts(model).values() for t in tensors]


def _search_cells(model: Supernet) -> list[SearchCell]:
    return [block for block in model.cells if isinstance(block, SearchCell)]


def _channels(cell: SearchCell) -> int:
    return cell.edges[EDGE_NAMES[0]][OPS[CONV1X1]].conv.out_channels


def _dag_paths() -> list[tuple[int, ...]]:
    """The cell DAG's input->output paths, found by walking its edges from node 0 to node 3 (edge indices, in order
    along the path). Independent of `PATHS` on purpose: the reference must not share the closed form's tables."""
    found = []

    def walk(node: int, path: tuple[int, ...]) -> None:
        if node == 3:
            found.append(path)
        for e, (to, source) in enumerate(EDGES):
            if source == node:
                walk(to, path + (e,))
    walk(0, ())
    return found


def _child_vector(model: Supernet, cell) -> torch.Tensor:
    """The child's weight vector, built literally as the definition says (float64): every parameter outside the
    searchable cells (architecture parameters aside), then per cell block every path of the DAG without a `none`
    edge, each of its edges adding its conv weight, a (C, 3, 3) tensor of 1/9 for a pool, nothing for a skip."""
    in_cells = {id(p) for block in _search_cells(model) for p in block.parameters()}
    pieces = [p for name, p in model.named_parameters() if id(p) not in in_cells and name != "arch_parameters"]
    for block in _search_cells(model):
        for path in _dag_paths():
            if any(int(cell[e]) == NONE for e in path):
                continue
            for e in path:
                name = OPS[int(cell[e])]
                if name in ("nor_conv_1x1", "nor_conv_3x3"):
                    pieces.append(block.edges[EDGE_NAMES[e]][name].conv.weight)
                elif name == "avg_pool_3x3":
                    pieces.append(torch.full((_channels(block), 3, 3), 1 / 9, dtype=torch.float64))
    return torch.cat([p.detach().double().reshape(-1) for p in pieces])


def angle_reference(model0: Supernet, model1: Supernet, cell) -> float:
    """Angle (radians) between `cell`'s vectors in `model0` (initial) and `model1` (trained), built literally."""
    for model in (model0, model1):
        _check_supernet(model)
    v0, v1 = _child_vector(model0, cell), _child_vector(model1, cell)
    cos = torch.dot(v0, v1) / (v0.norm() * v1.norm())
    return float(np.arccos(np.clip(cos.item(), -1.0, 1.0)))


def _pair(a: torch.Tensor, b: torch.Tensor) -> tuple[float, float, float]:
    a, b = a.detach().double().reshape(-1), b.detach().double().reshape(-1)
    return torch.dot(a, b).item(), torch.dot(a, a).item(), torch.dot(b, b).item()


@torch.no_grad()
def angle_tables(model0: Supernet, model1: Supernet) -> AngleTables:
    """The per-piece scalars of a pair of models (initial, trained), computed once for all cells."""
    for model in (model0, model1):
        _check_supernet(model)
    fixed0, fixed1 = _fixed_tensors(model0), _fixed_tensors(model1)
    blocks0, blocks1 = _search_cells(model0), _search_cells(model1)
    if ([t.shape for t in fixed0] != [t.shape for t in fixed1] or len(blocks0) != len(blocks1)
            or [_channels(b) for b in blocks0] != [_channels(b) for b in blocks1]):
        raise HarnessError("the two models of the angle proxy have different shapes (C, N or classes differ)")
    fixed = np.sum([_pair(a, b) for a, b in zip(fixed0, fixed1)], axis=0)
    edges = np.zeros((3, len(blocks0), NUM_EDGES, NUM_OPS))
    for i, (b0, b1) in enumerate(zip(blocks0, blocks1)):
        for e, name in enumerate(EDGE_NAMES):
            for op in (CONV1X1, CONV3X3):
                edges[:, i, e, op] = _pair(b0.edges[name][OPS[op]].conv.weight, b1.edges[name][OPS[op]].conv.weight)
            edges[:, i, e, AVGPOOL] = _channels(b0) / 9  # C * 9 entries of (1/9)^2, the same in both models
    return AngleTables(fixed, edges)


def _pieces(tables: AngleTables, cells: np.ndarray, parts: str) -> np.ndarray:
    """(3, n): <v0, v>, |v0|^2 and |v|^2 of each cell's vector (`parts`: all, or the cells' own part only)."""
    per_edge = tables.edges.sum(axis=1)[:, np.arange(NUM_EDGES), cells]  # (3, n, 6)
    alive = np.stack([(cells[:, list(path)] != NONE).all(axis=1) for path in PATHS], axis=1)  # (n, 4)
    uses = alive @ _INCIDENCE  # (n, 6): alive paths through each edge
    fixed = tables.fixed if parts == "all" else np.zeros(3)
    return fixed[:, None] + np.einsum("knE,nE->kn", per_edge, uses)


def angle_from_tables(tables: AngleTables, cells: np.ndarray, parts: str = "all") -> np.ndarray:
    """Angles (n,) of the cells (n, 6 op ids) from precomputed tables.

    Paths are alive or dead alike in every block, so the blocks' tables are summed first; each edge then counts
    once per alive path that holds it. `parts="cells"` leaves the fixed part out (a diagnostic, not ABS's
    definition: it shows how much the fixed layers decide the angle); a cell with no alive path then has an empty
    vector, which has not moved: angle 0.
    """
    if parts not in ("all", "cells"):
        raise HarnessError(f"angle parts={parts!r}: expected 'all' (ABS's vector) or 'cells' (searchable cells only)")
    cells = np.asarray(cells, dtype=np.intp).reshape(-1, NUM_EDGES)
    dot, n0, n1 = _pieces(tables, cells, parts)
    norms = np.sqrt(n0 * n1)
    cos = np.divide(dot, norms, out=np.ones_like(dot), where=norms > 0)
    return np.arccos(np.clip(cos, -1.0, 1.0))


@torch.no_grad()
def angle_diagnostics(model0: Supernet, model1: Supernet, cells: np.ndarray) -> dict:
    """What decides the angle: the angle (degrees) each fixed part turned and the share of the trained vector's
    squared norm it holds (median over `cells`), the same for the whole fixed part, and the median angle of the
    cells' own part (cells with a non-empty one)."""
    tables = angle_tables(model0, model1)
    cells = np.asarray(cells, dtype=np.intp).reshape(-1, NUM_EDGES)
    total = _pieces(tables, cells, "all")[2]  # |v|^2 of every cell's trained vector

    def degrees(dot, n0, n1):
        return float(np.degrees(np.arccos(np.clip(dot / np.sqrt(n0 * n1), -1.0, 1.0))))
    parts, parts0, parts1 = {}, fixed_parts(model0), fixed_parts(model1)
    for name in parts0:
        dot, n0, n1 = np.sum([_pair(a, b) for a, b in zip(parts0[name], parts1[name])], axis=0)
        parts[name] = {"angle_deg": degrees(dot, n0, n1), "norm_share_median": float(np.median(n1 / total))}
    parts["fixed part"] = {"angle_deg": degrees(*tables.fixed),
                           "norm_share_median": float(np.median(tables.fixed[2] / total))}
    own = np.degrees(angle_from_tables(tables, cells, parts="cells"))
    has_part = _pieces(tables, cells, "cells")[1] > 0  # a live path with a conv or a pool
    return {"parts": parts, "cells_angle_median_deg": float(np.median(own[has_part])),
            "cells_with_a_part": int(has_part.sum()), "cells": len(cells)}


def angle_scores(model0: Supernet, model1: Supernet, cells: np.ndarray) -> np.ndarray:
    """Angles (n,) of the cells (n, 6 op ids) between `model0` (initial) and `model1` (trained), closed form."""
    return angle_from_tables(angle_tables(model0, model1), cells)


def reference_epoch(reference: str) -> int:
    """The checkpoint epoch of the `reference` setting: `init` is epoch 0 (the random initialisation), `epoch:K`
    the weights after K epochs (ABS's released code: `epoch:1`, its first checkpoint, written after one epoch)."""
    if reference == "init":
        return 0
    head, _, tail = reference.partition(":")
    if head != "epoch" or not tail.isdigit():
        raise HarnessError(f"angle reference={reference!r}: expected 'init' or 'epoch:K' (K a whole number of "
                           f"epochs, e.g. 'epoch:1', ABS's released reference)")
    return int(tail)


@lru_cache(maxsize=4)
def _run_tables(run_dir: str, epoch: int, stamp: tuple) -> AngleTables:
    """Tables of a run directory against its checkpoint `epoch`, kept per (run, epoch, checkpoint mtimes) so that
    scoring in chunks loads once."""
    from harness.train.loop import load_model  # lazily: the training stack is heavy to import
    _, reference = load_model(run_dir, epoch=epoch)
    _, trained = load_model(run_dir)
    return angle_tables(reference, trained)


def _stamp(run_dir: str, epoch: int) -> tuple:
    from harness.train.run_dir import RunDir
    run = RunDir(run_dir)
    paths = (run.checkpoint_path(epoch), run.checkpoint_path())
    return tuple(p.stat().st_mtime_ns if p.exists() else None for p in paths)


@register_proxy("angle", needs=("supernet",), version="1",
                description="ABS angle: arccos of the cosine between a child's reference weights (after the first "
                            "epoch, as ABS's released code; setting reference='init' for the initialisation) and "
                            "its weights after supernet training; larger ranks higher; parts='cells' leaves the "
                            "fixed layers out",
                settings={"parts": Setting(str, "all", "'all': ABS's vector; 'cells': the searchable cells only, a "
                                                       "diagnostic", choices=("all", "cells")),
                          "reference": Setting(str, "epoch:1", "the reference weights: 'init' (the paper's text) "
                                                               "or 'epoch:K', the checkpoint after K epochs")})
def angle_proxy(cells: np.ndarray, context: ProxyContext) -> np.ndarray:
    run_dir = str(Path(context.run_dir).resolve())
    epoch = reference_epoch(context.settings["reference"])
    return angle_from_tables(_run_tables(run_dir, epoch, _stamp(run_dir, epoch)), cells, context.settings["parts"])
