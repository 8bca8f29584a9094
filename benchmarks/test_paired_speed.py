"""Paired comparison speed: one new score set against 12 zoo-like proxies on all 15,625 cells with 1,000 paired
resamples, every paired metric (target <= 30 s on 2 cores, read from the figures, never asserted), beside the
baseline of evaluating the same 13 score sets one by one without pairing (`evaluate_scores`, the same resamples).

Run: `pytest benchmarks/test_paired_speed.py`.
"""
import numpy as np
import pytest

from harness.analysis.evaluate import evaluate_scores
from harness.analysis.paired import compare_scores


@pytest.fixture(scope="module")
def proxies(table_oracle):
    truth = table_oracle.accuracy(dataset="cifar10", split="ori-test")
    rng = np.random.default_rng(0)
    zoo = {f"zoo{i}": (np.arange(truth.size), np.round(truth + rng.normal(0, 1 + i, truth.size), 2))
           for i in range(12)}
    return truth, np.round(truth + rng.normal(0, 3, truth.size), 2), zoo


def test_paired_comparison_with_12_proxies_all_cells(benchmark, proxies, record_mean):
    truth, mine, zoo = proxies
    table = benchmark.pedantic(compare_scores, args=("mine", truth, np.arange(truth.size), mine, zoo),
                               kwargs={"n_boot": 1000}, rounds=1, iterations=1)
    record_mean("paired_12")
    assert len(table) == 12 * 8 and table["n"].eq(truth.size).all()


def test_baseline_13_unpaired_evaluations_all_cells(benchmark, proxies, record_mean):
    truth, mine, zoo = proxies

    def unpaired():
        return [evaluate_scores(truth, s, n_boot=1000) for s in [mine, *(v for _, v in zoo.values())]]
    frames = benchmark.pedantic(unpaired, rounds=1, iterations=1)
    record_mean("unpaired_13")
    assert len(frames) == 13
