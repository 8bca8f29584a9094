"""EcoNAS on real CIFAR-10 at tiny settings: scores are the reduced runs' validation accuracy, the hierarchical
proxy gives more epochs to the best share only, spends the budget it reports, and resumes mid-job."""
import json
import math
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from harness.analysis.score_sets import read_scores
from harness.errors import HarnessError
from harness.proxies import ProxyContext, get_proxy
from harness.proxies.scoring import score_cells
from harness.space import encode, format_arch
from harness.train import loop, standalone_config

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = {"channels": 2, "cells": 1, "samples": 0.02, "valid_batches": 2}
CELLS = np.array([[3, 3, 3, 1, 3, 2], [0, 0, 0, 0, 0, 0], [4, 1, 0, 2, 0, 1], [2, 2, 4, 3, 1, 3]], dtype=np.int8)


@pytest.fixture
def context(cifar10_root, nb201_dir, tmp_path):
    def make(name="work", **settings):
        return ProxyContext(dataset="cifar10-valid", data_root=str(cifar10_root), splits_dir=str(nb201_dir / "splits"),
                            work_dir=str(tmp_path / name), settings={**TINY, **settings})
    return make


def _epoch_accuracy(work_dir: str, cell, epoch: int) -> float:
    log = Path(work_dir) / "econas" / str(int(encode(cell[None])[0])) / "log.jsonl"
    return next(r for r in map(json.loads, log.read_text().splitlines()) if r["epoch"] == epoch)["valid_accuracy"]


def test_econas_scores_are_the_reduced_runs_validation_accuracy(context, cifar10_root, nb201_dir, tmp_path):
    ctx = context(epochs=2)
    scores = get_proxy("econas")(CELLS[:2], ctx)
    assert ctx.notes["econas_setting"]["resolution"] == 8  # 32 px / 4 by default
    config = standalone_config(format_arch(CELLS[0]), dataset="cifar10-valid", channels=2, cells=1, resolution=8,
                               samples=0.02, epochs=2, valid_batches=2, data_root=str(cifar10_root),
                               splits_dir=str(nb201_dir / "splits"), progress=False)
    assert scores[0] == loop.train(config, tmp_path / "by-hand").read_log()[-1]["valid_accuracy"]
    assert 0 <= scores[1] <= 100 and scores[0] != scores[1]
    reseeded = get_proxy("econas")(CELLS[:1], replace(context("reseeded", epochs=2), seed=1))
    assert reseeded[0] != scores[0]


def test_hierarchical_trains_the_best_share_further_on_one_schedule(context):
    ctx = context(stages=[1, 2], keep=0.5)
    scores = get_proxy("econas_hierarchical")(CELLS, ctx)
    first = np.array([_epoch_accuracy(ctx.work_dir, cell, 1) for cell in CELLS])
    survivors = np.flatnonzero(scores >= 100)
    assert len(survivors) == math.ceil(0.5 * len(CELLS))
    assert set(survivors) == set(np.argsort(-first, kind="stable")[:2])
    dropped = np.setdiff1d(np.arange(len(CELLS)), survivors)
    np.testing.assert_array_equal(scores[dropped], first[dropped])
    flat = get_proxy("econas")(CELLS[survivors], context("flat", epochs=2))
    np.testing.assert_array_equal(scores[survivors] - 100, flat)  # epoch 2 of the same cosine schedule
    assert ctx.notes["cells_per_stage"] == [4, 2]
    assert ctx.notes["budget_epochs"] == 4 * 1 + 2 * 1 and ctx.notes["flat_budget_epochs"] == 4 * 2


def test_an_interrupted_hierarchical_job_resumes_its_runs(context, tmp_path, monkeypatch):
    out, ctx = tmp_path / "h.csv", context(stages=[1, 2], keep=0.5)
    epochs_run = []
    original = loop._train_epoch

    def counted(*args, **kwargs):
        epochs_run.append(1)
        if len(epochs_run) == 5:  # every cell's first epoch is done, the second stage has begun
            raise KeyboardInterrupt
        return original(*args, **kwargs)
    monkeypatch.setattr(loop, "_train_epoch", counted)
    with pytest.raises(KeyboardInterrupt):
        score_cells(get_proxy("econas_hierarchical"), "sample:4:2", replace(ctx, work_dir=None), out, progress=False)
    epochs_run.clear()
    result = score_cells(get_proxy("econas_hierarchical"), "sample:4:2", replace(ctx, work_dir=None), out,
                         progress=False)
    assert len(epochs_run) == 2  # only the two survivors' second epochs
    provenance = read_scores(out).provenance
    assert provenance["budget_epochs"] == 6 and provenance["cells_per_stage"] == [4, 2]
    assert (result.scores >= 100).sum() == 2 and not Path(f"{out}.work").exists()
    with pytest.raises(HarnessError, match="cannot be split into shards"):
        score_cells(get_proxy("econas_hierarchical"), "sample:4:2", ctx, tmp_path / "s.csv", shard=(0, 2))


@pytest.mark.parametrize("dataset, settings, fragment", [
    ("cifar10", {}, "use --dataset cifar10-valid"),
    ("cifar10-valid", {"channel": 4}, "unknown setting(s) 'channel' for proxy 'econas'; the settings of 'econas' are "
                                      "channels (int, default 4"),
    ("cifar10-valid", {"samples": 2}, "samples=2 is not a share in (0, 1]"),
])
def test_econas_refuses_bad_requests(context, dataset, settings, fragment):
    ctx = replace(context(), dataset=dataset, settings={**TINY, **settings})
    with pytest.raises(HarnessError, match=re.escape(fragment)):
        get_proxy("econas")(CELLS[:1], ctx)


@pytest.mark.parametrize("settings, fragment", [({"stages": [2, 2]}, "expected increasing epochs"),
                                                ({"keep": 0}, "expected the share of cells that continue")])
def test_hierarchical_refuses_bad_stages(context, settings, fragment):
    with pytest.raises(HarnessError, match=fragment):
        get_proxy("econas_hierarchical")(CELLS[:1], context(**settings))
