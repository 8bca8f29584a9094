"""ABS search-space shrinking (Hu et al. 2020, Algorithm 2), driven by any operator-scoring signal.

Each stage scores every allowed operator of the current space, drops the `drop_per_stage` lowest (never the last
op of an edge; `harness.analysis.shrinking.drop_lowest`) and records what it removed, the new space's size and
its quality against the ground truth. Signals:

- `truth`: the ground-truth operator score inside the space (mean accuracy of its cells holding the op), the
  oracle upper bound. No training.
- `scores:FILE`: a score file (a table proxy such as params or synflow, or a user's scores) averaged the same way
  over its cells inside the space. No training.
- `angle`, `rebn`, `magnitude`, `proxy:NAME`: a supernet trains inside the current space before each stage's
  scoring (`first_epochs`, then `stage_epochs` per stage, each stage one cosine schedule that starts from the
  previous stage's weights). `angle` scores every cell of the space in closed form against stage 1's reference
  weights (the angle proxy's `reference`: after its first epoch by default, as ABS's released code; `init` for
  the initialisation; `proxy_settings` {"parts": "cells"} leaves the fixed layers out); `rebn` and
  `proxy:NAME` (any registered proxy) score `sample` cells drawn from the space; `magnitude` trains a darts
  supernet and takes its softmax weights over the allowed ops.

Resumable: `history.json` in the output directory keeps every finished stage, and the stage runs (`stage-K/`)
resume mid-training.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from harness.analysis.shrinking import drop_lowest, space_size
from harness.analysis.shrunk_space import cells_in, space_quality
from harness.errors import HarnessError
from harness.shrink.history import check_positive, identity_of, load_history, save_history
from harness.space import NUM_EDGES, NUM_OPS, OPS, operator_means

SUPERNET_SIGNALS = ("angle", "rebn", "magnitude")


@dataclass(frozen=True)
class ShrinkSettings:
    """What drives the shrinking and how far it goes; `proxy_settings` go to the proxy of `rebn` / `proxy:NAME`."""

    signal: str
    stages: int = 5
    drop_per_stage: int = 3
    sample: int = 100
    first_epochs: int = 20
    stage_epochs: int = 5
    seed: int = 0
    proxy_settings: dict = field(default_factory=dict)

    def __post_init__(self):
        known = self.signal in ("truth",) + SUPERNET_SIGNALS or self.signal.startswith(("scores:", "proxy:"))
        if not known:
            raise HarnessError(f"unknown shrinking signal {self.signal!r}; signals are truth, scores:FILE, angle, "
                               f"rebn, magnitude, proxy:NAME")
        check_positive(self, ("stages", "drop_per_stage", "sample", "first_epochs", "stage_epochs"))

    @property
    def trains(self) -> bool:
        return self.signal in SUPERNET_SIGNALS or self.signal.startswith("proxy:")

    @property
    def proxy(self):
        """The registered proxy the signal scores with (None for truth and scores:FILE)."""
        from harness.proxies import get_proxy

        if not self.trains:
            return None
        return get_proxy(self.signal.split(":", 1)[1] if self.signal.startswith("proxy:") else self.signal)

    def resolved(self) -> ShrinkSettings:
        """These settings with `proxy_settings` checked against the signal's proxy and its defaults filled in."""
        if self.proxy is None:
            if self.proxy_settings:
                raise HarnessError(f"signal {self.signal!r} takes no proxy settings; got {self.proxy_settings}")
            return self
        return replace(self, proxy_settings=self.proxy.resolve_settings(self.proxy_settings))


def scores_digest(score_set) -> str:
    """sha256 of a score set's cells and scores, in its order."""
    import hashlib

    digest = hashlib.sha256(np.ascontiguousarray(score_set.cells, dtype=np.int64).tobytes())
    digest.update(np.ascontiguousarray(score_set.scores, dtype=np.float64).tobytes())
    return digest.hexdigest()


def allowed_lists(mask: np.ndarray) -> list[list[str]]:
    """The mask as 6 lists of op names, the form of `TrainConfig.allowed` and of `space.json`."""
    return [[OPS[o] for o in np.flatnonzero(mask[e])] for e in range(NUM_EDGES)]


