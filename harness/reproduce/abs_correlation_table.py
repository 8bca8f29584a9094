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
from harness.reproduce.results import Row, over_seeds

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
    from harness.data import missing_images

    settings = PRESETS[preset]
    all_cells = inputs.oracle.cells()
    sample = inputs.sample(settings.sample)
    seeds = range(inputs.seed, inputs.seed + settings.seeds)
    rows = []
    for dataset, (supernet_dataset, truth_dataset, split) in TARGETS.items():
        why = missing_images(supernet_dataset, inputs.data_root)
        if why:
            rows += [Row("abs-correlation", row, dataset, "kendall_tau", reason=why) for row in ROWS]
            continue
        taus = {"random": [kendall_tau(inputs.oracle.accuracy(all_cells, dataset=truth_dataset, split=split),
                                       np.random.default_rng(s).random(len(all_cells))) for s in seeds]}
        seconds = dict.fromkeys(ROWS, 0.0)
        for row, cells, scores, took in supernet_proxy_scores(settings, inputs, supernet_dataset):
            truth = inputs.oracle.accuracy(cells, dataset=truth_dataset, split=split)
            taus.setdefault(row, []).append(kendall_tau(truth, scores))
            seconds[row] += took
        for row in ROWS:
            n = len(all_cells) if ROWS[row] is None or ROWS[row][0] == "angle" else settings.sample
            rows.append(Row("abs-correlation", row, dataset, "kendall_tau", **over_seeds(taus[row]), n=n,
                            seconds=seconds[row] / settings.seeds,
                            settings={"seeds": [seeds[0], seeds[-1]], "supernet": settings.supernet,
                                      "cells": "all" if n == len(all_cells) else sample,
                                      "truth": f"{truth_dataset}/{split}@200", **settings.images}))
    return rows


def supernet_proxy_scores(settings: AbsPreset, inputs: Inputs, supernet_dataset: str):
    """Every supernet seed's scores for every supernet proxy row, as (row, cells, scores, seconds), the seconds
    including that supernet's training; eps-top20 measures the same scores."""
    from harness.reproduce.supernets import supernet, supernet_scores

    sample = inputs.sample(settings.sample)
    for s in range(inputs.seed, inputs.seed + settings.seeds):
        run_dir, config, trained = supernet(inputs, supernet_dataset, s, settings.supernet)
        for row, spec in ROWS.items():
            if spec is None:
                continue
            name, extra = spec
            cells = "all" if name == "angle" else sample
            proxy_settings = {**extra, **(settings.images if name != "angle" else {})}
            scored = supernet_scores(inputs, run_dir, config, name, cells, proxy_settings,
                                     score_name(name, proxy_settings, cells))
            yield row, scored.cells, scored.scores, scored.provenance["seconds"] + trained


def score_name(proxy: str, settings: dict, cells: str) -> str:
    """The file name of a proxy's scores on a supernet: the proxy, its settings and the cells."""
    parts = [proxy, *(f"{k}{v}" for k, v in sorted(settings.items())), cells.replace(":", "_")]
    return "-".join(parts)
