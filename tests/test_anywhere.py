"""The harness works from any directory with no set-up: installed into a fresh virtual environment, run from a
temporary directory with no environment variables and no ../shared, it evaluates a score file against the ground
truth it ships; its defaults live in the per-user data directory; the main job at a preset other than cpu never
writes over the committed reports."""
import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.cli.main import main

REPO = Path(__file__).resolve().parents[1]


def _bare_env(home: Path) -> dict:
    """No NB201_DATA, no HARNESS_*: a new user's shell (HOME decides the per-user data directory)."""
    return {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8", "OMP_NUM_THREADS": "1"}


def _harness(args: list[str], cwd: Path, env: dict, python: str = sys.executable) -> subprocess.CompletedProcess:
    return subprocess.run([python, "-m", "harness.cli.main", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


def _score_file(path: Path, table_csv: Path) -> Path:
    truth = pd.read_csv(table_csv, usecols=["arch", "cifar10/ori-test@200"]).sample(300, random_state=0)
    noise = np.random.default_rng(0).normal(0, 3, len(truth))
    pd.DataFrame({"arch": truth["arch"], "score": truth["cifar10/ori-test@200"] + noise}).to_csv(path, index=False)
    return path


def test_every_command_works_from_a_temporary_directory_with_nothing_set_up(tmp_path, table_csv):
    home, work = tmp_path / "home", tmp_path / "work"
    work.mkdir(parents=True)
    env = _bare_env(home)
    info = _harness(["oracle", "info"], work, env)
    assert info.returncode == 0, info.stderr
    assert "the mean ground truth shipped in the package (no cache imported at" in info.stdout
    assert str(home / ".local" / "share" / "nb201-harness" / "nb201-oracle.parquet") in info.stdout
    _score_file(work / "my.csv", table_csv)
    evaluated = _harness(["evaluate", "my.csv", "--dataset", "cifar10", "--split", "ori-test", "--n-boot", "50"],
                         work, env)
    assert evaluated.returncode == 0, evaluated.stderr
    metrics = pd.read_csv(work / "reports" / "evaluation" / "metrics.csv")
    tau = metrics[(metrics["score_set"] == "my") & (metrics["metric"] == "kendall_tau")]["value"].item()
    assert 0.5 < tau < 1  # 3 points of noise on the truth itself
    assert _harness(["score", "params", "--cells", "sample:20:0", "--out", "p.csv", "--quiet"], work, env).returncode == 0
    assert json.loads((work / "p.meta.json").read_text())["table_hash"]  # indexed by the shipped ground truth
    search = _harness(["search", "random", "--dataset", "cifar100", "--runs", "2", "--quiet"], work, env)
    assert search.returncode == 0, search.stderr
    assert (work / "reports" / "search").is_dir()
    table = _harness(["reproduce", "weaknas", "--preset", "tiny", "--quiet"], work, env)
    assert table.returncode == 0, table.stderr
    assert (work / "reports" / "tiny" / "weaknas" / "table.md").is_file() and not (work / "reports" / "weaknas").exists()
    imported = _harness(["oracle", "import", str(table_csv), "--benchmark-version", "NAS-Bench-201 v1_1", "--quiet"],
                        work, env)
    assert imported.returncode == 0, imported.stderr
    assert (home / ".local" / "share" / "nb201-harness" / "nb201-oracle.parquet").is_file()
    assert "cache:     " + str(home) in _harness(["oracle", "info"], work, env).stdout
    assert not (work / "data").exists()  # nothing written under the working directory but what was asked for


def test_a_fresh_virtual_environment_evaluates_with_no_environment_and_no_shared(tmp_path, table_csv):
    """`pip install <clone>` into a new venv, then `harness evaluate my.csv` from elsewhere writes a report. The
    venv borrows this environment's dependencies (a .pth file) rather than download torch and the rest again; the
    package itself, its data files and its entry point come from the wheel built from the clone."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    (Path(site) / "borrowed-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(REPO), str(clone)], check=True)
    subprocess.run(["git", "-C", str(REPO), "diff", "HEAD", "--binary", "--output", str(tmp_path / "work.diff")],
                   check=True)  # the working tree's changes too: the test checks this code, not the last commit
    if (tmp_path / "work.diff").stat().st_size:
        subprocess.run(["git", "-C", str(clone), "apply", "--binary", str(tmp_path / "work.diff")], check=True)
    untracked = subprocess.run(["git", "-C", str(REPO), "ls-files", "--others", "--exclude-standard", "harness"],
                               check=True, capture_output=True, text=True).stdout.split()
    for name in untracked:
        (clone / name).parent.mkdir(parents=True, exist_ok=True)
        (clone / name).write_bytes((REPO / name).read_bytes())
    install = subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-deps", str(clone)], capture_output=True,
                             text=True)  # the build backend comes from the package registry, as for any user
    assert install.returncode == 0, install.stderr
    work = tmp_path / "elsewhere"
    work.mkdir()
    _score_file(work / "my.csv", table_csv)
    env = _bare_env(tmp_path / "home")
    run = subprocess.run([str(venv / "bin" / "harness"), "evaluate", "my.csv", "--dataset", "cifar10", "--split",
                          "ori-test", "--n-boot", "20"], cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    report = work / "reports" / "evaluation"
    assert {"metrics.csv", "report.md", "report.html", "provenance.json"} <= {p.name for p in report.iterdir()}
    provenance = json.loads((report / "provenance.json").read_text())
    assert "site-packages" in subprocess.run([python, "-c", "import harness; print(harness.__file__)"], cwd=work,
                                             env=env, capture_output=True, text=True).stdout  # not the checkout
    assert json.dumps(provenance).count("table.csv") >= 1  # the shipped table names its source


@pytest.fixture(scope="module")
def committed(tmp_path_factory) -> Path:
    """A reports directory holding 'committed' cpu tables that a tiny main job must leave alone."""
    reports = tmp_path_factory.mktemp("repo") / "reports"
    (reports / "weaknas").mkdir(parents=True)
    (reports / "weaknas" / "table.md").write_text("the committed cpu table\n")
    (reports / "reproduce.md").write_text("the committed overview\n")
    return reports


def _snapshot(reports: Path) -> dict[str, bytes]:
    return {str(p.relative_to(reports)): p.read_bytes() for p in reports.rglob("*") if p.is_file()
            and p.relative_to(reports).parts[0] != "tiny"}


@pytest.mark.usefixtures("one_torch_thread")
def test_the_main_job_at_the_tiny_preset_leaves_the_committed_reports_alone(committed, nb201_dir, cifar10_root,
                                                                            tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HARNESS_DATA_DIR", str(tmp_path / "data"))
    before = _snapshot(committed)
    assert main(["main-job", "--preset", "tiny", "--reports", str(committed), "--shared", str(nb201_dir.parent),
                 "--data-root", str(cifar10_root), "--tables", "weaknas,zero-cost"]) == 0
    assert _snapshot(committed) == before
    tiny = committed / "tiny"
    assert {"baselines-cifar10", "baselines-cifar100", "baselines-ImageNet16-120", "weaknas", "zero-cost",
            "reproduce.md"} <= {p.name for p in tiny.iterdir()}
    assert "benchmark: NAS-Bench-201 v1_1 (table.csv)" in capsys.readouterr().out  # imported from --shared
    rows = pd.read_csv(tiny / "zero-cost" / "rows.csv")
    assert rows[rows["dataset"] == "cifar10"]["value"].notna().any()  # the images were used


@pytest.mark.usefixtures("one_torch_thread")
def test_the_main_job_without_shared_runs_what_needs_no_images(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HARNESS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("HARNESS_ORACLE", raising=False)
    assert main(["main-job", "--preset", "tiny", "--reports", str(tmp_path / "reports"), "--shared",
                 str(tmp_path / "nowhere"), "--tables", "weaknas,zero-cost"]) == 0
    printed = capsys.readouterr().out
    assert "using the mean ground truth shipped in the package" in printed
    assert "no images (the rows that need them are marked as not run): give --data-root DIR" in printed
    tiny = tmp_path / "reports" / "tiny"
    weaknas = pd.read_csv(tiny / "weaknas" / "rows.csv")
    assert weaknas["value"].notna().all()  # searches on the ground truth need no images
    zero_cost = pd.read_csv(tiny / "zero-cost" / "rows.csv")
    image_rows = zero_cost[~zero_cost["row"].isin(["params", "flops", "synflow"])]
    assert len(image_rows) and image_rows["value"].isna().all()
    assert image_rows["reason"].str.contains("--data-root DIR").all()
    assert "--data-root DIR" in (tiny / "zero-cost" / "table.md").read_text()
