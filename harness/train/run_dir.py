"""A run directory: `config.json`, `code.json` (the code hash of the training code, `harness.provenance`),
`log.jsonl` (one line per epoch) and `checkpoints/` (epoch 0, chosen epochs, and `last.pt` for resuming). Every
file is written through a temporary name. A run is resumed only under the same configuration and the same
training code: weights half trained by other code are never continued."""
from __future__ import annotations

import json
from pathlib import Path

import torch

from harness.atomic import atomic_write
from harness.errors import HarnessError
from harness.provenance import code_hash, code_version
from harness.train.config import TrainConfig

#: the module whose code (with everything it imports) trains a run
TRAINING_MODULE = "harness.train.loop"


def training_code_hash() -> str:
    return code_hash(TRAINING_MODULE)


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    @property
    def code_path(self) -> Path:
        return self.path / "code.json"

    @property
    def log_path(self) -> Path:
        return self.path / "log.jsonl"

    def checkpoint_path(self, epoch: int | None = None) -> Path:
        return self.path / "checkpoints" / ("last.pt" if epoch is None else f"epoch-{epoch:04d}.pt")

    def start(self, config: TrainConfig, resume: bool) -> dict | None:
        """Prepare the directory; returns the checkpoint to resume from (None for a fresh run).

        A directory holding another run is refused unless `resume` is given with the same configuration."""
        if self.config_path.exists():
            saved = TrainConfig.from_json(json.loads(self.config_path.read_text()))
            if not resume:
                raise HarnessError(f"{self.path} already holds a run; pass --resume to continue it, or choose another "
                                   f"--out")
            diff = config.differences(saved)
            code = json.loads(self.code_path.read_text()).get("code_hash") if self.code_path.exists() else None
            if code != training_code_hash():
                diff.append(f"training code: {code} -> {training_code_hash()}")
            if diff:
                raise HarnessError(f"refusing to resume {self.path} under a different configuration: "
                                   f"{'; '.join(diff)}. Resume with the saved settings or start a new run directory.")
            last = self.checkpoint_path()
            return torch.load(last, map_location="cpu", weights_only=False) if last.exists() else None
        if resume:
            raise HarnessError(f"nothing to resume in {self.path}: it holds no run (no config.json)")
        self.path.mkdir(parents=True, exist_ok=True)
        code = {"code_hash": training_code_hash(), "harness_version": code_version()}
        atomic_write(self.code_path, lambda tmp: Path(tmp).write_text(json.dumps(code, indent=2) + "\n"))
        atomic_write(self.config_path, lambda tmp: Path(tmp).write_text(json.dumps(config.to_json(), indent=2) + "\n"))
        return None

    def log(self, record: dict) -> None:
        lines = self.log_path.read_text() if self.log_path.exists() else ""
        atomic_write(self.log_path, lambda tmp: Path(tmp).write_text(lines + json.dumps(record) + "\n"))

    def truncate_log(self, epoch: int) -> None:
        """Drop records of epochs after `epoch` (logged before a checkpoint that an interruption never wrote)."""
        kept = [r for r in self.read_log() if r["epoch"] <= epoch]
        atomic_write(self.log_path, lambda tmp: Path(tmp).write_text("".join(json.dumps(r) + "\n" for r in kept)))

    def read_log(self) -> list[dict]:
        return [json.loads(line) for line in self.log_path.read_text().splitlines()] if self.log_path.exists() else []

    def save(self, state: dict, epoch: int, keep: bool) -> None:
        """Save the resumable state as `last.pt`, and as `epoch-NNNN.pt` too when `keep`."""
        targets = [self.checkpoint_path()] + ([self.checkpoint_path(epoch)] if keep else [])
        for target in targets:
            atomic_write(target, lambda tmp: torch.save(state, tmp))
