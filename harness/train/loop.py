"""The training loop: SPOS supernet, DARTS first-order supernet, or one standalone cell.

Seeded and deterministic on CPU: the model's initial weights come from `seed`, the batches from their own
generator, the sampled cells from their own. Every epoch ends with a resumable checkpoint (`last.pt`), so an
interrupted run loses at most the epoch in progress, and a resumed run ends with the same weights as an
uninterrupted one. Epoch 0 (the initial weights, which the angle proxy needs) is always kept.
On CUDA, steps run under bf16 autocast with channels_last tensors.
"""
from __future__ import annotations

import math
import os
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from harness.analysis.shrunk_space import allowed_ops_mask
from harness.data import DeviceBatches, load_split, subsample
from harness.errors import HarnessError
from harness.nets import Supernet, TinyNetwork
from harness.space import parse_arch
from harness.train.config import TrainConfig
from harness.train.run_dir import RunDir
from harness.train.sampler import CellSampler


def default_splits_dir() -> str:
    return str(Path(os.environ.get("NB201_DATA", "")) / "splits") if os.environ.get("NB201_DATA") else ""


def build_model(config: TrainConfig, num_classes: int) -> torch.nn.Module:
    if config.kind == "standalone":
        return TinyNetwork(parse_arch(config.arch), C=config.channels, N=config.cells, num_classes=num_classes,
                           affine=config.affine, track_running_stats=config.track_running_stats)
    model = Supernet(C=config.channels, N=config.cells, num_classes=num_classes, affine=config.affine,
                     track_running_stats=config.track_running_stats, mode=config.mode)
    if config.mode == "darts" and config.allowed is not None:
        if all(isinstance(a, str) and a.startswith("|") for a in config.allowed):
            raise HarnessError("a darts supernet mixes the allowed ops of each edge; give its sub-space as allowed "
                               "ops per edge, not as a list of cells")
        model.restrict(allowed_ops_mask(config.allowed))
    return model


def load_model(run_dir: str | Path, epoch: int | None = None, device: str = "cpu") -> tuple[TrainConfig, torch.nn.Module]:
    """The configuration and the model of a run at `epoch` (None: its last checkpoint)."""
    run = RunDir(run_dir)
    path = run.checkpoint_path(epoch)
    if not path.exists():
        kept = sorted(p.name for p in (run.path / "checkpoints").glob("*.pt")) if run.path.exists() else []
        raise HarnessError(f"no checkpoint {path.name} in {run.path}; it has {', '.join(kept) or 'none'}")
    state = torch.load(path, map_location=device, weights_only=False)
    config = TrainConfig.from_json(state["config"])
    model = build_model(config, state["num_classes"]).to(device)
    model.load_state_dict(state["model"])
    return config, model


def training_setup(config: TrainConfig):
    """(train_set, model, optimizer, scheduler, batches) as the config says: the (subsampled) training split, the
    seeded model on its device, SGD over its weights with the cosine schedule, and the seeded training batches.
    Shared by every loop that trains weights (the trainer, AutoSpace)."""
    device = torch.device(config.device)
    train_set = load_split(config.dataset, config.train_split, config.data_root,
                           config.splits_dir or default_splits_dir())
    if config.samples < 1:
        train_set = subsample(train_set, config.samples, config.seed)
    torch.manual_seed(config.seed)
    model = build_model(config, train_set.num_classes).to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    weights = model.weight_parameters() if hasattr(model, "weight_parameters") else list(model.parameters())
    optimizer = torch.optim.SGD(weights, lr=config.lr, momentum=config.momentum, nesterov=config.nesterov,
                                weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs, eta_min=config.lr_min)
    batches = DeviceBatches(train_set, config.batch_size, device, train=True, seed=config.seed,
                            resolution=config.resolution)
    return train_set, model, optimizer, scheduler, batches


