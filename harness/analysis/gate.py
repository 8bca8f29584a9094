"""CI regression gate: ranking metrics of score sets against a stored baseline with tolerances.

A baseline file (JSON) holds, per metric, the value and how far it may drop: an absolute tolerance, or, when
several score sets (seeds) were measured, `sigmas` times their standard deviation if that is larger.
Several score sets given to a check are seeds of one proxy: their mean is compared.

A baseline also pins what it compares: the ground truth (table hash, dataset, split, hp), the cells (their number
and a sha256 of the set) and the NaN scores among them. A check on fewer or other cells, with more NaN scores, of
score files recorded on another dataset, or asked for another target fails with the reason, whatever its metrics:
a proxy that ranks 30 easy cells perfectly has not improved on a 500-cell baseline.

    from harness.analysis.gate import assert_no_regression
    def test_my_proxy_ranks_as_well_as_before():
        assert_no_regression(["scores/seed0.csv", "scores/seed1.csv"], "ci/baseline.json")
"""
from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from harness.analysis import GATE_METRICS
from harness.analysis.evaluate import evaluate_scores, target_mismatches
from harness.analysis.score_sets import ScoreSet, distinct_names, read_scores
from harness.atomic import atomic_write
from harness.errors import HarnessError
from harness.oracle import Oracle
from harness.provenance import code_version
from harness.space import encode

FORMAT = "nb201-harness-baseline"
DEFAULT_METRICS = GATE_METRICS


def measure(score_sets: Sequence[ScoreSet], oracle: Oracle, *, dataset: str, split: str, hp: int,
            metrics: Sequence[str] = DEFAULT_METRICS) -> pd.DataFrame:
    """Point values (no bootstrap) of `metrics` (labels of the metrics table), one row per score set."""
    truth_all = oracle.query(dataset=dataset, split=split, hp=hp)
    rows = {}
    for sset in distinct_names(list(score_sets)):
        table = evaluate_scores(truth_all[oracle.indices(sset.cells)], sset.scores, n_boot=0).set_index("label")
        unknown = [label for label in metrics if label not in table.index]
        if unknown:
            raise HarnessError(f"unknown metric(s) {', '.join(unknown)}; metrics are {', '.join(table.index)}")
        rows[sset.name] = table.loc[list(metrics), "value"]
    return pd.DataFrame(rows).T


def pins(score_sets: Sequence[ScoreSet]) -> dict:
    """What a baseline pins of its score sets: the number of cells, a sha256 of the cell set and the most NaN
    scores any set has. The sets (seeds of one proxy) must cover the same cells."""
    digests = {_cells_digest(sset) for sset in score_sets}
    if len(digests) > 1:
        raise HarnessError(f"the {len(score_sets)} score sets cover different cells; a baseline compares seeds of one "
                           f"proxy on one set of cells")
    return {"n_cells": len(score_sets[0].cells), "cells_sha256": digests.pop(),
            "n_nan": max(int(np.isnan(sset.scores).sum()) for sset in score_sets)}


def _cells_digest(sset: ScoreSet) -> str:
    return hashlib.sha256(np.sort(encode(sset.cells)).astype(np.int64).tobytes()).hexdigest()


def make_baseline(measured: pd.DataFrame, oracle: Oracle, *, dataset: str, split: str, hp: int,
                  tolerance: float = 0.02, sigmas: float = 2.0, pinned: dict | None = None) -> dict:
    """A baseline from measured values: mean over score sets; tolerance from seed variance when larger. `pinned`
    (`pins` of the score sets) is what a later check must match."""
    if tolerance < 0 or sigmas < 0:
        raise HarnessError(f"tolerance and sigmas must be >= 0, got {tolerance} and {sigmas}")
    entries = {}
    for label in measured.columns:
        values = measured[label].to_numpy(dtype=np.float64)
        if not np.isfinite(values).all():
            raise HarnessError(f"{label} is undefined for some score set; a baseline needs defined values")
        std = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        from_seeds = len(values) > 1 and sigmas * std > tolerance
        entries[label] = {"value": float(values.mean()), "tolerance": sigmas * std if from_seeds else tolerance,
                          "tolerance_from": f"{sigmas:g} x std over {len(values)} seeds" if from_seeds else "absolute",
                          "seeds": len(values), "std": std}
    return {"format": FORMAT, "format_version": 2, "target": {"dataset": dataset, "split": split, "hp": hp},
            "table_hash": oracle.table_hash, "benchmark_version": oracle.meta["benchmark_version"],
            "pins": pinned or {}, "score_sets": list(measured.index), "metrics": entries,
            "harness_version": code_version(), "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds")}


