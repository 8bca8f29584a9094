"""The zero-cost table: Spearman and Kendall of every zero-cost proxy (and params, FLOPs) against the accuracy the
zero-cost paper's code correlates with, per dataset. The `cpu` preset scores a seeded sample of cells; `gpu` and
`paper` score all 15,625. A dataset whose images are missing gets its image-based rows marked as not run."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.reproduce.inputs import Inputs
from harness.reproduce.results import Row, sources

#: dataset -> (proxy head dataset, ground-truth dataset, split): the zero-cost code queries cifar10-valid for CIFAR-10
TARGETS = {"cifar10": ("cifar10", "cifar10-valid", "ori-test"), "cifar100": ("cifar100", "cifar100", "x-test"),
           "ImageNet16-120": ("ImageNet16-120", "ImageNet16-120", "x-test")}
PROXIES = ("synflow", "snip", "grad_norm", "fisher", "grasp", "jacob_cov", "naswot", "params", "flops")


@dataclass(frozen=True)
class ZeroCostPreset:
    cells: int  # a seeded sample of this many cells (the run's seed); 15,625: all of them
    proxies: tuple[str, ...] = PROXIES
    n_boot: int = 1000


PRESETS = {"tiny": ZeroCostPreset(12, ("synflow", "snip", "naswot", "params"), n_boot=50),
           "cpu": ZeroCostPreset(100), "gpu": ZeroCostPreset(15625), "paper": ZeroCostPreset(15625)}


def run(preset: str, out: Path, inputs: Inputs) -> list[Row]:
    from harness.analysis.evaluate import evaluate_scores
    from harness.proxies import ProxyContext, get_proxy

    settings = PRESETS[preset]
    cells = inputs.sample(settings.cells)
    rows = []
    for dataset, (head, truth_dataset, split) in TARGETS.items():
        why = inputs.missing_images(head)
        for name in settings.proxies:
            proxy = get_proxy(name)
            common = {"table": "zero-cost", "row": name, "dataset": dataset}
            if "images" in proxy.needs and why:
                rows += [Row(**common, metric=m, reason=why) for m in ("spearman_rho", "kendall_tau")]
                continue
            context = ProxyContext(dataset=head, data_root=inputs.data_root if "images" in proxy.needs else None,
                                   splits_dir=inputs.splits_dir, seed=inputs.seed)
            scored = inputs.score(f"zero-cost-{name}-{dataset}", name, cells, context)
            truth = inputs.oracle.accuracy(scored.cells, dataset=truth_dataset, split=split)
            metrics = evaluate_scores(truth, scored.scores, n_boot=settings.n_boot, seed=inputs.seed).set_index("label")
            for metric in ("spearman_rho", "kendall_tau"):
                r = metrics.loc[metric]
                rows.append(Row(**common, metric=metric, value=float(r["value"]), ci_low=float(r["ci_low"]),
                                ci_high=float(r["ci_high"]), n=int(r["n_cells"]),
                                seconds=float(scored.provenance["seconds"]),
                                settings={"cells": cells, "truth": f"{truth_dataset}/{split}@200",
                                          "seed": inputs.seed, "proxy_version": proxy.version,
                                          "proxy_settings": scored.provenance["settings"]}, **sources(scored)))
    return rows
