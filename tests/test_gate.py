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


def _scores(oracle, path, idx, noise=2.0, seed=0, nan=0, provenance=None):
    truth = oracle.accuracy(idx, dataset="cifar10", split="ori-test")
    scores = truth + np.random.default_rng(seed).normal(scale=noise, size=len(idx))
    scores[:nan] = np.nan
    return write_scores(path, ScoreSet("p", oracle.cells(idx), scores, {"proxy": "p", **(provenance or {})}))


@pytest.mark.parametrize("case, fragment", [
    ("fewer cells", "scores 30 cells, the baseline 500"),
    ("other cells", "scores other cells than the baseline (same number"),
    ("more NaN", "has 7 NaN scores, the baseline at most 2"),
    ("other dataset asked", "--dataset cifar100 asked for, the baseline is on dataset cifar10"),
    ("other split asked", "--split x-valid asked for, the baseline is on split ori-test"),
    ("scored on other images", "was scored on cifar100 (CIFAR-100), the target is cifar10 (CIFAR-10)"),
])
def test_a_check_of_other_cells_nan_or_target_fails_with_the_reason(case, fragment, table_oracle, tmp_path, capsys):
    """What a baseline pins: 30 easy cells or 500 others ranked perfectly must not pass as 'improved'."""
    cache = ["--cache", str(table_oracle.path)]
    rng = np.random.default_rng(0)
    cells = np.sort(rng.choice(15625, 500, replace=False))
    base = _scores(table_oracle, tmp_path / "base.csv", cells, noise=5.0, nan=2)
    assert main(["check", str(base), "--baseline", str(tmp_path / "b.json"), "--update", *WHERE, *cache]) == 0
    pins = json.loads((tmp_path / "b.json").read_text())["pins"]
    assert pins["n_cells"] == 500 and pins["n_nan"] == 2 and len(pins["cells_sha256"]) == 64
    best = np.argsort(-table_oracle.accuracy(dataset="cifar10", split="ori-test"))
    others = np.setdiff1d(best[:2000], cells)[:500]
    extra, check_file = [], tmp_path / "check.csv"
    if case == "fewer cells":  # the 30 best cells, ranked perfectly
        _scores(table_oracle, check_file, best[:30], noise=0.0)
    elif case == "other cells":
        _scores(table_oracle, check_file, others, noise=0.0)
    elif case == "more NaN":
        _scores(table_oracle, check_file, cells, noise=0.0, nan=7)
    elif case == "scored on other images":
        _scores(table_oracle, check_file, cells, noise=0.0, provenance={"dataset": "cifar100"})
    else:
        _scores(table_oracle, check_file, cells, noise=0.0)
        extra = ["--dataset", "cifar100"] if "dataset" in case else ["--split", "x-valid"]
    capsys.readouterr()
    assert main(["check", str(check_file), "--baseline", str(tmp_path / "b.json"), *extra, *cache]) == 1
    out = capsys.readouterr().out
    assert f"MISMATCH: {check_file}" in out or "MISMATCH: --" in out
    assert fragment in out and "FAIL: the check does not measure what the baseline pinned" in out


def test_the_same_cells_and_target_pass_and_seeds_must_share_their_cells(table_oracle, tmp_path, capsys):
    cache = ["--cache", str(table_oracle.path)]
    cells = np.arange(0, 15625, 31)
    seeds = [_scores(table_oracle, tmp_path / f"s{i}.csv", cells, noise=5.0, seed=i) for i in range(2)]
    assert main(["check", *map(str, seeds), "--baseline", str(tmp_path / "b.json"), "--update", *WHERE, *cache]) == 0
    capsys.readouterr()
    assert main(["check", *map(str, seeds), "--baseline", str(tmp_path / "b.json"), *WHERE, "--hp", "200",
                 *cache]) == 0
    assert "PASS" in capsys.readouterr().out and "MISMATCH" not in capsys.readouterr().out
    odd = _scores(table_oracle, tmp_path / "odd.csv", cells[1:], noise=5.0)
    assert main(["check", str(seeds[0]), str(odd), "--baseline", str(tmp_path / "c.json"), "--update", *WHERE,
                 *cache]) == 2
    assert "cover different cells" in capsys.readouterr().err
