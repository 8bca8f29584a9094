"""`harness shrink abs|eps|autospace`: staged operator shrinking (driven by the ground truth, a score file or a
supernet), and the population methods EPS and AutoSpace, whose supernet trains inside an evolving set of cells."""
from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from harness.analysis.search import GAIN_RUNS, PROTOCOL, protocol_columns, search_gain
from harness.cli.arguments import json_settings, nonnegative_int, origin, positive_float, positive_int
from harness.cli.train_cmd import training_args
from harness.errors import HarnessError
from harness.train import supernet_config


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
    abs_.add_argument("--dataset", default="cifar10", choices=list(PROTOCOL),
                      help="ground truth and images (CIFAR-10 trains the supernet on cifar10-valid's search split)")
    abs_.add_argument("--rounds", choices=["staged", "released"], default="staged",
                      help="staged: --stages stages of --drop operators (default); released: ABS's released code on "
                           "NB201, one round that drops 20 of the 30 operators")
    abs_.add_argument("--stages", type=positive_int, help="(default 5; released: 1)")
    abs_.add_argument("--drop", type=positive_int, help="operators dropped per stage (default 3; released: 20)")
    abs_.add_argument("--sample", type=positive_int, default=100, help="cells per stage for rebn and proxy:NAME (default 100)")
    abs_.add_argument("--first-epochs", type=positive_int, default=20, help="supernet epochs before stage 1 (default 20)")
    abs_.add_argument("--stage-epochs", type=positive_int, default=5, help="supernet epochs before each later stage (default 5)")
    training_args(abs_, supernet_config(), skip=("epochs",))
    abs_.add_argument("--settings", default="{}", help="JSON settings for the proxy of rebn / proxy:NAME")
    abs_.add_argument("--cache", help="ground-truth cache (default: $HARNESS_ORACLE or data/nb201-oracle.parquet)")
    abs_.add_argument("--out", required=True, help="output directory (history, report, space.json, stage runs)")
    abs_.add_argument("--quiet", action="store_true")
    abs_.set_defaults(run=_abs)

    eps = methods.add_parser(
        "eps", help="EPS: an aging population of cells that the supernet trains inside",
        description="EPS: each generation trains the supernet inside the population (uniform sampling), scores "
                    "every member (accuracy on --valid-batches validation batches with batch statistics), adds a "
                    "mutant of each of the --children best and drops as many of the oldest. The final space is the "
                    "last population; then the final supernet is checked on --top20-sample cells of the whole "
                    "space (Kendall tau over them and inside their ground-truth top 20%). Rerun to resume.")
    _population_args(eps, population=50)
    eps.add_argument("--first-epochs", type=positive_int, default=10, help="supernet epochs of generation 1 (default 10)")
    eps.add_argument("--children", type=positive_int, default=10, help="best members mutated in per generation (default 10)")
    eps.add_argument("--valid-batches", type=positive_int, default=4, help="validation batches a member is scored on "
                                                                   "(default 4)")
    eps.add_argument("--top20-sample", type=nonnegative_int, default=1000,
                     help="cells of the whole space for the top-20%% check of the final supernet (0: skip; "
                          "default 1000)")
    eps.set_defaults(run=_eps)

    auto = methods.add_parser(
        "autospace", help="AutoSpace: a population whose fitness is learned with the supernet's weights",
        description="AutoSpace: every step trains a uniformly drawn member and moves the members' fitness logits "
                    "(a member whose loss is below the running loss gains fitness); each generation a tournament "
                    "parent's mutant replaces the least fit member, within --hamming of --reference during the "
                    "first half. The final space is the --top-k members by fitness. Rerun to resume.")
    _population_args(auto, population=20)
    auto.add_argument("--tournament", type=positive_int, default=5, help="members per tournament (default 5)")
    auto.add_argument("--hamming", type=nonnegative_int, default=2,
                      help="edges a member may differ from the reference in the first half (default 2)")
    auto.add_argument("--reference", help="the reference cell's arch string (default: nor_conv_3x3 on every edge)")
    auto.add_argument("--top-k", type=positive_int, default=10, help="cells of the searched space (default 10)")
    auto.add_argument("--fitness-lr", type=positive_float, default=0.01, help="Adam's rate for the fitness logits "
                                                                     "(default 0.01)")
    auto.set_defaults(run=_autospace)


