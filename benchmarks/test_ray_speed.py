"""Scale-out speed: synflow on 1,000 cells with the Ray executor on 2 workers (a local instance, its start
included, as `harness score --executor ray` pays it) against the local executor in 1 process, in the same session
(target: at least 1.6x on this 2-core machine, read from the figures, never asserted); beside them Ray's own costs:
the instance's start, the overhead of one task, and the memory the instance holds.

Run: `pytest benchmarks/test_ray_speed.py`.
"""
import os
import time
from pathlib import Path

import pytest

from harness.executor import RayExecutor, Task
from harness.proxies import ProxyContext, get_proxy
from harness.proxies.on_ray import score_on_ray
from harness.proxies.scoring import score_cells

SPEC = "sample:1000:0"


@pytest.fixture
def job(nb201_dir, table_oracle):
    context = ProxyContext(dataset="cifar10", splits_dir=str(nb201_dir / "splits"))
    return get_proxy("synflow"), context, {"order": table_oracle.order, "table_hash": table_oracle.table_hash,
                                           "progress": False}


def test_local_executor_synflow_1000_cells(benchmark, job, tmp_path, record_mean, one_torch_thread):
    proxy, context, truth = job
    result = benchmark.pedantic(lambda: score_cells(proxy, SPEC, context, tmp_path / "local.csv", **truth),
                                rounds=1, iterations=1)
    record_mean("local_synflow_1000")
    assert len(result.scores) == 1000


def test_ray_executor_2_workers_synflow_1000_cells(benchmark, job, tmp_path, record_mean, record_note):
    proxy, context, truth = job

    def on_ray():
        with RayExecutor(cpus=2) as executor:
            scored = score_on_ray(proxy, SPEC, context, tmp_path / "ray.csv", executor, shards=2, **truth)
            record_note(f"memory of the local Ray instance (2 workers), after the job: {_ray_memory_mib():.0f} MiB "
                         f"resident")
        return scored
    result = benchmark.pedantic(on_ray, rounds=1, iterations=1)
    record_mean("ray_synflow_1000")
    assert len(result.scores) == 1000


def test_ray_start_and_per_task_overhead(record_note):
    import sys

    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this file
    began = time.perf_counter()
    with RayExecutor(cpus=2) as executor:
        started = time.perf_counter() - began
        executor.run([Task(_nothing)] * 2)  # the workers exist
        tasks = 200
        began = time.perf_counter()
        executor.run([Task(_nothing, (i,)) for i in range(tasks)])
        per_task = (time.perf_counter() - began) / tasks
    record_note(f"local Ray instance: {started:.1f} s to start; {per_task * 1e3:.1f} ms per task (200 empty tasks "
                 f"on 2 workers)")
    assert per_task > 0


def _nothing(i=0):
    return i


def _ray_memory_mib() -> float:
    """Resident memory of this machine's Ray processes (GCS, raylet, workers, agents), from /proc."""
    total = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            command = (proc / "cmdline").read_bytes()
            status = (proc / "status").read_text()
        except OSError:
            continue
        if b"ray" in command and (b"ray::" in command or b"/ray/" in command):
            total += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return total / 1024