@dataclass
class GateResult:
    passed: bool
    table: pd.DataFrame
    #: why the check does not compare like with like (other cells, more NaN, another target); each fails it
    mismatches: list[str] = field(default_factory=list)

    def report(self) -> str:
        lines = [self.table.to_string(index=False, float_format=lambda v: f"{v:.4f}")]
        lines += [f"MISMATCH: {m}" for m in self.mismatches]
        if self.passed:
            verdict = "PASS"
        elif self.mismatches:
            verdict = "FAIL: the check does not measure what the baseline pinned (see MISMATCH)"
        else:
            verdict = "FAIL: ranking quality dropped below the baseline"
        return "\n".join(lines + [verdict])


def check(measured: pd.DataFrame, baseline: dict, mismatches: Sequence[str] = ()) -> GateResult:
    """Compare the mean of measured values with the baseline; a drop beyond the tolerance, an undefined metric or
    any of `mismatches` fails."""
    rows = []
    for label, entry in baseline["metrics"].items():
        value = float(measured[label].mean()) if label in measured else math.nan
        change = value - entry["value"]
        if not math.isfinite(value):
            status = "UNDEFINED"
        elif change < -entry["tolerance"]:
            status = "DROPPED"
        else:
            status = "improved" if change > entry["tolerance"] else "ok"
        rows.append({"metric": label, "baseline": entry["value"], "tolerance": entry["tolerance"],
                     "measured": value, "change": change, "status": status})
    table = pd.DataFrame(rows)
    passed = bool(table["status"].isin(["ok", "improved"]).all()) and not mismatches
    return GateResult(passed, table, list(mismatches))


def mismatches_of(score_sets: Sequence[ScoreSet], baseline: dict, oracle: Oracle,
                  target: dict | None = None) -> list[str]:
    """How a check's score sets (and its `target`, where one was asked for) differ from what `baseline` pinned."""
    found = []
    pinned, base_target = baseline.get("pins", {}), baseline["target"]
    for key, value in (target or {}).items():
        if value is not None and value != base_target[key]:
            found.append(f"--{key} {value} asked for, the baseline is on {key} {base_target[key]}")
    found += target_mismatches(list(score_sets), oracle, base_target["dataset"])
    for sset in score_sets:
        name = sset.source or sset.name
        if "n_cells" in pinned and len(sset.cells) != pinned["n_cells"]:
            found.append(f"{name} scores {len(sset.cells)} cells, the baseline {pinned['n_cells']}")
        elif "cells_sha256" in pinned and _cells_digest(sset) != pinned["cells_sha256"]:
            found.append(f"{name} scores other cells than the baseline (same number, cell-set sha256 "
                         f"{_cells_digest(sset)[:12]}... against {pinned['cells_sha256'][:12]}...)")
        nan = int(np.isnan(sset.scores).sum())
        if "n_nan" in pinned and nan > pinned["n_nan"]:
            found.append(f"{name} has {nan} NaN scores, the baseline at most {pinned['n_nan']}")
    return found


def load_baseline(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"no baseline at {path}; write one with `harness check SCORES... --baseline {path} "
                           f"--update --dataset D --split S`")
    try:
        baseline = json.loads(path.read_text())
    except ValueError as exc:
        raise HarnessError(f"baseline {path} is not valid JSON ({exc})") from None
    if not isinstance(baseline, dict) or baseline.get("format") != FORMAT:
        raise HarnessError(f"{path} is not a baseline written by `harness check --update`")
    return baseline


def save_baseline(path: str | Path, baseline: dict) -> Path:
    return atomic_write(Path(path), lambda tmp: Path(tmp).write_text(json.dumps(baseline, indent=2) + "\n"))


def check_scores(score_paths: Sequence[str | Path], baseline_path: str | Path, oracle: Oracle | None = None,
                 target: dict | None = None) -> GateResult:
    """The gate from Python: read the score files and the baseline, measure, compare. `target` ({"dataset",
    "split", "hp"}, values or None) is what the caller asked for: any that disagrees with the baseline fails."""
    baseline = load_baseline(baseline_path)
    oracle = oracle or Oracle()
    if baseline["table_hash"] != oracle.table_hash:
        raise HarnessError(f"the baseline was measured against ground truth {baseline['table_hash'][:16]}... "
                           f"({baseline['benchmark_version']}), this oracle holds {oracle.table_hash[:16]}... "
                           f"({oracle.meta['benchmark_version']}); rewrite the baseline with --update")
    sets = [read_scores(p, oracle.order) for p in score_paths]
    base_target = baseline["target"]
    measured = measure(sets, oracle, dataset=base_target["dataset"], split=base_target["split"], hp=base_target["hp"],
                       metrics=list(baseline["metrics"]))
    return check(measured, baseline, mismatches_of(sets, baseline, oracle, target))


def assert_no_regression(score_paths: Sequence[str | Path], baseline_path: str | Path,
                         oracle: Oracle | None = None) -> None:
    """For a user's own pytest suite: raises AssertionError with the table when a metric dropped."""
    result = check_scores(score_paths, baseline_path, oracle)
    if not result.passed:
        raise AssertionError(result.report())
