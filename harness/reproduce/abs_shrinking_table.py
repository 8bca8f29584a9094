"""The abs-shrinking table: the quality of the space ABS-style shrinking leaves, per signal, against the ground
truth (REFERENCE: "Shrunk space quality: its size, the best ground-truth accuracy and rank it still holds, the share
of the global top-k it keeps, and what a search (random search, REA) finds inside it against the full space").

Each row is one signal driving `harness.shrink.shrink_abs` for `stages` stages of `drop_per_stage` operators:
`truth` (the ground truth's operator means, the upper bound; no training), `params` (the params proxy on all 15,625
cells; no images), and the supernet signals the preset names (`angle`, `angle (cells only)`, `magnitude`, `rebn`;
one supernet per signal trains inside the shrinking space, on the dataset's search split, CIFAR-10's being
`cifar10-valid`); and the angle as ABS's released code shrinks NB201: one round that drops the 20 of the 30
(edge, op) pairs with the lowest mean angle, never the last op of an edge. Quality is against NB201's reported column and the search gain selects by its searched column
(`harness.analysis.search.PROTOCOL`): REA at `gain_budget` queries inside the final space minus the whole space.
ABS publishes no such numbers (it claims only that shrinking keeps the good operators), so none sit beside them.
Each run lives in `runs/shrink-DATASET-SIGNAL-.../` and resumes from its `history.json` when rerun; the history is
kept in the store, so `--from-scores` re-derives the rows without training.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.reproduce.inputs import Inputs
from harness.reproduce.results import Row

#: supernet rows -> (shrinking signal, its proxy settings)
SUPERNET_SIGNALS = {"angle": ("angle", {}), "angle (cells only)": ("angle", {"parts": "cells"}),
                    "magnitude": ("magnitude", {}), "rebn": ("rebn", {})}
#: ABS's released code on NB201: one round that drops the 20 of the 30 (edge, op) pairs of lowest mean angle
RELEASED = {"stages": 1, "drop_per_stage": 20}
RELEASED_ROW = "angle, one round of 20 (as released)"
#: the quality metrics, from `space_quality`: metric -> its key there
QUALITY = {"cells_left": "size", "best_global_rank": "best_global_rank", "best_test": "best",
           "top1%_kept": "top1%_kept", "top5%_kept": "top5%_kept", "mean_test": "mean"}


@dataclass(frozen=True)
class AbsShrinkingPreset:
    stages: int
    drop_per_stage: int
    sample: int  # cells rebn scores per stage
    first_epochs: int
    stage_epochs: int
    supernet: dict = field(default_factory=dict)  # TrainConfig overrides
    signals: tuple[str, ...] = tuple(SUPERNET_SIGNALS)  # supernet rows run
    gain_runs: int = 100
    gain_budget: int = 50


PRESETS = {
    "tiny": AbsShrinkingPreset(2, 3, 4, 2, 1, {"channels": 4, "cells": 1, "resolution": 8, "samples": 0.02,
                                               "valid_cells": 2, "valid_batches": 1, "batch_size": 64},
                               ("angle",), gain_runs=5, gain_budget=20),
    "cpu": AbsShrinkingPreset(5, 3, 30, 6, 2, {"channels": 8, "cells": 2, "resolution": 16, "samples": 0.25},
                              ("angle", "angle (cells only)", "magnitude"), gain_runs=50, gain_budget=50),
    "gpu": AbsShrinkingPreset(5, 3, 100, 20, 5, {"device": "cuda"}),
    "paper": AbsShrinkingPreset(5, 3, 100, 50, 10, {"device": "cuda"}),
}


def run(preset: str, out: Path, inputs: Inputs) -> list[Row]:
    from dataclasses import asdict

    import numpy as np

    from harness.analysis.search import PROTOCOL, protocol_columns, search_gain
    from harness.analysis.shrunk_space import cells_in
    from harness.proxies import ProxyContext
    from harness.reproduce.inputs import slug
    from harness.reproduce.supernets import supernet_settings
    from harness.shrink import ShrinkSettings, shrink_abs

    settings = PRESETS[preset]
    cells = inputs.oracle.cells()
    rows = []
    for dataset, ((search_on, search_split), (report_on, report_split)) in PROTOCOL.items():
        valid, truth = protocol_columns(inputs.oracle, dataset)
        supernet_dataset = search_on  # the supernet trains on the searched dataset's search split
        columns = {"truth": f"{report_on}/{report_split}@200", "searched": f"{search_on}/{search_split}@200",
                   "gain_runs": settings.gain_runs, "gain_seeds": [inputs.seed, inputs.seed + settings.gain_runs - 1]}
        metrics = [*QUALITY, f"rea@{settings.gain_budget}_inside", f"rea@{settings.gain_budget}_gain"]
        why = inputs.missing_images(supernet_dataset)
        staged = {"stages": settings.stages, "drop_per_stage": settings.drop_per_stage}
        jobs = [("truth", "truth", {}, staged), ("params", "scores:", {}, staged)]
        jobs += [(name, *SUPERNET_SIGNALS[name], staged) for name in settings.signals]
        jobs.append((RELEASED_ROW, "angle", {}, RELEASED))
        for name, signal, proxy_settings, rounds in jobs:
            common = {"table": "abs-shrinking", "row": name, "dataset": dataset}
            trains = signal not in ("truth", "scores:")
            if trains and why:
                rows += [Row(**common, metric=m, reason=why) for m in metrics]
                continue
            score_set, train_config, scoring_seconds, files = None, None, 0.0, []
            if signal == "scores:":  # the params proxy on every cell, no images
                score_set = inputs.score(f"params-{dataset}", "params", "all", ProxyContext(dataset=supernet_dataset))
                signal, scoring_seconds = f"scores:{Path(score_set.source).name}", score_set.provenance["seconds"]
                files.append(Path(score_set.source).name)
            if trains:
                train_config = supernet_settings(inputs, supernet_dataset, inputs.seed, settings.supernet)
            shrink = ShrinkSettings(signal, **rounds, sample=settings.sample, first_epochs=settings.first_epochs,
                                    stage_epochs=settings.stage_epochs, seed=inputs.seed,
                                    proxy_settings=proxy_settings).resolved()
            job = {"shrink": asdict(shrink), "supernet": train_config.identity() if trains else None,
                   "truth": columns["truth"]}
            modules = ("harness.shrink.abs_shrinking", *([shrink.proxy.module] if shrink.proxy else []))
            run_dir = inputs.method_run(f"shrink-{dataset}-{slug(name)}", job, *modules)  # as shrink_abs identifies it
            history, code, name_in_store = inputs.history(
                f"shrink-{dataset}-{name}", job, run_dir,
                lambda: shrink_abs(shrink, run_dir, cells=cells, truth=truth, train_config=train_config,
                                   score_set=score_set, progress=inputs.progress))
            files.append(name_in_store)
            codes = {code} | ({score_set.provenance["code_hash"]} if score_set is not None else set())
            quality = history[-1]["quality"]
            inside = np.flatnonzero(cells_in(cells, np.array(history[-1]["allowed_mask"])))
            seconds = scoring_seconds + sum(stage["seconds"] for stage in history)  # training is inside the stages
            row_settings = {**asdict(shrink), **columns, **({"supernet": settings.supernet} if trains else {})}
            common.update(n=len(inside), seconds=seconds, settings=row_settings, scores=tuple(files),
                          code_hash=";".join(sorted(codes)))
            rows += [Row(**common, metric=metric, value=float(quality[key])) for metric, key in QUALITY.items()]
            gain = search_gain(valid, truth, cells, inside, budgets=(settings.gain_budget,), runs=settings.gain_runs,
                               seed=inputs.seed)
            rea = gain[gain["method"] == "rea"]
            if rea.empty:
                small = f"the final space holds {len(inside)} cells, fewer than the budget of {settings.gain_budget}"
                rows += [Row(**common, metric=m, reason=small) for m in metrics[-2:]]
                continue
            common["n"] = settings.gain_runs  # a search value is a mean over runs
            rows += [Row(**common, metric=metrics[-2], value=float(rea["inside"].iloc[0])),
                     Row(**common, metric=metrics[-1], value=float(rea["gain"].iloc[0]))]
    return rows