def train(config: TrainConfig, out: str | Path, resume: bool = False, until: int | None = None,
          init_from: str | Path | None = None) -> RunDir:
    """Train as `config` says into the run directory `out` (or continue it with `resume`).

    `until` stops after that epoch of the config's schedule (default: all of it); resuming later continues the same
    schedule, which is how a hierarchical proxy gives more epochs to some cells only. `init_from` (a checkpoint
    file) starts a new run from those model weights instead of the seeded initialisation, as staged shrinking
    keeps training one supernet inside ever smaller spaces."""
    until = config.epochs if until is None else until
    if isinstance(until, bool) or not isinstance(until, int) or not 1 <= until <= config.epochs:
        raise HarnessError(f"until={until!r} is not an epoch of this run's schedule, 1..{config.epochs}")
    run = RunDir(out)
    checkpoint = run.start(config, resume)
    device = torch.device(config.device)
    train_set, model, optimizer, scheduler, batches = training_setup(config)
    valid_set = load_split(config.dataset, config.valid_split, config.data_root,
                           config.splits_dir or default_splits_dir())
    if init_from is not None and checkpoint is None:
        model.load_state_dict(_checkpoint_model(init_from, device))
    darts = config.kind == "supernet" and config.mode == "darts"
    arch_optimizer = arch_batches = None
    if darts:
        arch_optimizer = torch.optim.Adam([model.arch_parameters], lr=config.arch_lr, betas=(0.5, 0.999),
                                          weight_decay=config.arch_weight_decay)
        arch_batches = DeviceBatches(valid_set, config.batch_size, device, train=True, seed=config.seed + 1,
                                     resolution=config.resolution)
    sampler = CellSampler(config.allowed, seed=config.seed)
    stateful = {"model": model, "optimizer": optimizer, "scheduler": scheduler, "sampler": sampler,
                "batches": batches, "arch_optimizer": arch_optimizer, "arch_batches": arch_batches}

    def snapshot(epoch: int) -> dict:
        state = {k: v.state_dict() for k, v in stateful.items() if v is not None}
        return {**state, "epoch": epoch, "config": config.to_json(), "num_classes": train_set.num_classes,
                "torch_rng": torch.get_rng_state()}

    if checkpoint is None:
        start = 0
        run.save(snapshot(0), 0, keep=True)
    else:
        for key, obj in stateful.items():
            if obj is not None:
                obj.load_state_dict(checkpoint[key])
        torch.set_rng_state(checkpoint["torch_rng"])
        start = checkpoint["epoch"]
        run.truncate_log(start)
    epochs = tqdm(range(start, until), desc="epochs", initial=start, total=until,
                  disable=not config.progress)
    for epoch in epochs:
        began = time.perf_counter()
        loss, accuracy, images = _train_epoch(model, batches, optimizer, config, sampler, arch_optimizer, arch_batches,
                                              device)
        seconds = time.perf_counter() - began
        record = {"epoch": epoch + 1, "train_loss": loss, "train_accuracy": accuracy,
                  "lr": optimizer.param_groups[0]["lr"], "seconds": seconds, "images_per_second": images / seconds}
        scheduler.step()
        record.update(_validate(model, valid_set, config, device, epoch))
        run.log(record)
        run.save(snapshot(epoch + 1), epoch + 1, keep=epoch + 1 in config.checkpoint_epochs or
                 epoch + 1 == config.epochs)
        epochs.set_postfix(loss=f"{loss:.3f}", valid=f"{record['valid_accuracy']:.1f}")
    return run


def _checkpoint_model(path: str | Path, device: torch.device) -> dict:
    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"init_from={str(path)!r} is not a checkpoint file; pass a run's checkpoints/last.pt or "
                           f"epoch-NNNN.pt")
    return torch.load(path, map_location=device, weights_only=False)["model"]


def autocast(device: torch.device):
    """bf16 autocast on CUDA, nothing on the CPU."""
    return torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()


