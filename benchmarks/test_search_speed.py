"""Search simulation speed on the CIFAR-10 table, once each: 30 seeded runs of 1,000 queries for WeakNAS with the
cpu preset's small warm-started MLP (target: the reports' 100 runs in a few minutes on one core) and for REA, and
one run of 100 queries with WeakNAS's released 4 x 1000 MLP (fitted afresh every round), whose seconds per round
say what a paper-scale run costs. Seconds per run go into the benchmark's extra_info; there is no timing assert.

Run on one core: `OMP_NUM_THREADS=1 pytest benchmarks/test_search_speed.py`.
"""
import pytest

from harness.analysis.search import run_searches


@pytest.fixture(scope="module")
def cifar10(table_oracle):
    return (table_oracle.accuracy(dataset="cifar10-valid", split="x-valid"),
            table_oracle.accuracy(dataset="cifar10", split="ori-test"), table_oracle.cells())


@pytest.mark.parametrize("method, runs, budget, settings", [("weaknas", 30, 1000, {"predictor": "mlp-small"}),
                                                            ("rea", 30, 1000, {}),
                                                            ("weaknas", 1, 100, {"predictor": "mlp"})])
def test_search_runs(benchmark, cifar10, method, runs, budget, settings):
    history = benchmark.pedantic(run_searches, args=(method, *cifar10, budget, range(runs)), kwargs=settings,
                                 rounds=1, iterations=1)
    benchmark.extra_info["seconds_per_run"] = benchmark.stats.stats.mean / runs
    benchmark.extra_info["settings"] = {k: str(v) for k, v in history.attrs["settings"].items()}
    assert len(history) == runs * budget
