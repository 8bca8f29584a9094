"""The ABS angle proxy: closed form against the literal definition, and the registered proxy on a run directory."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from harness.errors import HarnessError
from harness.nets import Supernet, TinyNetwork, count_params
from harness.proxies import ProxyContext, get_proxy
from harness.nets.supernet import SearchCell
from harness.proxies.angle import (_child_vector, _run_tables, angle_diagnostics, angle_from_tables, angle_reference,
                                   angle_scores, angle_tables)
from harness.proxies.scoring import score_cells, select_cells
from harness.space import all_cells
from harness.train.config import TrainConfig
from harness.train.run_dir import RunDir

C, N = 8, 1
DEAD = [0, 0, 0, 0, 0, 0]
SKIPS = [1, 1, 1, 1, 1, 1]


@pytest.fixture(scope="module")
def models():
    """A seeded supernet before and after a few SGD steps on random images (sampled paths only move)."""
    torch.manual_seed(0)
    model0 = Supernet(C, N)
    model1 = copy.deepcopy(model0)
    optimizer = torch.optim.SGD(model1.parameters(), lr=0.5)
    rng = np.random.default_rng(0)
    for _ in range(4):
        x, y = torch.randn(8, 3, 16, 16), torch.randint(0, 10, (8,))
        optimizer.zero_grad()
        F.cross_entropy(model1(x, cell=rng.integers(1, 5, 6)), y).backward()
        optimizer.step()
    return model0, model1


def _cells():
    """30 cells: random ones, dead ones, skip-only, single-path ones, pool-heavy ones."""
    rng = np.random.default_rng(1)
    fixed = [DEAD, SKIPS, [0, 0, 0, 3, 0, 0], [2, 0, 0, 0, 3, 0], [3, 3, 3, 3, 3, 3], [4, 4, 4, 4, 4, 4],
             [1, 0, 2, 0, 0, 4], [0, 2, 3, 0, 4, 0], [3, 1, 0, 4, 1, 2], [1, 1, 1, 0, 0, 0]]
    return np.array(fixed + rng.integers(0, 5, (20, 6)).tolist())


def _fixed_angle(model0, model1):
    """The angle of the fixed part alone, from every parameter outside the searchable cells."""
    def vec(model):
        in_cells = {id(p) for block in model.cells if isinstance(block, SearchCell) for p in block.parameters()}
        return torch.cat([p.detach().double().reshape(-1) for p in model.parameters() if id(p) not in in_cells])
    v0, v1 = vec(model0), vec(model1)
    return float(np.arccos(np.clip((v0 @ v1 / (v0.norm() * v1.norm())).item(), -1, 1)))


def test_closed_form_matches_the_literal_definition(models):
    cells = _cells()
    expected = np.array([angle_reference(*models, cell) for cell in cells])
    assert np.all(expected > 0)
    np.testing.assert_allclose(angle_scores(*models, cells), expected, rtol=0, atol=1e-6)


def test_dead_and_skip_only_cells_leave_the_fixed_part(models):
    fixed = _fixed_angle(*models)
    scores = angle_scores(*models, np.array([DEAD, SKIPS, [0, 0, 3, 0, 3, 3]]))  # last: nothing leaves node 0
    np.testing.assert_allclose(scores, fixed, rtol=0, atol=1e-9)
    assert angle_scores(*models, np.array([[0, 0, 0, 3, 0, 0]]))[0] != pytest.approx(fixed)


def test_the_reference_vector_has_the_defined_length(models):
    def v_len(cell):
        return _child_vector(models[0], cell).numel()
    assert v_len(SKIPS) == count_params(SKIPS, C, N)  # a skip-only standalone net has exactly the fixed part
    # 0->1->2->3 all 3x3 convs and 0->3 a pool, the rest none: per block 3 convs + (C, 3, 3) ones
    cell = [3, 0, 3, 4, 0, 3]
    per_block = sum(3 * 9 * c * c + 9 * c for c in (C, 2 * C, 4 * C))
    assert v_len(cell) == count_params(SKIPS, C, N) + per_block


def test_identical_models_give_zero(models):
    model0, _ = models
    cells = all_cells()
    assert np.abs(angle_scores(model0, copy.deepcopy(model0), cells)).max() < 1e-7


def test_global_scale_changes_nothing_without_pools(models):
    """cos ignores a positive scale of v; the pool's 1/9 tensor does not scale, so pool cells move."""
    model0, model1 = models
    scaled = copy.deepcopy(model1)
    with torch.no_grad():
        for p in scaled.parameters():
            p.mul_(3.0)
    no_pool, with_pool = np.array([[3, 2, 1, 3, 0, 2]]), np.array([[4, 2, 1, 4, 0, 2]])
    np.testing.assert_allclose(angle_scores(model0, scaled, no_pool), angle_scores(model0, model1, no_pool),
                               rtol=0, atol=1e-9)
    assert abs(angle_scores(model0, scaled, with_pool)[0] - angle_scores(model0, model1, with_pool)[0]) > 1e-6


