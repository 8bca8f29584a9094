"""EcoNAS (Zhou et al. 2020): rank cells by standalone training at a reduced setting, and its hierarchical proxy.

`econas` trains each cell with the benchmark's recipe (SGD Nesterov, lr 0.1 cosine to 0, batch 256) reduced by
four factors, EcoNAS's c, r, s, e: `channels` (default 4, the benchmark's 16 / 4), `resolution` (default the
dataset's side / 4: 8 px for CIFAR, 4 for ImageNet16-120), `samples` (share of the training images, default 1.0)
and `epochs` (default 10); also `cells` (N, default 5) and `valid_batches` (batches of 256 validation images to
score on; default 0, the whole split). The score is the validation accuracy after the last epoch. Every cell starts
from the same seed, as the benchmark trains every cell with the same seeds.

`econas_hierarchical` spends that budget unevenly: every cell trains `stages[0]` epochs, the best `keep` share of
them continue to `stages[1]`, and so on, all on one cosine schedule over `stages[-1]` epochs (a cell that continues
is resumed, not restarted). Score = 100 x (index of the last stage a cell reached) + its validation accuracy
there, so a cell that went further always ranks above one dropped earlier. The epochs spent, and what training
every cell for `stages[-1]` epochs would have cost, go into the score file's provenance.

Each cell's run lives in the scoring job's work directory, so an interrupted job resumes mid-cell.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from tqdm import tqdm

from harness.data import ReducedSetting
from harness.errors import HarnessError
from harness.proxies.costs import network_head
from harness.proxies.registry import ProxyContext, Setting, register_proxy
from harness.space import encode, format_arch

#: the reduced setting: EcoNAS's c, r, s, e, and how much of the validation split scores a cell
REDUCED_SETTINGS = {
    "channels": Setting(int, 4, "c: channels of the first stage (the benchmark's 16 / 4)"),
    "cells": Setting(int, 5, "N: cells per stage"),
    "resolution": Setting(int, None, "r: input side in pixels; null: the dataset's side / 4", optional=True),
    "samples": Setting(float, 1.0, "s: share of the training images, stratified"),
    "valid_batches": Setting(int, 0, "batches of 256 validation images a cell is scored on; 0: the whole split")}
_EPOCHS = {"epochs": Setting(int, 10, "e: training epochs")}
_HIERARCHY = {"stages": Setting(list, [2, 5, 10], "epochs at which the cells still training are ranked; increasing"),
              "keep": Setting(float, 0.5, "share of the cells that continue to the next stage, in (0, 1]")}


def _reduced(context: ProxyContext, epochs: int) -> dict:
    """The context's settings with the resolution resolved, checked as a reduced setting."""
    settings = dict(context.settings)
    if settings["resolution"] is None:
        settings["resolution"] = network_head(context)[1] // 4
    ReducedSetting(**{k: settings[k] for k in ("channels", "cells", "resolution", "samples")}, epochs=epochs)
    return settings


def _config(cell, context: ProxyContext, settings: dict, epochs: int):
    from harness.train.config import standalone_config
    from harness.train.loop import default_splits_dir

    if context.dataset == "cifar10":
        raise HarnessError("econas scores validation accuracy and cifar10 has no validation split (its test set is "
                           "ori-test only); use --dataset cifar10-valid (train half / valid half, ground truth "
                           "cifar10-valid/x-valid)")
    return standalone_config(format_arch(cell), dataset=context.dataset, channels=int(settings["channels"]),
                             cells=int(settings["cells"]), resolution=int(settings["resolution"]),
                             samples=float(settings["samples"]), epochs=int(epochs),
                             valid_batches=int(settings["valid_batches"]), seed=context.seed, device=context.device,
                             data_root=str(context.data_root), progress=False,
                             splits_dir=str(context.splits_dir or default_splits_dir()))


def _train_to(cell, context: ProxyContext, settings: dict, schedule: int, epoch: int) -> float:
    """Train (or resume) the cell's run on a `schedule`-epoch cosine schedule up to `epoch`; its validation accuracy."""
    from harness.train.loop import train

    run_dir = Path(context.work_dir or ".") / "econas" / str(int(encode(np.asarray(cell)[None])[0]))
    run = train(_config(cell, context, settings, schedule), run_dir, resume=(run_dir / "config.json").exists(),
                until=epoch)
    record = next(r for r in run.read_log() if r["epoch"] == epoch)
    return float(record["valid_accuracy"])


@register_proxy("econas", needs=("images", "training"), version="1",
                description="EcoNAS: validation accuracy after standalone training at a reduced setting (default "
                            "c=4, r=side/4, s=1, e=10)", settings={**REDUCED_SETTINGS, **_EPOCHS})
def econas(cells: np.ndarray, context: ProxyContext) -> np.ndarray:
    epochs = context.settings["epochs"]
    settings = _reduced(context, epochs)
    scores = np.array([_train_to(cell, context, settings, epochs, epochs) for cell in cells])
    context.notes.update(econas_setting={k: settings[k] for k in (*REDUCED_SETTINGS, *_EPOCHS)})
    return scores


@register_proxy("econas_hierarchical", needs=("images", "training"), version="1", joint=True,
                description="EcoNAS hierarchical proxy: all cells a few epochs, the best share more (default stages "
                            "2/5/10, keep 0.5)", settings={**REDUCED_SETTINGS, **_HIERARCHY})
def econas_hierarchical(cells: np.ndarray, context: ProxyContext) -> np.ndarray:
    stages, keep = context.settings["stages"], context.settings["keep"]
    if (not stages or not all(isinstance(e, int) and not isinstance(e, bool) for e in stages) or stages[0] < 1
            or any(b <= a for a, b in zip(stages, stages[1:]))):
        raise HarnessError(f"econas_hierarchical stages {stages!r}: expected increasing epochs (integers >= 1), "
                           f"e.g. [2, 5, 10]")
    settings = _reduced(context, stages[-1])
    if not 0 < keep <= 1:
        raise HarnessError(f"econas_hierarchical keep={keep!r}: expected the share of cells that continue, in (0, 1]")
    scores = np.full(len(cells), np.nan)
    alive = np.arange(len(cells))
    per_stage = []
    for level, epoch in enumerate(stages):
        per_stage.append(len(alive))
        accuracy = np.array([_train_to(cells[i], context, settings, stages[-1], epoch)
                             for i in tqdm(alive, desc=f"econas stage {level + 1}/{len(stages)} ({epoch} epochs)",
                                           unit="cell", leave=False)])
        scores[alive] = 100.0 * level + accuracy
        if level + 1 < len(stages):
            alive = alive[np.argsort(-accuracy, kind="stable")[:max(1, math.ceil(keep * len(alive)))]]
    context.notes.update(econas_setting={k: settings[k] for k in REDUCED_SETTINGS},
                         stages=stages, keep=keep, cells_per_stage=per_stage,
                         budget_epochs=int(sum(n * (e - prev) for n, e, prev in zip(per_stage, stages, [0] + stages))),
                         flat_budget_epochs=len(cells) * stages[-1])
    return scores
