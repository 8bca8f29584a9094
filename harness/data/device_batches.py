"""Batches made on the training device: the whole split sits there as uint8 and each batch is augmented in a
few vectorised tensor ops, so small-image training is not bound by DataLoader workers decoding per image."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from harness.data.imageset import ImageSet
from harness.errors import HarnessError


class DeviceBatches:
    """One epoch per `iter()`: (x float32 (B, 3, R, R) normalised, y int64 (B,)) on `device`.

    train: shuffled, random crop with zero padding (side // 8: 4 px at 32, 2 px at 16), horizontal flip with p=0.5,
    the benchmark's augmentation. eval: the images in order, unchanged. `resolution` resizes every batch after
    augmentation (bilinear, antialiased when shrinking), EcoNAS's reduced resolution. All randomness of epoch e
    comes from a CPU generator seeded from (seed, e), so every object and device picks the same images, crops and
    flips, and a resumed run continues with the batches an uninterrupted one would have seen. `drop_last` defaults to `train`:
    training drops the ragged last batch, evaluation sees every image.
    """

    def __init__(self, data: ImageSet, batch_size: int, device="cpu", train: bool = True, seed: int = 0,
                 resolution: int | None = None, drop_last: bool | None = None):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise HarnessError(f"batch_size {batch_size!r} is not a positive integer")
        if resolution is not None and (isinstance(resolution, bool) or not isinstance(resolution, int)
                                       or resolution < 1):
            raise HarnessError(f"resolution {resolution!r} is not a positive integer (or None for the native size)")
        _check_seed(seed)
        self.device = torch.device(device)
        self.images = data.images.to(self.device)  # once, as uint8: a quarter of the float32 footprint
        self.labels = data.labels.to(self.device)
        mean = torch.tensor(data.mean, dtype=torch.float64).view(1, 3, 1, 1)
        std = torch.tensor(data.std, dtype=torch.float64).view(1, 3, 1, 1)
        self.scale = (1 / std).float().to(self.device)  # (x - mean) / std as x * scale + shift: one pass fewer
        self.shift = (-mean / std).float().to(self.device)
        self.batch_size = batch_size
        self.train = train
        self.seed = int(seed)
        self.resolution = resolution
        self.drop_last = train if drop_last is None else drop_last
        self.pad = data.images.shape[-1] // 8
        self.epoch = 0
        if len(self) == 0:
            raise HarnessError(f"{data.name} has {len(data)} images: not one full batch of {batch_size}, and "
                               f"drop_last drops partial ones; use a smaller batch_size or drop_last=False")

    def __len__(self) -> int:
        n = len(self.labels)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        epoch, self.epoch = self.epoch, self.epoch + 1
        return self._batches(epoch)

    def state_dict(self) -> dict:
        """The next epoch and the seed: together they are the whole RNG state, since each epoch reseeds."""
        return {"seed": self.seed, "epoch": self.epoch}

    def load_state_dict(self, state: dict) -> None:
        if not isinstance(state, dict) or set(state) != {"seed", "epoch"}:
            raise HarnessError(f"not a DeviceBatches state: {state!r}; expected {{'seed': int, 'epoch': int}} "
                               f"from DeviceBatches.state_dict()")
        _check_seed(state["seed"])
        if isinstance(state["epoch"], bool) or not isinstance(state["epoch"], int) or state["epoch"] < 0:
            raise HarnessError(f"DeviceBatches state has epoch {state['epoch']!r}, expected an integer >= 0")
        self.seed, self.epoch = int(state["seed"]), state["epoch"]

    def _batches(self, epoch: int):
        n, size = len(self.labels), self.batch_size
        if self.train:
            g = _epoch_generator(self.seed, epoch)
            order = torch.randperm(n, generator=g).to(self.device)
            shifts = torch.randint(0, 2 * self.pad + 1, (n, 2), generator=g).to(self.device)
            flips = (torch.rand(n, generator=g) < 0.5).to(self.device)
        for start in range(0, len(self) * size, size):
            if self.train:
                pick = order[start:start + size]
                x = self._augment(self.images[pick], shifts[start:start + size], flips[start:start + size])
                y = self.labels[pick]
            else:
                x, y = self.images[start:start + size], self.labels[start:start + size]
            yield self._normalise(x), y

    def _augment(self, x: torch.Tensor, shifts: torch.Tensor, flips: torch.Tensor) -> torch.Tensor:
        """Crop and flip as one gather of per-image pixel indices from the zero-padded batch."""
        b, c, h, w = x.shape
        padded = F.pad(x, (self.pad,) * 4)
        rows = shifts[:, :1] + torch.arange(h, device=x.device)
        cols = shifts[:, 1:] + torch.arange(w, device=x.device)
        cols = torch.where(flips[:, None], cols.flip(1), cols)
        pixels = rows[:, :, None] * padded.shape[-1] + cols[:, None, :]
        return padded.view(b, c, -1).gather(2, pixels.view(b, 1, h * w).expand(b, c, h * w)).view(b, c, h, w)

    def _normalise(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float().mul_(self.scale).add_(self.shift)
        r = self.resolution
        if r is not None and (r, r) != tuple(x.shape[-2:]):
            x = F.interpolate(x, size=(r, r), mode="bilinear", align_corners=False, antialias=r < x.shape[-1])
        return x


def _epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """Well-mixed seeds per (seed, epoch), so nearby seeds or epochs do not give related streams."""
    return torch.Generator().manual_seed(int(np.random.SeedSequence([seed, epoch]).generate_state(1, np.uint64)[0]))


def _check_seed(seed) -> None:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise HarnessError(f"seed {seed!r} is not an integer >= 0")
