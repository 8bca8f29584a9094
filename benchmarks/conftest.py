"""Benchmark helpers: each timed pair records its mean, and the run ends with the ratio to its baseline."""
import pytest
import torch

MEANS: dict[str, float] = {}
#: other figures a benchmark measured, printed in the summary
NOTES: list[str] = []
#: (what, harness benchmark, baseline benchmark)
RATIOS = [
    ("per-cell query, warm (NATS sample)", "harness_warm", "nats_bench_warm"),
    ("per-cell query, cold: open + first query (NATS sample)", "harness_cold", "nats_bench_cold"),
    ("1 proxy against 12, all cells, 1,000 paired resamples (baseline: 13 unpaired evaluations)", "paired_12",
     "unpaired_13"),
    ("synflow on 1,000 cells: Ray executor, 2 workers, start included (baseline: local executor, 1 process)",
     "ray_synflow_1000", "local_synflow_1000"),
    ("Re-BN of 16 cells, C=8 N=2 16 px, CPU: 16 children in one pass (baseline: one child at a time)",
     "rebn_engine_C8-N2-16px_cpu", "rebn_one_C8-N2-16px_cpu"),
    ("Re-BN of 16 cells, C=16 N=5 32 px, CPU: 16 children in one pass (baseline: one child at a time)",
     "rebn_engine_C16-N5-32px_cpu", "rebn_one_C16-N5-32px_cpu"),
    ("Re-BN of 16 cells, C=16 N=5 32 px, GPU: 16 children in one pass (baseline: one child at a time)",
     "rebn_engine_C16-N5-32px_cuda", "rebn_one_C16-N5-32px_cuda"),
    ("EPS member scoring, 8 members at C=16 N=5 32 px, CPU: the batched engine (baseline: one member at a time)",
     "eps_scoring_engine_cpu", "eps_scoring_one_cpu"),
    ("EPS member scoring, 8 members at C=16 N=5 32 px, GPU: the batched engine (baseline: one member at a time)",
     "eps_scoring_engine_cuda", "eps_scoring_one_cuda"),
    ("synflow of 30 cells: the path-sum pass (baseline: autograd on built networks)", "synflow_pass",
     "synflow_autograd"),
    ("grasp of 2 cells, C=16 N=5, batch 64, CPU: one forward pass (baseline: the reference's two)", "grasp_one_pass",
     "grasp_two_pass"),
    ("training step, one fixed cell: torch.compile (baseline: eager)", "train_compiled_fixed_cell",
     "train_eager_fixed_cell"),
]
#: name -> (multiply-adds per second of a timed path, the name of the dense product it is measured against)
RATES: dict[str, tuple[float, str | None]] = {}


@pytest.fixture
def two_threads():
    """Both cores of the reference machine for torch, whatever the environment set."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def record_mean(benchmark):
    """Call after `benchmark(...)` to keep this test's mean time under `name` for the ratio summary."""
    def record(name: str) -> None:
        if benchmark.stats is not None:
            MEANS[name] = benchmark.stats.stats.mean
    return record


@pytest.fixture
def record_rate(benchmark):
    """Call after `benchmark(...)`: the path did `multiply_adds` a call; `reference` names the dense product whose
    rate the summary divides by (the machine's limit)."""
    def record(name: str, multiply_adds: float, reference: str | None = None) -> None:
        if benchmark.stats is not None:
            RATES[name] = (multiply_adds / benchmark.stats.stats.mean, reference)
    return record


@pytest.fixture
def record_note():
    """Keep a measured figure that is not a timed pair (a start-up cost, a memory size) for the summary."""
    return NOTES.append


def pytest_terminal_summary(terminalreporter):
    rows = [(what, MEANS[a], MEANS[b]) for what, a, b in RATIOS if a in MEANS and b in MEANS]
    if rows or NOTES or RATES:
        terminalreporter.section("harness vs baseline (same session)")
        for what, ours, theirs in rows:
            terminalreporter.write_line(f"{what}: {ours * 1e6:.1f} us, baseline {theirs * 1e6:.1f} us, "
                                        f"{theirs / ours:.2f}x the baseline's speed")
        for name, (rate, reference) in RATES.items():
            share = f", {rate / RATES[reference][0]:.1%} of {reference}'s" if reference in RATES else ""
            terminalreporter.write_line(f"{name}: {rate / 1e9:.2f} GMAC/s{share}")
        for note in NOTES:
            terminalreporter.write_line(note)
