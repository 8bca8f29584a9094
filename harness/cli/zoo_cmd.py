"""`harness zoo build|list`: the built-in training-free proxies scored on every cell, to compare a new one against."""
from __future__ import annotations

import argparse

from harness.cli.arguments import data_options, device_name, executor_options, ray_executor

ZOO_HELP = "the zoo directory (default reports/zoo: the repository's committed one, when run from its root)"


def register(groups) -> None:
    from harness.proxies.zoo import ZOO_DATASETS, ZOO_PROXIES

    zoo = groups.add_parser("zoo", help="the proxy zoo: built-in proxies scored on all cells, for comparisons")
    commands = zoo.add_subparsers(dest="command", required=True, metavar="COMMAND")
    build = commands.add_parser("build", help="score the zoo's proxies (resumable; reuses what is finished)",
                                description="Score the built-in training-free proxies into ZOO/DATASET/PROXY.parquet. "
                                            "Interrupted runs resume; finished files of the same job are reused. "
                                            "Proxies that need images are skipped without --data-root.")
    build.add_argument("--dataset", default="cifar10", choices=ZOO_DATASETS)
    build.add_argument("--proxies", default=",".join(ZOO_PROXIES),
                       help=f"comma-separated, of {', '.join(ZOO_PROXIES)} (default all)")
    build.add_argument("--cells", default="all", help="all (default) | sample:N[:SEED]: a seeded subset for slow proxies")
    build.add_argument("--shard", help="i/n: one process per shard; join with harness merge-scores")
    build.add_argument("--zoo", default="reports/zoo", help=ZOO_HELP)
    build.add_argument("--device", type=device_name, default="cpu",
                       help="cpu, cuda or cuda:N (default cpu; with --executor ray, the cluster's GPUs)")
    build.add_argument("--cache", help="ground truth, for the files' official indices and table hash")
    build.add_argument("--force", action="store_true", help="replace a finished file of another job (a sample)")
    build.add_argument("--quiet", action="store_true")
    data_options(build)
    executor_options(build)
    build.set_defaults(run=_build)

    add = commands.add_parser("add", help="put a score file made elsewhere (a supernet proxy) into the zoo")
    add.add_argument("file", help="a score file, e.g. one of the main job's store (reports/scores/)")
    add.add_argument("--as", dest="name", required=True, help="its name in the zoo (the file's stem)")
    add.add_argument("--dataset", help="the zoo dataset (default: the images the file says it was scored on)")
    add.add_argument("--zoo", default="reports/zoo", help=ZOO_HELP)
    add.add_argument("--force", action="store_true", help="replace other scores of that name")
    add.set_defaults(run=_add)

    listing = commands.add_parser("list", help="what the zoo holds: cells, settings, seconds per cell")
    listing.add_argument("--zoo", default="reports/zoo", help=ZOO_HELP)
    listing.set_defaults(run=_list)


def _build(args: argparse.Namespace) -> int:
    from contextlib import nullcontext

    from harness.oracle import Oracle
    from harness.paths import splits_dir
    from harness.proxies.scoring import parse_shard
    from harness.proxies.zoo import build

    oracle = Oracle(args.cache)
    executor = ray_executor(args)
    with executor or nullcontext():
        build(args.zoo, args.dataset, [p.strip() for p in args.proxies.split(",") if p.strip()], cells=args.cells,
              data_root=args.data_root, splits_dir=str(splits_dir(args.splits)), device=args.device,
              shard=parse_shard(args.shard), order=oracle.order, table_hash=oracle.table_hash,
              progress=not args.quiet, force=args.force, executor=executor, shards=args.shards)
    return 0


def _add(args: argparse.Namespace) -> int:
    from harness.proxies.zoo import add

    print(f"wrote {add(args.zoo, args.file, args.name, dataset=args.dataset, force=args.force)}")
    return 0


def _list(args: argparse.Namespace) -> int:
    import json

    import pandas as pd

    from harness.analysis.score_sets import read_scores
    from harness.proxies.zoo import entries

    found = entries(args.zoo)
    if not found:
        print(f"no zoo at {args.zoo}: `harness zoo build` scores one (the repository's is reports/zoo)")
        return 0
    rows = []
    for entry in found:
        provenance = read_scores(entry.path).provenance
        rows.append({"dataset": entry.dataset, "proxy": entry.proxy, "cells": provenance.get("n_cells"),
                     "selected": provenance.get("cells"), "ms/cell": 1e3 * provenance.get("seconds_per_cell", 0),
                     "settings": json.dumps(provenance.get("settings", {}), sort_keys=True),
                     "code": str(provenance.get("code_hash", ""))[:12]})
    with pd.option_context("display.max_colwidth", 80, "display.width", 200):
        print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    return 0
