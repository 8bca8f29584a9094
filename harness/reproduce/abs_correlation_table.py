"""The abs-correlation table (ABS, Table 1): Kendall tau of random scores, supernet child accuracy without and
with re-calibrated BN, and the angle, over several supernet seeds, for each dataset that has images.

Each seed trains one supernet with ABS's recipe as its released code runs it (`harness.train.supernet_config`:
NB201's uniform random sampling, weight decay and momentum on every parameter at every step, no gradient clipping)
on the dataset's search split (`harness.reproduce.supernets`: resumed or reused when rerun, shared with eps-top20);
the angle, measured from the weights after the first epoch as released, scores all 15,625 cells, the accuracies a
seeded sample (`sample` cells; Re-BN with the released BN momentum 0.1); the value is the mean over seeds with its
std, as ABS reports. Beside them, diagnostic rows: the angle over the cells alone, from the initialisation
(the paper's text), and of supernets trained with one choice of the recipe changed (`variants`: shared-child
sampling, decay of the sampled ops only); and what decides the angle (`angle_diagnostics`): how far each fixed part
turned and how much of a child's squared norm it holds, the cells' own median angle, and how many cells whose
vector is the fixed part alone (no conv on a live path) the angle puts in its top 100. Ground truth as ABS:
CIFAR-10 `cifar10/ori-test@200`, the others `x-test@200`.
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
        "angle (cells only)": ("angle", {"parts": "cells"}), "angle (from init)": ("angle", {"reference": "init"})}
#: classes of each dataset (chance accuracy is 100 / classes)
_CLASSES = {"cifar10": 10, "cifar100": 100, "ImageNet16-120": 120}


def _supernet_acc_gap(data, row) -> str:
    """The table's own measurement beside the gap: the children's mean accuracy without and with Re-BN."""
    mean = {name: data[(data["row"] == f"diagnostic: {name}") & (data["dataset"] == row.dataset)]
            for name in ("supernet_acc", "rebn")}
    if any(m.empty for m in mean.values()):
        return "Not explained yet."
    without, with_rebn = (float(mean[name]["value"].iloc[0]) for name in ("supernet_acc", "rebn"))
    chance = 100 / _CLASSES[row.dataset]
    return (f"Measured beside it: the sampled children average {without:.1f}% without Re-BN and {with_rebn:.1f}% "
            f"with it (chance {chance:.0f}%): at this preset the supernet's shared running statistics cost them "
            f"{with_rebn - without:.1f} points but leave them well above chance, so their order partly survives; "
            f"ABS does not report its children's accuracies, so whether they fall to chance at 250 epochs is not "
            f"measured here.")


#: the gaps the table's own rows explain (see `results.against_published`)
EXPLAINED = {"supernet_acc": _supernet_acc_gap}
#: the parts `angle_diagnostics` reports, in order
PARTS = ("fixed part", "stem", "reduction 1", "reduction 2", "last BN", "classifier")
TOP = 100


@dataclass(frozen=True)
class AbsPreset:
    seeds: int
    supernet: dict  # TrainConfig overrides
    sample: int  # cells scored by the accuracies
    images: dict = field(default_factory=dict)  # rebn / supernet_acc settings: calibration_images, valid_images
    #: name -> TrainConfig overrides of a supernet trained with one choice of the recipe changed (angle rows)
    variants: dict = field(default_factory=dict)
    variant_seeds: int = 1


#: the recipe's choices that the released code and PyTorch >= 2.0 defaults (or the paper's text) make differently
VARIANTS = {"shared-child sampling": {"sampling": "spos"}, "decay of sampled ops only": {"decay": "sampled"}}

PRESETS = {
    "tiny": AbsPreset(2, {"channels": 4, "cells": 1, "resolution": 8, "samples": 0.02, "epochs": 2,
                          "valid_cells": 2, "valid_batches": 1}, 20,
                      {"calibration_images": 256, "batch_size": 32, "valid_images": 256},
                      {"shared-child sampling": {"sampling": "spos"}}),
    # Re-BN needs the paths trained: this network ranks at 0.08 +- 0.09 after 30 epochs, 0.47 after 60. Its
    # calibration keeps ABS's 40 batches (20,000 images at 512) at a 16th of the images: with BN momentum 0.1 the
    # reset statistics keep 0.9^B of their weight after B batches, a third after 4 batches of 512
    "cpu": AbsPreset(2, {"channels": 8, "cells": 2, "resolution": 16, "epochs": 60}, 100,
                     {"calibration_images": 2560, "batch_size": 64, "valid_images": 2048}, VARIANTS),
    "gpu": AbsPreset(3, {"epochs": 250, "device": "cuda"}, 1000, variants=VARIANTS),
    "paper": AbsPreset(10, {"epochs": 250, "device": "cuda"}, 15625, variants=VARIANTS, variant_seeds=3),
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
        for row in ("supernet_acc", "rebn"):  # how far the shared running statistics leave the children
            means = [float(np.mean(sc.scores)) for sc in scored_by_row[row]]
            rows.append(Row("abs-correlation", f"diagnostic: {row}", dataset, "mean_accuracy", **over_seeds(means),
                            n=settings.sample, settings={"seeds": [seeds[0], seeds[-1]], "cells": sample,
                                                         "chance": 100 / _CLASSES[dataset]},
                            **sources(*scored_by_row[row])))
        rows += _variant_rows(settings, inputs, dataset, supernet_dataset, truth_dataset, split)
        rows += _diagnostic_rows(settings, inputs, dataset, supernet_dataset, truth_dataset, split)
    return rows


def _variant_rows(settings: AbsPreset, inputs: Inputs, dataset, supernet_dataset, truth_dataset, split) -> list[Row]:
    """The angle of supernets trained with one choice of the recipe changed, beside the released recipe's."""
    from harness.analysis.metrics import kendall_tau
    from harness.reproduce.supernets import supernet, supernet_scores

    truth = inputs.oracle.accuracy(dataset=truth_dataset, split=split)
    seeds = range(inputs.seed, inputs.seed + settings.variant_seeds)
    rows = []
    for name, overrides in settings.variants.items():
        scored = []
        for s in seeds:
            run_dir, config, key = supernet(inputs, supernet_dataset, s, {**settings.supernet, **overrides})
            scored.append(supernet_scores(inputs, run_dir, config, key, "angle", "all", {}, "angle"))
        taus = [kendall_tau(truth[inputs.oracle.indices(sc.cells)], sc.scores) for sc in scored]
        rows.append(Row("abs-correlation", f"angle [{name}]", dataset, "kendall_tau", **over_seeds(taus),
                        n=len(truth), seconds=sum(map(cost_seconds, scored)) / len(scored),
                        settings={"seeds": [seeds[0], seeds[-1]], "supernet": {**settings.supernet, **overrides},
                                  "cells": "all", "truth": f"{truth_dataset}/{split}@200"}, **sources(*scored)))
    return rows


