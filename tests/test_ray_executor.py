"""`--executor ray` on a local Ray instance started here: the same files as the local executor, a killed worker and
an interrupted driver that lose nothing and recompute nothing finished, the tables' units as tasks, the extra's
error. Ray is installed in CI (the `ray` extra): nothing here is skipped."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import ray

from harness.analysis.score_sets import read_scores
from harness.cli.main import main
from harness.executor import RayExecutor
from harness.proxies import ProxyContext, get_proxy
from harness.proxies.on_ray import score_on_ray
from harness.proxies.scoring import score_cells, select_cells
from harness.space import encode, format_archs

#: provenance keys that say when, how long and how a file was scored: the rest is the job and its result
RUN_FACTS = {"created_utc", "seconds", "seconds_per_cell", "executor"}

PLUGIN = '''
import os, time
import numpy as np
from harness.proxies.registry import Setting, register_proxy
from harness.space import format_archs

@register_proxy("slowlog", settings={"delay": Setting(float, 0.0, "seconds per cell")})
def slowlog(cells, context):
    """A cell's score is a function of its ops; each cell computed is logged with the pid that computed it."""
    with open(os.environ["SLOWLOG"], "a") as log:
        for arch in format_archs(cells):
            time.sleep(context.settings["delay"])
            log.write(f"{arch} {os.getpid()}\\n")
            log.flush()
    return cells @ np.array([1.0, 5, 25, 125, 625, 3125]) + 0.5
