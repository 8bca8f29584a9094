"""ABS shrinking: the oracle-driven run checked exactly on the real table, a score-file signal, resume, and the
supernet-driven signals on real CIFAR-10 at tiny settings (stage runs chained, darts restricted to the space)."""
import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from harness.analysis import shrinking
from harness.analysis.score_sets import ScoreSet
from harness.analysis.shrunk_space import cells_in
from harness.cli.main import main
from harness.errors import HarnessError
from harness.nets import Supernet
from harness.shrink import ShrinkSettings, shrink_abs
from harness.space import operator_means
from harness.train import supernet_config
from harness.train.loop import build_model, load_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def space(table_oracle):
    return table_oracle.cells(), table_oracle.accuracy(dataset="cifar100", split="x-test")


def test_ground_truth_shrinking_keeps_the_best_cell_and_every_edge(space, tmp_path):
    cells, truth = space
    history = shrink_abs(ShrinkSettings("truth", stages=6, drop_per_stage=3), tmp_path, cells=cells, truth=truth,
                         progress=False)
    best = cells[np.nanargmax(truth)]
    sizes = [record["size"] for record in history]
    assert sizes == sorted(sizes, reverse=True) and sizes[-1] < 200
    for record in history:
        mask = np.array(record["allowed_mask"])
        assert mask.any(axis=1).all() and len(record["dropped"]) == 3
        assert record["size"] == int(np.prod(mask.sum(axis=1))) == cells_in(cells, mask).sum()
        assert mask[np.arange(6), best].all() and record["quality"]["best_global_rank"] == 1
    first = np.array(history[0]["operator_scores"])
    np.testing.assert_allclose(first, operator_means(cells, truth))


def test_a_score_file_drives_shrinking_by_its_operator_means(space, tmp_path):
    cells, truth = space
    params = ((cells == 2) * 1.0 + (cells == 3) * 9.0).sum(axis=1)  # conv weights per cell, up to a factor
    history = shrink_abs(ShrinkSettings("scores:params.csv", stages=2, drop_per_stage=4), tmp_path, cells=cells,
                         truth=truth, score_set=ScoreSet("params", cells, params, {}), progress=False)
    assert all(op in ("none", "skip_connect", "avg_pool_3x3") for _, op in history[0]["dropped"])
    np.testing.assert_allclose(np.array(history[0]["operator_scores"]), operator_means(cells, params))


def test_an_interrupted_run_resumes_after_its_last_stage(space, tmp_path, monkeypatch):
    cells, truth = space
    settings = ShrinkSettings("truth", stages=3, drop_per_stage=2)
    whole = shrink_abs(settings, tmp_path / "whole", cells=cells, truth=truth, progress=False)
    original, calls = shrinking.drop_lowest, []

    def stop_in_stage_2(*args):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(*args)
    import harness.shrink.abs_shrinking as module
    monkeypatch.setattr(module, "drop_lowest", stop_in_stage_2)
    with pytest.raises(KeyboardInterrupt):
        shrink_abs(settings, tmp_path / "cut", cells=cells, truth=truth, progress=False)
    assert len(json.loads((tmp_path / "cut" / "history.json").read_text())["stages"]) == 1
    monkeypatch.setattr(module, "drop_lowest", original)
    resumed = shrink_abs(settings, tmp_path / "cut", cells=cells, truth=truth, progress=False)
    assert [r["dropped"] for r in resumed] == [r["dropped"] for r in whole]
    with pytest.raises(HarnessError, match="other settings"):
        shrink_abs(replace(settings, drop_per_stage=1), tmp_path / "cut", cells=cells, truth=truth, progress=False)


@pytest.fixture
def tiny(cifar10_root, nb201_dir):
    return supernet_config(channels=4, cells=1, resolution=8, samples=0.02, batch_size=64, valid_cells=2,
                           valid_batches=1, data_root=str(cifar10_root), splits_dir=str(nb201_dir / "splits"),
                           progress=False)


def test_angle_shrinking_trains_one_supernet_inside_ever_smaller_spaces(space, tiny, tmp_path):
    cells, truth = space
    settings = ShrinkSettings("angle", stages=2, drop_per_stage=5, first_epochs=2, stage_epochs=1)
    history = shrink_abs(settings, tmp_path, cells=cells, truth=truth, train_config=tiny, progress=False)
    stage2, _ = load_model(tmp_path / "stage-2", epoch=0)
    assert stage2.allowed == history[0]["allowed"]  # stage 2 trained inside stage 1's result
    _, end_of_stage1 = load_model(tmp_path / "stage-1")
    _, start_of_stage2 = load_model(tmp_path / "stage-2", epoch=0)
    for name, tensor in end_of_stage1.state_dict().items():
        assert torch.equal(tensor, start_of_stage2.state_dict()[name]), name
    scores = np.array(history[1]["operator_scores"])
    mask = np.array(history[0]["allowed_mask"])
    assert np.isfinite(scores[mask]).all() and np.isnan(scores[~mask]).all()


