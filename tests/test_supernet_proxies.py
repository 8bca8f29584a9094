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


# none, skip, conv1x1, conv3x3, avgpool = 0..4: all-none, all-pool, all-conv, dead conv edges (1<-0 conv reaches
# only node 1, which feeds nothing but `none`s; 3<-1 reads node 1), the output cut off with live convs before it
SPECIAL = np.array([[0, 0, 0, 0, 0, 0], [4, 4, 4, 4, 4, 4], [3, 3, 3, 3, 3, 3], [3, 1, 0, 0, 0, 2], [0, 3, 2, 1, 3, 0],
                    [3, 2, 0, 0, 0, 0]])


def _one_at_a_time(model, cells, calibration, x, momentum, rebn=True):
    """Each child's logits on `x` by the supernet's own forward, after its own recalibration (or with the
    supernet's statistics): the reference the engine must equal."""
    state = {k: v.clone() for k, v in model.state_dict().items()}
    logits = []
    for cell in cells:
        if rebn:
            recalibrate(model, cell, calibration, momentum)
        model.eval()
        with torch.no_grad():
            logits.append(model(x, cell))
        model.load_state_dict(state)
    return torch.stack(logits)


def _assert_same_children(batched, reference):
    """Equal to 1e-5 of each child's logit scale (a child whose output is cut off has constant logits)."""
    scale = reference.abs().amax(dim=(1, 2), keepdim=True).clamp_min(1e-12)
    assert ((batched - reference).abs() / scale).max() < 1e-5


@pytest.mark.parametrize("momentum", (0.1, None))
def test_batched_children_equal_one_at_a_time(runs, cifar10_root, nb201_dir, momentum):
    """Re-BN of 12 children in one pass (`harness.nets.batched`), on real CIFAR-10 batches of the trained supernet,
    gives each the logits it gets recalibrated and evaluated alone, in either order of the children."""
    from harness.data import DeviceBatches, load_split
    from harness.nets.batched import children_logits, recalibrate_children

    _, model = load_run(_context(runs))
    data = load_split("cifar10-valid", "train", str(cifar10_root), str(nb201_dir / "splits"))
    batches = iter(DeviceBatches(data, 48, "cpu", train=True, seed=1, resolution=16))
    calibration, (x, _) = [next(batches) for _ in range(4)], next(batches)
    cells = np.vstack([SPECIAL, CELLS])
    reference = _one_at_a_time(model, cells, calibration, x, momentum)
    statistics = recalibrate_children(model, cells, calibration, momentum)
    _assert_same_children(children_logits(model, x, cells, statistics), reference)
    order = np.random.default_rng(2).permutation(len(cells))  # other neighbours in every op's sub-batch
    statistics = recalibrate_children(model, cells[order], calibration, momentum)
    _assert_same_children(children_logits(model, x, cells[order], statistics), reference[order])
    plain = children_logits(model, x, cells)  # the supernet's own statistics, as supernet_acc reads them
    _assert_same_children(plain, _one_at_a_time(model, cells, calibration, x, momentum, rebn=False))


@pytest.mark.parametrize("momentum", (0.1, None))
def test_both_batch_norms_of_the_engine_agree(momentum):
    """The engine's train-mode BN, PyTorch's kernel child by child (the CPU's) and one reduction over all children
    (a GPU's), give the same outputs and running statistics over two batches, for a subset of the children."""
    from harness.nets.batched import ChildStatistics, _norm_at_once, _norm_each

    bn = torch.nn.BatchNorm2d(6)
    torch.nn.init.uniform_(bn.weight, 0.5, 2.0), torch.nn.init.uniform_(bn.bias, -1.0, 1.0)
    model = torch.nn.Sequential(bn)
    each, at_once = ChildStatistics(model, 5), ChildStatistics(model, 5)
    children = [4, 1, 2]
    for seed in (0, 1):
        x = torch.randn(3, 8, 4, 4, 6, generator=torch.Generator().manual_seed(seed)) * 3 + 1
        torch.testing.assert_close(_norm_each(x, bn, children, each, momentum),
                                   _norm_at_once(x, bn, children, at_once, momentum), rtol=1e-5, atol=1e-5)
    for a, b in zip(each.of[bn], at_once.of[bn]):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)
    assert each.of[bn][2].tolist() == [0, 2, 2, 0, 2]


@pytest.mark.parametrize("proxy", ("rebn", "supernet_acc"))
def test_batch_cells_gives_the_same_accuracies(runs, proxy):
    """The proxies with K children per pass (K = 5, which splits the 12 cells unevenly, and K = 12)
    score what one child at a time scores; a near-tie between two classes may round the other way: one image."""
    cells = np.vstack([SPECIAL, CELLS])
    settings = {**IMAGES, "valid_images": 256} | ({"calibration_images": 256} if proxy == "rebn" else {})
    one = get_proxy(proxy)(cells, _context(runs, **settings))
    for K in (5, 12):
        batched = get_proxy(proxy)(cells, _context(runs, **settings, batch_cells=K))
        np.testing.assert_allclose(batched, one, atol=100 / 256 + 1e-9)
    with pytest.raises(HarnessError, match="'batch_cells' is 0; expected a positive int"):
        get_proxy(proxy)(cells, _context(runs, **settings, batch_cells=0))
