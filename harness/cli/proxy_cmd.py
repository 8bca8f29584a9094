"""`harness proxies list`, `harness score PROXY ...` and `harness merge-scores`."""
from __future__ import annotations

import argparse

from harness.cli.arguments import data_options, device_name, executor_options, json_settings, ray_executor, seed_int


def register(groups) -> None:
    proxies = groups.add_parser("proxies", help="the proxies the harness knows (built in and from plugins)")
    sub = proxies.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("list", help="each proxy with what it needs and its settings (types and defaults)").set_defaults(
        run=_list)

    score = groups.add_parser("score", help="score cells with a proxy into a score file (resumable, shardable)",
                              description="Score cells with PROXY. An interrupted run keeps what it scored in "
                                          "OUT.partial; rerunning the same command scores only the rest.")
    score.add_argument("proxy")
    score.add_argument("--cells", default="all", help="all | sample:N[:SEED] | FILE with arch (or index) column")
    score.add_argument("--out", required=True, help="score file to write (.csv with .meta.json, or .parquet)")
    score.add_argument("--dataset", default="cifar10", help="dataset whose head, size or images the proxy uses")
    data_options(score)
    score.add_argument("--run", dest="run_dir", help="a run directory from `harness train` (for supernet proxies)")
    score.add_argument("--device", type=device_name, default="cpu",
                       help="cpu, cuda or cuda:N (default cpu; with --executor ray, the cluster's GPUs)")
    score.add_argument("--seed", type=seed_int, default=0)
    score.add_argument("--settings", default="{}", help="the proxy's settings as a JSON object (`harness proxies list` "
                                                        "shows each proxy's, with types and defaults)")
    score.add_argument("--shard", help="i/n: score every n-th selected cell from the i-th; join with merge-scores")
    score.add_argument("--cache", help="ground truth, to add official indices and its table hash to the file "
                                       "(default as for `harness evaluate`)")
    score.add_argument("--force", action="store_true", help="replace a finished --out that holds another job's scores")
    score.add_argument("--quiet", action="store_true")
    executor_options(score)
    score.set_defaults(run=_score)

    merge = groups.add_parser("merge-scores", help="join the shard files of one scoring job")
    merge.add_argument("shards", nargs="+")
    merge.add_argument("--out", required=True)
    merge.add_argument("--force", action="store_true", help="replace an existing --out (even one of the shards)")
    merge.set_defaults(run=_merge)


def _ground_truth(cache) -> dict:
    """The oracle's index order and table hash (the shipped mean ground truth when none was imported)."""
    from harness.oracle import Oracle

    oracle = Oracle(cache)
    return {"order": oracle.order, "table_hash": oracle.table_hash}


def _list(args: argparse.Namespace) -> int:
    from harness.proxies import list_proxies

    for proxy in list_proxies():
        needs = ", ".join(proxy.needs) or "nothing"
        print(f"{proxy.name:<20} v{proxy.version:<4} needs {needs:<24} {proxy.description}")
        for name, setting in proxy.settings.items():
            print(f"{'':<26} setting {name}: {setting.describe()}")
    return 0


def _score(args: argparse.Namespace) -> int:
    from harness.proxies import ProxyContext, get_proxy
    from harness.proxies.scoring import parse_shard, score_cells

    from harness.paths import splits_dir

    proxy = get_proxy(args.proxy)
    context = ProxyContext(dataset=args.dataset, data_root=args.data_root, splits_dir=str(splits_dir(args.splits)),
                           run_dir=args.run_dir, device=args.device, seed=args.seed,
                           settings=proxy.resolve_settings(json_settings(args.settings)))
    common = {"progress": not args.quiet, "force": args.force, **_ground_truth(args.cache)}
    executor = ray_executor(args)
    if executor is None:
        result = score_cells(proxy, args.cells, context, args.out, shard=parse_shard(args.shard), **common)
    else:
        from harness.proxies.on_ray import score_on_ray

        with executor:
            result = score_on_ray(proxy, args.cells, context, args.out, executor, shards=args.shards, **common)
    verb = "reused the finished" if result.source else "wrote"
    print(f"{verb} {args.out}: {len(result.scores)} cells, {result.provenance['seconds_per_cell'] * 1e3:.2f} ms/cell "
          f"(code {result.provenance['code_hash']})")
    return 0


def _merge(args: argparse.Namespace) -> int:
    from pathlib import Path

    from harness.errors import HarnessError
    from harness.proxies.scoring import merge_shards

    shards = {Path(p).resolve() for p in args.shards}
    if Path(args.out).exists() and Path(args.out).resolve() not in shards and not args.force:
        raise HarnessError(f"--out {args.out} exists; pass --force to replace it with the merged scores, or name "
                           f"another file")
    merged = merge_shards(args.shards, args.out, force=args.force)
    print(f"wrote {args.out}: {len(merged.scores)} cells from {len(args.shards)} shards")
    return 0
