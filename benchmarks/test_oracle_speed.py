"""Oracle speed: cold load of the whole table, one column for all cells, per-cell queries against nats_bench.

Targets (issue 2): cold load <= 100 ms; one column for all 15,625 cells <= 5 ms.
Run: `tox -e bench` (or `pytest benchmarks`).
"""
import nats_bench
import pytest

from harness.oracle import Oracle

WHERE = dict(dataset="cifar10", split="ori-test", hp=200)


def test_cold_load_of_the_full_table(benchmark, table_oracle):
    oracle = benchmark(Oracle, table_oracle.path)
    assert oracle.meta["cells_with_values"] == 15625


def test_one_column_for_all_cells(benchmark, table_oracle):
    values = benchmark.pedantic(lambda oracle: oracle.accuracy(**WHERE), setup=lambda: ((Oracle(table_oracle.path),), {}),
                                rounds=200)
    assert values.shape == (15625,)


def test_per_cell_query_harness_warm(benchmark, nats_oracle, record_mean):
    nats_oracle.accuracy(11, **WHERE)
    value = benchmark(nats_oracle.accuracy, 11, **WHERE)
    record_mean("harness_warm")
    assert value == pytest.approx(91.583333, abs=1e-6)


def test_per_cell_query_nats_bench_warm(benchmark, nats_sample, record_mean):
    api = nats_bench.create(str(nats_sample), "tss", fast_mode=True, verbose=False)
    api.get_more_info(11, "cifar10", hp="200", is_random=False)
    info = benchmark(api.get_more_info, 11, "cifar10", hp="200", is_random=False)
    record_mean("nats_bench_warm")
    assert info["test-accuracy"] == pytest.approx(91.583333, abs=1e-6)


def test_per_cell_query_harness_cold(benchmark, nats_oracle, record_mean):
    value = benchmark.pedantic(lambda: Oracle(nats_oracle.path).accuracy(11, **WHERE), rounds=30)
    record_mean("harness_cold")
    assert value == pytest.approx(91.583333, abs=1e-6)


def test_per_cell_query_nats_bench_cold(benchmark, nats_sample, record_mean):
    def cold():
        api = nats_bench.create(str(nats_sample), "tss", fast_mode=True, verbose=False)
        return api.get_more_info(11, "cifar10", hp="200", is_random=False)["test-accuracy"]
    value = benchmark.pedantic(cold, rounds=10)
    record_mean("nats_bench_cold")
    assert value == pytest.approx(91.583333, abs=1e-6)
