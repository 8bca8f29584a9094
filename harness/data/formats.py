"""Readers of the official python pickles of CIFAR-10, CIFAR-100 and ImageNet16, checked for structure.

Each dataset lives in its own directory under one `data_root`:

    data_root/cifar-10-batches-py/   data_batch_1..5, test_batch        (10000 x 3072 uint8 each, b'labels')
    data_root/cifar-100-python/      train, test                        (50000 / 10000 x 3072 uint8, b'fine_labels')
    data_root/ImageNet16/            train_data_batch_1..10, val_data   (N x 768 uint8, 1-based 'labels')

Pixels are stored CHW per row, so a row reshapes to (3, side, side) without transposing. Checksums are not
enforced: the CIFAR-10 copy on these machines is JPEG-lossy and differs from the official md5s by design; the
official md5s only appear in messages, to say which file is meant. Decoded arrays are cached per process,
keyed by the resolved directory and the files' size and mtime, so repeated loads cost an index, not a read.
"""
from __future__ import annotations

import functools
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.errors import SourceError

LAYOUT = ("data_root/cifar-10-batches-py/ (data_batch_1..5, test_batch), data_root/cifar-100-python/ (train, test), "
          "data_root/ImageNet16/ (train_data_batch_1..10, val_data)")


@dataclass(frozen=True)
class Family:
    """One on-disk dataset: where its files are, how labels are stored, which classes the benchmark keeps."""

    title: str
    directory: str
    label_key: str
    side: int
    first_label: int  # labels on disk start here (ImageNet16: 1)
    stored_classes: int
    kept_classes: int  # the benchmark keeps stored labels first_label .. first_label + kept_classes - 1
    parts: dict[str, tuple[tuple[str, str], ...]]  # part -> ((file name, official md5), ...)
    how_to_get: str


FAMILIES = {
    "cifar10": Family(
        "CIFAR-10", "cifar-10-batches-py", "labels", 32, 0, 10, 10,
        {"train": (("data_batch_1", "c99cafc152244af753f735de768cd75f"),
                   ("data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec"),
                   ("data_batch_3", "54ebc095f3ab1f0389bbae665268c751"),
                   ("data_batch_4", "634d18415352ddfa80567beed471001a"),
                   ("data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb")),
         "test": (("test_batch", "40351d587109b95175f43aff81a1287e"),)},
        "write it with `python3 ../shared/cifar10/materialize.py DATA_ROOT`, or extract the official "
        "cifar-10-python.tar.gz into DATA_ROOT"),
    "cifar100": Family(
        "CIFAR-100", "cifar-100-python", "fine_labels", 32, 0, 100, 100,
        {"train": (("train", "16019d7e3df5f24257cddd939b257f8d"),),
         "test": (("test", "f0ef6b0ae62326f3e7ffdfab6717acfc"),)},
        "extract the official cifar-100-python.tar.gz into DATA_ROOT"),
    "ImageNet16-120": Family(
        "ImageNet16", "ImageNet16", "labels", 16, 1, 1000, 120,
        {"train": tuple((f"train_data_batch_{i}", md5) for i, md5 in enumerate((
            "27846dcaa50de8e21a7d1a35f30f0e91", "c7254a054e0e795c69120a5727050e3f", "4333d3df2e5ffb114b05d2ffc19b1e87",
            "1620cdf193304f4a92677b695d70d10f", "348b3c2fdbb3940c4e9e834affd3b18d", "6e765307c242a1b3d7d5ef9139b48945",
            "564926d8cbf8fc4818ba23d2faac7564", "f4755871f718ccb653440b9dd0ebac66", "bb6dd660c38c58552125b1a92f86b5d4",
            "8f03f34ac4b42271a294f91bf480f29b"), start=1)),
         "test": (("val_data", "3410e3017fdaefba8d5073aaa65e4bd6"),)},
        "put the ImageNet16 pickles of the NAS-Bench-201 authors (16x16 downsampled ImageNet) in DATA_ROOT/ImageNet16"),
}


