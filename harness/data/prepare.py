"""Putting the official image files in place under a data root, then checking them with the harness's own reader.

CIFAR-10/100 come from their official archives (https://www.cs.toronto.edu/~kriz/cifar.html): a file the user
downloaded, checked against the official md5, or one fetched by torchvision's downloader (an optional extra). An
archive is a file from elsewhere, so no member may land outside the data root, and it is unpacked into a temporary
directory beside the target and renamed into place only once it reads: a failure leaves nothing half-written.
ImageNet16-120 has no downloadable archive of its own (the NAS-Bench-201 authors share it from cloud drives), so it
is only checked. Not imported by `harness.data`: nothing that computes results depends on it.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import zlib
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

import numpy as np

from harness.data.formats import FAMILIES, read_part
from harness.errors import HarnessError, SourceError


@dataclass(frozen=True)
class Archive:
    """An official archive as distributed: its file name, where it is downloaded from, its md5."""

    name: str
    url: str
    md5: str


ARCHIVES = {
    "cifar10": Archive("cifar-10-python.tar.gz", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                       "c58f30108f718f92721af3b95e74349a"),
    "cifar100": Archive("cifar-100-python.tar.gz", "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
                        "eb9058c3a382ffc7106e4002c42a8d85"),
}

# images per part in the official files, after the benchmark's class filter (ImageNet16-120: labels 1..120)
OFFICIAL_COUNTS = {"cifar10": {"train": 50000, "test": 10000}, "cifar100": {"train": 50000, "test": 10000},
                   "ImageNet16-120": {"train": 151700, "test": 6000}}

IMAGENET16_SOURCE = (
    "ImageNet16-120 is not downloaded by the harness. The official 16x16 ImageNet pickles (train_data_batch_1..10, "
    "val_data) are in the training and evaluation data of NAS-Bench-201, linked from "
    "https://github.com/D-X-Y/NAS-Bench-201#preparation-and-download (Google Drive "
    "https://drive.google.com/open?id=1L0Lzq8rWpZLPfiQGd6QR8q5xLV88emU7 or Baidu-Wangpan "
    "https://pan.baidu.com/s/1XAzavPKq3zcat1yBA1L2tQ, code 4fg7). Put them in DIR/ImageNet16/ and run "
    "`harness data prepare ImageNet16-120 --root DIR` to check them.")


@dataclass(frozen=True)
class Layout:
    """What the harness reader finds in one dataset's directory: images and distinct classes per part."""

    dataset: str
    directory: Path
    images: dict[str, int]
    classes: dict[str, int]


@dataclass(frozen=True)
class Prepared:
    """The outcome of `prepare`: the layout now in place, whether it was already there, the archive used."""

    layout: Layout
    already: bool
    archive: Path | None = None
    md5: str | None = None


def check(dataset: str, root: str | os.PathLike) -> Layout:
    """Read every part of `dataset` under `root` as the harness will (SourceError naming what is wrong if not)."""
    images, classes = {}, {}
    for part in FAMILIES[dataset].parts:
        _, labels = read_part(dataset, part, root)
        images[part], classes[part] = len(labels), len(np.unique(labels))
    return Layout(dataset, Path(root).resolve() / FAMILIES[dataset].directory, images, classes)


def prepare(dataset: str, root: str | os.PathLike, archive: str | os.PathLike | None = None, verify: bool = True,
            force: bool = False) -> Prepared:
    """Put CIFAR-10 or CIFAR-100 in place under `root` from `archive`, or from the official download without one.

    A complete directory already there is left alone (unless `force`); `verify=False` accepts an archive whose md5
    is not the official one.
    """
    if dataset not in ARCHIVES:
        raise HarnessError(f"{dataset!r} has no official archive to prepare from; expected one of "
                           f"{', '.join(ARCHIVES)} (ImageNet16-120 is only checked, with `check`).")
    root = Path(root).expanduser()
    target = root / FAMILIES[dataset].directory
    if target.exists() and not force:
        try:
            return Prepared(check(dataset, root), already=True)
        except SourceError as err:
            raise HarnessError(f"{target} exists but is not a complete {FAMILIES[dataset].title} ({err}). "
                               f"Pass --force to replace it.") from None
    official = ARCHIVES[dataset]
    if archive is None:
        path, md5 = download(dataset, root), official.md5  # torchvision's downloader checked the md5
    else:
        path = Path(archive).expanduser()
        if not path.is_file():
            raise HarnessError(f"archive {path} is not a file; expected {official.name} as downloaded from "
                               f"{official.url}")
        md5 = md5_of(path)
        if verify and md5 != official.md5:
            raise HarnessError(f"{path} has md5 {md5}, expected {official.md5}, the official {official.name}. "
                               f"Download it again from {official.url}, or pass --no-verify to use this archive "
                               f"knowingly.")
    return Prepared(extract(dataset, path, root), already=False, archive=path, md5=md5)


