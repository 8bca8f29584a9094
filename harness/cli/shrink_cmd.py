"""`harness shrink abs`: staged operator shrinking, driven by the ground truth, a score file or a supernet."""
from __future__ import annotations

import argparse
import json
from dataclasses import replace

from harness.cli.search_cmd import TARGETS
from harness.cli.train_cmd import training_args
from harness.errors import HarnessError
from harness.train import supernet_config

#: search budgets for the gain inside the shrunk space, and seeded runs per budget
GAIN_BUDGETS, GAIN_RUNS = (10, 25, 50, 100), 100


def register(groups) -> None:
    shrink = groups.add_parser("shrink", help="shrink the search space and measure the quality of what is left")
    methods = shrink.add_subparsers(dest="method", required=True, metavar="METHOD")
    abs_ = methods.add_parser(
        "abs", help="ABS: drop the lowest-scoring operators stage by stage",
        description="ABS (Algorithm 2): each stage scores the allowed operators with --signal and drops the "
                    "lowest --drop (never the last op of an edge). Signals: truth (the oracle upper bound), "
                    "scores:FILE (a score file), angle, rebn, magnitude, proxy:NAME (a supernet trains inside the "
                    "current space before each stage). Rerun the same command to resume.")
    abs_.add_argument("--signal", required=True, help="truth | scores:FILE | angle | rebn | magnitude | proxy:NAME")
    abs_.add_argument("--dataset", default="cifar10", choices=list(TARGETS),
                      help="ground truth and images (CIFAR-10 trains the supernet on cifar10-valid's search split)")
    abs_.add_argument("--stages", type=int, default=5, help="(default 5)")
    abs_.add_argument("--drop", type=int, default=3, help="operators dropped per stage (default 3)")
    abs_.add_argument("--sample", type=int, default=100, help="cells per stage for rebn and proxy:NAME (default 100)")
    abs_.add_argument("--first-epochs", type=int, default=20, help="supernet epochs before stage 1 (default 20)")
    abs_.add_argument("--stage-epochs", type=int, default=5, help="supernet epochs before each later stage (default 5)")
    training_args(abs_, supernet_config(), skip=("epochs",))
    abs_.add_argument("--settings", default="{}", help="JSON settings for the proxy of rebn / proxy:NAME")
    abs_.add_argument("--cache", help="ground-truth cache (default: $HARNESS_ORACLE or data/nb201-oracle.parquet)")
    abs_.add_argument("--out", required=True, help="output directory (history, report, space.json, stage runs)")
    abs_.add_argument("--quiet", action="store_true")
    abs_.set_defaults(run=_abs)


def _abs(args: argparse.Namespace) -> int:
    import numpy as np

    from harness.analysis.score_sets import read_scores
    from harness.analysis.shrunk_space import cells_in
    from harness.oracle import Oracle
    from harness.provenance import code_version
    from harness.report.shrink_report import write_shrink_report
    from harness.shrink import ShrinkSettings, shrink_abs
    from harness.space import EDGE_NAMES

    try:
        proxy_settings = json.loads(args.settings)
    except ValueError as exc:
        raise HarnessError(f"--settings must be a JSON object, got {args.settings!r} ({exc})") from None
    settings = ShrinkSettings(args.signal, stages=args.stages, drop_per_stage=args.drop, sample=args.sample,
                              first_epochs=args.first_epochs, stage_epochs=args.stage_epochs, seed=args.seed,
                              proxy_settings=proxy_settings)
    oracle = Oracle(args.cache)
    (search_on, search_split), (report_on, report_split) = TARGETS[args.dataset]
    valid = oracle.accuracy(dataset=search_on, split=search_split)
    truth = oracle.accuracy(dataset=report_on, split=report_split)
    cells = oracle.cells()
    score_set = read_scores(args.signal.split(":", 1)[1], oracle.order) if args.signal.startswith("scores:") else None
    train_config = replace(supernet_config(), dataset="cifar10-valid" if args.dataset == "cifar10" else args.dataset,
                           data_root=args.data_root, splits_dir=args.splits, channels=args.channels,
                           cells=args.cells, resolution=args.resolution, samples=args.samples,
                           batch_size=args.batch_size, lr=args.lr, seed=args.seed, device=args.device,
                           progress=not args.quiet)
    history = shrink_abs(settings, args.out, cells=cells, truth=truth, train_config=train_config,
                         score_set=score_set, progress=not args.quiet)
    inside = np.flatnonzero(cells_in(cells, np.array(history[-1]["allowed_mask"])))
    gain = _search_gain(valid, truth, cells, inside)
    provenance = {"command": "harness shrink abs", "settings": settings.__dict__, "dataset": args.dataset,
                  "truth": f"{report_on}/{report_split}@200", "searched": f"{search_on}/{search_split}@200",
                  "supernet": train_config.to_json() if settings.trains else None,
                  "edges": list(EDGE_NAMES), "search_gain_runs": GAIN_RUNS,
                  "ground_truth": oracle.provenance, "harness_version": code_version()}
    write_shrink_report(args.out, f"ABS shrinking on {args.dataset}, signal {args.signal}", history, gain,
                        provenance)
    last = history[-1]["quality"]
    print(f"{args.out}: {history[-1]['size']} cells left after {len(history)} stages; best {last['best']:.2f} "
          f"(global rank {last['best_global_rank']}), top 1% kept {100 * last['top1%_kept']:.0f}%")
    return 0


def _search_gain(valid, test, cells, inside):
    """Random search and REA inside the space against the whole space, at the budgets the space can hold."""
    import pandas as pd

    from harness.analysis.search import run_searches

    rows = []
    for budget in (b for b in GAIN_BUDGETS if b <= len(inside)):
        for method in ("random", "rea"):
            found = {where: run_searches(method, valid, test, cells, budget, range(GAIN_RUNS),
                                         candidates=candidates).groupby("run")["best_test"].last().mean()
                     for where, candidates in (("inside", inside), ("whole space", None))}
            rows.append({"method": method, "queries": budget, "inside": found["inside"],
                         "whole space": found["whole space"], "gain": found["inside"] - found["whole space"]})
    return pd.DataFrame(rows, columns=["method", "queries", "inside", "whole space", "gain"])
