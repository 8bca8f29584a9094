"""`harness shrink abs|eps|autospace`: staged operator shrinking (driven by the ground truth, a score file or a
supernet), and the population methods EPS and AutoSpace, whose supernet trains inside an evolving set of cells."""
from __future__ import annotations

import argparse
from dataclasses import replace

from harness.analysis.search import GAIN_RUNS, PROTOCOL, protocol_columns, search_gain
from harness.cli.arguments import (CACHE_HELP, images_root, json_settings, nonnegative_float, nonnegative_int, origin,
                                   positive_float, positive_int)
from harness.cli.train_cmd import training_args
from harness.paths import splits_dir
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
    abs_.add_argument("--cache", help=CACHE_HELP)
    abs_.add_argument("--out", required=True, help="output directory (history, report, space.json, stage runs)")
    abs_.add_argument("--quiet", action="store_true")
    abs_.set_defaults(run=_abs)

    eps = methods.add_parser(
        "eps", help="EPS: an aging population of cells that the supernet trains inside (its released NB201 code)",
        description="EPS as its released code runs it on NB201: every iteration trains the supernet on a member "
                    "drawn from the generation's --sample members of the population; every --generation-iterations "
                    "the sample is scored by its loss on a --valid-images validation batch each, the --parents best "
                    "get one op-wise mutant each, the children join and as many of the oldest leave. The pick: over "
                    "the snapshots of the last --pick-window iterations, the best-loss member scored with the prior "
                    "loss + W exp(-D params_mb / 1.5315) (and, without the prior, the lowest loss). Defaults: the "
                    "released values. Rerun the same command to resume.")
    _common_args(eps, skip=("epochs", "batch-size", "lr"))
    for flag, kind, default, what in (
            ("population", positive_int, 256, "cells in the population"),
            ("sample", positive_int, 64, "members sampled, trained on and scored per generation"),
            ("parents", positive_int, 4, "best sampled members given one child each"),
            ("iterations", positive_int, 80_000, "SGD steps in all"),
            ("generation-iterations", positive_int, 50, "SGD steps per generation"),
            ("pick-window", positive_int, 10_000, "last iterations whose snapshots the pick is made over"),
            ("valid-images", positive_int, 250, "validation images a member is scored on"),
            ("batch-size", positive_int, 128, "training batch"),
            ("lr", positive_float, 0.1, "SGD learning rate, cosine to 0 over the iterations"),
            ("weight-decay", nonnegative_float, 4e-5, "on conv and linear weights"),
            ("label-smoothing", nonnegative_float, 0.1, "of the training and scoring loss"),
            ("mutation-p", positive_float, 0.5, "probability that a child's op is mutated"),
            ("prior-weight", nonnegative_float, 1.4, "W of the pick's prior (0: none)"),
            ("prior-decay", nonnegative_float, 5.2, "D of the pick's prior"),
            ("parent-min-scores", positive_int, 2, "times a member must have been scored to be a parent")):
        eps.add_argument(f"--{flag}", type=kind, default=default, help=f"{what} (released: {default:,})"
                         if isinstance(default, int) else f"{what} (released: {default})")
    for name, (choices, what) in EPS_CHOICES.items():
        eps.add_argument(f"--{name.replace('_', '-')}", choices=choices, default=choices[0],
                         help=f"{what} (released: {choices[0]})")
    eps.add_argument("--distinct", action="store_true",
                     help="the paper's reading: distinct initial cells and children new to the population (released: "
                          "repeats allowed)")
    eps.add_argument("--batch-cells", type=positive_int, default=1,
                     help="members scored together in one exact pass of harness.nets.batched, each with its own "
                          "batch statistics (default 1: one at a time, the faster on a CPU; see "
                          "benchmarks/test_batched_speed.py)")
    eps.add_argument("--checkpoint-every", type=positive_int, default=20,
                     help="generations between checkpoints (default 20)")
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
    _common_args(auto, skip=("epochs",))
    auto.add_argument("--population", type=positive_int, default=20, help="(default 20)")
    auto.add_argument("--generations", type=positive_int, default=10, help="(default 10)")
    auto.add_argument("--epochs-per-generation", type=positive_int, default=2,
                      help="supernet epochs per generation (default 2)")
    auto.add_argument("--tournament", type=positive_int, default=5, help="members per tournament (default 5)")
    auto.add_argument("--hamming", type=nonnegative_int, default=2,
                      help="edges a member may differ from the reference in the first half (default 2)")
    auto.add_argument("--reference", help="the reference cell's arch string (default: nor_conv_3x3 on every edge)")
    auto.add_argument("--top-k", type=positive_int, default=10, help="cells of the searched space (default 10)")
    auto.add_argument("--fitness-lr", type=positive_float, default=0.01, help="Adam's rate for the fitness logits "
                                                                     "(default 0.01)")
    auto.set_defaults(run=_autospace)


