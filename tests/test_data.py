"""harness.data: official-format loaders, the benchmark's splits, on-device batching, EcoNAS reductions.

CIFAR-10 is the real data set, materialized once per session from ../shared/cifar10 (JPEG-lossy pixels, exact
order and labels); CIFAR-100 and ImageNet16 are small files the tests write in the official formats, with images
whose first three bytes encode their position on disk, so every selection can be traced back.
"""
from __future__ import annotations

import collections
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from harness.data import (
    DATASETS,
    MEAN_STD,
    SPLITS,
    DeviceBatches,
    ImageSet,
    ReducedSetting,
    load_split,
    read_split_file,
    subsample,
)
from harness.errors import HarnessError, SourceError


def _shared_dir() -> Path:
    if os.environ.get("SHARED_DIR"):
        return Path(os.environ["SHARED_DIR"])
    if os.environ.get("NB201_DATA"):
        return Path(os.environ["NB201_DATA"]).parent
    return Path(__file__).resolve().parents[2] / "shared"


SPLITS_DIR = _shared_dir() / "nb201" / "splits"
CIFAR10_BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _coded(n: int, row: int, seed: int = 0) -> np.ndarray:
    """n random uint8 rows whose first three bytes are the row's number, little-endian."""
    data = np.random.default_rng(seed).integers(0, 256, (n, row), dtype=np.uint8)
    number = np.arange(n)
    data[:, 0], data[:, 1], data[:, 2] = number % 256, number // 256 % 256, number // 65536
    return data


def _numbers(images: torch.Tensor) -> np.ndarray:
    first = images.reshape(len(images), -1)[:, :3].numpy().astype(np.int64)
    return first[:, 0] + 256 * first[:, 1] + 65536 * first[:, 2]


def _dump(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(obj, protocol=2))


