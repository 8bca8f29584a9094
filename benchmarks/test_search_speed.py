"""Search simulation speed on the CIFAR-10 table: 100 seeded runs of 1,000 queries each, once, for WeakNAS with its
default predictor (a warm-started scikit-learn MLP; target: a few minutes on one core) and for REA. Seconds per
run go into the benchmark's extra_info; there is no timing assert.

Run on one core: `OMP_NUM_THREADS=1 pytest benchmarks/test_search_speed.py`.
"""
import pytest

from harness.analysis.search import run_searches

RUNS, BUDGET = 100, 1000


@pytest.fixture(scope="module")
def cifar10(table_oracle):
    return (table_oracle.accuracy(dataset="cifar10-valid", split="x-valid"),
            table_oracle.accuracy(dataset="cifar10", split="ori-test"), table_oracle.cells())


@pytest.mark.parametrize("method", ["weaknas", "rea"])
def test_100_runs_of_1000_queries(benchmark, cifar10, method):
    history = benchmark.pedantic(run_searches, args=(method, *cifar10, BUDGET, range(RUNS)), rounds=1, iterations=1)
    benchmark.extra_info["seconds_per_run"] = benchmark.stats.stats.mean / RUNS
    benchmark.extra_info["settings"] = {k: str(v) for k, v in history.attrs["settings"].items()}
    assert len(history) == RUNS * BUDGET
