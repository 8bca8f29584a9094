"""Benchmark helpers: each timed pair records its mean, and the run ends with the ratio to its baseline."""
import pytest

MEANS: dict[str, float] = {}
#: other figures a benchmark measured, printed in the summary
NOTES: list[str] = []
#: (what, harness benchmark, baseline benchmark)
RATIOS = [
    ("per-cell query, warm (NATS sample)", "harness_warm", "nats_bench_warm"),
    ("per-cell query, cold: open + first query (NATS sample)", "harness_cold", "nats_bench_cold"),
    ("1 proxy against 12, all cells, 1,000 paired resamples (baseline: 13 unpaired evaluations)", "paired_12",
     "unpaired_13"),
    ("synflow on 2,000 cells: Ray executor, 2 workers, start included (baseline: local executor, 1 process)",
     "ray_synflow_2000", "local_synflow_2000"),
]


@pytest.fixture
def record_mean(benchmark):
    """Call after `benchmark(...)` to keep this test's mean time under `name` for the ratio summary."""
    def record(name: str) -> None:
        if benchmark.stats is not None:
            MEANS[name] = benchmark.stats.stats.mean
    return record


@pytest.fixture
def record_note():
    """Keep a measured figure that is not a timed pair (a start-up cost, a memory size) for the summary."""
    return NOTES.append


def pytest_terminal_summary(terminalreporter):
    rows = [(what, MEANS[a], MEANS[b]) for what, a, b in RATIOS if a in MEANS and b in MEANS]
    if rows or NOTES:
        terminalreporter.section("harness vs baseline (same session)")
        for what, ours, theirs in rows:
            terminalreporter.write_line(f"{what}: {ours * 1e6:.1f} us, baseline {theirs * 1e6:.1f} us, "
                                        f"{theirs / ours:.2f}x the baseline's speed")
        for note in NOTES:
            terminalreporter.write_line(note)