def shrink_abs(settings: ShrinkSettings, out: str | Path, *, cells: np.ndarray, truth: np.ndarray,
               train_config=None, score_set=None, progress: bool = True) -> list[dict]:
    """Run (or resume) the stages into `out`; returns the stage records. `cells` (n, 6) and `truth` (n,) are the
    whole space and its ground truth (for quality, and for the `truth` signal); `train_config` is the supernet's
    `TrainConfig` for the training signals; `score_set` the `ScoreSet` of a `scores:FILE` signal."""
    out = Path(out)
    if settings.trains and train_config is None:
        raise HarnessError(f"signal {settings.signal!r} trains a supernet: pass train_config (data, channels, ...)")
    if settings.signal.startswith("scores:") and score_set is None:
        raise HarnessError(f"signal {settings.signal!r} needs the score set read from its file")
    settings = settings.resolved()
    modules = (__name__, settings.proxy.module) if settings.proxy else (__name__,)
    identity = identity_of(settings, train_config if settings.trains else None, *modules)
    if score_set is not None:  # the result depends on the scores themselves, not on the file's name
        identity["scores_sha256"] = scores_digest(score_set)
    history = load_history(out, identity, key="stages")
    mask = np.array(history[-1]["allowed_mask"], dtype=bool) if history else np.ones((NUM_EDGES, NUM_OPS), bool)
    signal = _signal(settings, out, cells, truth, train_config, score_set)
    for stage in tqdm(range(len(history), settings.stages), desc=f"ABS shrinking ({settings.signal})",
                      initial=len(history), total=settings.stages, disable=not progress):
        began = time.perf_counter()
        scores = signal(stage, mask)
        shrunk, dropped = drop_lowest(mask, scores, settings.drop_per_stage)
        history.append({"stage": stage + 1, "size_before": space_size(mask), "dropped": [list(d) for d in dropped],
                        "operator_scores": np.where(mask, scores, np.nan).tolist(),
                        "size": space_size(shrunk), "allowed": allowed_lists(shrunk),
                        "allowed_mask": shrunk.tolist(),
                        "quality": space_quality(truth, cells_in(cells, shrunk)),
                        "seconds": time.perf_counter() - began})
        mask = shrunk
        save_history(out, identity, history, key="stages")
    return history


def _signal(settings: ShrinkSettings, out: Path, cells, truth, train_config, score_set):
    """fn(stage, mask) -> (6, 5) operator scores for the signal."""
    if settings.signal == "truth":
        return lambda stage, mask: _means_inside(cells, truth, mask)
    if settings.signal.startswith("scores:"):
        return lambda stage, mask: _means_inside(score_set.cells, score_set.scores, mask)

    def supernet_signal(stage: int, mask: np.ndarray) -> np.ndarray:
        run_dir = _train_stage(settings, out, train_config, stage, mask)
        inside = np.flatnonzero(cells_in(cells, mask))
        if settings.signal == "angle":
            return _angle_scores(out / "stage-1", run_dir, cells[inside], settings.proxy_settings)
        if settings.signal == "magnitude":
            from harness.proxies import ProxyContext
            from harness.proxies.magnitude import operator_weights

            return operator_weights(ProxyContext(run_dir=str(run_dir), device=train_config.device))
        rng = np.random.default_rng([settings.seed, stage])
        sample = cells[rng.choice(inside, min(settings.sample, len(inside)), replace=False)]
        return operator_means(sample, _proxy_scores(settings, train_config, run_dir, sample))
    return supernet_signal


def _means_inside(cells, values, mask) -> np.ndarray:
    inside = cells_in(cells, mask)
    if not inside.any():
        raise HarnessError("no scored cell lies inside the current space; score the whole space (--cells all)")
    return operator_means(cells[inside], np.asarray(values)[inside])


def _train_stage(settings: ShrinkSettings, out: Path, train_config, stage: int, mask: np.ndarray) -> Path:
    from harness.train.loop import train

    run_dir = out / f"stage-{stage + 1}"
    keep = (_reference(settings),) if stage == 0 and settings.signal == "angle" else ()  # the angle's reference
    config = replace(train_config, mode="darts" if settings.signal == "magnitude" else "spos",
                     allowed=None if mask.all() else allowed_lists(mask),
                     epochs=settings.first_epochs if stage == 0 else settings.stage_epochs,
                     seed=train_config.seed + stage, checkpoint_epochs=tuple(e for e in keep if e > 0))
    init_from = None if stage == 0 else out / f"stage-{stage}" / "checkpoints" / "last.pt"
    train(config, run_dir, resume=(run_dir / "config.json").exists(), init_from=init_from)
    return run_dir


def _reference(settings: ShrinkSettings) -> int:
    """The epoch of stage 1's run that the angle measures from (`reference` of the angle proxy's settings)."""
    from harness.proxies.angle import reference_epoch

    epoch = reference_epoch(settings.proxy_settings["reference"])
    if epoch >= settings.first_epochs:  # the angle of the first stage would be 0 for every cell
        raise HarnessError(f"angle reference {settings.proxy_settings['reference']!r} is not before the end of stage "
                           f"1's {settings.first_epochs} epoch(s); take an earlier reference ('init') or more first "
                           f"epochs")
    return epoch


def _angle_scores(first_run: Path, run_dir: Path, cells: np.ndarray, proxy_settings: dict) -> np.ndarray:
    from harness.proxies.angle import angle_from_tables, angle_tables, reference_epoch
    from harness.train.loop import load_model

    _, reference = load_model(first_run, epoch=reference_epoch(proxy_settings["reference"]))
    _, trained = load_model(run_dir)
    return operator_means(cells, angle_from_tables(angle_tables(reference, trained), cells, proxy_settings["parts"]))


def _proxy_scores(settings: ShrinkSettings, train_config, run_dir: Path, cells: np.ndarray) -> np.ndarray:
    from harness.proxies import ProxyContext, get_proxy

    name = "rebn" if settings.signal == "rebn" else settings.signal.split(":", 1)[1]
    context = ProxyContext(dataset=train_config.dataset, data_root=train_config.data_root,
                           splits_dir=train_config.splits_dir or None, run_dir=str(run_dir),
                           device=train_config.device, seed=settings.seed, settings=settings.proxy_settings)
    return get_proxy(name)(cells, context)