def read_part(family: str, part: str, data_root: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """The whole train or test part of a dataset: read-only images (N, 3, S, S) uint8 and labels (N,) int64.

    Labels are 0-based and restricted to the classes the benchmark keeps (ImageNet16-120: stored 1..120 -> 0..119).
    """
    fam = FAMILIES[family]
    directory = dataset_dir(fam, data_root)
    paths = [directory / name for name, _ in fam.parts[part]]
    missing = [(p, md5) for p, (_, md5) in zip(paths, fam.parts[part]) if not p.is_file()]
    if missing:
        listed = ", ".join(f"{p.name} (official md5 {md5})" for p, md5 in missing)
        raise SourceError(f"{fam.title} in {directory} is incomplete: missing {listed}. Expected "
                          f"{', '.join(n for n, _ in fam.parts[part])} there, each a pickle with "
                          f"'data' (N x {3 * fam.side ** 2} uint8) and '{fam.label_key}'; {fam.how_to_get}.")
    stamp = tuple((p.stat().st_size, p.stat().st_mtime_ns) for p in paths)
    return _read_cached(family, part, str(directory), stamp)


def dataset_dir(fam: Family, data_root: str | os.PathLike) -> Path:
    root = Path(data_root).expanduser()
    if not root.is_dir():
        raise SourceError(f"data root {root} does not exist or is not a directory; looked there for "
                          f"{fam.directory}/. Expected layout: {LAYOUT}. For {fam.title}: {fam.how_to_get}.")
    directory = root / fam.directory
    if not directory.is_dir():
        raise SourceError(f"no {fam.title} directory at {directory}. Expected layout: {LAYOUT}. "
                          f"For {fam.title}: {fam.how_to_get}.")
    return directory.resolve()


@functools.lru_cache(maxsize=6)  # one per part of each family: the largest, ImageNet16-120 train, is ~120 MB
def _read_cached(family: str, part: str, directory: str, stamp: tuple) -> tuple[np.ndarray, np.ndarray]:
    fam = FAMILIES[family]
    images, labels = [], []
    for name, _ in fam.parts[part]:
        batch_images, batch_labels = _read_file(fam, Path(directory) / name)
        keep = (batch_labels >= fam.first_label) & (batch_labels < fam.first_label + fam.kept_classes)
        images.append(batch_images[keep])  # filtering per file keeps the peak memory of ImageNet16 low
        labels.append(batch_labels[keep] - fam.first_label)
    images_all = np.concatenate(images).reshape(-1, 3, fam.side, fam.side)
    labels_all = np.concatenate(labels)
    images_all.flags.writeable = False  # shared by every later load: callers get copies
    labels_all.flags.writeable = False
    return images_all, labels_all


def _read_file(fam: Family, path: Path) -> tuple[np.ndarray, np.ndarray]:
    row = 3 * fam.side ** 2
    expected = f"a dict with 'data' (N x {row} uint8, CHW 3x{fam.side}x{fam.side}) and '{fam.label_key}' (N ints)"
    try:
        with open(path, "rb") as f:
            entry = _OfficialUnpickler(f, encoding="latin1").load()
    except Exception as err:  # truncated files raise EOFError, UnpicklingError, ValueError, ... alike
        raise SourceError(f"{path} is not a readable {fam.title} pickle ({type(err).__name__}: {err}); expected "
                          f"{expected}. The file is probably truncated or damaged: replace it "
                          f"({fam.how_to_get}).") from None
    if not isinstance(entry, dict):
        raise SourceError(f"{path} holds a {type(entry).__name__}, expected {expected}")
    entry = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in entry.items()}
    if "data" not in entry or fam.label_key not in entry:
        raise SourceError(f"{path} has keys {sorted(map(str, entry))}, expected {expected}")
    data = entry["data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != row:
        found = f"{data.shape} {data.dtype}" if isinstance(data, np.ndarray) else type(data).__name__
        raise SourceError(f"{path}: 'data' is {found}, expected N x {row} uint8 (CHW 3x{fam.side}x{fam.side} rows)")
    try:
        labels = np.asarray(entry[fam.label_key], dtype=np.int64)
    except (TypeError, ValueError):
        labels = None
    if labels is None or labels.shape != (len(data),):
        raise SourceError(f"{path}: '{fam.label_key}' is not {len(data)} integer labels, one per row of 'data'")
    low, high = fam.first_label, fam.first_label + fam.stored_classes - 1
    if len(labels) and (labels.min() < low or labels.max() > high):
        raise SourceError(f"{path}: labels range {labels.min()}..{labels.max()}, expected {low}..{high} "
                          f"for {fam.title}")
    return data, labels


class _OfficialUnpickler(pickle.Unpickler):
    """The official files hold only dicts, lists, strings and numpy arrays: refuse any other global instead of
    importing and calling it, since unpickling an arbitrary file can run arbitrary code."""

    ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
               ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar")}

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refused global {module}.{name}, which the official format never holds")
        return super().find_class(module, name)
