"""The benchmark's datasets and splits by name, selected with its own split files.

NB201 names a dataset by how it was trained: `cifar10-valid` trains on the 'train' half of the CIFAR-10 training set
and validates on the other half; `cifar10`, `cifar100` and `ImageNet16-120` train on their whole training set and
split their test set into x-valid / x-test halves. The `search-*` splits are what weight-sharing search trains the
supernet on and validates architectures on. Split files (`{"key": ["int", ["i0", ...]]}`) index the image order of
the part they split, after ImageNet16-120's class filtering.
"""
from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import numpy as np
import torch

from harness.data.formats import FAMILIES, LAYOUT, read_part
from harness.data.imageset import DATASETS, MEAN_STD, ImageSet
from harness.errors import HarnessError, SourceError

_CIFAR10 = "cifar-split.txt"
_CIFAR100_TEST = "cifar100-test-split.txt"
_IMAGENET_TEST = "imagenet-16-120-test-split.txt"
_IMAGENET_TRAIN = "ImageNet16-120-split.txt"

# dataset -> split -> (part on disk, split file, key in it); no split file means the whole part.
_SELECTIONS = {
    "cifar10-valid": {"train": ("train", _CIFAR10, "train"), "x-valid": ("train", _CIFAR10, "valid"),
                      "ori-test": ("test", None, None),
                      "search-train": ("train", _CIFAR10, "train"), "search-valid": ("train", _CIFAR10, "valid")},
    "cifar10": {"train": ("train", None, None), "ori-test": ("test", None, None),
                "search-train": ("train", _CIFAR10, "train"), "search-valid": ("train", _CIFAR10, "valid")},
    "cifar100": {"train": ("train", None, None), "x-valid": ("test", _CIFAR100_TEST, "xvalid"),
                 "x-test": ("test", _CIFAR100_TEST, "xtest"), "ori-test": ("test", None, None),
                 "search-train": ("train", None, None), "search-valid": ("test", _CIFAR100_TEST, "xvalid")},
    "ImageNet16-120": {"train": ("train", None, None), "x-valid": ("test", _IMAGENET_TEST, "xvalid"),
                       "x-test": ("test", _IMAGENET_TEST, "xtest"), "ori-test": ("test", None, None),
                       "search-train": ("train", _IMAGENET_TRAIN, "train"),
                       "search-valid": ("train", _IMAGENET_TRAIN, "valid")},
}
SPLITS = {dataset: tuple(splits) for dataset, splits in _SELECTIONS.items()}
_FAMILY = {"cifar10-valid": "cifar10", "cifar10": "cifar10", "cifar100": "cifar100", "ImageNet16-120": "ImageNet16-120"}
_NORMALISATION = {"cifar10": "cifar10", "cifar100": "cifar100", "ImageNet16-120": "ImageNet16"}


def load_split(dataset: str, split: str, data_root: str | os.PathLike,
               splits_dir: str | os.PathLike | None = None) -> ImageSet:
    """One split of a benchmark dataset, e.g. ("cifar10-valid", "x-valid"), as a fresh ImageSet.

    `data_root` holds cifar-10-batches-py/, cifar-100-python/ and ImageNet16/ (see `harness.data.formats`);
    `splits_dir` holds the benchmark's split files (../shared/nb201/splits) and is needed only by splits that
    select half of a part.
    """
    if dataset not in _SELECTIONS:
        raise HarnessError(f"unknown dataset {dataset!r}; the benchmark's datasets are {', '.join(DATASETS)}")
    if split not in _SELECTIONS[dataset]:
        raise HarnessError(f"unknown split {split!r} of {dataset}; its splits are {', '.join(SPLITS[dataset])}")
    part, split_file, key = _SELECTIONS[dataset][split]
    family = _FAMILY[dataset]
    images, labels = read_part(family, part, data_root)
    if split_file is None:
        images, labels = images.copy(), labels.copy()
    else:
        if splits_dir is None:
            raise HarnessError(f"{dataset}/{split} selects images with the split file {split_file}; pass "
                               f"splits_dir, the directory of the benchmark's split files (../shared/nb201/splits)")
        index = _indices(Path(splits_dir) / split_file, key, len(labels), f"{dataset} {part} part")
        images, labels = images[index], labels[index]
    mean, std = MEAN_STD[_NORMALISATION[family]]
    return ImageSet(torch.from_numpy(images), torch.from_numpy(labels), FAMILIES[family].kept_classes, mean, std,
                    f"{dataset}/{split}")


def missing_images(dataset: str, data_root: str | os.PathLike | None) -> str:
    """Why `dataset`'s images cannot be read from `data_root`, in the words `load_split` would use; '' when its
    directory is there (a cheap check before work that needs them)."""
    if dataset not in _FAMILY:
        raise HarnessError(f"unknown dataset {dataset!r}; the benchmark's datasets are {', '.join(DATASETS)}")
    if not data_root:
        return "no data root given (--data-root DIR)"
    fam = FAMILIES[_FAMILY[dataset]]
    if not (Path(data_root).expanduser() / fam.directory).is_dir():  # said without the path: reports get shared
        return (f"no {fam.title} images: the data root holds no {fam.directory}/. Expected layout: {LAYOUT}. "
                f"For {fam.title}: {fam.how_to_get}.")
    return ""


def read_split_file(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every index list of a split file, as read-only int64 arrays (cached per process)."""
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"split file {path} not found; the benchmark's split files are in ../shared/nb201/splits "
                          f"(cifar-split.txt, cifar100-test-split.txt, imagenet-16-120-test-split.txt, "
                          f"ImageNet16-120-split.txt)")
    stat = path.stat()
    return _read_split_cached(str(path.resolve()), (stat.st_size, stat.st_mtime_ns))


@functools.lru_cache(maxsize=8)
def _read_split_cached(path: str, stamp: tuple) -> dict[str, np.ndarray]:
    expected = 'JSON {"key": ["int", ["0", "5", ...]], ...}'
    try:
        content = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SourceError(f"split file {path} is not readable JSON ({err}); expected {expected}") from None
    if not isinstance(content, dict):
        raise SourceError(f"split file {path} holds a {type(content).__name__}; expected {expected}")
    lists = {}
    for key, value in content.items():
        try:
            if value[0] != "int":
                raise ValueError
            lists[key] = np.asarray(value[1], dtype=str).astype(np.int64).reshape(-1)
        except (TypeError, ValueError, IndexError, KeyError):
            raise SourceError(f"split file {path}: entry {key!r} is not a list of integers; expected {expected}") \
                from None
        lists[key].flags.writeable = False
    return lists


def _indices(path: Path, key: str, size: int, what: str) -> np.ndarray:
    lists = read_split_file(path)
    if key not in lists:
        raise SourceError(f"split file {path} has no {key!r} entry (it has {', '.join(lists) or 'none'}); "
                          f"expected the benchmark's file of that name")
    index = lists[key]
    if len(index) and (index.min() < 0 or index.max() >= size):
        raise SourceError(f"split file {path}: {key!r} indexes {index.min()}..{index.max()}, but the {what} has "
                          f"{size} images; the split file and the data do not belong together")
    if len(np.unique(index)) != len(index):
        raise SourceError(f"split file {path}: {key!r} repeats indices; expected each image at most once")
    return index
