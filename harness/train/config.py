"""A training run's full configuration; its identity decides whether a run directory may be resumed."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace

from harness.errors import HarnessError
from harness.space import format_arch, parse_arch
from harness.train.sampler import SAMPLINGS

#: how SGD treats the parameters of ops a step did not sample
DECAYS = ("all", "sampled")

#: fields that may differ between an interrupted run and its resumption (where it runs, not what it computes)
NOT_IDENTITY = ("device", "data_root", "splits_dir", "progress")


@dataclass(frozen=True)
class TrainConfig:
    """What to train and how. Defaults: ABS's supernet recipe (REFERENCE.md section 3); see `standalone_config`
    for the benchmark's standalone recipe."""

    kind: str = "supernet"  # supernet | standalone
    dataset: str = "cifar10-valid"
    train_split: str = "search-train"
    valid_split: str = "search-valid"
    mode: str = "spos"  # spos | darts (supernet only)
    sampling: str = "urs"  # spos mode: urs (each cell its own child, NB201's forward_urs) | spos (one shared child)
    arch: str | None = None  # standalone only: the cell
    allowed: list | None = None  # supernet sub-space: 6 lists of allowed op names, or a list of arch strings
    channels: int = 16
    cells: int = 5
    resolution: int | None = None  # None: the dataset's own (32 or 16)
    samples: float = 1.0  # share of the training split, stratified
    epochs: int = 250
    batch_size: int = 64
    lr: float = 0.025
    lr_min: float = 0.001
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    #: all: every parameter holds a (zero) gradient, so weight decay and momentum move it at every step, sampled or
    #: not, as PyTorch < 2.0's zero_grad did for the papers' code; sampled: PyTorch >= 2.0's default, an op's
    #: parameters move only in the steps that sample it
    decay: str = "all"
    grad_clip: float | None = None
    affine: bool = False
    track_running_stats: bool = True
    arch_lr: float = 3e-4  # darts: Adam on the architecture parameters, as DARTS
    arch_weight_decay: float = 1e-3
    valid_cells: int = 10  # supernet: cells sampled to report validation accuracy each epoch
    valid_batches: int = 4  # batches of the validation split per reported cell
    checkpoint_epochs: tuple[int, ...] = field(default=())  # kept besides epoch 0 and the last
    seed: int = 0
    device: str = "cpu"
    data_root: str = "data"
    splits_dir: str = ""
    progress: bool = True

    def __post_init__(self):
        if self.kind not in ("supernet", "standalone"):
            raise HarnessError(f"kind must be supernet or standalone, got {self.kind!r}")
        if self.mode not in ("spos", "darts"):
            raise HarnessError(f"mode must be spos or darts, got {self.mode!r}")
        if self.sampling not in SAMPLINGS:
            raise HarnessError(f"sampling must be one of {', '.join(SAMPLINGS)}, got {self.sampling!r}")
        if self.decay not in DECAYS:
            raise HarnessError(f"decay must be one of {', '.join(DECAYS)}, got {self.decay!r}")
        if self.kind == "standalone":
            if not self.arch:
                raise HarnessError("a standalone run needs the cell to train (arch string)")
            object.__setattr__(self, "arch", format_arch(parse_arch(self.arch)))
        for name in ("channels", "cells", "epochs", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise HarnessError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if not 0 < self.samples <= 1:
            raise HarnessError(f"samples is the share of training images to keep, in (0, 1]; got {self.samples!r}")
        if self.resolution is not None and self.resolution < 4:
            raise HarnessError(f"resolution must be at least 4 pixels, got {self.resolution!r}")

    def to_json(self) -> dict:
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_json(cls, data: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise HarnessError(f"config has unknown fields {unknown}; it was written by another harness version")
        data = dict(data)
        data["checkpoint_epochs"] = tuple(data.get("checkpoint_epochs", ()))
        return cls(**data)

    def identity(self) -> dict:
        return {k: v for k, v in self.to_json().items() if k not in NOT_IDENTITY}

    def differences(self, other: TrainConfig) -> list[str]:
        mine, theirs = self.identity(), other.identity()
        return [f"{k}: {theirs.get(k)!r} -> {mine.get(k)!r}" for k in sorted(mine) if mine.get(k) != theirs.get(k)]


def supernet_config(**overrides) -> TrainConfig:
    """ABS's supernet as its released code trains it: NB201's uniform random sampling (each cell its own child),
    SGD Nesterov 0.9, lr 0.025 cosine to 0.001, wd 5e-4 on every parameter at every step, no gradient clipping,
    batch 64, 250 epochs, cell BN without affine parameters and with running statistics, on the search split; the
    checkpoint after epoch 1 is kept (the released angle's reference weights)."""
    return replace(TrainConfig(checkpoint_epochs=(1,)), **overrides)


def standalone_config(arch: str, **overrides) -> TrainConfig:
    """The benchmark's recipe for one cell: SGD Nesterov 0.9, lr 0.1 cosine to 0, wd 5e-4, batch 256, 200 epochs,
    affine BN, trained on the dataset's train split and evaluated on its validation split."""
    base = TrainConfig(kind="standalone", arch=arch, train_split="train", valid_split="x-valid", epochs=200,
                       batch_size=256, lr=0.1, lr_min=0.0, grad_clip=None, affine=True, valid_batches=0)
    return replace(base, **overrides)
