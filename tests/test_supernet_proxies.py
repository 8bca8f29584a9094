"""Re-BN and plain supernet accuracy, and DARTS magnitude, on tiny real supernet runs (CIFAR-10)."""
from dataclasses import replace

import numpy as np
import pytest
import torch

from harness.errors import HarnessError
from harness.proxies import ProxyContext, get_proxy
from harness.proxies.magnitude import operator_weights
from harness.proxies.supernet_accuracy import load_run, recalibrate
from harness.space import all_cells
from harness.train import supernet_config
from harness.train.loop import train

pytestmark = pytest.mark.usefixtures("one_torch_thread")
CELLS = all_cells()[np.random.default_rng(0).choice(15625, 6, replace=False)]


@pytest.fixture(scope="module")
def runs(cifar10_root, nb201_dir, tmp_path_factory):
    base = supernet_config(channels=8, cells=1, resolution=16, samples=0.04, epochs=2, batch_size=64, lr=0.05,
                           valid_cells=2, valid_batches=2, data_root=str(cifar10_root),
                           splits_dir=str(nb201_dir / "splits"), progress=False)
    root = tmp_path_factory.mktemp("runs")
    spos = train(base, root / "spos").path
    darts = train(replace(base, mode="darts", epochs=1, samples=0.02), root / "darts").path
    return {"spos": str(spos), "darts": str(darts), "data_root": str(cifar10_root),
            "splits": str(nb201_dir / "splits")}


def _context(runs, kind="spos", **settings):
    return ProxyContext(dataset="cifar10-valid", data_root=runs["data_root"], splits_dir=runs["splits"],
                        run_dir=runs[kind], settings=settings)


#: small image budgets for the accuracies
IMAGES = {"batch_size": 128, "valid_images": 512}


def test_rebn_and_plain_accuracy_score_children(runs):
    context = _context(runs, **IMAGES, calibration_images=512)
    _, model = load_run(context)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rebn = get_proxy("rebn")(CELLS, context)
    plain = get_proxy("supernet_acc")(CELLS, replace(context, settings=IMAGES))
    assert rebn.shape == (6,) and ((rebn >= 0) & (rebn <= 100)).all() and not np.array_equal(rebn, plain)
    np.testing.assert_array_equal(get_proxy("rebn")(CELLS, context), rebn)  # deterministic
    after = load_run(context)[1].state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # the cached supernet keeps its statistics
    assert rebn.mean() > 10.0  # re-calibrated children of a (briefly) trained supernet beat chance on average


def test_recalibration_is_an_exact_average_over_calibration_batches(runs):
    _, model = load_run(_context(runs))
    torch.manual_seed(0)
    batches = [(torch.randn(32, 3, 16, 16), None) for _ in range(3)]
    stem_bn = model.stem[1]
    recalibrate(model, CELLS[0], batches)
    with torch.no_grad():
        outputs = torch.cat([model.stem[0](x) for x, _ in batches])
    torch.testing.assert_close(stem_bn.running_mean, outputs.mean(dim=(0, 2, 3)), atol=1e-5, rtol=1e-5)
    assert stem_bn.momentum == 0.1  # restored


def test_recalibration_with_the_released_momentum_is_an_exponential_average(runs):
    """ABS's released Re-BN keeps PyTorch's BN momentum 0.1: after a reset (mean 0), each batch moves the running
    mean a tenth of the way to its own mean, so the last batches weigh most."""
    _, model = load_run(_context(runs))
    torch.manual_seed(0)
    batches = [(torch.randn(32, 3, 16, 16) + shift, None) for shift in (0.0, 1.0, 3.0)]
    recalibrate(model, CELLS[0], batches, momentum=0.1)
    expected = torch.zeros(model.stem[1].num_features)
    with torch.no_grad():
        for x, _ in batches:
            expected = 0.9 * expected + 0.1 * model.stem[0](x).mean(dim=(0, 2, 3))
    torch.testing.assert_close(model.stem[1].running_mean, expected, atol=1e-5, rtol=1e-5)
    assert get_proxy("rebn").resolve_settings({})["momentum"] == 0.1  # the released default
    assert get_proxy("rebn").resolve_settings({"momentum": None})["momentum"] is None  # the cumulative average


def test_magnitude_ranks_cells_by_their_probability_under_darts(runs):
    context = _context(runs, kind="darts")
    weights = operator_weights(context)
    assert weights.shape == (6, 5) and np.allclose(weights.sum(axis=1), 1.0)
    best = weights.argmax(axis=1)
    scores = get_proxy("magnitude")(np.vstack([best, CELLS]), context)
    assert scores[0] == scores.max() and scores[0] == pytest.approx(np.log(weights.max(axis=1)).sum())
    with pytest.raises(HarnessError, match="--mode darts"):
        get_proxy("magnitude")(CELLS, _context(runs, kind="spos"))


def test_supernet_proxies_say_what_they_need(runs):
    with pytest.raises(HarnessError, match="needs a trained supernet run: --run RUN_DIR"):
        get_proxy("rebn")(CELLS, ProxyContext(data_root=runs["data_root"]))
    with pytest.raises(HarnessError, match="needs a dataset's images"):
        get_proxy("rebn")(CELLS, ProxyContext(run_dir=runs["spos"]))


def test_the_score_file_records_how_much_the_reset_statistics_still_weigh(runs, tmp_path):
    """With momentum 0.1, B calibration batches leave 0.9^B of the reset statistics: the score file says B and it."""
    from harness.analysis.score_sets import read_scores
    from harness.proxies.scoring import score_cells

    context = _context(runs, batch_size=128, valid_images=256, calibration_images=512)  # 4 batches
    score_cells(get_proxy("rebn"), "sample:3:0", context, tmp_path / "r.csv", progress=False)
    provenance = read_scores(tmp_path / "r.csv").provenance
    assert provenance["calibration_batches"] == 4
    assert provenance["reset_statistics_weight"] == pytest.approx(0.9 ** 4)
    exact = replace(context, settings={**context.settings, "momentum": None})
    score_cells(get_proxy("rebn"), "sample:3:0", exact, tmp_path / "e.csv", progress=False)
    assert "reset_statistics_weight" not in read_scores(tmp_path / "e.csv").provenance  # the cumulative average
