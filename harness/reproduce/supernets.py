"""ABS's supernet for the tables, trained once per dataset, seed, settings and training code, and the proxy scores
taken from it.

A supernet is known by its key, `DATASET-seedS-DIGEST` (DIGEST: its configuration), and lives in
`inputs.runs/KEY-CODE/` (CODE: the training code's hash), so abs-correlation and eps-top20 measure the same network,
a rerun resumes or reuses it, and new training code trains a new one. The scores of a proxy on it are kept in the
store (`Inputs.score`) under the key, so one table's Re-BN scores serve the other, and `--from-scores` finds them
without the run."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from harness.reproduce.inputs import Inputs, digest


def supernet_settings(inputs: Inputs, dataset: str, seed: int, overrides: dict):
    """ABS's supernet recipe (`supernet_config`) on `dataset` with the tables' data and `overrides`."""
    from harness.train import supernet_config

    return replace(supernet_config(), dataset=dataset, data_root=inputs.data_root, splits_dir=inputs.splits_dir or "",
                   seed=seed, progress=inputs.progress, **overrides)


def supernet(inputs: Inputs, dataset: str, seed: int, overrides: dict):
    """Train (or finish, or reuse) the supernet unless re-deriving from the store; returns its run directory, its
    `TrainConfig` and its key."""
    from harness.train.run_dir import training_code_hash

    config = supernet_settings(inputs, dataset, seed, overrides)
    key = f"{dataset}-seed{seed}-{digest(config.identity())}"
    run_dir = Path(inputs.runs) / f"{key}-{training_code_hash()[:8]}"
    if not inputs.from_scores:
        inputs.train(config, run_dir)
    return run_dir, config, key


def supernet_scores(inputs: Inputs, run_dir: Path, config, key: str, proxy: str, cells: str, settings: dict,
                    label: str):
    """`proxy` with `settings` on the `cells` spec of the supernet `key` (in `run_dir`), from the store."""
    from harness.proxies import ProxyContext

    context = ProxyContext(dataset=config.dataset, data_root=inputs.data_root, splits_dir=inputs.splits_dir,
                           run_dir=str(run_dir), device=config.device, seed=config.seed, settings=settings)
    return inputs.score(f"{key}-{label}", proxy, cells, context, run_key=key)