def test_magnitude_shrinking_restricts_the_darts_mixture(space, tiny, tmp_path):
    cells, truth = space
    history = shrink_abs(ShrinkSettings("magnitude", stages=2, drop_per_stage=6, first_epochs=1, stage_epochs=1),
                         tmp_path, cells=cells, truth=truth, train_config=tiny, progress=False)
    _, model = load_model(tmp_path / "stage-2")
    mask = np.array(history[0]["allowed_mask"])
    weights = model.op_weights().detach().numpy()
    assert (weights[~mask] == 0).all() and np.allclose(weights.sum(axis=1), 1)
    with pytest.raises(HarnessError, match="not as a list of cells"):
        build_model(replace(tiny, mode="darts", allowed=["|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"]), 10)
    with pytest.raises(HarnessError, match="applies to a darts supernet"):
        Supernet(4, 1).restrict(mask)


def test_shrink_command_writes_the_report(table_oracle, tmp_path, capsys):
    out = tmp_path / "abs"
    assert main(["shrink", "abs", "--signal", "truth", "--dataset", "cifar10", "--stages", "2", "--cache",
                 str(table_oracle.path), "--out", str(out), "--quiet"]) == 0
    assert "cells left after 2 stages" in capsys.readouterr().out
    for name in ("report.md", "stages.csv", "search_gain.csv", "space.json", "provenance.json", "history.json"):
        assert (out / name).is_file(), name
    space_json = json.loads((out / "space.json").read_text())
    assert space_json["size"] == int(np.prod([len(ops) for ops in space_json["allowed"]]))
    assert "gain" in (out / "report.md").read_text()
    assert main(["shrink", "abs", "--signal", "nonsense", "--cache", str(table_oracle.path), "--out",
                 str(tmp_path / "x")]) == 2
    assert "unknown shrinking signal 'nonsense'" in capsys.readouterr().err
    assert main(["shrink", "abs", "--signal", "angle", "--settings", '{"part": "cells"}', "--cache",
                 str(table_oracle.path), "--out", str(tmp_path / "typo")]) == 2
    assert "unknown setting(s) 'part' for proxy 'angle'; the settings of 'angle' are parts" in capsys.readouterr().err
    assert main(["shrink", "abs", "--signal", "truth", "--settings", '{"parts": "cells"}', "--cache",
                 str(table_oracle.path), "--out", str(tmp_path / "truth")]) == 2
    assert "signal 'truth' takes no proxy settings" in capsys.readouterr().err
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["command"].startswith("harness shrink abs --signal truth") and provenance["code_hash"]
    history = json.loads((out / "history.json").read_text())
    assert history["identity"]["code_hash"] and history["identity"]["settings"]["proxy_settings"] == {}


def test_angle_over_the_cells_only_is_a_setting_of_the_angle_signal(space, tiny, tmp_path):
    cells, truth = space
    settings = ShrinkSettings("angle", stages=1, drop_per_stage=2, first_epochs=2, proxy_settings={"parts": "cells"})
    cells_only = shrink_abs(settings, tmp_path / "cells", cells=cells, truth=truth, train_config=tiny, progress=False)
    whole = shrink_abs(replace(settings, proxy_settings={}), tmp_path / "all", cells=cells, truth=truth,
                       train_config=tiny, progress=False)
    assert cells_only[0]["operator_scores"] != whole[0]["operator_scores"]  # same weights, other vector


def test_released_rounds_and_the_angle_reference_are_checked(table_oracle, space, tiny, tmp_path, capsys):
    out = tmp_path / "released"
    assert main(["shrink", "abs", "--signal", "truth", "--rounds", "released", "--cache", str(table_oracle.path),
                 "--out", str(out), "--quiet"]) == 0
    history = json.loads((out / "history.json").read_text())["stages"]
    assert len(history) == 1 and len(history[0]["dropped"]) == 20  # ABS's released round on NB201
    assert np.array(history[0]["allowed_mask"]).any(axis=1).all()  # never the last op of an edge
    assert main(["shrink", "abs", "--signal", "truth", "--rounds", "released", "--stages", "3", "--cache",
                 str(table_oracle.path), "--out", str(tmp_path / "x")]) == 2
    assert "--rounds released drops 20 operators in one round" in capsys.readouterr().err
    cells, truth = space
    with pytest.raises(HarnessError, match="is not before the end of stage 1's 1 epoch"):
        shrink_abs(ShrinkSettings("angle", stages=1, first_epochs=1), tmp_path / "ref", cells=cells, truth=truth,
                   train_config=tiny, progress=False)
