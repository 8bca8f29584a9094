"""ABS's supernet for the tables, trained once per dataset, seed and settings, and the proxy scores taken from it.

A supernet lives in `inputs.runs/DATASET-seedS-HASH/` (HASH: its settings), so abs-correlation and eps-top20
measure the same network and a rerun resumes or reuses it; the scores of a proxy on it live in its `scores/`, so
one table's Re-BN scores serve the other."""
from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

from harness.reproduce.inputs import Inputs


def supernet_settings(inputs: Inputs, dataset: str, seed: int, overrides: dict):
    """ABS's supernet recipe (`supernet_config`) on `dataset` with the tables' data and `overrides`."""
    from harness.train import supernet_config

    return replace(supernet_config(), dataset=dataset, data_root=inputs.data_root, splits_dir=inputs.splits_dir or "",
                   seed=seed, progress=inputs.progress, **overrides)


def supernet(inputs: Inputs, dataset: str, seed: int, overrides: dict):
    """Train (or finish, or reuse) the supernet; returns its run directory, its `TrainConfig` and the seconds its
    training took (from its log, so a reused run still reports what it cost)."""
    from harness.train.loop import train

    config = supernet_settings(inputs, dataset, seed, overrides)
    digest = hashlib.sha256(json.dumps(overrides, sort_keys=True).encode()).hexdigest()[:8]
    run_dir = Path(inputs.runs) / f"{dataset}-seed{seed}-{digest}"
    train(config, run_dir, resume=(run_dir / "config.json").exists())
    log = (run_dir / "log.jsonl").read_text().splitlines()
    return run_dir, config, sum(json.loads(line)["seconds"] for line in log)


def supernet_scores(inputs: Inputs, run_dir: Path, config, proxy: str, cells: str, settings: dict, name: str):
    """`proxy` with `settings` on the `cells` spec of the supernet in `run_dir`, kept as `run_dir/scores/NAME.csv`."""
    from harness.proxies import ProxyContext, get_proxy
    from harness.proxies.scoring import score_cells

    context = ProxyContext(dataset=config.dataset, data_root=inputs.data_root, splits_dir=inputs.splits_dir,
                           run_dir=str(run_dir), device=config.device, seed=config.seed, settings=settings)
    return score_cells(get_proxy(proxy), cells, context, run_dir / "scores" / f"{name}.csv",
                       order=inputs.oracle.order, table_hash=inputs.oracle.table_hash, progress=inputs.progress)
