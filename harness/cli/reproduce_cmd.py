"""`harness reproduce TABLE|all`: paper tables, measured beside their published numbers."""
from __future__ import annotations

import argparse

from harness.cli.arguments import seed_int


def register(groups) -> None:
    from harness.reproduce import MAIN_ORDER, TABLES

    rep = groups.add_parser("reproduce", help="measure a paper's proxy-ranking table beside the published numbers",
                            description="Measure TABLE (or all of them, the main job) at a preset (cpu: minutes on a "
                                        "2-core machine; gpu, paper: the papers' settings) and write rows.csv, "
                                        "table.md, figure.png and provenance.json; `all` adds reproduce.md and the "
                                        "cost-quality chart. Rows that need images a dataset lacks are marked as not "
                                        "run. Supernets are kept in runs/ and score files and histories in scores/, "
                                        "both beside the table directories. An interrupted run resumes; a finished "
                                        "table is reused unless --force.")
    rep.add_argument("table", choices=["all", *TABLES], metavar="TABLE",
                     help=f"all ({', '.join(MAIN_ORDER)}), or one of them")
    rep.add_argument("--preset", default="cpu", help="tiny, cpu, gpu or paper (default cpu)")
    rep.add_argument("--out", help="output directory (default reports/TABLE; for all, reports)")
    rep.add_argument("--data-root", help="images: cifar-10-batches-py/, cifar-100-python/, ImageNet16/")
    rep.add_argument("--splits", help="the benchmark's split files (default $NB201_DATA/splits)")
    rep.add_argument("--cache", help="ground-truth cache (default: $HARNESS_ORACLE or data/nb201-oracle.parquet)")
    rep.add_argument("--seed", type=seed_int, default=0)
    rep.add_argument("--force", action="store_true", help="measure again tables already finished")
    rep.add_argument("--from-scores", action="store_true",
                     help="re-derive the tables from the score files and histories kept beside them (OUT's scores/ "
                          "store, committed with reports/): nothing is trained or scored")
    rep.add_argument("--quiet", action="store_true")
    rep.set_defaults(run=_reproduce)


def _reproduce(args: argparse.Namespace) -> int:
    from pathlib import Path

    from harness.oracle import Oracle
    from harness.reproduce import reproduce, reproduce_all
    from harness.train.loop import default_splits_dir

    options = {"oracle": Oracle(args.cache), "data_root": args.data_root,
               "splits_dir": args.splits or default_splits_dir() or None, "seed": args.seed,
               "progress": not args.quiet, "force": args.force, "from_scores": args.from_scores}
    if args.table == "all":
        out = Path(args.out or "reports")
        reproduce_all(args.preset, out, **options)
        print((out / "reproduce.md").read_text(), end="")
        return 0
    out = Path(args.out or Path("reports") / args.table)
    reproduce(args.table, args.preset, out, **options)
    print((out / "table.md").read_text(), end="")
    return 0
