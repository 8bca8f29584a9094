"""`harness data prepare`: the image data sets put in place under a data root, and checked with the harness's
reader, so the first training run does not discover a missing or damaged file."""
from __future__ import annotations

import argparse
from pathlib import Path

from harness.errors import HarnessError
from harness.paths import images_dir

DATASETS = ("cifar10", "cifar100", "ImageNet16-120")


def register(groups) -> None:
    data = groups.add_parser("data", help="put the image data sets (CIFAR-10/100, ImageNet16-120) in place")
    commands = data.add_subparsers(dest="command", required=True, metavar="COMMAND")
    prepare = commands.add_parser(
        "prepare", help="extract or download a data set into a data root and check it",
        description="Put a data set in its official layout under DIR (the directory later given as --data-root) "
                    "and check it with the harness's reader. cifar10/cifar100: from --archive (the official "
                    "cifar-10-python.tar.gz / cifar-100-python.tar.gz, md5-checked), or downloaded through "
                    "torchvision (pip install 'nb201-harness[torchvision]'). ImageNet16-120: prints where to get "
                    "the files, and checks DIR/ImageNet16 when --root is given.")
    prepare.add_argument("dataset", choices=DATASETS)
    prepare.add_argument("--root", metavar="DIR", default=str(images_dir()),
                         help="data root to write into (cifar) or check (ImageNet16-120); default: images/ in the "
                              "data directory ($HARNESS_DATA_DIR or the per-user one), where the other commands' "
                              "--data-root looks by default")
    prepare.add_argument("--archive", metavar="PATH", help="the official archive, already downloaded")
    prepare.add_argument("--no-verify", action="store_true",
                         help="accept an archive whose md5 is not the official one")
    prepare.add_argument("--force", action="store_true", help="replace a data set already prepared in DIR")
    prepare.set_defaults(run=_prepare)


def _prepare(args: argparse.Namespace) -> int:
    # imported here, not at the top: harness.data imports torch, which the other commands do without
    from harness.data import prepare
    from harness.data.formats import FAMILIES

    if args.dataset == "ImageNet16-120":
        return _imagenet16(args)
    done = prepare.prepare(args.dataset, args.root, archive=args.archive, verify=not args.no_verify,
                           force=args.force)
    title = FAMILIES[args.dataset].title
    if done.already:
        print(f"{title} already prepared in {done.layout.directory} (pass --force to replace it)")
    else:
        official = prepare.ARCHIVES[args.dataset].md5
        md5 = "the official one" if done.md5 == official else f"not the official {official}, accepted by --no-verify"
        print(f"prepared {title} in {done.layout.directory} from {done.archive} (md5 {done.md5}, {md5})")
    _counts(done.layout, prepare.OFFICIAL_COUNTS[args.dataset])
    return 0


def _imagenet16(args: argparse.Namespace) -> int:
    from harness.data import prepare
    from harness.data.formats import FAMILIES

    given = [flag for flag, on in (("--archive", args.archive), ("--no-verify", args.no_verify),
                                   ("--force", args.force)) if on]
    if given:
        raise HarnessError(f"{', '.join(given)} does not apply to ImageNet16-120, which the harness only checks: "
                           f"put its files in DIR/ImageNet16/ and run harness data prepare ImageNet16-120 --root DIR")
    print(prepare.IMAGENET16_SOURCE)
    if not (Path(args.root) / FAMILIES[args.dataset].directory).is_dir():
        print(f"(nothing to check yet: {Path(args.root) / FAMILIES[args.dataset].directory} does not exist)")
        return 0
    layout = prepare.check(args.dataset, args.root)
    fam = FAMILIES[args.dataset]
    print(f"ImageNet16-120 reads from {layout.directory} (stored labels {fam.first_label}.."
          f"{fam.first_label + fam.kept_classes - 1} of {fam.stored_classes} kept, as NAS-Bench-201 does)")
    _counts(layout, prepare.OFFICIAL_COUNTS[args.dataset])
    return 0


def _counts(layout, official: dict[str, int]) -> None:
    for part, n in layout.images.items():
        note = "" if n == official[part] else f" (the official files hold {official[part]})"
        print(f"  {part + ':':<6} {n} images in {layout.classes[part]} classes{note}")
