"""The abs-correlation table (ABS, Table 1): Kendall tau of random scores, supernet child accuracy without and
with re-calibrated BN, and the angle, over several supernet seeds, for each dataset that has images.

Each seed trains one SPOS supernet with ABS's recipe on the dataset's search split (`harness.reproduce.supernets`:
resumed or reused when rerun, shared with eps-top20); the angle scores all 15,625 cells, the accuracies a seeded
sample (`sample` cells); the value is the mean over seeds with its std, as ABS reports. The angle over the cells
alone (without the fixed layers) is a diagnostic row. Ground truth as ABS: CIFAR-10 `cifar10/ori-test@200`, the
others `x-test@200`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness.reproduce.inputs import Inputs
from harness.reproduce.results import Row, over_seeds, sources

#: dataset -> (supernet's dataset, ground-truth dataset, split)
TARGETS = {"cifar10": ("cifar10-valid", "cifar10", "ori-test"), "cifar100": ("cifar100", "cifar100", "x-test"),
           "ImageNet16-120": ("ImageNet16-120", "ImageNet16-120", "x-test")}
#: row -> (proxy, its settings); None: seeded random scores
ROWS = {"random": None, "supernet_acc": ("supernet_acc", {}), "rebn": ("rebn", {}), "angle": ("angle", {}),
        "angle (cells only)": ("angle", {"parts": "cells"})}


@dataclass(frozen=True)
class AbsPreset:
    seeds: int
    supernet: dict  # TrainConfig overrides
    sample: int  # cells scored by the accuracies
    images: dict = field(default_factory=dict)  # rebn / supernet_acc settings: calibration_images, valid_images


PRESETS = {
    "tiny": AbsPreset(2, {"channels": 4, "cells": 1, "resolution": 8, "samples": 0.02, "epochs": 1,
                          "valid_cells": 2, "valid_batches": 1}, 20, {"calibration_images": 256, "valid_images": 256}),
    # Re-BN needs the paths trained: this network ranks at 0.08 +- 0.09 after 30 epochs, 0.47 after 60
    "cpu": AbsPreset(2, {"channels": 8, "cells": 2, "resolution": 16, "epochs": 60}, 100,
                     {"calibration_images": 2048, "valid_images": 2048}),
    "gpu": AbsPreset(3, {"epochs": 250, "device": "cuda"}, 1000),
    "paper": AbsPreset(10, {"epochs": 250, "device": "cuda"}, 15625),
}


def run(preset: str, out: Path, inputs: Inputs) -> list[Row]:
    from harness.analysis.metrics import kendall_tau

    settings = PRESETS[preset]
    all_cells = inputs.oracle.cells()
    sample = inputs.sample(settings.sample)
    seeds = range(inputs.seed, inputs.seed + settings.seeds)
    rows = []
    for dataset, (supernet_dataset, truth_dataset, split) in TARGETS.items():
        why = inputs.missing_images(supernet_dataset)
        if why:
            rows += [Row("abs-correlation", row, dataset, "kendall_tau", reason=why) for row in ROWS]
            continue
        taus = {"random": [kendall_tau(inputs.oracle.accuracy(all_cells, dataset=truth_dataset, split=split),
                                       np.random.default_rng(s).random(len(all_cells))) for s in seeds]}
        seconds = dict.fromkeys(ROWS, 0.0)
        scored_by_row = {row: [] for row in ROWS}
        for row, scored in supernet_proxy_scores(settings, inputs, supernet_dataset):
            truth = inputs.oracle.accuracy(scored.cells, dataset=truth_dataset, split=split)
            taus.setdefault(row, []).append(kendall_tau(truth, scored.scores))
            seconds[row] += cost_seconds(scored)
            scored_by_row[row].append(scored)
        for row in ROWS:
            n = len(all_cells) if ROWS[row] is None or ROWS[row][0] == "angle" else settings.sample
            rows.append(Row("abs-correlation", row, dataset, "kendall_tau", **over_seeds(taus[row]), n=n,
                            seconds=seconds[row] / settings.seeds,
                            settings={"seeds": [seeds[0], seeds[-1]], "supernet": settings.supernet,
                                      "cells": "all" if n == len(all_cells) else sample,
                                      "truth": f"{truth_dataset}/{split}@200", **settings.images},
                            **(sources(*scored_by_row[row]) if scored_by_row[row] else {})))
    return rows


def cost_seconds(scored) -> float:
    """What a supernet proxy's scores cost: the scoring and the training of the supernet they come from."""
    return float(scored.provenance["seconds"]) + float(scored.provenance.get("run_seconds", 0.0))


def supernet_proxy_scores(settings: AbsPreset, inputs: Inputs, supernet_dataset: str):
    """Every supernet seed's `ScoreSet` for every supernet proxy row, as (row, scores); eps-top20 measures the
    same scores."""
    from harness.proxies import get_proxy
    from harness.reproduce.supernets import supernet, supernet_scores

    sample = inputs.sample(settings.sample)
    for s in range(inputs.seed, inputs.seed + settings.seeds):
        run_dir, config, key = supernet(inputs, supernet_dataset, s, settings.supernet)
        for row, spec in ROWS.items():
            if spec is None:
                continue
            name, extra = spec
            cells = "all" if name == "angle" else sample
            declared = get_proxy(name).settings  # the preset's image budget, as far as the proxy takes it:
            proxy_settings = {**extra, **{k: v for k, v in settings.images.items() if k in declared}}  # no Re-BN
            # calibration for the accuracy without Re-BN, no images at all for the angle
            yield row, supernet_scores(inputs, run_dir, config, key, name, cells, proxy_settings, row)
