"""Argument types of the command line: a value out of range is refused by argparse (exit 2, naming the option and
the value) before any work starts, never passed on to fail deep inside or to run as a silent default."""
from __future__ import annotations

import argparse
import json
import os
import shlex


def _number(kind, text: str):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None


def positive_int(text: str) -> int:
    value = _number(int, text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive integer (expected 1 or more)")
    return value


def nonnegative_int(text: str) -> int:
    value = _number(int, text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative (expected 0 or more)")
    return value


#: seeds are what numpy's generators accept: integers >= 0
seed_int = nonnegative_int


def positive_float(text: str) -> float:
    value = _number(float, text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive finite number")
    return value


def nonnegative_float(text: str) -> float:
    value = _number(float, text)
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number >= 0")
    return value


def share(text: str) -> float:
    """A share of something, in (0, 1]."""
    value = _number(float, text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a share in (0, 1]")
    return value


def json_settings(text: str) -> dict:
    """A proxy's --settings: a JSON object (its keys and types are checked against the proxy's declared ones)."""
    from harness.errors import HarnessError

    try:
        value = json.loads(text)
    except ValueError as exc:
        raise HarnessError(f"--settings must be a JSON object, got {text!r} ({exc})") from None
    if not isinstance(value, dict):
        raise HarnessError(f"--settings must be a JSON object such as '{{\"parts\": \"cells\"}}', got {text!r}")
    return value


def command_line(argv: list[str]) -> str:
    """The command as typed, for the report it writes to name; absolute paths are made relative to the working
    directory (a report is committed and read elsewhere: it names no path of this machine)."""
    def portable(arg: str) -> str:
        flag, sep, value = arg.partition("=") if arg.startswith("--") else ("", "", arg)
        if os.path.isabs(value):
            value = os.path.relpath(value)
        return f"{flag}{sep}{value}"
    return "harness " + " ".join(shlex.quote(portable(a)) for a in argv)


def origin(args: argparse.Namespace) -> dict:
    """What a report records of the command that wrote it: the command line and the code hash of the command's
    module with everything it imports (and the built-in proxies, which load by name)."""
    from harness.proxies.registry import BUILTIN_MODULES
    from harness.provenance import code_hash

    return {"command": command_line(args.argv), "code_hash": code_hash(args.run.__module__, *BUILTIN_MODULES)}


CACHE_HELP = ("ground-truth cache (default: $HARNESS_ORACLE, else the one `harness oracle import` wrote into the data "
              "directory, else the mean ground truth shipped in the package)")


def default_images() -> str | None:
    """The images' default root, `$HARNESS_DATA_DIR/images`, when it exists (`harness data prepare` writes there)."""
    from harness.paths import images_dir

    return str(images_dir()) if images_dir().is_dir() else None


def data_options(parser: argparse.ArgumentParser) -> None:
    """--data-root and --splits, with defaults that do not depend on the working directory."""
    parser.add_argument("--data-root", default=default_images(),
                        help="one directory holding any of cifar-10-batches-py/, cifar-100-python/ and ImageNet16/ "
                             "(default: images/ in the data directory, $HARNESS_DATA_DIR or the per-user one, when it "
                             "exists)")
    parser.add_argument("--splits", help="the benchmark's split files (default: $NB201_DATA/splits, else the copy "
                                         "shipped in the package)")


def device(text: str) -> str:
    """cpu, cuda, cuda:N or mps; a GPU that torch cannot see is refused before anything runs."""
    name = device_name(text)
    missing = unseen_device(name)
    if missing:
        raise argparse.ArgumentTypeError(missing)
    return name


def device_name(text: str) -> str:
    """cpu, cuda, cuda:N or mps, not yet checked against this machine: where the work may run elsewhere
    (`--executor ray`), `executor_device` checks it where it runs."""
    kind, _, number = text.partition(":")
    if kind not in ("cpu", "cuda", "mps") or (number and (kind != "cuda" or not number.isdigit())):
        raise argparse.ArgumentTypeError(f"{text!r} is not a device: expected cpu, cuda, cuda:N or mps")
    return text


def unseen_device(name: str) -> str:
    """Why torch on this machine cannot use the device `name` ('' when it can)."""
    kind, _, number = name.partition(":")
    if kind == "cpu":
        return ""
    import torch

    if kind == "mps" and not torch.backends.mps.is_available():
        return "mps: torch sees no Apple GPU here; use --device cpu"
    if kind == "cuda":
        visible = torch.cuda.device_count() if torch.cuda.is_available() else 0
        build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
        if visible <= int(number or 0):
            return (f"{name!r}: torch {torch.__version__} ({build}) sees {visible} CUDA GPU(s); use --device cpu, or "
                    f"install a CUDA build of torch on a machine with a GPU")
    return ""


def images_root(args: argparse.Namespace) -> str:
    """--data-root, else `$HARNESS_DATA_DIR/images` for a command that must have images (the loader then names
    what is missing there and how to provide it)."""
    from harness.paths import images_dir

    return args.data_root or str(images_dir())


def executor_options(parser: argparse.ArgumentParser, shards: bool = True) -> None:
    """--executor local|ray and --address (and --shards: Ray tasks per scoring job)."""
    parser.add_argument("--executor", choices=("local", "ray"), default="local",
                        help="local (default): this process; ray: Ray tasks on a local Ray instance, or on the "
                             "cluster at --address (pip install 'nb201-harness[ray]')")
    parser.add_argument("--address", help="with --executor ray: an existing Ray cluster (HOST:6379, ray://HOST:10001, "
                                          "or auto: the one this machine belongs to); default: start a local one")
    if shards:
        parser.add_argument("--shards", type=positive_int,
                            help="with --executor ray: tasks per scoring job (default one per CPU of the cluster, per "
                                 "GPU with --device cuda; a resumed job keeps its number)")


def ray_executor(args: argparse.Namespace):
    """The `RayExecutor` the options ask for, or None for the local one; an option that goes with Ray alone, given
    without it, is refused (never ignored). A `--device` (parsed with `device_name`) is checked where the work runs:
    by this machine's torch for the local executor, by the cluster's GPUs for Ray."""
    from harness.errors import HarnessError

    cuda = str(getattr(args, "device", "cpu")).startswith("cuda")
    if args.executor != "ray":
        given = [f"--{k}" for k in ("address", "shards") if getattr(args, k, None)]
        if given:
            raise HarnessError(f"{' and '.join(given)} only go with --executor ray; add it, or leave them out")
        missing = unseen_device(getattr(args, "device", "cpu"))
        if missing:
            raise HarnessError(missing)
        return None
    if getattr(args, "shard", None):
        raise HarnessError(f"--shard {args.shard} scores one shard in this process, while --executor ray runs every "
                           f"shard as a Ray task (--shards N); use one or the other")
    from harness.executor import RayExecutor, import_ray

    import_ray()  # without the extra: the one-line error before anything else
    return RayExecutor(args.address, gpus=cuda)
