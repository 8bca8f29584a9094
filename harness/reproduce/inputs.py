"""What every table measures from: the ground truth, the images, the seed, and where supernets are kept."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Inputs:
    """`runs` holds the supernets the tables train (one directory per dataset, seed and settings), shared so that
    tables measuring the same supernet (abs-correlation, eps-top20) train it once."""

    oracle: object
    runs: Path
    data_root: str | None = None
    splits_dir: str | None = None
    seed: int = 0
    progress: bool = True

    def sample(self, count: int) -> str:
        """The cells spec (`harness.proxies.scoring.select_cells`) of `count` cells drawn with the run's seed, so
        that another seed measures other cells; all cells when `count` covers the space."""
        return f"sample:{count}:{self.seed}" if count < len(self.oracle.cells()) else "all"
