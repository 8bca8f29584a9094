"""The econas table: how well standalone training at reduced settings (EcoNAS's c, r, s, e) ranks cells, and what
each setting cost, plus the hierarchical proxy; on CIFAR-10's validation half (`cifar10-valid/x-valid@200`).

Every setting trains the same seeded sample of cells; rows are named `c=C r=R s=S e=E`. The zero-cost paper's
EcoNAS number (Spearman 0.61) sits beside the row with EcoNAS's own reduction (c=4, r=8, s=1, e=10)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.reproduce.inputs import Inputs
from harness.reproduce.results import Row, sources

DATASET, TRUTH = "cifar10-valid", ("cifar10-valid", "x-valid")


@dataclass(frozen=True)
class EcoNasPreset:
    cells: int
    grid: tuple[dict, ...]  # econas settings per row (channels, resolution, samples, epochs, ...)
    hierarchical: dict = field(default_factory=dict)  # econas_hierarchical settings; empty: no row


PRESETS = {
    "tiny": EcoNasPreset(6, ({"channels": 2, "cells": 1, "samples": 0.02, "epochs": 1, "valid_batches": 2},),
                         {"channels": 2, "cells": 1, "samples": 0.02, "stages": [1, 2], "valid_batches": 2}),
    "cpu": EcoNasPreset(20, tuple({"channels": 4, "resolution": 8, "samples": s, "epochs": e, "valid_batches": 20}
                                  for s, e in ((0.1, 2), (0.1, 5), (0.25, 5))),
                        {"channels": 4, "resolution": 8, "samples": 0.1, "stages": [2, 5], "valid_batches": 20}),
    "gpu": EcoNasPreset(500, tuple({"channels": c, "resolution": r, "samples": 1.0, "epochs": e, "device": "cuda"}
                                   for c, r, e in ((4, 8, 10), (8, 16, 10), (16, 32, 10))),
                        {"channels": 4, "resolution": 8, "stages": [2, 5, 10]}),
}
PRESETS["paper"] = PRESETS["gpu"]


def row_name(settings: dict) -> str:
    keys = (("c", "channels", 4), ("r", "resolution", 8), ("s", "samples", 1.0), ("e", "epochs", 10))
    return " ".join(f"{short}={settings.get(key, default):g}" for short, key, default in keys
                    if not (key == "epochs" and "stages" in settings))  # a hierarchy names its stages instead


def run(preset: str, out: Path, inputs: Inputs) -> list[Row]:
    from harness.analysis.evaluate import evaluate_scores
    from harness.proxies import ProxyContext

    settings = PRESETS[preset]
    jobs = [(row_name(s), "econas", s) for s in settings.grid]
    if settings.hierarchical:
        jobs.append((f"hierarchical {row_name(settings.hierarchical)} stages={settings.hierarchical['stages']}",
                     "econas_hierarchical", settings.hierarchical))
    why = inputs.missing_images(DATASET)
    rows = []
    for name, proxy, proxy_settings in jobs:
        common = {"table": "econas", "row": name, "dataset": "cifar10"}
        if why:
            rows += [Row(**common, metric=m, reason=why) for m in ("spearman_rho", "kendall_tau")]
            continue
        device = proxy_settings.get("device", "cpu")
        context = ProxyContext(dataset=DATASET, data_root=inputs.data_root, splits_dir=inputs.splits_dir,
                               device=device, seed=inputs.seed,
                               settings={k: v for k, v in proxy_settings.items() if k != "device"})
        scored = inputs.score(f"econas-{name}", proxy, inputs.sample(settings.cells), context)
        truth = inputs.oracle.accuracy(scored.cells, dataset=TRUTH[0], split=TRUTH[1])
        metrics = evaluate_scores(truth, scored.scores, n_boot=1000, seed=inputs.seed).set_index("label")
        budget = {k: scored.provenance[k] for k in ("budget_epochs", "flat_budget_epochs") if k in scored.provenance}
        for metric in ("spearman_rho", "kendall_tau"):
            r = metrics.loc[metric]
            rows.append(Row(**common, metric=metric, value=float(r["value"]), ci_low=float(r["ci_low"]),
                            ci_high=float(r["ci_high"]), n=int(r["n_cells"]), seconds=scored.provenance["seconds"],
                            settings={**proxy_settings, "cells": settings.cells, "seed": inputs.seed, **budget,
                                      "truth": f"{TRUTH[0]}/{TRUTH[1]}@200"}, **sources(scored)))
    return rows
