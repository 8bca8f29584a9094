"""`harness oracle import|info|query|top`: the ground truth from the command line."""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import pandas as pd

from harness.cli.arguments import CACHE_HELP, nonnegative_int, positive_int, seed_int
from harness.oracle import Oracle, import_source
from harness.paths import oracle_path

PICKLE_WARNING = ("The official .pth and NATS-Bench files are pickles: importing one runs its unpickling, which can "
                  "execute code. Import only files you trust (the benchmark's own downloads).")


def register(groups) -> None:
    oracle = groups.add_parser("oracle", help="import and query the ground truth (NB201 accuracies, costs)")
    commands = oracle.add_subparsers(dest="command", required=True, metavar="COMMAND")

    imp = commands.add_parser(
        "import", help="import a benchmark file into the ground-truth cache",
        description="Import NAS-Bench-201 ground truth into a pickle-free parquet cache. SRC is the official "
                    "NAS-Bench-201-v1_[01]-*.pth, a NATS-Bench tss directory (NATS-tss-v1_0-3ffb9-simple) or "
                    "single .pickle.pbz2 file, or a CSV/parquet table with index and/or arch plus "
                    "DATASET/SPLIT@HP columns. " + PICKLE_WARNING)
    imp.add_argument("src", help="benchmark file or directory")
    imp.add_argument("--out", help="cache to write (default: $HARNESS_ORACLE, else nb201-oracle.parquet in the data "
                                   "directory: $HARNESS_DATA_DIR or the per-user one)")
    imp.add_argument("--kind", default="auto", choices=["auto", "nb201-pth", "nats-tss", "table"])
    imp.add_argument("--benchmark-version", help="release the source holds, e.g. 'NAS-Bench-201 v1_1' "
                     "(read from official file names; required for tables)")
    imp.add_argument("--order-from", metavar="CACHE",
                     help="take the official index order from this cache (for tables without both index and arch)")
    imp.add_argument("--quiet", action="store_true", help="no progress bar")
    imp.set_defaults(run=_import)

    info = commands.add_parser("info", help="what the cache holds and where it came from")
    _cache_arg(info)
    info.add_argument("--json", action="store_true", help="print the cache's metadata as JSON")
    info.set_defaults(run=_info)

    query = commands.add_parser("query", help="the recorded values of one cell")
    query.add_argument("arch", metavar="ARCH|INDEX", help="an arch string or an official index")
    _cache_arg(query)
    _where_args(query, required=False)
    query.add_argument("--seed", type=seed_int, help="one trial's values instead of the mean over seeds")
    query.add_argument("--epoch", type=nonnegative_int, help="0-based epoch (199 is the last of 200) instead of the final one")
    query.set_defaults(run=_query)

    top = commands.add_parser("top", help="the best cells on one metric")
    _cache_arg(top)
    _where_args(top, required=True)
    top.add_argument("-k", type=positive_int, default=10, help="how many cells (default 10)")
    top.set_defaults(run=_top)


def _cache_arg(parser) -> None:
    parser.add_argument("--cache", help=CACHE_HELP)


def _where_args(parser, required: bool) -> None:
    parser.add_argument("--dataset", required=required, help="cifar10-valid, cifar10, cifar100 or ImageNet16-120")
    parser.add_argument("--split", required=required, help="train, x-valid, x-test or ori-test")
    parser.add_argument("--hp", type=positive_int, default=None if not required else 200,
                        help="training schedule in epochs: 12 or 200" + (" (default 200)" if required else ""))
    parser.add_argument("--metric", default="accuracy", help="accuracy, loss or seconds (default accuracy)")


def _import(args: argparse.Namespace) -> int:
    if not args.src.endswith((".csv", ".parquet")):
        print(PICKLE_WARNING, file=sys.stderr)
    path = import_source(args.src, args.out, kind=args.kind, benchmark_version=args.benchmark_version,
                         order_from=args.order_from, progress=not args.quiet)
    print(f"wrote {path}")
    print(_summary(Oracle(path)))
    return 0


def _summary(oracle: Oracle) -> str:
    meta = oracle.meta
    source = meta["source"]
    if oracle.embedded:
        cache = (f"the mean ground truth shipped in the package (no cache imported at {oracle_path()}; "
                 f"`harness oracle import` an official file for per-seed values, curves, costs and times)")
    else:
        cache = str(oracle.path)
    lines = [
        f"cache:     {cache}",
        f"benchmark: {meta['benchmark_version']}",
        f"source:    {source['name']} ({source['kind']}), sha256 {source['sha256']}",
        f"importer:  {meta['importer']['name']} v{meta['importer']['version']} via {meta['importer']['library']}; "
        f"harness {meta['harness_version']}, {meta['created_utc']}",
        f"cells:     {meta['cells_with_values']} of 15625 have values",
        f"costs:     {', '.join(str(k) for k in sorted(oracle.cost_keys)) or 'none'}",
    ]
    return "\n".join(lines)


def _info(args: argparse.Namespace) -> int:
    oracle = Oracle(args.cache)
    if args.json:
        print(json.dumps(oracle.meta, indent=2))
        return 0
    print(_summary(oracle))
    print()
    print(oracle.available().to_string(index=False))
    return 0


def _query(args: argparse.Namespace) -> int:
    oracle = Oracle(args.cache)
    cell = int(args.arch) if args.arch.strip().isdigit() else args.arch
    index = int(oracle.indices(cell)[0])
    print(f"index {index}  {oracle.archs(index)[0]}")
    rows = []
    for key, info in sorted(oracle.series.items()):
        if any(want is not None and want != have for want, have in
               ((args.dataset, key.dataset), (args.split, key.split), (args.hp, key.hp))) or key.metric != args.metric:
            continue
        value = oracle.query(index, dataset=key.dataset, split=key.split, hp=key.hp, metric=key.metric,
                             seed=args.seed, epoch=args.epoch)
        row = {"dataset": key.dataset, "split": key.split, "hp": key.hp, args.metric: value}
        if args.seed is None and args.epoch is None:
            row.update({f"seed {s}": oracle.query(index, dataset=key.dataset, split=key.split, hp=key.hp,
                                                  metric=key.metric, seed=s) for s in info.seeds})
        rows.append(row)
    if not rows and (args.dataset or args.split or args.hp):
        oracle.series_info(args.metric, args.dataset or "cifar10", args.split or "ori-test", args.hp or 200)
    if rows:
        print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.4f}", na_rep="-"))
    costs = [(k, oracle.cost(k.metric, index, dataset=k.dataset)) for k in sorted(oracle.cost_keys)
             if args.dataset in (None, k.dataset)]
    for key, value in costs:
        print(f"{key.column():<28} {value:.6g}" if np.isfinite(value) else f"{key.column():<28} -")
    return 0


def _top(args: argparse.Namespace) -> int:
    oracle = Oracle(args.cache)
    where = dict(dataset=args.dataset, split=args.split, hp=args.hp, metric=args.metric)
    top = oracle.top_k(args.k, **where)
    frame = pd.DataFrame({"rank": np.arange(1, len(top) + 1), "index": top,
                          args.metric: oracle.query(top, **where), "arch": oracle.archs(top)})
    print(f"top {args.k} of {args.dataset}/{args.split}@{args.hp} {args.metric} ({oracle.meta['benchmark_version']})")
    print(frame.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    return 0
