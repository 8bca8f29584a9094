"""`harness evaluate` (metrics and a report for score files) and `harness check` (the CI gate).

The analysis stack (scipy, matplotlib) is imported when a command runs, not when any command starts."""
from __future__ import annotations

import argparse
from pathlib import Path

from harness.analysis import GATE_METRICS
from harness.cli.arguments import CACHE_HELP, nonnegative_float, origin, positive_int, seed_int
from harness.errors import HarnessError

SCORE_FILES = ("score files: CSV or parquet with 'arch' (arch string) and/or 'index' (official index) and 'score' "
               "columns; provenance in NAME.meta.json beside a CSV or in the parquet metadata")


def register(groups) -> None:
    ev = groups.add_parser("evaluate", help="rank metrics with intervals and a report for score files",
                           description="Evaluate how well score files rank cells against the ground truth, next to "
                                       "no-training baselines (random, params, 12-epoch accuracy). " + SCORE_FILES)
    ev.add_argument("scores", nargs="*", metavar="SCORES", help="score files (none: the baselines alone)")
    _target_args(ev, required=True, all_datasets=True)
    ev.add_argument("--out", default="reports/evaluation", help="report directory (default reports/evaluation)")
    ev.add_argument("--n-boot", type=positive_int, default=1000, help="bootstrap resamples for intervals (default 1000)")
    ev.add_argument("--seed", type=seed_int, default=0, help="seed of the resamples and the random baseline")
    ev.add_argument("--iso", action="store_true", help="collapse cells to isomorphism classes first (class means)")
    ev.add_argument("--no-baselines", action="store_true", help="leave out the random, params and 12-epoch rows")
    ev.add_argument("--against", default="zoo",
                    help="compare each score file, paired on the cells both scored, with the zoo's proxies (zoo, the "
                         "default, when the zoo has scores for the dataset), the named ones (synflow,naswot) or none")
    ev.add_argument("--zoo", default="reports/zoo", help="the zoo directory (default reports/zoo, the repository's)")
    ev.add_argument("--allow-mismatch", action="store_true",
                    help="evaluate score files whose provenance names another dataset's images or another ground "
                         "truth (refused otherwise); the report says so")
    ev.set_defaults(run=_evaluate)

    ck = groups.add_parser("check", help="CI gate: fail (exit 1) when ranking metrics drop below a baseline",
                           description="Compare score files (several = seeds of one proxy, averaged) with a baseline "
                                       "JSON; exit 1 with a table of what dropped. --update writes the baseline, "
                                       "which pins the ground truth, the target, the cells and their NaN count: a "
                                       "check on other cells, more NaN scores or another target fails (exit 1) with "
                                       "the reason. " + SCORE_FILES)
    ck.add_argument("scores", nargs="+", metavar="SCORES")
    ck.add_argument("--baseline", required=True, help="baseline JSON file")
    ck.add_argument("--update", action="store_true", help="measure and write the baseline instead of checking")
    _target_args(ck, required=False, hp=None)
    ck.add_argument("--metrics", default=",".join(GATE_METRICS),  # argparse formats help with %: escape the metrics'
                    help=f"with --update: metric labels to gate on (default {','.join(GATE_METRICS)})".replace("%", "%%"))
    ck.add_argument("--tolerance", type=nonnegative_float, default=0.02,
                    help="with --update: allowed absolute drop (default 0.02)")
    ck.add_argument("--sigmas", type=nonnegative_float, default=2.0,
                    help="with --update and several seeds: tolerance = this many standard deviations when larger")
    ck.set_defaults(run=_check)


def _target_args(parser, required: bool, hp: int | None = 200, all_datasets: bool = False) -> None:
    every = (", or all: one report over cifar10 (ori-test), cifar100 and ImageNet16-120 (x-test), without --split"
             if all_datasets else "")
    parser.add_argument("--dataset", required=required,
                        help=f"ground truth: cifar10-valid, cifar10, cifar100, ImageNet16-120{every}")
    parser.add_argument("--split", required=required and not all_datasets, help="x-valid, x-test or ori-test")
    parser.add_argument("--hp", type=positive_int, default=hp, help="training schedule of the ground truth (default 200)")
    parser.add_argument("--cache", help=CACHE_HELP)


def _targets(dataset: str, split: str | None) -> list[tuple[str, str]]:
    """(dataset, split) of every ground truth --dataset and --split ask for."""
    from harness.analysis.evaluate import ALL_TARGETS

    if dataset == "all":
        if split is not None:
            raise HarnessError(f"--split {split} cannot be given with --dataset all, which evaluates each dataset on "
                               f"its own test split ({', '.join(f'{d} {s}' for d, s in ALL_TARGETS.items())}): drop "
                               f"--split, or name one --dataset")
        return list(ALL_TARGETS.items())
    if split is None:
        raise HarnessError(f"--dataset {dataset} needs --split (x-valid, x-test or ori-test); only --dataset all "
                           f"goes without one")
    return [(dataset, split)]