def _population_args(parser, population: int) -> None:
    parser.add_argument("--dataset", default="cifar10", choices=list(PROTOCOL),
                        help="ground truth and images (CIFAR-10 trains the supernet on cifar10-valid's search split)")
    parser.add_argument("--population", type=positive_int, default=population, help=f"(default {population})")
    parser.add_argument("--generations", type=positive_int, default=10, help="(default 10)")
    parser.add_argument("--epochs-per-generation", type=positive_int, default=2, help="supernet epochs per generation "
                                                                             "(default 2)")
    training_args(parser, supernet_config(), skip=("epochs",))
    parser.add_argument("--cache", help="ground-truth cache (default: $HARNESS_ORACLE or data/nb201-oracle.parquet)")
    parser.add_argument("--out", required=True, help="output directory (history, report, space.json, runs)")
    parser.add_argument("--quiet", action="store_true")


def _abs(args: argparse.Namespace) -> int:
    import numpy as np

    from harness.analysis.score_sets import read_scores
    from harness.analysis.shrunk_space import cells_in
    from harness.report.shrink_report import write_shrink_report
    from harness.shrink import ShrinkSettings, shrink_abs
    from harness.space import EDGE_NAMES

    proxy_settings = json_settings(args.settings)
    stages, drop = (1, 20) if args.rounds == "released" else (5, 3)
    if args.rounds == "released" and (args.stages not in (None, 1) or args.drop not in (None, 20)):
        raise HarnessError(f"--rounds released drops 20 operators in one round; it takes no --stages {args.stages} "
                           f"or --drop {args.drop} (use --rounds staged for those)")
    settings = ShrinkSettings(args.signal, stages=args.stages or stages, drop_per_stage=args.drop or drop,
                              sample=args.sample, first_epochs=args.first_epochs, stage_epochs=args.stage_epochs,
                              seed=args.seed, proxy_settings=proxy_settings)
    oracle, cells, valid, truth = _ground_truth(args)
    score_set = read_scores(args.signal.split(":", 1)[1], oracle.order) if args.signal.startswith("scores:") else None
    train_config = _train_config(args)
    history = shrink_abs(settings, args.out, cells=cells, truth=truth, train_config=train_config,
                         score_set=score_set, progress=not args.quiet)
    inside = np.flatnonzero(cells_in(cells, np.array(history[-1]["allowed_mask"])))
    gain = search_gain(valid, truth, cells, inside)
    provenance = {**_provenance(args, "abs", settings, oracle, train_config if settings.trains else None),
                  "edges": list(EDGE_NAMES)}
    write_shrink_report(args.out, f"ABS shrinking on {args.dataset}, signal {args.signal}", history, gain,
                        provenance)
    last = history[-1]["quality"]
    print(f"{args.out}: {history[-1]['size']} cells left after {len(history)} stages; best {last['best']:.2f} "
          f"(global rank {last['best_global_rank']}), top 1% kept {100 * last['top1%_kept']:.0f}%")
    return 0


