"""The CI gate: passes on an unchanged proxy, fails with a table when ranking drops, tolerances from seeds."""
import json

import numpy as np
import pytest

from harness.analysis import gate
from harness.analysis.score_sets import ScoreSet, write_scores
from harness.cli.main import main
from harness.errors import HarnessError

WHERE = ["--dataset", "cifar10", "--split", "ori-test"]


def _proxy(oracle, path, noise, seed):
    idx = np.arange(0, 15625, 3)
    truth = oracle.accuracy(idx, dataset="cifar10", split="ori-test")
    scores = truth + np.random.default_rng(seed).normal(scale=noise, size=idx.size)
    return write_scores(path, ScoreSet(f"proxy-{seed}", oracle.cells(idx), scores, {"proxy": "noisy", "seed": seed}))


def test_gate_passes_then_fails_on_a_worse_proxy(table_oracle, tmp_path, capsys):
    cache = ["--cache", str(table_oracle.path)]
    good = [_proxy(table_oracle, tmp_path / f"good{s}.csv", 5.0, s) for s in range(3)]
    baseline = tmp_path / "baseline.json"
    assert main(["check", *map(str, good), "--baseline", str(baseline), "--update", *WHERE, *cache]) == 0
    saved = json.loads(baseline.read_text())
    assert set(saved["metrics"]) == set(gate.DEFAULT_METRICS) and saved["table_hash"] == table_oracle.table_hash
    assert all(e["seeds"] == 3 and e["tolerance"] >= 0.02 for e in saved["metrics"].values())
    capsys.readouterr()
    assert main(["check", *map(str, good), "--baseline", str(baseline), *cache]) == 0
    assert "PASS" in capsys.readouterr().out
    worse = _proxy(table_oracle, tmp_path / "worse.csv", 15.0, 9)
    assert main(["check", str(worse), "--baseline", str(baseline), *cache]) == 1
    out = capsys.readouterr().out
    assert "DROPPED" in out and "FAIL" in out and "kendall_tau" in out
    with pytest.raises(AssertionError, match="DROPPED"):
        gate.assert_no_regression([worse], baseline, table_oracle)
    gate.assert_no_regression(good, baseline, table_oracle)


def test_tolerance_comes_from_seed_spread_when_larger(table_oracle):
    measured = gate.pd.DataFrame({"kendall_tau": [0.50, 0.60, 0.55]}, index=["a", "b", "c"])
    baseline = gate.make_baseline(measured, table_oracle, dataset="cifar10", split="ori-test", hp=200,
                                  tolerance=0.01, sigmas=2)
    entry = baseline["metrics"]["kendall_tau"]
    assert entry["value"] == pytest.approx(0.55) and entry["tolerance"] == pytest.approx(0.1)
    assert entry["tolerance_from"] == "2 x std over 3 seeds"
    assert gate.check(gate.pd.DataFrame({"kendall_tau": [0.46]}), baseline).passed
    assert not gate.check(gate.pd.DataFrame({"kendall_tau": [0.44]}), baseline).passed
    assert not gate.check(gate.pd.DataFrame({"kendall_tau": [float("nan")]}), baseline).passed


def test_gate_refuses_a_baseline_from_another_ground_truth(table_oracle, nats_oracle, tmp_path):
    good = _proxy(table_oracle, tmp_path / "g.csv", 5.0, 0)
    baseline = tmp_path / "b.json"
    gate.save_baseline(baseline, gate.make_baseline(
        gate.measure([gate.read_scores(good, table_oracle.order)], table_oracle, dataset="cifar10", split="ori-test",
                     hp=200), table_oracle, dataset="cifar10", split="ori-test", hp=200))
    with pytest.raises(HarnessError, match="measured against ground truth"):
        gate.check_scores([good], baseline, nats_oracle)
    with pytest.raises(HarnessError, match="no baseline at"):
        gate.check_scores([good], tmp_path / "none.json", table_oracle)
    with pytest.raises(HarnessError, match="unknown metric"):
        gate.measure([gate.read_scores(good, table_oracle.order)], table_oracle, dataset="cifar10",
                     split="ori-test", hp=200, metrics=["tau"])