def prepare_batch(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Images in the memory format the device runs fastest (channels_last on CUDA)."""
    return x.contiguous(memory_format=torch.channels_last) if device.type == "cuda" else x


def _train_epoch(model, batches, optimizer, config, sampler, arch_optimizer, arch_batches, device):
    model.train()
    total_loss, correct, seen = 0.0, 0, 0
    arch_iter = iter(arch_batches) if arch_batches is not None else None
    for x, y in tqdm(batches, desc="steps", leave=False, disable=not config.progress):
        x = prepare_batch(x, device)
        if arch_optimizer is not None:  # DARTS first order: an architecture step on a validation batch first
            try:
                xv, yv = next(arch_iter)
            except StopIteration:
                arch_iter = iter(arch_batches)
                xv, yv = next(arch_iter)
            arch_optimizer.zero_grad(set_to_none=True)
            with autocast(device):
                F.cross_entropy(model(prepare_batch(xv, device)), yv).backward()
            arch_optimizer.step()
        cell = _child(sampler, config, model)
        clear_gradients(optimizer, config.decay)
        with autocast(device):
            logits = model(x, cell) if cell is not None else model(x)
            loss = F.cross_entropy(logits, y)
        loss.backward()
        if config.grad_clip:
            torch.nn.utils.clip_grad_norm_(optimizer.param_groups[0]["params"], config.grad_clip)
        optimizer.step()
        total_loss += float(loss.detach()) * len(y)
        correct += int((logits.argmax(dim=1) == y).sum())
        seen += len(y)
    return total_loss / max(seen, 1), 100.0 * correct / max(seen, 1), seen


def _child(sampler: CellSampler, config: TrainConfig, model):
    """What a training step runs: the sampled child (urs: one per searchable cell), or None (darts, standalone)."""
    if config.kind != "supernet" or config.mode != "spos":
        return None
    return sampler.sample_urs(model.n_search_cells) if config.sampling == "urs" else sampler.sample()


def clear_gradients(optimizer: torch.optim.Optimizer, decay: str) -> None:
    """Before a step's backward. `all`: every parameter gets a zero gradient, so SGD applies weight decay and
    momentum to all of them whether the step samples them or not, as PyTorch < 2.0's `zero_grad()` did for the
    papers' code (it zeroed gradients instead of dropping them); `sampled`: gradients are dropped, and SGD skips
    the parameters the step does not reach."""
    if decay == "sampled":
        optimizer.zero_grad(set_to_none=True)
        return
    for group in optimizer.param_groups:
        for p in group["params"]:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            else:
                p.grad.zero_()


@torch.no_grad()
def _validate(model, valid_set, config, device, epoch) -> dict:
    """Standalone: eval-mode accuracy on the validation split. Supernet: mean accuracy of `valid_cells` sampled
    cells on `valid_batches` batches, with batch statistics (running statistics of a supernet mix all paths),
    leaving the BN buffers untouched; DARTS: the mixture, and the cell its architecture parameters pick."""
    limit = config.valid_batches or None
    batches = DeviceBatches(valid_set, config.batch_size, device, train=False, seed=config.seed,
                            resolution=config.resolution, drop_last=False)
    if config.kind == "standalone":
        model.eval()
        return evaluate_accuracy(model, batches, None, limit, device)
    with batch_statistics(model):
        if config.mode == "darts":
            out = evaluate_accuracy(model, batches, None, limit, device)
            out["arch"] = model.arch_parameters.argmax(dim=1).tolist()
            return out
        sampler = CellSampler(config.allowed, seed=config.seed * 100_003 + epoch)
        results = [evaluate_accuracy(model, batches, sampler.sample(), limit, device)
                   for _ in range(config.valid_cells)]
    return {key: float(np.mean([r[key] for r in results])) for key in results[0]}


def evaluate_accuracy(model, batches, cell, limit, device) -> dict:
    """Accuracy and loss of `model` (the child `cell` of a supernet, or the whole model when None) on at most
    `limit` batches, in the model's current train/eval mode."""
    correct, seen, total_loss = 0, 0, 0.0
    for i, (x, y) in enumerate(batches):
        if limit is not None and i >= limit:
            break
        with autocast(device):
            logits = model(prepare_batch(x, device), cell) if cell is not None else model(prepare_batch(x, device))
        total_loss += float(F.cross_entropy(logits.float(), y, reduction="sum"))
        correct += int((logits.argmax(dim=1) == y).sum())
        seen += len(y)
    return {"valid_accuracy": 100.0 * correct / seen if seen else math.nan,
            "valid_loss": total_loss / seen if seen else math.nan}


class batch_statistics:
    """Train-mode BN (batch statistics) without changing any buffer: momentum 0 keeps running stats as they are."""

    def __init__(self, model):
        self.model = model
        self.saved = []

    def __enter__(self):
        self.was_training = self.model.training
        for module in self.model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                tracked = module.num_batches_tracked.clone() if module.num_batches_tracked is not None else None
                self.saved.append((module, module.momentum, tracked))
                module.momentum = 0.0
        self.model.train()

    def __exit__(self, *exc):
        for module, momentum, tracked in self.saved:
            module.momentum = momentum
            if tracked is not None:
                module.num_batches_tracked.copy_(tracked)
        self.model.train(self.was_training)
