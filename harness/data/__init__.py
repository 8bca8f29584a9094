"""Image data of the benchmark: official-format loaders, its splits, on-device batching, EcoNAS reductions.

`data_root` layout (the official downloads, unpacked side by side):

    data_root/cifar-10-batches-py/   data_batch_1..5, test_batch      (python3 ../shared/cifar10/materialize.py DIR)
    data_root/cifar-100-python/      train, test
    data_root/ImageNet16/            train_data_batch_1..10, val_data

`splits_dir` is the directory of the benchmark's split files, ../shared/nb201/splits.
"""
from harness.data.device_batches import DeviceBatches
from harness.data.formats import LAYOUT
from harness.data.imageset import DATASETS, MEAN_STD, ImageSet
from harness.data.reduced import ReducedSetting, subsample
from harness.data.splits import SPLITS, load_split, missing_images, read_split_file

__all__ = ["DATASETS", "LAYOUT", "MEAN_STD", "SPLITS", "DeviceBatches", "ImageSet", "ReducedSetting", "load_split",
           "missing_images", "read_split_file", "subsample"]
