"""`harness reproduce TABLE`: one paper table, measured beside its published numbers."""
from __future__ import annotations

import argparse


def register(groups) -> None:
    from harness.reproduce import TABLES

    rep = groups.add_parser("reproduce", help="measure a paper's proxy-ranking table beside the published numbers",
                            description="Measure TABLE at a preset (cpu: minutes on a 2-core machine; gpu, paper: "
                                        "the papers' settings) and write rows.csv, table.md and provenance.json. "
                                        "Rows that need images a dataset lacks are marked as not run.")
    rep.add_argument("table", choices=list(TABLES), metavar="TABLE", help=", ".join(TABLES))
    rep.add_argument("--preset", default="cpu", help="tiny, cpu, gpu or paper (default cpu)")
    rep.add_argument("--out", help="output directory (default reports/TABLE)")
    rep.add_argument("--data-root", help="images: cifar-10-batches-py/, cifar-100-python/, ImageNet16/")
    rep.add_argument("--splits", help="the benchmark's split files (default $NB201_DATA/splits)")
    rep.add_argument("--cache", help="ground-truth cache (default: $HARNESS_ORACLE or data/nb201-oracle.parquet)")
    rep.add_argument("--seed", type=int, default=0)
    rep.add_argument("--quiet", action="store_true")
    rep.set_defaults(run=_reproduce)


def _reproduce(args: argparse.Namespace) -> int:
    from pathlib import Path

    from harness.oracle import Oracle
    from harness.reproduce import reproduce
    from harness.train.loop import default_splits_dir

    out = Path(args.out or Path("reports") / args.table)
    reproduce(args.table, args.preset, out, oracle=Oracle(args.cache), data_root=args.data_root,
              splits_dir=args.splits or default_splits_dir() or None, seed=args.seed, progress=not args.quiet)
    print((out / "table.md").read_text(), end="")
    return 0
