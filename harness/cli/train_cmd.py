"""`harness train supernet|standalone`: train into a run directory, or resume one."""
from __future__ import annotations

import argparse
import json
from dataclasses import replace

from harness.cli.arguments import data_options, device, images_root, positive_float, positive_int, seed_int, share
from harness.paths import splits_dir
from harness.train import TrainConfig, standalone_config, supernet_config


def register(groups) -> None:
    tr = groups.add_parser("train", help="train the weight-sharing supernet or one standalone cell")
    kinds = tr.add_subparsers(dest="kind", required=True, metavar="KIND")
    sup = kinds.add_parser("supernet", help="SPOS (uniform single path) or DARTS supernet; ABS's recipe by default")
    _common(sup, defaults=supernet_config())
    sup.add_argument("--mode", default="spos", choices=["spos", "darts"])
    sup.add_argument("--allowed", help="train inside a sub-space: JSON, 6 lists of op names, or a list of arch strings")
    sup.set_defaults(run=_supernet)
    alone = kinds.add_parser("standalone", help="one cell with the benchmark's recipe, at any reduced setting")
    alone.add_argument("arch", help="the cell's arch string")
    _common(alone, defaults=standalone_config("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"))
    alone.set_defaults(run=_standalone)


#: the training settings a command line may change, with their types
SETTING_ARGS = (("channels", positive_int), ("cells", positive_int), ("resolution", positive_int), ("samples", share),
                ("epochs", positive_int), ("batch-size", positive_int), ("lr", positive_float), ("seed", seed_int))


def _common(parser, defaults: TrainConfig) -> None:
    parser.add_argument("--dataset", default=defaults.dataset, help="cifar10-valid, cifar10, cifar100, ImageNet16-120")
    parser.add_argument("--out", required=True, help="run directory (config.json, log.jsonl, checkpoints/)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out with the same settings")
    training_args(parser, defaults)
    parser.add_argument("--checkpoint-epochs", default="", help="comma-separated epochs to keep besides 0 and the last")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def training_args(parser, defaults: TrainConfig, skip: tuple[str, ...] = ()) -> None:
    """--data-root, --splits, --device and the settings of SETTING_ARGS (but `skip`), defaulting to `defaults`."""
    data_options(parser)
    for name, kind in SETTING_ARGS:
        key = name.replace("-", "_")
        if name not in skip:
            parser.add_argument(f"--{name}", type=kind, default=getattr(defaults, key),
                                help=f"(default {getattr(defaults, key)})")
    parser.add_argument("--sampling", default=defaults.sampling, choices=["urs", "spos"],
                        help=f"supernet children: urs, each searchable cell its own (NB201's forward_urs, as ABS "
                             f"trains), or spos, one shared per step (default {defaults.sampling})")
    parser.add_argument("--decay", default=defaults.decay, choices=["all", "sampled"],
                        help=f"all: weight decay and momentum move every parameter at every step (PyTorch < 2.0, "
                             f"as the papers' code ran); sampled: only the sampled ops' (default {defaults.decay})")
    parser.add_argument("--device", type=device, default="cpu", help="cpu, cuda or cuda:N (default cpu)")


def _settings(args: argparse.Namespace) -> dict:
    return {"dataset": args.dataset, "data_root": images_root(args), "splits_dir": str(splits_dir(args.splits)),
            "channels": args.channels, "cells": args.cells, "resolution": args.resolution, "samples": args.samples,
            "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed,
            "sampling": args.sampling, "decay": args.decay,
            "checkpoint_epochs": tuple(int(e) for e in args.checkpoint_epochs.split(",") if e.strip()),
            "device": args.device, "progress": not args.quiet}


def _report(run) -> int:
    log = run.read_log()
    if log:
        last = log[-1]
        print(f"{run.path}: epoch {last['epoch']}, train loss {last['train_loss']:.4f}, "
              f"valid accuracy {last['valid_accuracy']:.2f}%, {last['images_per_second']:.0f} images/s")
    return 0


def _supernet(args: argparse.Namespace) -> int:
    allowed = json.loads(args.allowed) if args.allowed else None
    return _train(replace(supernet_config(), mode=args.mode, allowed=allowed, **_settings(args)), args)


def _standalone(args: argparse.Namespace) -> int:
    return _train(replace(standalone_config(args.arch), **_settings(args)), args)


def _train(config: TrainConfig, args: argparse.Namespace) -> int:
    from harness.train.loop import train
    from harness.train.run_dir import RunDir

    _clear_unfinished(RunDir(args.out))
    return _report(train(config, args.out, resume=args.resume))


def _clear_unfinished(run) -> None:
    """A run that failed before finishing its first epoch (bad data, an interruption) holds nothing to resume:
    its files are removed so that the command simply starts again, with or without --resume."""
    import shutil

    if not run.config_path.exists() or run.read_log():
        return
    for file in (run.config_path, run.code_path, run.log_path):
        file.unlink(missing_ok=True)
    shutil.rmtree(run.path / "checkpoints", ignore_errors=True)
    print(f"{run.path}: the run there finished no epoch; starting it again")