def _write_split(directory: Path, name: str, lists: dict[str, list[int]]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(json.dumps({k: ["int", [str(i) for i in v]] for k, v in lists.items()}))


def _write_cifar100(root: Path, n_train: int = 200, n_test: int = 100) -> dict[str, np.ndarray]:
    labels = {}
    for part, n in (("train", n_train), ("test", n_test)):
        labels[part] = np.arange(n) % 100
        _dump(root / "cifar-100-python" / part, {
            b"batch_label": b"training batch 1 of 1", b"filenames": [b"x.png"] * n,
            b"fine_labels": labels[part].tolist(), b"coarse_labels": (labels[part] // 5).tolist(),
            b"data": _coded(n, 3072, seed=n)})
    return labels


def _write_imagenet16(root: Path, n_val: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """10 train batches of 5 images (3 of them in the first 120 classes) and n_val kept val images among dropped
    ones. Returns, per part, the stored (1-based) labels of all images in disk order."""
    rng = np.random.default_rng(1)
    stored_train = []
    for k in range(1, 11):
        labels = [1, 120, 121, 1000, k]
        stored_train += labels
        data = _coded(5, 768, seed=k)
        data[:, 0] = np.arange(5) + 5 * (k - 1)  # the image's position in the whole train part
        data[:, 1] = data[:, 2] = 0
        _dump(root / "ImageNet16" / f"train_data_batch_{k}",
              {"data": data, "labels": labels, "mean": np.zeros(768)})
    stored_val = rng.integers(1, 121, n_val + n_val // 10)
    stored_val[::11] = rng.integers(121, 1001, len(stored_val[::11]))
    assert (stored_val <= 120).sum() == n_val
    _dump(root / "ImageNet16" / "val_data", {"data": _coded(len(stored_val), 768), "labels": stored_val.tolist()})
    return np.array(stored_train), stored_val


def _cifar10_pickle(root: Path, name: str) -> dict:
    with open(root / "cifar-10-batches-py" / name, "rb") as f:
        return pickle.load(f, encoding="bytes")


# ---------------------------------------------------------------- real CIFAR-10

def test_cifar10_valid_halves_follow_the_split_file(cifar10_root):
    full = load_split("cifar10", "train", cifar10_root)
    halves = read_split_file(SPLITS_DIR / "cifar-split.txt")
    train = load_split("cifar10-valid", "train", cifar10_root, SPLITS_DIR)
    valid = load_split("cifar10-valid", "x-valid", cifar10_root, SPLITS_DIR)
    assert len(train) == len(valid) == 25_000 and len(full) == 50_000
    assert np.array_equal(np.sort(np.concatenate([halves["train"], halves["valid"]])), np.arange(50_000))
    for subset, key in ((train, "train"), (valid, "valid")):
        index = torch.from_numpy(halves[key].copy())
        assert torch.equal(subset.images, full.images[index]) and torch.equal(subset.labels, full.labels[index])
    assert train.name == "cifar10-valid/train" and train.num_classes == 10


def test_cifar10_parts_shapes_labels_and_constants(cifar10_root):
    full = load_split("cifar10", "train", cifar10_root)
    test = load_split("cifar10-valid", "ori-test", cifar10_root, SPLITS_DIR)
    assert full.images.dtype == torch.uint8 and full.images.shape == (50_000, 3, 32, 32)
    assert test.images.shape == (10_000, 3, 32, 32) and full.labels.dtype == torch.int64
    assert torch.bincount(full.labels).tolist() == [5000] * 10
    assert torch.bincount(test.labels).tolist() == [1000] * 10
    assert (full.mean, full.std) == MEAN_STD["cifar10"] == ((125.3, 123.0, 113.9), (63.0, 62.1, 66.7))
    assert torch.equal(load_split("cifar10", "ori-test", cifar10_root).images, test.images)


def test_cifar10_order_matches_the_pickles_read_independently(cifar10_root):
    full = load_split("cifar10", "train", cifar10_root)
    first = _cifar10_pickle(cifar10_root, "data_batch_1")
    assert first[b"labels"][:10] == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]  # the official data_batch_1
    assert full.labels[:10].tolist() == first[b"labels"][:10]
    assert np.array_equal(full.images[0].numpy(), first[b"data"][0].reshape(3, 32, 32))
    last = _cifar10_pickle(cifar10_root, "data_batch_5")
    assert full.labels[40_000:].tolist() == last[b"labels"]
    test = _cifar10_pickle(cifar10_root, "test_batch")
    assert load_split("cifar10", "ori-test", cifar10_root).labels.tolist() == test[b"labels"]


def test_search_splits_of_cifar10_are_the_halves_of_the_train_set(cifar10_root):
    for dataset in ("cifar10", "cifar10-valid"):
        search_train = load_split(dataset, "search-train", cifar10_root, SPLITS_DIR)
        search_valid = load_split(dataset, "search-valid", cifar10_root, SPLITS_DIR)
        assert torch.equal(search_train.labels, load_split("cifar10-valid", "train", cifar10_root, SPLITS_DIR).labels)
        assert torch.equal(search_valid.images, load_split("cifar10-valid", "x-valid", cifar10_root, SPLITS_DIR).images)


def test_loads_are_cached_but_hand_out_copies(cifar10_root):
    first = load_split("cifar10", "ori-test", cifar10_root)
    original = first.images[0].clone()
    first.images[0] = 0
    first.labels[0] = 99
    again = load_split("cifar10", "ori-test", cifar10_root)
    assert torch.equal(again.images[0], original) and again.labels[0] != 99


def test_the_real_split_files_partition_their_parts():
    sizes = {"cifar-split.txt": ("train", "valid", 50_000), "cifar100-test-split.txt": ("xvalid", "xtest", 10_000),
             "imagenet-16-120-test-split.txt": ("xvalid", "xtest", 6_000),
             "ImageNet16-120-split.txt": ("train", "valid", 151_700)}
    for name, (a, b, total) in sizes.items():
        lists = read_split_file(SPLITS_DIR / name)
        assert len(lists[a]) == len(lists[b]) == total // 2
        assert np.array_equal(np.sort(np.concatenate([lists[a], lists[b]])), np.arange(total)), name


# ---------------------------------------------------------------- CIFAR-100 and ImageNet16-120, written here

def test_cifar100_parts_and_halves_of_the_test_set(tmp_path):
    labels = _write_cifar100(tmp_path)
    _write_split(tmp_path / "splits", "cifar100-test-split.txt",
                 {"xvalid": list(range(1, 100, 2)), "xtest": list(range(0, 100, 2))})
    train = load_split("cifar100", "train", tmp_path)
    assert train.images.shape == (200, 3, 32, 32) and train.num_classes == 100
    assert np.array_equal(train.labels.numpy(), labels["train"]) and np.array_equal(_numbers(train.images),
                                                                                   np.arange(200))
    assert (train.mean, train.std) == MEAN_STD["cifar100"]
    xvalid = load_split("cifar100", "x-valid", tmp_path, tmp_path / "splits")
    xtest = load_split("cifar100", "x-test", tmp_path, tmp_path / "splits")
    assert _numbers(xvalid.images).tolist() == list(range(1, 100, 2))
    assert _numbers(xtest.images).tolist() == list(range(0, 100, 2))
    assert np.array_equal(xtest.labels.numpy(), labels["test"][::2])
    assert len(load_split("cifar100", "ori-test", tmp_path)) == 100
    assert torch.equal(load_split("cifar100", "search-train", tmp_path).images, train.images)
    assert torch.equal(load_split("cifar100", "search-valid", tmp_path, tmp_path / "splits").images, xvalid.images)


def test_cifar100_halves_with_the_benchmark_split_file(tmp_path):
    _write_cifar100(tmp_path, n_train=10, n_test=10_000)
    halves = read_split_file(SPLITS_DIR / "cifar100-test-split.txt")
    xtest = load_split("cifar100", "x-test", tmp_path, SPLITS_DIR)
    assert len(xtest) == 5000 and np.array_equal(_numbers(xtest.images), halves["xtest"])


def test_imagenet16_120_keeps_the_first_120_classes_shifted_to_zero(tmp_path):
    stored_train, stored_val = _write_imagenet16(tmp_path)
    train = load_split("ImageNet16-120", "train", tmp_path)
    kept = np.flatnonzero(stored_train <= 120)
    assert len(train) == 30 and train.images.shape == (30, 3, 16, 16) and train.num_classes == 120
    assert np.array_equal(_numbers(train.images), kept)
    assert np.array_equal(train.labels.numpy(), stored_train[kept] - 1)
    assert train.labels.min() == 0 and train.labels.max() == 119
    test = load_split("ImageNet16-120", "ori-test", tmp_path)
    kept_val = np.flatnonzero(stored_val <= 120)
    assert len(test) == 60 and np.array_equal(_numbers(test.images), kept_val)
    assert np.array_equal(test.labels.numpy(), stored_val[kept_val] - 1)
    assert (test.mean, test.std) == MEAN_STD["ImageNet16"]


def test_imagenet16_120_halves_index_the_filtered_sets(tmp_path):
    _write_imagenet16(tmp_path, n_val=6000)
    stored_val = np.asarray(pickle.loads((tmp_path / "ImageNet16" / "val_data").read_bytes())["labels"])
    kept_val = np.flatnonzero(stored_val <= 120)
    halves = read_split_file(SPLITS_DIR / "imagenet-16-120-test-split.txt")
    xvalid = load_split("ImageNet16-120", "x-valid", tmp_path, SPLITS_DIR)
    xtest = load_split("ImageNet16-120", "x-test", tmp_path, SPLITS_DIR)
    assert len(xvalid) == len(xtest) == 3000
    assert np.array_equal(_numbers(xvalid.images), kept_val[halves["xvalid"]])
    assert np.array_equal(_numbers(xtest.images), kept_val[halves["xtest"]])

    _write_split(tmp_path / "splits", "ImageNet16-120-split.txt",
                 {"train": list(range(0, 30, 2)), "valid": list(range(1, 30, 2))})
    train = load_split("ImageNet16-120", "train", tmp_path)
    search_valid = load_split("ImageNet16-120", "search-valid", tmp_path, tmp_path / "splits")
    assert torch.equal(search_valid.images, train.images[1::2])
    assert len(load_split("ImageNet16-120", "search-train", tmp_path, tmp_path / "splits")) == 15


# ---------------------------------------------------------------- DeviceBatches

def _imageset(n: int = 40, side: int = 32, seed: int = 0) -> ImageSet:
    """Random images with labels 0..n-1, so each label names its source image."""
    images = torch.randint(0, 256, (n, 3, side, side), generator=torch.Generator().manual_seed(seed),
                           dtype=torch.uint8)
    mean, std = MEAN_STD["cifar10" if side == 32 else "ImageNet16"]
    return ImageSet(images, torch.arange(n), n, mean, std, f"random{side}")


def _unnormalise(x: torch.Tensor, data: ImageSet) -> torch.Tensor:
    mean, std = torch.tensor(data.mean).view(1, 3, 1, 1), torch.tensor(data.std).view(1, 3, 1, 1)
    return (x * std + mean).round().to(torch.uint8)


def test_batches_shapes_lengths_and_dtypes():
    data = _imageset(40)
    train = DeviceBatches(data, 16)
    assert len(train) == 2
    batches = list(train)
    assert len(batches) == 2
    x, y = batches[0]
    assert x.shape == (16, 3, 32, 32) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert len(DeviceBatches(data, 16, drop_last=False)) == 3
    assert len(DeviceBatches(data, 16, train=False)) == 3  # evaluation sees every image by default
    assert torch.unique(torch.cat([y for _, y in train])).numel() == 32  # shuffled without repeats


def test_normalisation_of_an_all_mean_image_is_zero():
    mean, std = MEAN_STD["cifar10"]
    image = torch.tensor([round(m) for m in mean], dtype=torch.uint8).view(1, 3, 1, 1).expand(4, 3, 32, 32)
    data = ImageSet(image.contiguous(), torch.zeros(4, dtype=torch.int64), 10, mean, std, "mean")
    x, _ = next(iter(DeviceBatches(data, 4, train=False)))
    expected = torch.tensor([(round(m) - m) / s for m, s in zip(mean, std)]).view(1, 3, 1, 1)
    assert torch.allclose(x, expected.expand_as(x), atol=1e-6)
    assert x.abs().max() < 0.01


def test_eval_yields_the_images_in_order_unchanged():
    data = _imageset(40)
    xs, ys = zip(*DeviceBatches(data, 16, train=False))
    assert [len(y) for y in ys] == [16, 16, 8]
    assert torch.equal(torch.cat(ys), data.labels)
    assert torch.equal(_unnormalise(torch.cat(xs), data), data.images)


@pytest.mark.parametrize("side, pad", [(32, 4), (16, 2)])
def test_train_batches_are_flipped_crops_of_the_zero_padded_images(side, pad):
    data = _imageset(64, side)
    flips, shifts = [], set()
    for x, y in DeviceBatches(data, 32, seed=3):
        for image, label in zip(_unnormalise(x, data), y):
            padded = F.pad(data.images[label], (pad,) * 4)
            crops = {(dy, dx): padded[:, dy:dy + side, dx:dx + side]
                     for dy in range(2 * pad + 1) for dx in range(2 * pad + 1)}
            matches = [(shift, flip) for shift, crop in crops.items() for flip in (False, True)
                       if torch.equal(image, crop.flip(-1) if flip else crop)]
            assert len(matches) == 1, f"image {label} is not one crop of its padded original"
            shifts.add(matches[0][0])
            flips.append(matches[0][1])
    assert len(flips) == 64 and 0.3 < np.mean(flips) < 0.7  # p = 0.5
    assert len(shifts) > 10


def test_same_seed_same_batches_and_resume_after_an_epoch():
    data = _imageset(40)
    first = DeviceBatches(data, 8, seed=7)
    epoch1 = list(first)
    state = first.state_dict()
    epoch2 = list(first)
    twin = DeviceBatches(data, 8, seed=7)
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(epoch1, twin))
    resumed = DeviceBatches(data, 8, seed=0)
    resumed.load_state_dict(state)
    assert resumed.state_dict() == {"seed": 7, "epoch": 1}
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(epoch2, resumed))
    assert not torch.equal(epoch1[0][1], epoch2[0][1])  # each epoch reshuffles
    other = next(iter(DeviceBatches(data, 8, seed=8)))
    assert not torch.equal(other[0], epoch1[0][0])


@pytest.mark.parametrize("resolution", [16, 8])
def test_reduced_resolution_resizes_after_augmentation(resolution):
    data = _imageset(20)
    x, _ = next(iter(DeviceBatches(data, 10, resolution=resolution)))
    assert x.shape == (10, 3, resolution, resolution)
    full, _ = next(iter(DeviceBatches(data, 10, train=False)))
    small, _ = next(iter(DeviceBatches(data, 10, train=False, resolution=resolution)))
    expected = F.interpolate(full, size=(resolution, resolution), mode="bilinear", align_corners=False,
                             antialias=True)
    assert torch.allclose(small, expected, atol=1e-5)
    assert small.shape == (10, 3, resolution, resolution)


def test_batches_refuse_bad_arguments_and_states():
    data = _imageset(10)
    for kwargs in ({"batch_size": 0}, {"batch_size": 4, "resolution": 0}, {"batch_size": 4, "seed": -1},
                   {"batch_size": 11}):
        with pytest.raises(HarnessError):
            DeviceBatches(data, **kwargs)
    with pytest.raises(HarnessError, match="DeviceBatches state"):
        DeviceBatches(data, 4).load_state_dict({"epoch": 1})


# ---------------------------------------------------------------- EcoNAS reductions

def _imbalanced() -> ImageSet:
    labels = torch.tensor([0] * 50 + [1] * 30 + [2] * 7 + [3] * 1)[torch.randperm(88, generator=torch.Generator()
                                                                                  .manual_seed(0))]
    images = torch.from_numpy(_coded(88, 3072).reshape(88, 3, 32, 32))
    return ImageSet(images, labels, 4, *MEAN_STD["cifar10"], "imbalanced")


def test_subsample_is_stratified_and_keeps_pairs_together():
    data = _imbalanced()
    small = subsample(data, 0.2, seed=0)
    assert torch.bincount(small.labels).tolist() == [10, 6, 1, 1]
    source = _numbers(small.images)
    assert np.all(np.diff(source) > 0)  # original order
    assert torch.equal(small.labels, data.labels[torch.from_numpy(source)])
    assert len(subsample(data, 1.0, seed=5)) == 88


def test_subsample_is_seeded():
    data = _imbalanced()
    assert torch.equal(subsample(data, 0.5, seed=1).images, subsample(data, 0.5, seed=1).images)
    assert not torch.equal(subsample(data, 0.5, seed=1).images, subsample(data, 0.5, seed=2).images)
    for share in (0, 1.5, True):
        with pytest.raises(HarnessError):
            subsample(data, share, seed=0)


def test_reduced_setting_defaults_and_ranges():
    assert ReducedSetting() == ReducedSetting(16, 5, None, 1.0, 200)
    ReducedSetting(channels=4, cells=1, resolution=8, samples=0.25, epochs=12)
    for bad in ({"channels": 0}, {"cells": 0}, {"resolution": 2}, {"samples": 0.0}, {"samples": 1.5},
                {"epochs": 0}, {"channels": True}, {"channels": 8.0}):
        with pytest.raises(HarnessError, match=next(iter(bad))):
            ReducedSetting(**bad)


# ---------------------------------------------------------------- errors that say what to do

def test_unknown_dataset_or_split_lists_the_valid_ones(tmp_path):
    with pytest.raises(HarnessError, match="cifar10-valid, cifar10, cifar100, ImageNet16-120"):
        load_split("cifar-10", "train", tmp_path)
    with pytest.raises(HarnessError, match="train, ori-test, search-train, search-valid"):
        load_split("cifar10", "x-test", tmp_path)
    assert set(SPLITS) == set(DATASETS)


def test_missing_root_or_dataset_directory_says_where_it_looked(tmp_path):
    with pytest.raises(SourceError) as err:
        load_split("cifar10", "train", tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(err.value) and "cifar-100-python" in str(err.value)
    assert "materialize.py" in str(err.value)
    with pytest.raises(SourceError, match="no ImageNet16 directory at .*ImageNet16"):
        load_split("ImageNet16-120", "train", tmp_path)


def _cifar10_copy(src: Path, dest: Path, skip: str | None = None) -> Path:
    (dest / "cifar-10-batches-py").mkdir(parents=True)
    for name in CIFAR10_BATCHES:
        if name != skip:
            (dest / "cifar-10-batches-py" / name).symlink_to(src / "cifar-10-batches-py" / name)
    return dest / "cifar-10-batches-py"


def test_missing_batch_file_is_named_with_its_md5(cifar10_root, tmp_path):
    _cifar10_copy(cifar10_root, tmp_path, skip="data_batch_3")
    with pytest.raises(SourceError, match="missing data_batch_3 \\(official md5 54ebc095f3ab1f0389bbae665268c751\\)"):
        load_split("cifar10", "train", tmp_path)
    assert len(load_split("cifar10", "ori-test", tmp_path)) == 10_000


def test_truncated_pickle_is_named(cifar10_root, tmp_path):
    directory = _cifar10_copy(cifar10_root, tmp_path, skip="data_batch_2")
    whole = (cifar10_root / "cifar-10-batches-py" / "data_batch_2").read_bytes()
    (directory / "data_batch_2").write_bytes(whole[:len(whole) // 2])
    with pytest.raises(SourceError, match="data_batch_2 is not a readable CIFAR-10 pickle.*N x 3072 uint8"):
        load_split("cifar10-valid", "train", tmp_path, SPLITS_DIR)


def test_wrong_shape_keys_labels_or_objects_are_refused(tmp_path):
    path = tmp_path / "cifar-100-python" / "train"
    _write_cifar100(tmp_path)
    cases = [({b"data": np.zeros((4, 1024), np.uint8), b"fine_labels": [0] * 4}, "expected N x 3072 uint8"),
             ({b"data": np.zeros((4, 3072), np.uint8), b"labels": [0] * 4}, "has keys .*fine_labels"),
             ({b"data": np.zeros((4, 3072), np.uint8), b"fine_labels": [0, 1, 2]}, "not 4 integer labels"),
             ({b"data": np.zeros((4, 3072), np.uint8), b"fine_labels": [0, 1, 2, 100]}, "expected 0..99"),
             ({b"data": np.zeros((4, 3072), np.uint8), b"fine_labels": collections.OrderedDict()},
              "refused global collections.OrderedDict")]
    for content, message in cases:
        _dump(path, content)
        with pytest.raises(SourceError, match=message):
            load_split("cifar100", "train", tmp_path)


def test_split_files_that_do_not_fit_are_refused(tmp_path):
    _write_cifar100(tmp_path)
    with pytest.raises(HarnessError, match="pass splits_dir"):
        load_split("cifar100", "x-valid", tmp_path)
    with pytest.raises(SourceError, match="split file .*cifar100-test-split.txt not found"):
        load_split("cifar100", "x-valid", tmp_path, tmp_path / "splits")
    _write_split(tmp_path / "splits", "cifar100-test-split.txt", {"xvalid": [0, 500], "xtest": [1]})
    with pytest.raises(SourceError, match="indexes 0..500, but the cifar100 test part has 100 images"):
        load_split("cifar100", "x-valid", tmp_path, tmp_path / "splits")
    _write_split(tmp_path / "splits", "cifar100-test-split.txt", {"valid": [0]})
    with pytest.raises(SourceError, match="no 'xtest' entry"):
        load_split("cifar100", "x-test", tmp_path, tmp_path / "splits")
