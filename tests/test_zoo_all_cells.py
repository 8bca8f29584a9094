"""tools/zoo-all-cells shares a proxy's 16 shards out among workers (`--worker K/M`) and merges once, when the last
shard is done. Run in a scratch tree with `harness` and the summary replaced by recorders: the orchestration is
what is tested here; the commands it runs are tested on their own (tests/test_zoo.py, tests/test_cli.py)."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[1] / "tools" / "zoo-all-cells"
HARNESS = """#!/usr/bin/env bash
echo "$*" >> "$LOG"
if [ "$1 $2" = "zoo build" ]; then  # writes the shard its arguments name, as the real command does
  while [ $# -gt 0 ]; do case $1 in --proxies) p=$2;; --shard) s=$2;; esac; shift; done
  mkdir -p reports/zoo-build/cifar10 && touch "reports/zoo-build/cifar10/$p.shard-${s%/*}-of-${s#*/}.parquet"
fi
"""


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "tools").mkdir()
    shutil.copy(TOOL, tmp_path / "tools" / "zoo-all-cells")
    (tmp_path / "tools" / "zero-cost-summary").write_text("import os\nopen(os.environ['LOG'], 'a').write('summary\\n')\n")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "harness").write_text(HARNESS)
    (tmp_path / "bin" / "harness").chmod(0o755)
    (tmp_path / "data" / "images").mkdir(parents=True)
    return tmp_path


def run(tree, *args):
    log = tree / f"log-{len(list(tree.glob('log-*')))}"
    path = f"{tree / 'bin'}:{Path(sys.executable).parent}:{os.environ['PATH']}"  # python3: this one, with harness
    env = {**os.environ, "PATH": path, "LOG": str(log), "HARNESS_DATA_DIR": "data"}
    done = subprocess.run(["bash", str(tree / "tools" / "zoo-all-cells"), *args], env=env, capture_output=True,
                          text=True)
    return done, log.read_text().splitlines() if log.exists() else []


def shards_built(calls):
    return [int(c.split("--shard ")[1].split("/")[0]) for c in calls if c.startswith("zoo build")]


def test_two_workers_share_the_shards_and_the_last_to_finish_merges(tree):
    done, calls = run(tree, "--worker", "1/2", "grasp")
    assert done.returncode == 0, done.stderr
    assert shards_built(calls) == list(range(1, 16, 2))
    assert not any(c.startswith(("merge-scores", "evaluate")) for c in calls) and calls[-1] == "summary"
    assert "shards 0 2 4 6 8 10 12 14 are not finished" in done.stdout

    done, calls = run(tree, "--worker", "0/2", "grasp")
    assert done.returncode == 0, done.stderr
    assert shards_built(calls) == list(range(0, 16, 2))
    merge = [c for c in calls if c.startswith("merge-scores")]
    assert merge == ["merge-scores " + " ".join(f"reports/zoo-build/cifar10/grasp.shard-{i}-of-16.parquet"
                                                for i in range(16)) + " --out reports/zoo/cifar10/grasp.parquet --force"]
    assert sum(c.startswith("evaluate") for c in calls) == 2 and calls[-1] == "summary"


def test_without_worker_one_process_builds_every_shard_of_each_proxy_and_merges_each(tree):
    done, calls = run(tree, "snip", "naswot")
    assert done.returncode == 0, done.stderr
    assert shards_built(calls) == list(range(16)) * 2
    assert [c.split(" --out ")[1] for c in calls if c.startswith("merge-scores")] == [
        "reports/zoo/cifar10/snip.parquet --force", "reports/zoo/cifar10/naswot.parquet --force"]


@pytest.mark.parametrize("bad", ["2/2", "1/0", "x", "1-2", ""])
def test_a_bad_worker_is_refused_with_the_value_and_the_form(tree, bad):
    done, calls = run(tree, "--worker", bad, "grasp")
    assert done.returncode == 2 and calls == []
    assert f"got '{bad}'" in done.stderr and "K/M with 0 <= K < M" in done.stderr


def test_without_proxies_it_builds_every_zoo_proxy_that_needs_images(tree):
    from harness.proxies.registry import get_proxy
    from harness.proxies.zoo import ZOO_PROXIES

    done, calls = run(tree)
    assert done.returncode == 0, done.stderr
    merged = [c.split(" --out reports/zoo/cifar10/")[1].split(".parquet")[0] for c in calls
              if c.startswith("merge-scores")]
    assert merged == [p for p in ZOO_PROXIES if "images" in get_proxy(p).needs]
    assert {"grad_norm", "grasp"} <= set(merged) and not {"params", "flops", "synflow"} & set(merged)