def download(dataset: str, root: Path) -> Path:
    """The official archive in `root`, fetched by torchvision's downloader, which checks the official md5 and keeps
    a copy already there. Only the download is torchvision's: the extraction is `extract`'s, safe and atomic."""
    official = ARCHIVES[dataset]
    try:
        from torchvision.datasets.utils import download_url
    except Exception as err:  # absent, or built for another torch: importing it then fails in several ways
        detail = (str(err).splitlines() or [""])[0]
        raise HarnessError(f"downloading {FAMILIES[dataset].title} needs torchvision, which does not import here "
                           f"({type(err).__name__}: {detail}). Install the extra (pip install "
                           f"'nb201-harness[torchvision]'), or download {official.url} yourself and pass "
                           f"--archive PATH.") from None
    root.mkdir(parents=True, exist_ok=True)
    try:
        download_url(official.url, str(root), filename=official.name, md5=official.md5)
    except (OSError, RuntimeError) as err:  # network errors, and torchvision's "File not found or corrupted."
        raise HarnessError(f"could not download {official.url} into {root} ({type(err).__name__}: {err}). Check "
                           f"the connection, or download it yourself and pass --archive PATH.") from None
    return root / official.name


def md5_of(path: Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def extract(dataset: str, archive: Path, root: Path) -> Layout:
    """Unpack `archive` into a temporary directory in `root`, read it, then rename its dataset directory into place
    (replacing one already there). Members that could land outside `root` are refused before anything is written."""
    fam = FAMILIES[dataset]
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = _safe_members(tar, archive)
            root.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{fam.directory}.", suffix=".tmp", dir=root))
            try:
                for member in members:
                    tar.extract(member, tmp, **_DATA_FILTER)
                return _move_into_place(dataset, archive, tmp, root)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as err:  # damaged archives and full disks alike
        raise HarnessError(f"could not extract {archive} into {root} ({type(err).__name__}: {err}); nothing was "
                           f"written. Expected the official {ARCHIVES[dataset].name}: download it again, or free "
                           f"space in {root}.") from None


# tarfile's own guard against members escaping the destination (Python 3.10.12+, 3.11.4+), on top of ours
_DATA_FILTER = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}


def _safe_members(tar: tarfile.TarFile, archive: Path) -> list[tarfile.TarInfo]:
    """All members, once none is absolute, climbs out with `..`, or is a link or device (the official archives hold
    plain files and directories only), so a hostile archive is refused whole rather than partly extracted."""
    members = tar.getmembers()
    for m in members:
        if m.name.startswith(("/", "\\")) or ".." in PurePosixPath(m.name.replace("\\", "/")).parts:
            raise HarnessError(f"{archive} has a member {m.name!r} that would be written outside the data root; "
                               f"refused, nothing was written. Use the official archive.")
        if not (m.isfile() or m.isdir()):
            kind = "link" if m.issym() or m.islnk() else "device or pipe"
            raise HarnessError(f"{archive} has a member {m.name!r} that is a {kind}; the official archive holds "
                               f"only files and directories. Refused, nothing was written.")
    return members


def _move_into_place(dataset: str, archive: Path, tmp: Path, root: Path) -> Layout:
    fam = FAMILIES[dataset]
    if not (tmp / fam.directory).is_dir():
        found = ", ".join(sorted(p.name for p in tmp.iterdir())) or "nothing"
        raise HarnessError(f"{archive} holds {found} at its top, expected a {fam.directory}/ directory; nothing was "
                           f"written. Use the official {ARCHIVES[dataset].name}.")
    try:
        layout = check(dataset, tmp)
    except SourceError as err:
        raise HarnessError(f"{archive} does not hold a readable {fam.title}: {err} Nothing was written.") from None
    target = root / fam.directory
    if target.exists():  # --force: the old copy goes into tmp, removed with it
        os.replace(target, tmp / f"replaced-{fam.directory}")
    os.replace(tmp / fam.directory, target)
    return replace(layout, directory=target.resolve())