def _diagnostic_rows(settings: AbsPreset, inputs: Inputs, dataset, supernet_dataset, truth_dataset,
                     split) -> list[Row]:
    """What decides the angle, per seed of the released recipe's supernets (mean +- std over seeds): each fixed
    part's angle and share of the squared norm, the cells' own median angle, and the angle's top 100."""
    from harness.proxies.angle import angle_diagnostics, reference_epoch
    from harness.proxies.registry import get_proxy
    from harness.proxies.scoring import checkpoint_hash
    from harness.provenance import code_hash
    from harness.reproduce.supernets import supernet, supernet_scores

    cells, truth = inputs.oracle.cells(), inputs.oracle.accuracy(dataset=truth_dataset, split=split)
    seeds = range(inputs.seed, inputs.seed + settings.seeds)
    values: dict[tuple[str, str], list[float]] = {}
    files, codes = [], set()
    for s in seeds:
        run_dir, config, key = supernet(inputs, supernet_dataset, s, settings.supernet)

        def measure(run_dir=run_dir):
            from harness.train.loop import load_model

            _, reference = load_model(run_dir, epoch=reference_epoch(get_proxy("angle").settings["reference"].default))
            _, trained = load_model(run_dir)
            return angle_diagnostics(reference, trained, cells)
        found, code, name = inputs.record(f"{key}-angle-diagnostics", {"run": key}, code_hash(
            "harness.proxies.angle"), measure, None if inputs.from_scores else checkpoint_hash(str(run_dir)))
        angle = supernet_scores(inputs, run_dir, config, key, "angle", "all", {}, "angle")
        own = supernet_scores(inputs, run_dir, config, key, "angle", "all", {"parts": "cells"}, "angle (cells only)")
        files += [name, Path(angle.source).name, Path(own.source).name]
        codes |= {code, angle.provenance["code_hash"]}
        for part in PARTS:
            for metric in ("angle_deg", "norm_share_median"):
                values.setdefault((part, metric), []).append(found["parts"][part][metric])
        values.setdefault(("cells (their own part)", "angle_deg_median"), []).append(found["cells_angle_median_deg"])
        order = np.argsort(-angle.scores, kind="stable")[:TOP]
        fixed_only = _fixed_only(angle.cells)
        values.setdefault((f"angle's top {TOP}", "fixed_part_only_cells"), []).append(int(fixed_only[order].sum()))
        values.setdefault((f"angle's top {TOP}", "mean_test"), []).append(
            float(truth[inputs.oracle.indices(angle.cells[order])].mean()))
        values.setdefault(("cells with no conv on a live path", "count"), []).append(int(fixed_only.sum()))
    common = {"n": len(cells), "settings": {"seeds": [seeds[0], seeds[-1]], "supernet": settings.supernet,
                                            "truth": f"{truth_dataset}/{split}@200"},
              "scores": tuple(sorted(set(files))), "code_hash": ";".join(sorted(codes))}
    return [Row("abs-correlation", f"diagnostic: {row}", dataset, metric, **over_seeds(v), **common)
            for (row, metric), v in values.items()]


def _fixed_only(cells: np.ndarray) -> np.ndarray:
    """The cells whose angle vector is the fixed part and constants: no conv on an input-output path without
    `none` (pools add the same tensor before and after training; skips add nothing)."""
    from harness.proxies.angle import PATHS
    from harness.space.ops import CONV1X1, CONV3X3, NONE

    conv = np.isin(cells, (CONV1X1, CONV3X3))
    alive = [(cells[:, list(path)] != NONE).all(axis=1) & conv[:, list(path)].any(axis=1) for path in PATHS]
    return ~np.any(alive, axis=0)


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
