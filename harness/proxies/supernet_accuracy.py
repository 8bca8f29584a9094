"""Supernet child accuracy, with re-calibrated BatchNorm (Re-BN) or, as ABS's baseline, without.

A supernet's running BN statistics mix every path it trained, so a child evaluated with them is barely
better than random (ABS: tau ~0.05). Re-BN resets every BN's statistics, runs calibration images through the
child in train mode without gradients, then evaluates. ABS's released code keeps PyTorch's BN momentum, 0.1, during
calibration: the statistics are an exponential average that weighs the last batches most (`momentum: 0.1`, the
default); `momentum: null` takes the exact cumulative average over all calibration batches instead. With momentum
m the reset statistics (mean 0, variance 1) keep (1 - m)^B of their weight after B batches: 1.5% after ABS's 40
batches, a third after 4, so scale calibration down by the batch size, not the number of batches (the score file
records both).
Settings: `calibration_images` (default 20,000), `batch_size` (512), `valid_images` (None = the whole
validation split), `epoch` (None = the run's last checkpoint), `momentum`, `batch_cells`.

`batch_cells` K > 1 evaluates K children in one pass of `harness.nets.batched`, each child with its own statistics,
to float rounding what one at a time gives (a near-tie between two classes may round the other way). The default,
1, runs one child at a time: on CPU it is the faster path at the protocols' batch sizes (`benchmarks/
test_batched_speed.py`: a batch of B images already keeps a core busy, and K children's activations leave the
cache).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from harness.errors import HarnessError
from harness.proxies.registry import ProxyContext, Setting, register_proxy


@lru_cache(maxsize=2)
def _supernet(run_dir: str, epoch: int | None, mtime: float, device: str):
    from harness.train.loop import load_model

    return load_model(run_dir, epoch=epoch, device=device)


def load_run(context: ProxyContext, epoch: int | None = None):
    """(config, model) of the context's run at `epoch` (None: its last), cached while the checkpoint is unchanged."""
    path = Path(context.run_dir) / "checkpoints" / ("last.pt" if epoch is None else f"epoch-{epoch:04d}.pt")
    return _supernet(str(context.run_dir), epoch, path.stat().st_mtime if path.exists() else 0.0, context.device)


def _batches(context: ProxyContext, config, split: str, train: bool, limit: int | None):
    from harness.data import DeviceBatches, load_split
    from harness.train.loop import default_splits_dir

    data = load_split(config.dataset, split, context.data_root, context.splits_dir or default_splits_dir())
    batches = DeviceBatches(data, context.settings["batch_size"], context.device, train=train,
                            seed=context.seed, resolution=config.resolution, drop_last=False)
    taken = 0
    for x, y in batches:
        if limit is not None and taken >= limit:
            break
        yield x, y
        taken += len(y)


def _batch_norms(model):
    return [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and
            m.track_running_stats]


@torch.no_grad()
def child_accuracy(model, cell, batches) -> float:
    model.eval()
    correct = seen = 0
    for x, y in batches:
        correct += int((model(x, cell).argmax(dim=1) == y).sum())
        seen += len(y)
    return 100.0 * correct / max(seen, 1)


@torch.no_grad()
def recalibrate(model, cell, batches, momentum: float | None = None) -> None:
    """Reset every BN's running statistics and re-estimate them for `cell` on `batches` in train mode: with BN
    momentum `momentum` (an exponential average), or None for the exact cumulative average."""
    norms = _batch_norms(model)
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = momentum
    model.train()
    for x, _ in batches:
        model(x, cell)
    for m, momentum in zip(norms, saved):
        m.momentum = momentum


def _accuracies(cells: np.ndarray, context: ProxyContext, rebn: bool) -> np.ndarray:
    from harness.nets.batched import children_accuracy, recalibrate_children

    if context.settings["batch_cells"] < 1:
        raise HarnessError(f"setting 'batch_cells' is {context.settings['batch_cells']}; expected a positive int: "
                           f"the children evaluated in one pass (1: one at a time)")
    config, model = load_run(context, context.settings["epoch"])
    state = {k: v.clone() for k, v in model.state_dict().items()}
    valid = list(_batches(context, config, config.valid_split, False, context.settings["valid_images"]))
    calibration = list(_batches(context, config, config.train_split, True,
                                context.settings["calibration_images"])) if rebn else []
    if rebn and context.settings["momentum"] is not None:  # what of the reset statistics the average still holds
        context.notes.update(calibration_batches=len(calibration),
                             reset_statistics_weight=(1 - context.settings["momentum"]) ** len(calibration))
    scores, K, momentum = [], context.settings["batch_cells"], context.settings.get("momentum")
    if K == 1:
        for cell in cells:
            if rebn:
                recalibrate(model, cell, calibration, momentum)
            scores.append(child_accuracy(model, cell, valid))
    else:
        for start in range(0, len(cells), K):
            children = cells[start:start + K]
            statistics = recalibrate_children(model, children, calibration, momentum) if rebn else None
            scores.extend(children_accuracy(model, children, valid, statistics))
    model.load_state_dict(state)  # the cached supernet keeps its own statistics
    return np.array(scores)


#: the settings of both accuracies: which checkpoint, and the images evaluated on
EVALUATION_SETTINGS = {
    "epoch": Setting(int, None, "the checkpoint's epoch; null: the run's last", optional=True),
    "batch_size": Setting(int, 512, "images per batch, calibration and evaluation"),
    "valid_images": Setting(int, None, "validation images evaluated on; null: the whole validation split",
                            optional=True),
    "batch_cells": Setting(int, 1, "children evaluated together in one exact pass (harness.nets.batched); 1: one "
                                   "at a time, the faster on CPU")}


@register_proxy("rebn", needs=("supernet", "images"), description="supernet child accuracy with re-calibrated BN",
                settings={**EVALUATION_SETTINGS,
                          "calibration_images": Setting(int, 20_000, "training images the BN statistics are "
                                                                     "re-estimated on"),
                          "momentum": Setting(float, 0.1, "BN momentum during calibration (ABS's released code: "
                                                          "PyTorch's 0.1); null: the exact cumulative average",
                                              optional=True)})
def rebn(cells: np.ndarray, context: ProxyContext) -> np.ndarray:
    return _accuracies(cells, context, rebn=True)


@register_proxy("supernet_acc", needs=("supernet", "images"),
                description="supernet child accuracy with the supernet's own BN statistics (ABS's baseline)",
                settings=EVALUATION_SETTINGS)
def supernet_accuracy(cells: np.ndarray, context: ProxyContext) -> np.ndarray:
    return _accuracies(cells, context, rebn=False)