def test_cells_only_angle_leaves_the_fixed_part_out(models):
    model0, model1 = models
    cells = _cells()
    n_fixed = _child_vector(model0, DEAD).numel()
    expected = []
    for cell in cells:
        v0, v1 = _child_vector(model0, cell)[n_fixed:], _child_vector(model1, cell)[n_fixed:]
        cos = (v0 @ v1 / (v0.norm() * v1.norm())).item() if v0.numel() else 1.0  # an empty vector has not moved
        expected.append(np.arccos(np.clip(cos, -1, 1)))
    got = angle_from_tables(angle_tables(model0, model1), cells, parts="cells")
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    assert got[0] == 0.0 and not np.allclose(got, angle_scores(model0, model1, cells))
    with pytest.raises(HarnessError, match="parts='fixed'"):
        angle_from_tables(angle_tables(model0, model1), cells, parts="fixed")


def test_edge_tables_hold_the_pool_constant(models):
    tables = angle_tables(*models)
    assert tables.edges.shape == (3, 3 * N, 6, 5)
    pool = np.broadcast_to(np.array([C, 2 * C, 4 * C])[None, :, None] / 9, (3, 3 * N, 6))
    np.testing.assert_allclose(tables.edges[:, :, :, 4], pool)
    assert not tables.edges[:, :, :, :2].any()


def _write_run(path, models, kind="supernet"):
    """A run directory in `load_model`'s format: epoch 0 holds the initial weights, `last.pt` the trained ones."""
    config = TrainConfig(kind=kind, arch="|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|"
                         if kind == "standalone" else None, channels=C, cells=N, progress=False)
    run = RunDir(path)
    run.start(config, resume=False)
    for epoch, model in enumerate(models):
        run.save({"model": model.state_dict(), "epoch": epoch, "config": config.to_json(), "num_classes": 10},
                 epoch, keep=True)
    return run


def test_registered_proxy_scores_a_run(models, tmp_path):
    _write_run(tmp_path / "run", models)
    context = ProxyContext(run_dir=str(tmp_path / "run"), settings={"reference": "init"})
    _run_tables.cache_clear()
    result = score_cells(get_proxy("angle"), "sample:200:0", context, tmp_path / "angle.csv", chunk=64,
                         progress=False)
    # one load of the checkpoints, however many chunks the journal cut the 200 cells into (at least 4 of <= 64)
    assert _run_tables.cache_info().misses == 1 and _run_tables.cache_info().hits >= 3
    cells = select_cells("sample:200:0")
    np.testing.assert_array_equal(result.cells, cells)
    np.testing.assert_allclose(result.scores, angle_scores(*models, cells), rtol=0, atol=1e-12)


def test_proxy_errors_are_clear(tmp_path, models):
    proxy = get_proxy("angle")
    cells = all_cells()[:3]
    with pytest.raises(HarnessError, match="needs a trained supernet run"):
        proxy(cells, ProxyContext())
    with pytest.raises(HarnessError, match="no checkpoint epoch-0001.pt"):
        proxy(cells, ProxyContext(run_dir=str(tmp_path / "missing")))
    torch.manual_seed(0)
    net = TinyNetwork([3, 0, 0, 0, 0, 0], C, N, affine=False)
    _write_run(tmp_path / "standalone", [net, net], kind="standalone")
    with pytest.raises(HarnessError, match="needs supernet weights"):
        proxy(cells, ProxyContext(run_dir=str(tmp_path / "standalone")))


