"""The abs-correlation table (ABS, Table 1): Kendall tau of random scores, supernet child accuracy without and
with re-calibrated BN, and the angle, over several supernet seeds, for each dataset that has images.

Each seed trains one SPOS supernet with ABS's recipe on the dataset's search split (runs in `out/runs/`, resumed
when rerun); the angle scores all 15,625 cells, the accuracies a seeded sample (`sample` cells); the value is the
mean over seeds with its std, as ABS reports. The angle over the cells alone (without the fixed layers) is a
diagnostic row. Ground truth as ABS: CIFAR-10 `cifar10/ori-test@200`, the others `x-test@200`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness.reproduce.results import Row

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
                          "valid_cells": 2, "valid_batches": 1}, 8, {"calibration_images": 256, "valid_images": 256}),
    "cpu": AbsPreset(2, {"channels": 8, "cells": 2, "resolution": 16, "samples": 0.5, "epochs": 15}, 100,
                     {"calibration_images": 2048, "valid_images": 2048}),
    "gpu": AbsPreset(3, {"epochs": 250, "device": "cuda"}, 1000),
    "paper": AbsPreset(10, {"epochs": 250, "device": "cuda"}, 15625),
}


def run(preset: str, out: Path, *, oracle, data_root: str | None, splits_dir: str | None, seed: int = 0,
        progress: bool = True) -> list[Row]:
    from dataclasses import replace

    from harness.analysis.metrics import kendall_tau
    from harness.data import missing_images
    from harness.proxies import ProxyContext, get_proxy
    from harness.proxies.scoring import score_cells
    from harness.train import supernet_config
    from harness.train.loop import train

    settings = PRESETS[preset]
    all_cells = oracle.cells()
    rows = []
    for dataset, (supernet_dataset, truth_dataset, split) in TARGETS.items():
        why = missing_images(supernet_dataset, data_root)
        if why:
            rows += [Row("abs-correlation", row, dataset, "kendall_tau", reason=why) for row in ROWS]
            continue
        taus = {row: [] for row in ROWS}
        seconds = {row: 0.0 for row in ROWS}
        sample = f"sample:{settings.sample}:{seed}" if settings.sample < 15625 else "all"
        for s in range(seed, seed + settings.seeds):
            config = replace(supernet_config(), dataset=supernet_dataset, data_root=data_root,
                             splits_dir=splits_dir or "", seed=s, progress=progress, **settings.supernet)
            run_dir = out / "runs" / f"{dataset}-seed{s}"
            began = time.perf_counter()
            train(config, run_dir, resume=(run_dir / "config.json").exists())
            trained = time.perf_counter() - began
            for row, spec in ROWS.items():
                if spec is None:
                    cells = all_cells
                    scores, took = np.random.default_rng(s).random(len(cells)), 0.0
                else:
                    name, extra = spec
                    proxy_settings = {**extra, **(settings.images if name != "angle" else {})}
                    context = ProxyContext(dataset=supernet_dataset, data_root=data_root, splits_dir=splits_dir,
                                           run_dir=str(run_dir), device=config.device, seed=s,
                                           settings=proxy_settings)
                    slug = row.replace(" ", "-").replace("(", "").replace(")", "")
                    scored = score_cells(get_proxy(name), "all" if name == "angle" else sample, context,
                                         out / "scores" / f"{slug}-{dataset}-seed{s}.csv", order=oracle.order,
                                         table_hash=oracle.table_hash, progress=progress)
                    cells, scores, took = scored.cells, scored.scores, scored.provenance["seconds"]
                truth = oracle.accuracy(cells, dataset=truth_dataset, split=split)
                taus[row].append(kendall_tau(truth, scores))
                seconds[row] += took + (trained if spec is not None else 0.0)
        for row in ROWS:
            n = len(all_cells) if ROWS[row] is None or ROWS[row][0] == "angle" else settings.sample
            rows.append(Row("abs-correlation", row, dataset, "kendall_tau", value=float(np.mean(taus[row])),
                            std=float(np.std(taus[row], ddof=1)) if len(taus[row]) > 1 else float("nan"), n=n,
                            seconds=seconds[row] / settings.seeds,
                            settings={"seeds": [seed, seed + settings.seeds - 1], "supernet": settings.supernet,
                                      "cells": "all" if n == len(all_cells) else sample,
                                      "truth": f"{truth_dataset}/{split}@200", **settings.images}))
    return rows
