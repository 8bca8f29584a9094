"""EcoNAS-style reduced training settings: fewer channels, cells, pixels, samples or epochs than the benchmark's
(C=16, N=5, native resolution, all samples, 200 epochs), to rank architectures cheaply."""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from harness.data.imageset import ImageSet
from harness.errors import HarnessError


@dataclass(frozen=True)
class ReducedSetting:
    """channels: C of the first stage; cells: N per stage; resolution: image side (None = native);
    samples: share of the training images kept per class; epochs: training epochs."""

    channels: int = 16
    cells: int = 5
    resolution: int | None = None
    samples: float = 1.0
    epochs: int = 200

    def __post_init__(self):
        for name, low in (("channels", 1), ("cells", 1), ("epochs", 1)):
            _check_int(name, getattr(self, name), low)
        if self.resolution is not None:
            _check_int("resolution", self.resolution, 4, " (or None for the native size; the network halves it "
                                                          "twice)")
        if isinstance(self.samples, bool) or not isinstance(self.samples, (int, float)) \
                or not 0 < self.samples <= 1:
            raise HarnessError(f"ReducedSetting samples={self.samples!r} is not a share in (0, 1] of the training "
                               f"images")


def subsample(data: ImageSet, share: float, seed: int) -> ImageSet:
    """A seeded, class-stratified subset: each class keeps round(share * its count) images, at least 1, in their
    original order, so a reduced-samples run sees the same label balance as the full set."""
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share <= 1:
        raise HarnessError(f"share {share!r} is not in (0, 1]: the fraction of each class's images to keep")
    _check_int("seed", seed, 0)
    labels = data.labels
    g = torch.Generator().manual_seed(seed)
    shuffled = torch.randperm(len(labels), generator=g)
    by_class = shuffled[torch.argsort(labels[shuffled], stable=True)]  # grouped by class, random within it
    counts = torch.bincount(labels, minlength=data.num_classes)
    starts = torch.cumsum(counts, 0) - counts
    sorted_labels = labels[by_class]
    rank = torch.arange(len(labels)) - starts[sorted_labels]  # position within its class
    quota = torch.round(counts.double() * share).long().clamp(min=1)  # half to even, as Python's round
    keep = by_class[rank < quota[sorted_labels]].sort().values
    name = f"{data.name}[share={share:g},seed={seed}]"
    return replace(data, images=data.images[keep], labels=labels[keep], name=name)


def _check_int(name: str, value, low: int, note: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise HarnessError(f"{name}={value!r} is not an integer >= {low}{note}")
