"""The in-memory form of a split: uint8 images and int64 labels, with what is needed to normalise them."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from harness.errors import HarnessError

DATASETS = ("cifar10-valid", "cifar10", "cifar100", "ImageNet16-120")

# Per-channel (mean, std) in 0..255 units, the benchmark's own (REFERENCE.md section 2), per dataset family.
MEAN_STD = {
    "cifar10": ((125.3, 123.0, 113.9), (63.0, 62.1, 66.7)),
    "cifar100": ((129.3, 124.1, 112.4), (68.2, 65.4, 70.4)),
    "ImageNet16": ((122.68, 116.66, 104.01), (63.22, 61.26, 65.09)),
}


@dataclass
class ImageSet:
    """Images (N, 3, H, W) uint8 and labels (N,) int64 of one split; kept as uint8 so a whole set fits on a device."""

    images: torch.Tensor
    labels: torch.Tensor
    num_classes: int
    mean: tuple
    std: tuple
    name: str

    def __post_init__(self):
        images, labels = self.images, self.labels
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
            raise HarnessError(f"ImageSet {self.name!r}: images are {tuple(images.shape)} {images.dtype}, "
                               f"expected (N, 3, H, W) uint8")
        if labels.dtype != torch.int64 or labels.shape != (len(images),):
            raise HarnessError(f"ImageSet {self.name!r}: labels are {tuple(labels.shape)} {labels.dtype}, "
                               f"expected ({len(images)},) int64, one per image")

    def __len__(self) -> int:
        return len(self.labels)