#: the readings of EPS's settings where its released code (first) and its paper differ, and what they mean: those
#: of `harness.shrink.eps.CHOICES`, spelt out here so that the command line starts without torch
EPS_CHOICES = {
    "mutation": (("redraw", "change"), "redraw: a mutated op is redrawn from all 5 (it may stay); change: it "
                                       "becomes another"),
    "train_from": (("sample", "population"), "sample: each step trains a member of the generation's sample; "
                                             "population: of the whole population"),
    "scoring": (("stream", "fixed"), "stream: each member on the next batch of a reshuffled validation stream; "
                                     "fixed: one batch for all"),
    "snapshot": (("population", "sample"), "population: a snapshot's best is over the population's latest "
                                           "losses; sample: over the generation's scored sample")}


def _common_args(parser, skip: tuple[str, ...]) -> None:
    parser.add_argument("--dataset", default="cifar10", choices=list(PROTOCOL),
                        help="ground truth and images (CIFAR-10 trains the supernet on cifar10-valid's search split)")
    training_args(parser, supernet_config(), skip=skip)
    parser.add_argument("--cache", help=CACHE_HELP)
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
    from harness.shrink import EpsSettings, eps_top20, load_eps_model, run_eps
    from harness.shrink.eps import supernet_config_of
    from harness.space import format_archs

    settings = EpsSettings(
        population=args.population, sample=args.sample, parents=args.parents, iterations=args.iterations,
        generation_iterations=args.generation_iterations, pick_window=args.pick_window, mutation_p=args.mutation_p,
        prior_weight=args.prior_weight, prior_decay=args.prior_decay, valid_images=args.valid_images,
        batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay, label_smoothing=args.label_smoothing,
        seed=args.seed, mutation=args.mutation, distinct=args.distinct, train_from=args.train_from,
        scoring=args.scoring, parent_min_scores=args.parent_min_scores, snapshot=args.snapshot,
        batch_cells=args.batch_cells)
    if args.top20_sample != 0 and args.top20_sample < 2:
        raise HarnessError(f"--top20-sample is a number of cells >= 2, or 0 to skip the check; got "
                           f"{args.top20_sample}")
    oracle, cells, valid, truth = _ground_truth(args)
    train_config = supernet_config_of(settings, _train_config(args))
    history = run_eps(settings, args.out, cells=cells, truth=truth, params=oracle.cost("params", dataset="cifar10"),
                      train_config=train_config, checkpoint_every=args.checkpoint_every, progress=not args.quiet)
    top20 = eps_top20(load_eps_model(args.out, settings, train_config), cells, truth, sample=args.top20_sample,
                      seed=args.seed, train_config=train_config, device=args.device,
                      progress=not args.quiet, batch_cells=args.batch_cells) if args.top20_sample else None
    note = ("Mean and best truth, Kendall tau: of each generation's sampled members (the tau of their losses on "
            "their validation batches, negated, against the ground truth); pick: the generation's snapshot best "
            "(the population's lowest latest loss), the candidates of the final picks.")
    final = history[-1]
    picks = {f"{'with' if key == 'prior' else 'without'} the prior": final["picks"][key] for key in final["picks"]}
    space = format_archs(cells[final["population"]])
    return _population_report(args, "eps", settings, oracle, train_config, history, space, valid, truth, cells,
                              note, top20, picks)


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
                       top20, picks=None) -> int:
    import numpy as np

    from harness.analysis.shrunk_space import in_space
    from harness.report.shrink_report import write_population_report

    gain = search_gain(valid, truth, cells, np.flatnonzero(in_space(cells, space)))
    title = f"{'EPS' if method == 'eps' else 'AutoSpace'} on {args.dataset}"
    picks = picks or {"": history[-1]["pick"]}
    write_population_report(args.out, title, history, space, note, gain,
                            _provenance(args, method, settings, oracle, train_config), top20, picks)
    quality = history[-1]["quality"]
    for label, pick in picks.items():
        print(f"{args.out}: final pick{' ' + label if label else ''} {pick['arch']}, ground truth "
              f"{pick['truth']:.2f} (global rank {pick['global_rank']})")
    print(f"{args.out}: final space of {quality['size']} cells, best {quality['best']:.2f} (global rank "
          f"{quality['best_global_rank']})")
    return 0


def _ground_truth(args: argparse.Namespace):
    """The oracle, its cells, the accuracy a search selects by and the ground truth reported."""
    from harness.oracle import Oracle

    oracle = Oracle(args.cache)
    return (oracle, oracle.cells(), *protocol_columns(oracle, args.dataset))


def _train_config(args: argparse.Namespace):
    return replace(supernet_config(), dataset="cifar10-valid" if args.dataset == "cifar10" else args.dataset,
                   data_root=images_root(args), splits_dir=str(splits_dir(args.splits)), channels=args.channels,
                   cells=args.cells,
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