def _eps(args: argparse.Namespace) -> int:
    from harness.shrink import EpsSettings, eps_top20, run_eps

    settings = EpsSettings(population=args.population, generations=args.generations,
                           epochs_per_generation=args.epochs_per_generation, first_epochs=args.first_epochs,
                           n_children=args.children, valid_batches=args.valid_batches, seed=args.seed)
    if args.top20_sample != 0 and args.top20_sample < 2:
        raise HarnessError(f"--top20-sample is a number of cells >= 2, or 0 to skip the check; got "
                           f"{args.top20_sample}")
    oracle, cells, valid, truth = _ground_truth(args)
    train_config = _train_config(args)
    history = run_eps(settings, args.out, cells=cells, truth=truth, train_config=train_config,
                      progress=not args.quiet)
    top20 = eps_top20(Path(args.out) / f"gen-{settings.generations}", cells, truth, sample=args.top20_sample,
                      seed=args.seed, valid_batches=args.valid_batches, train_config=train_config,
                      device=args.device, progress=not args.quiet) if args.top20_sample else None
    note = ("Kendall tau: of the members' scores (accuracy on the scoring batches, batch statistics) against the "
            "ground truth, over the population.")
    return _population_report(args, "eps", settings, oracle, train_config, history, history[-1]["population"],
                              valid, truth, cells, note, top20)


def _autospace(args: argparse.Namespace) -> int:
    from harness.shrink.autospace import AutoSpaceSettings, run_autospace, supernet_config_of

    reference = {"reference": args.reference} if args.reference else {}
    settings = AutoSpaceSettings(population=args.population, generations=args.generations,
                                 epochs_per_generation=args.epochs_per_generation, tournament=args.tournament,
                                 hamming=args.hamming, top_k=args.top_k, fitness_lr=args.fitness_lr, seed=args.seed,
                                 **reference)
    oracle, cells, valid, truth = _ground_truth(args)
    train_config = _train_config(args)
    history = run_autospace(settings, args.out, cells=cells, truth=truth, train_config=train_config,
                            progress=not args.quiet)
    note = "Kendall tau: of the members' learned fitness against the ground truth, over the population."
    return _population_report(args, "autospace", settings, oracle, supernet_config_of(settings, train_config),
                              history, history[-1]["top_k"], valid, truth, cells, note, None)


def _population_report(args, method, settings, oracle, train_config, history, space, valid, truth, cells, note,
                       top20) -> int:
    import numpy as np

    from harness.analysis.shrunk_space import in_space
    from harness.report.shrink_report import write_population_report

    gain = search_gain(valid, truth, cells, np.flatnonzero(in_space(cells, space)))
    title = f"{'EPS' if method == 'eps' else 'AutoSpace'} on {args.dataset}"
    write_population_report(args.out, title, history, space, note, gain,
                            _provenance(args, method, settings, oracle, train_config), top20)
    pick, quality = history[-1]["pick"], history[-1]["quality"]
    print(f"{args.out}: final pick {pick['arch']}, ground truth {pick['truth']:.2f} (global rank "
          f"{pick['global_rank']}); final space of {quality['size']} cells, best {quality['best']:.2f} (global rank "
          f"{quality['best_global_rank']})")
    return 0


def _ground_truth(args: argparse.Namespace):
    """The oracle, its cells, the accuracy a search selects by and the ground truth reported."""
    from harness.oracle import Oracle

    oracle = Oracle(args.cache)
    return (oracle, oracle.cells(), *protocol_columns(oracle, args.dataset))


def _train_config(args: argparse.Namespace):
    return replace(supernet_config(), dataset="cifar10-valid" if args.dataset == "cifar10" else args.dataset,
                   data_root=args.data_root, splits_dir=args.splits, channels=args.channels, cells=args.cells,
                   resolution=args.resolution, samples=args.samples, batch_size=args.batch_size, lr=args.lr,
                   sampling=args.sampling, decay=args.decay, seed=args.seed, device=args.device,
                   progress=not args.quiet)


def _provenance(args: argparse.Namespace, method: str, settings, oracle, train_config) -> dict:
    from harness.provenance import code_version

    (search_on, search_split), (report_on, report_split) = PROTOCOL[args.dataset]
    return {**origin(args), "method": method, "settings": settings.__dict__, "dataset": args.dataset,
            "truth": f"{report_on}/{report_split}@200", "searched": f"{search_on}/{search_split}@200",
            "supernet": train_config.to_json() if train_config is not None else None,
            "search_gain_runs": GAIN_RUNS, "ground_truth": oracle.provenance, "harness_version": code_version()}

