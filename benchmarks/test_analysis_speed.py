"""Analysis speed (issue 3 targets): Kendall tau-b over all 15,625 cells; 1,000 bootstrap resamples of it
(<= 2 s); a full report with all figures for 3 score sets plus the baselines (<= 10 s).

Run: `tox -e bench` (or `pytest benchmarks`).
"""
import numpy as np

from harness.analysis.bootstrap import kendall_tau_b_weighted, resample_weights
from harness.analysis.evaluate import evaluate_score_sets
from harness.analysis.metrics import kendall_tau
from harness.analysis.score_sets import ScoreSet
from harness.report import write_report

WHERE = dict(dataset="cifar10", split="ori-test", hp=200)


def _pair(oracle):
    return oracle.accuracy(**WHERE), oracle.accuracy(dataset="cifar10-valid", split="x-valid", hp=12)


def test_kendall_tau_b_all_cells(benchmark, table_oracle):
    truth, acc12 = _pair(table_oracle)
    tau = benchmark(kendall_tau, truth, acc12)
    assert abs(tau - 0.594) < 5e-4


def test_bootstrap_1000_resamples_of_kendall(benchmark, table_oracle):
    truth, acc12 = _pair(table_oracle)
    taus = benchmark.pedantic(lambda: kendall_tau_b_weighted(truth, acc12, resample_weights(truth.size, 1000, 0)),
                              rounds=3, iterations=1)
    assert taus.shape == (1000,) and abs(np.median(taus) - 0.594) < 0.01


def test_full_report_three_score_sets(benchmark, table_oracle, tmp_path):
    truth, acc12 = _pair(table_oracle)
    rng = np.random.default_rng(0)
    cells = table_oracle.cells()
    sets = [ScoreSet("acc12 + noise", cells, acc12 + rng.normal(scale=2, size=truth.size)),
            ScoreSet("valid@200", cells, table_oracle.accuracy(dataset="cifar10-valid", split="x-valid")),
            ScoreSet("random", cells, rng.random(truth.size))]

    def report():
        evaluation = evaluate_score_sets(sets, table_oracle, **WHERE)
        return write_report(evaluation, tmp_path / "report")

    written = benchmark.pedantic(report, rounds=2, iterations=1)
    assert written["html"].is_file()
