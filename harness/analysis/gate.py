"""CI regression gate: ranking metrics of score sets against a stored baseline with tolerances.

A baseline file (JSON) holds, per metric, the value and how far it may drop: an absolute tolerance, or, when
several score sets (seeds) were measured, `sigmas` times their standard deviation if that is larger.
Several score sets given to a check are seeds of one proxy: their mean is compared.

    from harness.analysis.gate import assert_no_regression
    def test_my_proxy_ranks_as_well_as_before():
        assert_no_regression(["scores/seed0.csv", "scores/seed1.csv"], "ci/baseline.json")
"""
from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from harness.analysis import GATE_METRICS
from harness.analysis.evaluate import evaluate_scores
from harness.analysis.score_sets import ScoreSet, distinct_names, read_scores
from harness.atomic import atomic_write
from harness.errors import HarnessError
from harness.oracle import Oracle
from harness.provenance import code_version

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


def make_baseline(measured: pd.DataFrame, oracle: Oracle, *, dataset: str, split: str, hp: int,
                  tolerance: float = 0.02, sigmas: float = 2.0) -> dict:
    """A baseline from measured values: mean over score sets; tolerance from seed variance when larger."""
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
    return {"format": FORMAT, "format_version": 1, "target": {"dataset": dataset, "split": split, "hp": hp},
            "table_hash": oracle.table_hash, "benchmark_version": oracle.meta["benchmark_version"],
            "score_sets": list(measured.index), "metrics": entries, "harness_version": code_version(),
            "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds")}


@dataclass
class GateResult:
    passed: bool
    table: pd.DataFrame

    def report(self) -> str:
        verdict = "PASS" if self.passed else "FAIL: ranking quality dropped below the baseline"
        return self.table.to_string(index=False, float_format=lambda v: f"{v:.4f}") + f"\n{verdict}"


def check(measured: pd.DataFrame, baseline: dict) -> GateResult:
    """Compare the mean of measured values with the baseline; a drop beyond the tolerance (or an undefined
    metric) fails."""
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
    return GateResult(bool(table["status"].isin(["ok", "improved"]).all()), table)


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


def check_scores(score_paths: Sequence[str | Path], baseline_path: str | Path, oracle: Oracle | None = None) -> GateResult:
    """The gate from Python: read the score files and the baseline, measure, compare."""
    baseline = load_baseline(baseline_path)
    oracle = oracle or Oracle()
    if baseline["table_hash"] != oracle.table_hash:
        raise HarnessError(f"the baseline was measured against ground truth {baseline['table_hash'][:16]}... "
                           f"({baseline['benchmark_version']}), this oracle holds {oracle.table_hash[:16]}... "
                           f"({oracle.meta['benchmark_version']}); rewrite the baseline with --update")
    sets = [read_scores(p, oracle.order) for p in score_paths]
    target = baseline["target"]
    measured = measure(sets, oracle, dataset=target["dataset"], split=target["split"], hp=target["hp"],
                       metrics=list(baseline["metrics"]))
    return check(measured, baseline)


def assert_no_regression(score_paths: Sequence[str | Path], baseline_path: str | Path,
                         oracle: Oracle | None = None) -> None:
    """For a user's own pytest suite: raises AssertionError with the table when a metric dropped."""
    result = check_scores(score_paths, baseline_path, oracle)
    if not result.passed:
        raise AssertionError(result.report())