def _evaluate(args: argparse.Namespace) -> int:
    from harness.analysis.evaluate import evaluate_score_sets
    from harness.analysis.score_sets import read_scores
    from harness.oracle import Oracle
    from harness.report import write_report
    from harness.report.evaluation_report import headline_table

    if not args.scores and args.no_baselines:
        raise HarnessError("nothing to evaluate: give score files, or drop --no-baselines to evaluate the baselines")
    targets = _targets(args.dataset, args.split)
    oracle = Oracle(args.cache)
    sets = [read_scores(path, oracle.order) for path in args.scores]
    evaluations = [evaluate_score_sets(sets, oracle, dataset=dataset, split=split, hp=args.hp,
                                       baselines=not args.no_baselines, iso_classes=args.iso, n_boot=args.n_boot,
                                       seed=args.seed, allow_mismatch=args.allow_mismatch)
                   for dataset, split in targets]
    comparisons, zoo_notes = _against_zoo(args, evaluations, oracle)
    written = write_report(evaluations, args.out, origin=origin(args), comparisons=comparisons, zoo_notes=zoo_notes)
    for evaluation in evaluations:
        print(f"ground truth {evaluation.target} ({oracle.meta['benchmark_version']})")
        print(headline_table(evaluation).to_string(index=False))
    print(f"report: {written['markdown']} (and report.html, metrics.csv, figures/)")
    return 0


def _against_zoo(args: argparse.Namespace, evaluations, oracle) -> tuple[list, list[str]]:
    """Per evaluation, the paired comparison of each score file with the zoo (or None), and what was not compared."""
    import pandas as pd

    from harness.analysis.paired import compare_scores
    from harness.proxies.zoo import ZOO_OF, entries, load

    names = None if args.against in ("zoo", "none") else [n.strip() for n in args.against.split(",") if n.strip()]
    comparisons, notes = [], []
    for e in evaluations:
        mine = [r.score_set for r in e.results if not r.baseline]
        have = [x for x in entries(args.zoo) if x.dataset == ZOO_OF.get(e.dataset)]
        if args.against == "none" or not mine or (names is None and not have):
            if args.against == "zoo" and mine:
                notes.append(f"Not compared with the zoo on {e.dataset}: --zoo holds no scores for "
                             f"{ZOO_OF.get(e.dataset, e.dataset)} (`harness zoo build`, or --zoo DIR).")
            comparisons.append(None)
            continue
        zoo = {z.name: (oracle.indices(z.cells), z.scores) for z in load(args.zoo, e.dataset, oracle.order, names)}
        truth = oracle.accuracy(dataset=e.dataset, split=e.split, hp=e.hp)
        comparisons.append(pd.concat([compare_scores(s.name, truth, oracle.indices(s.cells), s.scores, zoo,
                                                     n_boot=args.n_boot, seed=args.seed) for s in mine],
                                     ignore_index=True))
    return comparisons, notes


def _check(args: argparse.Namespace) -> int:
    from harness.analysis import gate
    from harness.analysis.evaluate import target_mismatches
    from harness.analysis.score_sets import read_scores
    from harness.oracle import Oracle

    oracle = Oracle(args.cache)
    if args.update:
        if not args.dataset or not args.split:
            raise HarnessError("--update needs --dataset and --split: the ground truth the baseline is measured on")
        hp = args.hp or 200
        sets = [read_scores(path, oracle.order) for path in args.scores]
        mismatches = target_mismatches(sets, oracle, args.dataset)
        if mismatches:
            raise HarnessError(f"refusing to write a baseline on {args.dataset}: {'; '.join(mismatches)}")
        metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
        measured = gate.measure(sets, oracle, dataset=args.dataset, split=args.split, hp=hp, metrics=metrics)
        baseline = gate.make_baseline(measured, oracle, dataset=args.dataset, split=args.split, hp=hp,
                                      tolerance=args.tolerance, sigmas=args.sigmas, pinned=gate.pins(sets))
        baseline["command"] = origin(args)["command"]
        gate.save_baseline(args.baseline, baseline)
        pinned = baseline["pins"]
        print(f"wrote baseline {Path(args.baseline)} from {len(sets)} score set(s) on {args.dataset}/{args.split}@{hp}, "
              f"pinning {pinned['n_cells']} cells (set sha256 {pinned['cells_sha256'][:12]}...) and at most "
              f"{pinned['n_nan']} NaN scores:")
        for label, entry in baseline["metrics"].items():
            print(f"  {label:<24} {entry['value']:.4f}  tolerance {entry['tolerance']:.4f} ({entry['tolerance_from']})")
        return 0
    target = {"dataset": args.dataset, "split": args.split, "hp": args.hp}
    result = gate.check_scores(args.scores, args.baseline, oracle, target=target)
    print(result.report())
    return 0 if result.passed else 1
