"""`harness reproduce TABLE|all`: paper tables, measured beside their published numbers."""
from __future__ import annotations

import argparse

from harness.cli.arguments import CACHE_HELP, data_options, executor_options, ray_executor, seed_int
from harness.errors import HarnessError


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
    rep.add_argument("--out", help="output directory (default reports/TABLE, for all reports/; at a preset other than "
                                   "cpu, reports/PRESET/TABLE and reports/PRESET/, never over the committed cpu tables)")
    data_options(rep)
    rep.add_argument("--cache", help=CACHE_HELP)
    rep.add_argument("--tables", help="with all: comma-separated tables instead of every one")
    rep.add_argument("--seed", type=seed_int, default=0)
    rep.add_argument("--force", action="store_true", help="measure again tables already finished")
    rep.add_argument("--from-scores", action="store_true",
                     help="re-derive the tables from the score files and histories kept beside them (OUT's scores/ "
                          "store, committed with reports/): nothing is trained or scored")
    rep.add_argument("--quiet", action="store_true")
    executor_options(rep, shards=False)
    rep.set_defaults(run=_reproduce)


def _reproduce(args: argparse.Namespace) -> int:
    from contextlib import nullcontext

    executor = ray_executor(args)
    with executor or nullcontext():
        return _measure(args, executor)


def _on_ray(executor):
    """With a Ray executor, each table's units computed as Ray tasks before the table is measured."""
    if executor is None:
        return None
    from functools import partial

    from harness.reproduce.on_ray import compute_units

    return partial(compute_units, executor=executor)


def _measure(args: argparse.Namespace, executor) -> int:
    from pathlib import Path

    from harness.oracle import Oracle
    from harness.reproduce import MAIN_ORDER, reproduce, reproduce_all
    from harness.paths import splits_dir

    if args.tables and args.table != "all":
        raise HarnessError(f"--tables chooses among all the tables; `reproduce {args.table}` measures one already")
    options = {"oracle": Oracle(args.cache), "data_root": args.data_root, "splits_dir": str(splits_dir(args.splits)),
               "seed": args.seed, "progress": not args.quiet, "force": args.force, "from_scores": args.from_scores,
               "prepare": _on_ray(executor)}
    reports = Path("reports") if args.preset == "cpu" else Path("reports") / args.preset
    if args.table == "all":
        out = Path(args.out) if args.out else reports
        tables = tuple(t.strip() for t in args.tables.split(",")) if args.tables else MAIN_ORDER
        reproduce_all(args.preset, out, tables=tables, **options)
        print((out / "reproduce.md").read_text(), end="")
        return 0
    out = Path(args.out) if args.out else reports / args.table
    reproduce(args.table, args.preset, out, **options)
    print((out / "table.md").read_text(), end="")
    return 0