def test_affine_cell_bns_are_ignored():
    """With affine cell BNs (not ABS's setting) the vector is unchanged: their parameters never enter it."""
    torch.manual_seed(0)
    model0 = Supernet(C, N, affine=True)
    model1 = copy.deepcopy(model0)
    with torch.no_grad():
        for p in model1.parameters():
            p.add_(0.1 * torch.randn_like(p))
    cells = _cells()
    assert _child_vector(model0, SKIPS).numel() == count_params(SKIPS, C, N)
    np.testing.assert_allclose(angle_scores(model0, model1, cells),
                               [angle_reference(model0, model1, cell) for cell in cells], rtol=0, atol=1e-6)
    np.testing.assert_allclose(angle_scores(model0, model1, np.array([DEAD])), _fixed_angle(model0, model1),
                               rtol=0, atol=1e-9)


def test_the_reference_is_the_checkpoint_after_the_first_epoch_as_released(models, tmp_path):
    """ABS's released code measures from its first checkpoint, written after one epoch: `reference: epoch:1` (the
    default); `init` is the paper's reading; another epoch must have been kept."""
    model0, model1 = models
    halfway = copy.deepcopy(model0)
    with torch.no_grad():
        for p, q in zip(halfway.parameters(), model1.parameters()):
            p.copy_((p + q) / 2)
    _write_run(tmp_path / "run", [model0, halfway, model1])
    cells = _cells()
    proxy, run = get_proxy("angle"), str(tmp_path / "run")
    np.testing.assert_allclose(proxy(cells, ProxyContext(run_dir=run)), angle_scores(halfway, model1, cells),
                               rtol=0, atol=1e-12)
    np.testing.assert_allclose(proxy(cells, ProxyContext(run_dir=run, settings={"reference": "init"})),
                               angle_scores(model0, model1, cells), rtol=0, atol=1e-12)
    np.testing.assert_allclose(proxy(cells, ProxyContext(run_dir=run, settings={"reference": "epoch:0"})),
                               angle_scores(model0, model1, cells), rtol=0, atol=1e-12)
    with pytest.raises(HarnessError, match="no checkpoint epoch-0005.pt .* it has epoch-0000.pt, epoch-0001.pt"):
        proxy(cells, ProxyContext(run_dir=run, settings={"reference": "epoch:5"}))
    with pytest.raises(HarnessError, match="expected 'init' or 'epoch:K'"):
        proxy(cells, ProxyContext(run_dir=run, settings={"reference": "first"}))


def test_diagnostics_split_the_angle_into_its_parts(models):
    """Each fixed part's angle from its own tensors, and the shares of the squared norm against the literal vector."""
    model0, model1 = models
    cells = _cells()
    found = angle_diagnostics(model0, model1, cells)
    stem0 = torch.cat([t.detach().double().reshape(-1) for t in (model0.stem[0].weight, model0.stem[1].weight,
                                                                   model0.stem[1].bias)])
    stem1 = torch.cat([t.detach().double().reshape(-1) for t in (model1.stem[0].weight, model1.stem[1].weight,
                                                                   model1.stem[1].bias)])
    expected = np.degrees(np.arccos((stem0 @ stem1 / (stem0.norm() * stem1.norm())).item()))
    assert found["parts"]["stem"]["angle_deg"] == pytest.approx(expected)
    assert found["parts"]["fixed part"]["angle_deg"] == pytest.approx(np.degrees(_fixed_angle(model0, model1)))
    shares = [stem1.pow(2).sum().item() / _child_vector(model1, cell).pow(2).sum().item() for cell in cells]
    assert found["parts"]["stem"]["norm_share_median"] == pytest.approx(np.median(shares))
    assert found["cells"] == len(cells) and found["cells_with_a_part"] < len(cells)  # DEAD and SKIPS have none