'''


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A local Ray instance with 2 CPUs, whose workers import the `slowlog` plug-in (entry point included, so a
    `harness` subprocess finds it by name too) and log to SLOWLOG."""
    site = tmp_path_factory.mktemp("site")
    (site / "slow_plugin.py").write_text(PLUGIN)
    info = site / "slow_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: slow-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[nb201_harness.proxies]\nslowlog = slow_plugin\n")
    log = site / "slowlog.txt"
    saved = {k: os.environ.get(k) for k in ("PYTHONPATH", "SLOWLOG")}
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), saved["PYTHONPATH"]]))
    os.environ["SLOWLOG"] = str(log)
    sys.path.insert(0, str(site))
    import slow_plugin  # noqa: F401 - registers slowlog in this process

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield log
    ray.shutdown()
    sys.path.remove(str(site))
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def computed(log: Path) -> pd.DataFrame:
    """Every cell computation the log holds: arch, pid."""
    rows = [line.split(" ") for line in log.read_text().splitlines()] if log.exists() else []
    return pd.DataFrame(rows, columns=["arch", "pid"])


def journalled(out: Path) -> set[str]:
    """The cells the shards' journals hold (complete lines)."""
    done = set()
    for journal in Path(f"{out}.shards").glob("*.partial"):
        text = journal.read_text()
        done |= {line.rpartition(",")[0] for line in text[:text.rfind("\n") + 1].splitlines()}
    return done


def wait_for(condition, what: str, timeout: float = 120):
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.02)


def slow_formula(spec: str) -> dict[str, float]:
    cells = select_cells(spec)
    return dict(zip(format_archs(cells), (cells @ np.array([1.0, 5, 25, 125, 625, 3125]) + 0.5).tolist()))


def test_ray_and_local_executors_write_the_same_file(cluster, tmp_path, nb201_dir, table_oracle, one_torch_thread):
    """synflow on 40 cells: the CSV's bytes are the same, and so is the provenance but for when, how long and how."""
    proxy, spec = get_proxy("synflow"), "sample:40:3"
    context = ProxyContext(dataset="cifar10", splits_dir=str(nb201_dir / "splits"))
    truth = {"order": table_oracle.order, "table_hash": table_oracle.table_hash, "progress": False}
    local = score_cells(proxy, spec, context, tmp_path / "local.csv", **truth)
    with RayExecutor() as executor:
        on_ray = score_on_ray(proxy, spec, context, tmp_path / "ray.csv", executor, shards=3, **truth)
        assert executor.slots() == 2
    assert (tmp_path / "ray.csv").read_bytes() == (tmp_path / "local.csv").read_bytes()
    assert on_ray.provenance["executor"] == {"name": "ray", "shards": 3}
    drop = lambda p: {k: v for k, v in p.items() if k not in RUN_FACTS}  # noqa: E731
    assert drop(read_scores(tmp_path / "ray.csv").provenance) == drop(read_scores(tmp_path / "local.csv").provenance)
    assert not Path(f"{tmp_path / 'ray.csv'}.shards").exists()
    # each is the other's finished job: neither executor scores it again
    assert score_cells(proxy, spec, context, tmp_path / "ray.csv", **truth).source
    with RayExecutor() as executor:
        again = score_on_ray(proxy, spec, context, tmp_path / "local.csv", executor, **truth)
    assert again.source and again.provenance["created_utc"] == local.provenance["created_utc"]


def test_a_killed_worker_is_retried_and_resumes_from_its_journal(cluster, tmp_path):
    """The worker scoring shard 0 is killed by its pid mid-shard: Ray reruns the task, which scores only what the
    journal lacks; the merged file has every cell once, with the right score."""
    spec, out = "sample:160:1", tmp_path / "slow.parquet"
    context = ProxyContext(settings={"delay": 0.05})
    failures = []

    def drive():
        try:
            with RayExecutor() as executor:
                score_on_ray(get_proxy("slowlog"), spec, context, out, executor, shards=2, progress=False)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            failures.append(exc)
    driver = threading.Thread(target=drive)
    driver.start()
    journal = Path(f"{out}.shards/shard-0-of-2.parquet.partial")
    wait_for(lambda: journal.exists() and journal.read_text().count("\n") >= 15, "shard 0 to journal 15 cells")
    lock = Path(f"{out}.shards/shard-0-of-2.parquet.partial.lock").read_text()
    pid = int(lock.split()[1])
    finished = journalled(out)
    os.kill(pid, signal.SIGKILL)
    driver.join(timeout=300)
    assert not failures, failures
    scored = read_scores(out)
    expected = slow_formula(spec)
    assert sorted(format_archs(scored.cells)) == sorted(expected) and len(set(encode(scored.cells))) == 160
    assert dict(zip(format_archs(scored.cells), scored.scores.tolist())) == expected
    log = computed(cluster)
    log = log[log["arch"].isin(expected)]
    counts = log["arch"].value_counts()
    assert set(counts.index) == set(expected)
    assert len(finished) >= 15 and (counts[sorted(finished)] == 1).all(), "a journalled cell was computed again"
    shard0 = set(format_archs(select_cells(spec)[0::2]))
    assert pid in set(log[log["arch"].isin(shard0)]["pid"].astype(int))
    assert log[log["arch"].isin(shard0)]["pid"].nunique() >= 2, "shard 0 was not rerun in another worker"


def test_an_interrupted_driver_resumes_without_recomputing(cluster, tmp_path):
    """`harness score --executor ray` is interrupted (SIGINT) mid-job and run again: the journalled cells are not
    computed again, none is lost or doubled."""
    out = tmp_path / "slow.csv"
    # 11 s a shard: the interrupt, sent after 20 of the 150 cells, arrives mid-job even on a loaded machine
    command = [sys.executable, "-m", "harness.cli.main", "score", "slowlog", "--cells", "sample:150:2", "--out",
               str(out), "--settings", '{"delay": 0.15}', "--executor", "ray", "--shards", "2", "--quiet"]
    # SIGINT as a terminal's Ctrl-C delivers it: a test run started in the background (`pytest ... &`) ignores
    # SIGINT, and its children would inherit that and never see the interrupt
    first = subprocess.Popen(command, cwd=tmp_path, stderr=subprocess.PIPE, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    wait_for(lambda: len(journalled(out)) >= 20, "the shards to journal 20 cells")
    first.send_signal(signal.SIGINT)
    _, err = first.communicate(timeout=120)
    assert first.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert not out.exists()
    finished = journalled(out)
    assert len(finished) >= 20
    again = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    expected = slow_formula("sample:150:2")
    frame = pd.read_csv(out)
    assert len(frame) == 150 and dict(zip(frame["arch"], frame["score"])) == expected
    counts = computed(cluster).query("arch in @expected")["arch"].value_counts()
    assert set(counts.index) == set(expected)
    assert (counts[sorted(finished)] == 1).all(), "a journalled cell was computed again"
    assert json.loads(Path(tmp_path / "slow.meta.json").read_text())["executor"] == {"name": "ray", "shards": 2}


def test_tables_units_run_as_tasks_with_the_local_results(cluster, tmp_path, table_oracle, cifar10_root, nb201_dir,
                                                          one_torch_thread):
    """abs-correlation and zero-cost at the tiny preset: the supernets and score sets computed as Ray tasks, then
    the tables as locally; every value is the local run's, and the store's files hold the same scores."""
    from functools import partial

    from harness.provenance import code_files
    from harness.reproduce import TABLES, reproduce
    from harness.reproduce.on_ray import compute_units

    options = {"oracle": table_oracle, "data_root": str(cifar10_root), "splits_dir": str(nb201_dir / "splits"),
               "progress": False}
    for table in ("zero-cost", "abs-correlation"):
        local = reproduce(table, "tiny", tmp_path / "local" / table, **options)
        with RayExecutor() as executor:
            on_ray = reproduce(table, "tiny", tmp_path / "ray" / table, prepare=partial(compute_units,
                                                                                        executor=executor), **options)
        values = [c for c in local.columns if c != "seconds"]
        pd.testing.assert_frame_equal(local[values], on_ray[values])
        # how the units were computed is no part of the table's code: its identity is the local run's
        assert {f.name for f in code_files("harness.reproduce", f"harness.reproduce.{TABLES[table]}")}.isdisjoint(
            {"on_ray.py", "executor.py"})
        assert json.loads((tmp_path / "ray" / table / "provenance.json").read_text())["code_hash"] == json.loads(
            (tmp_path / "local" / table / "provenance.json").read_text())["code_hash"]
    stored = sorted(p.name for p in (tmp_path / "local" / "scores").glob("*.parquet"))
    assert stored == sorted(p.name for p in (tmp_path / "ray" / "scores").glob("*.parquet")) and len(stored) >= 12
    for name in stored:
        mine, theirs = (read_scores(tmp_path / side / "scores" / name) for side in ("local", "ray"))
        assert np.array_equal(mine.cells, theirs.cells) and np.array_equal(mine.scores, theirs.scores), name


def test_zoo_build_on_ray(cluster, tmp_path, table_oracle, nb201_dir, one_torch_thread):
    from harness.proxies.zoo import build

    common = {"cells": "sample:30:0", "splits_dir": str(nb201_dir / "splits"), "order": table_oracle.order,
              "table_hash": table_oracle.table_hash, "progress": False, "report": lambda line: None}
    build(tmp_path / "local", "cifar10", ["params", "synflow"], **common)
    with RayExecutor() as executor:
        build(tmp_path / "ray", "cifar10", ["params", "synflow"], executor=executor, shards=2, **common)
    for name in ("params", "synflow"):
        frames = [pd.read_parquet(tmp_path / side / "cifar10" / f"{name}.parquet") for side in ("local", "ray")]
        pd.testing.assert_frame_equal(*frames)


class _Recorder:
    """An executor that records the tasks it is given instead of running them."""

    def __init__(self):
        self.tasks = []

    def slots(self, gpu=False):
        return 4

    def run(self, tasks, progress=None):
        self.tasks += tasks
        raise KeyboardInterrupt  # stop before anything would be merged


def test_tasks_ask_for_a_gpu_when_the_proxy_runs_on_cuda(tmp_path):
    for device, gpus in (("cuda", 1), ("cuda:1", 1), ("cpu", 0)):
        recorder = _Recorder()
        with pytest.raises(KeyboardInterrupt):
            score_on_ray(get_proxy("params"), "sample:20:0", ProxyContext(device=device), tmp_path / f"{gpus}.csv",
                         recorder)
        assert len(recorder.tasks) == 4 and {t.gpus for t in recorder.tasks} == {gpus}


def test_cuda_is_checked_on_the_cluster_not_on_the_driver(cluster, tmp_path, capsys, monkeypatch):
    """A driver without a GPU (a login node) may send CUDA work to a cluster; one without GPUs refuses it."""
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    monkeypatch.chdir(tmp_path)
    assert main(["score", "params", "--out", "a.csv", "--device", "cuda", "--executor", "ray"]) == 2
    err = capsys.readouterr().err
    assert "--device cuda: the local Ray instance has no GPU" in err and "sees 0 CUDA" not in err
    assert ray.is_initialized() and not list(tmp_path.iterdir())  # the test's instance is left running


def test_resumed_jobs_keep_their_number_of_shards(cluster, tmp_path, capsys):
    out = tmp_path / "p.csv"
    Path(f"{out}.shards").mkdir()
    Path(f"{out}.shards/shard-1-of-3.parquet.partial").write_text("")
    with RayExecutor() as executor:
        with pytest.raises(Exception, match=r"split \[3\] ways; rerun with --shards 3"):
            score_on_ray(get_proxy("params"), "sample:20:0", ProxyContext(), out, executor, shards=2)
        assert score_on_ray(get_proxy("params"), "sample:20:0", ProxyContext(), out, executor,
                            progress=False).provenance["executor"]["shards"] == 3


def test_executor_options_are_checked(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["score", "params", "--out", "a.csv", "--shards", "2"]) == 2
    assert "--shards only go with --executor ray" in capsys.readouterr().err
    assert main(["score", "params", "--out", "a.csv", "--executor", "ray", "--shard", "0/2"]) == 2
    assert "use one or the other" in capsys.readouterr().err
    assert main(["score", "params", "--out", "a.csv", "--executor", "ray", "--address", "127.0.0.1:1"]) == 2
    assert "--address 127.0.0.1:1: no Ray cluster answers there" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "ray", None)  # Ray not installed
    for argv in (["score", "params", "--out", "a.csv"], ["zoo", "build", "--zoo", "z"],
                 ["reproduce", "zero-cost", "--preset", "tiny"]):
        assert main([*argv, "--executor", "ray"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.endswith("--executor ray needs Ray, an optional extra: pip install 'nb201-harness[ray]'")
        assert len(err.splitlines()) == 1
    assert not list(tmp_path.iterdir())


def _fake_slurm(tmp_path: Path) -> dict:
    """`srun` that runs its command here, `scontrol` that names this machine: the Slurm scripts on one node."""
    bin_dir = tmp_path / "fake-slurm"
    bin_dir.mkdir()
    (bin_dir / "srun").write_text('#!/usr/bin/env bash\nwhile [[ $1 == -* ]]; do if [[ $1 == -w ]]; then shift 2; '
                                  'else shift; fi; done\nexec "$@"\n')
    (bin_dir / "scontrol").write_text("#!/usr/bin/env bash\necho localhost\n")
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    return {**os.environ, "PATH": os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent),
                                                   os.environ["PATH"]])}


def test_slurm_array_script_and_merge_equal_one_local_run(tmp_path, table_oracle):
    env = _fake_slurm(tmp_path)
    script = Path(__file__).resolve().parents[1] / "tools" / "slurm" / "score-shard.sbatch"
    out = tmp_path / "params.parquet"
    for i in range(3):
        subprocess.run(["bash", str(script), "params", str(out), "--cells", "sample:90:4"], check=True, cwd=tmp_path,
                       env={**env, "SLURM_ARRAY_TASK_ID": str(i), "SLURM_ARRAY_TASK_COUNT": "3"})
    shards = sorted(str(p) for p in tmp_path.glob("params.parquet.shard-*-of-3.parquet"))
    assert len(shards) == 3
    subprocess.run(["harness", "merge-scores", *shards, "--out", str(out)], check=True, cwd=tmp_path, env=env)
    merged = read_scores(out)
    local = score_cells(get_proxy("params"), "sample:90:4", ProxyContext(), tmp_path / "local.parquet",
                        progress=False)
    assert dict(zip(encode(merged.cells).tolist(), merged.scores)) == dict(zip(encode(local.cells).tolist(),
                                                                               local.scores))


def test_slurm_ray_cluster_script_runs_on_an_existing_cluster(tmp_path):
    """The script starts a Ray head with `ray start` (one node here, declared with 3 CPUs, which this 2-core machine
    would not start on its own), and the harness joins it with --address: one shard per CPU of that cluster."""
    import socket

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    env = {**_fake_slurm(tmp_path), "SLURM_JOB_NODELIST": "localhost", "SLURM_CPUS_PER_TASK": "3",
           "RAY_PORT": str(port)}
    script = Path(__file__).resolve().parents[1] / "tools" / "slurm" / "ray-cluster.sbatch"
    out = tmp_path / "params.csv"
    done = subprocess.run(["bash", str(script), "score", "params", "--cells", "sample:50:0", "--out", str(out),
                           "--quiet"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads((tmp_path / "params.meta.json").read_text())["executor"] == {"name": "ray", "shards": 3}
    assert len(pd.read_csv(out)) == 50
