"""`harness main-job`: the main job on the default data (`tox -e main`), as the commands a user would type.

Import the ground truth from the benchmark's files beside the project when they are there (else the mean ground
truth shipped in the package), evaluate the no-training baselines, write CIFAR-10's images into the data directory
(`$HARNESS_DATA_DIR/images`) from ../shared/cifar10 when that copy is there, and reproduce every paper table. At the
cpu preset it writes into REPORTS (the committed tables); at any other preset into REPORTS/PRESET, so that a quick
`--preset tiny` never overwrites them. Rows that need images nobody provided are marked as not run, saying how.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from harness.cli.arguments import data_options

#: the baselines the main job evaluates: every dataset on the split papers report
BASELINES = (("cifar10", "ori-test"), ("cifar100", "x-test"), ("ImageNet16-120", "x-test"))


def register(groups) -> None:
    job = groups.add_parser("main-job", help="the main job: ground truth, baselines and every paper table",
                            description=__doc__.split("\n\n", 1)[1])
    job.add_argument("--preset", default="cpu", help="tiny, cpu, gpu or paper (default cpu)")
    job.add_argument("--reports", default="reports",
                     help="where the reports go (default reports/; at a preset other than cpu, REPORTS/PRESET/)")
    job.add_argument("--shared", help="the benchmark's files: nb201/table.csv and cifar10/materialize.py "
                                      "(default: the directory above $NB201_DATA, ../shared beside the project)")
    job.add_argument("--tables", help="comma-separated tables instead of all of them")
    data_options(job)
    job.set_defaults(run=_main_job)


def reports_for(preset: str, reports: str | Path) -> Path:
    """The committed tables are the cpu preset's: any other preset writes beside them, in its own directory."""
    return Path(reports) if preset == "cpu" else Path(reports) / preset


def _main_job(args: argparse.Namespace) -> int:
    import os

    from harness.cli.main import main
    from harness.paths import images_dir
    from harness.resources import BENCHMARK_VERSION

    shared = Path(args.shared) if args.shared else Path(os.environ.get("NB201_DATA") or "../shared/nb201").parent
    reports = reports_for(args.preset, args.reports)
    table = shared / "nb201" / "table.csv"
    steps: list[list[str]] = []
    if table.is_file():
        steps.append(["oracle", "import", str(table), "--benchmark-version", BENCHMARK_VERSION, "--quiet"])
    else:
        print(f"main job: no {table}; using the mean ground truth shipped in the package")
    steps.append(["oracle", "info"])
    steps += [["evaluate", "--dataset", d, "--split", s, "--out", str(reports / f"baselines-{d}")] for d, s in BASELINES]
    for step in steps:
        if (code := main(step)) != 0:
            return code
    data_root = args.data_root
    materialize = shared / "cifar10" / "materialize.py"
    if data_root is None and materialize.is_file():
        subprocess.run([sys.executable, str(materialize), str(images_dir())], check=True, stdout=subprocess.DEVNULL)
        data_root = str(images_dir())
    if data_root is None:
        print("main job: no images (the rows that need them are marked as not run): give --data-root DIR holding "
              "cifar-10-batches-py/, cifar-100-python/ or ImageNet16/, or write them there with "
              "`harness data prepare cifar10 --root DIR`")
    reproduce = ["reproduce", "all", "--preset", args.preset, "--out", str(reports)]
    reproduce += ["--data-root", data_root] if data_root else []
    reproduce += ["--splits", args.splits] if args.splits else []
    reproduce += ["--tables", args.tables] if args.tables else []
    return main(reproduce)
