"""harness.nets: parity of the cost model with the benchmark's data, supernet/standalone equality, skipped work.

Parameter counts are pinned against `params_mb@cifar10` of ../shared/nb201/table.csv for every cell, FLOPs
against the official NATS-Bench records of the sample. Network checks run at small sizes (C=8, N<=2, 8-16 px).
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from harness import space
from harness.errors import ArchStringError, HarnessError
from harness.nets import Supernet, TinyNetwork, count_flops, count_params, plan_of
from harness.nets.ops import AvgPool3x3, ResNetBasicblock
from harness.nets.standalone import InferCell

RESOLUTION = {"cifar10-valid": 32, "cifar10": 32, "cifar100": 32, "ImageNet16-120": 16}
# Cells with a dead node, a node with no live input, a dead output, pools and both convs, all-conv.
CELLS = [(0, 1, 3, 0, 2, 4), (3, 3, 3, 1, 0, 0), (3, 4, 2, 3, 4, 1), (0, 3, 3, 3, 3, 3), (1, 0, 0, 0, 0, 0),
         (4, 2, 1, 2, 1, 1), (3, 3, 3, 3, 3, 3)]


@pytest.fixture(scope="module")
def table(table_csv):
    frame = pd.read_csv(table_csv)
    return space.parse_archs(frame["arch"]), frame["params_mb@cifar10"].to_numpy()


def _seeded(seed):
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


# --- cost model ---------------------------------------------------------------------------------------------

def test_count_params_matches_the_table_for_every_cell(table):
    cells, table_mb = table
    counts = np.array([count_params(c) for c in cells])
    exact = np.round(counts / 1e6, 6) == table_mb
    # The rest are benchmark quirks, not ours: the table averages the seeds' records, and for 204 cells some
    # seeds were trained as an isomorphic cell with different dead edges (e.g. index 296: two seeds at
    # 0.129306, one at 0.101306 without its dead 1x1 conv). Each is such a mean of ours and an isomorph's count.
    assert (~exact).sum() == 204
    classes = space.class_ids(cells)
    members = defaultdict(list)
    for i, c in enumerate(classes):
        members[c].append(i)
    for i in np.flatnonzero(~exact):
        means = {round(((n - k) * counts[i] + k * counts[j]) / n / 1e6, 6)
                 for j in members[classes[i]] for n in (2, 3) for k in range(1, n)}
        assert table_mb[i] in means, (i, space.format_arch(cells[i]))


def test_count_params_equals_the_modules_parameters(table):
    cells, _ = table
    rng = np.random.default_rng(0)
    for cell in cells[rng.choice(len(cells), 30, replace=False)]:
        assert sum(p.numel() for p in TinyNetwork(cell).parameters()) == count_params(cell)
    for cell, C, N, classes in [(CELLS[2], 8, 1, 7), (CELLS[6], 4, 2, 100)]:
        net = TinyNetwork(cell, C=C, N=N, num_classes=classes)
        assert sum(p.numel() for p in net.parameters()) == count_params(cell, C=C, N=N, num_classes=classes)


def test_flops_and_params_reproduce_the_official_records(nats_records):
    checked = 0
    for index, by_hp in nats_records.items():
        for hp, record in by_hp.items():
            cell = space.parse_arch(record["arch_str"])
            for (dataset, _seed), result in record["all_results"].items():
                config = result["arch_config"]
                assert (config["channel"], config["num_cells"]) == (16, 5)
                flops = count_flops(cell, num_classes=config["class_num"], resolution=RESOLUTION[dataset])
                assert flops == pytest.approx(result["flop"], abs=1e-5), (index, hp, dataset)
                assert count_params(cell, num_classes=config["class_num"]) / 1e6 == pytest.approx(result["params"],
                                                                                                 abs=1e-6)
                checked += 1
    assert checked >= 3 * 4 * 3


@pytest.mark.parametrize("index, classes, resolution, flops, params", [
    (0, 10, 32, 15.64737, 0.129306), (11, 10, 32, 113.95137, 0.802426), (284, 10, 32, 11.71521, 0.101306),
    (0, 100, 32, 15.65322, 0.135156), (0, 120, 16, 3.91948, 0.136456)])
def test_the_nats_sample_values(table_csv, index, classes, resolution, flops, params):
    arch = pd.read_csv(table_csv, usecols=["arch"], nrows=index + 1)["arch"].iloc[index]
    cell = space.parse_arch(arch)
    assert count_flops(cell, num_classes=classes, resolution=resolution) == pytest.approx(flops, abs=1e-5)
    assert round(count_params(cell, num_classes=classes) / 1e6, 6) == params


def test_flops_equal_a_hook_count_of_the_modules_where_every_edge_runs():
    """The convention: conv out_h*out_w*k*k*C_in*C_out (no bias), linear in*out + out, nothing else."""
    for cell, C, N, resolution in [((3, 2, 3, 4, 2, 3), 8, 2, 16), ((2, 2, 2, 2, 2, 2), 4, 1, 24)]:
        assert all(op != 0 for op in cell)  # no dead edge, so the hooks see every conv the benchmark counts
        net, total = TinyNetwork(cell, C=C, N=N).eval(), []

        def hook(module, inputs, output):
            if isinstance(module, nn.Conv2d):
                k = module.kernel_size[0] * module.kernel_size[1]
                total.append(output.shape[2] * output.shape[3] * k * module.in_channels * module.out_channels)
            else:
                total.append(module.in_features * module.out_features + module.out_features)
        for module in net.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                module.register_forward_hook(hook)
        with torch.no_grad():
            net(torch.randn(1, 3, resolution, resolution))
        assert count_flops(cell, C=C, N=N, resolution=resolution) == pytest.approx(sum(total) / 1e6, abs=1e-9)


# --- standalone network and execution plans ------------------------------------------------------------------

def _naive(net: TinyNetwork, x):
    """The benchmark's InferCell semantics: every edge computed, `none` as zeros, nn.AvgPool2d for pooling."""
    def cell_forward(cell: InferCell, h):
        nodes = [h]
        for node in range(1, 4):
            total = 0
            for e, (to, src) in enumerate(space.EDGES):
                if to != node:
                    continue
                op, inp = cell.cell[e], nodes[src]
                if op == 0:
                    total = total + inp * 0
                elif op == 1:
                    total = total + inp
                elif op == 4:
                    total = total + F.avg_pool2d(inp, 3, stride=1, padding=1, count_include_pad=False)
                else:
                    total = total + cell.edges[space.EDGE_NAMES[e]](inp)
            nodes.append(total)
        return nodes[3]
    return net.run(x, cell_forward)


@pytest.mark.parametrize("cell", CELLS)
def test_skipping_dead_work_keeps_the_benchmarks_function(cell):
    """At initialisation (BN shift 0), skipping zero and dead nodes changes no output, in train and eval mode."""
    _seeded(1)
    net = TinyNetwork(cell, C=8, N=2)
    x = torch.randn(6, 3, 16, 16)
    for train in (True, False):
        net.train(train)
        assert torch.allclose(net(x), _naive(net, x), atol=1e-5)


def test_plans_skip_none_edges_and_dead_nodes():
    assert plan_of((3, 3, 3, 1, 0, 0)).nodes == (((3, (((3, 1, 0)),)),))  # nodes 1, 2 cannot reach the output
    plan = plan_of((0, 3, 3, 3, 3, 3))  # node 1 has no live input: its out-edges are skipped
    assert [node for node, _ in plan.nodes] == [2, 3]
    assert [term.edge for _, terms in plan.nodes for term in terms] == [1, 3, 5]
    assert plan_of((1, 0, 0, 0, 0, 0)).output_is_zero
    assert plan_of((1, 1, 1, 1, 1, 1)).nodes[-1][1] == ((3, 1, 0), (4, 1, 1), (5, 1, 2))


def _count_cell_op_calls(net) -> list:
    """Forward hooks on every conv and pool module inside the cells; the returned list grows by one per call."""
    calls = []
    for block in net.cells:
        if not isinstance(block, ResNetBasicblock):
            for module in block.modules():
                if isinstance(module, (nn.Conv2d, AvgPool3x3)):
                    module.register_forward_hook(lambda *args: calls.append(1))
    return calls


def test_none_edges_and_dead_nodes_cost_nothing():
    _seeded(2)
    supernet, x = Supernet(C=8, N=2), torch.randn(4, 3, 8, 8)
    supernet_calls = _count_cell_op_calls(supernet)
    for cell, ops_per_cell in [((0, 0, 0, 1, 0, 0), 0), ((3, 3, 3, 1, 0, 0), 0), ((3, 4, 2, 1, 4, 0), 2),
                               ((0, 3, 3, 3, 3, 3), 3), ((1, 0, 0, 0, 0, 0), 0), ((3, 3, 3, 3, 3, 3), 6),
                               ((4, 2, 4, 0, 1, 0), 1), ((4, 4, 4, 4, 4, 4), 6)]:
        supernet_calls.clear()
        supernet(x, cell)
        net = TinyNetwork(cell, C=8, N=2)
        net_calls = _count_cell_op_calls(net)
        net(x)
        assert len(supernet_calls) == len(net_calls) == 6 * ops_per_cell, cell


def test_a_cell_whose_output_is_zero_gives_zeros_and_constant_logits():
    _seeded(3)
    net = TinyNetwork((1, 0, 0, 0, 0, 0), C=8, N=1).eval()
    logits = net(torch.randn(5, 3, 8, 8))
    assert torch.allclose(logits, logits[:1].expand_as(logits))


# --- supernet ------------------------------------------------------------------------------------------------

def _assert_standalone_matches(supernet, cells, x):
    for train in (True, False):
        supernet.train(train)
        for cell in cells:
            child = supernet.standalone(cell)
            assert child.training == train
            with torch.no_grad():
                assert torch.allclose(supernet(x, cell), child(x), atol=1e-6), (cell, train)


@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("track", [True, False])
def test_standalone_copy_computes_the_supernet_child(affine, track):
    rng = _seeded(4)
    supernet = Supernet(C=8, N=1, affine=affine, track_running_stats=track)
    x = torch.randn(8, 3, 8, 8)
    _assert_standalone_matches(supernet, CELLS, x)
    supernet.train()
    optimizer = torch.optim.SGD(supernet.parameters(), lr=0.1, momentum=0.9)
    for _ in range(4):  # weights and running statistics move away from their initial values
        cell = rng.integers(0, 5, 6)
        loss = F.cross_entropy(supernet(torch.randn(8, 3, 8, 8), cell), torch.randint(0, 10, (8,)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    _assert_standalone_matches(supernet, CELLS + [tuple(rng.integers(0, 5, 6)) for _ in range(3)], x)


def test_standalone_accepts_any_cell_form_and_holds_a_copy():
    _seeded(5)
    supernet = Supernet(C=8, N=2, affine=True).eval()
    x = torch.randn(4, 3, 16, 16)
    cell = [3, 2, 4, 3, 1, 2]
    outputs = [supernet(x, form) for form in (cell, np.array(cell, dtype=np.int8), torch.tensor(cell))]
    assert all(torch.equal(outputs[0], out) for out in outputs[1:])
    child = supernet.standalone(torch.tensor(cell))
    assert child.cell == tuple(cell) and child.affine is True
    with torch.no_grad():
        for p in child.parameters():
            p.add_(1.0)
    assert torch.equal(supernet(x, cell), outputs[0])


def test_darts_mode_mixes_ops_by_trainable_architecture_parameters():
    _seeded(6)
    supernet = Supernet(C=8, N=1, mode="darts")
    alpha = supernet.arch_parameters
    assert isinstance(alpha, nn.Parameter) and alpha.shape == (6, 5) and alpha.requires_grad
    assert alpha.abs().max() < 0.01
    weights = supernet.weight_parameters()
    assert all(p is not alpha for p in weights) and len(weights) == len(list(supernet.parameters())) - 1
    x, y = torch.randn(4, 3, 8, 8), torch.randint(0, 10, (4,))
    loss = F.cross_entropy(supernet(x), y)
    loss.backward()
    assert alpha.grad is not None and alpha.grad.abs().sum() > 0
    assert all(p.grad is not None for p in weights if p.requires_grad)
    assert supernet.cells[0].edges["3<-2"]["nor_conv_3x3"].conv.weight.grad.abs().sum() > 0
    before = supernet(x)
    with torch.no_grad():
        alpha[:, 3] += 5.0
    assert not torch.allclose(before, supernet(x))


def test_darts_mixture_with_one_hot_weights_is_the_child():
    """With softmax weights one-hot on a cell, the mixture computes that cell's single path."""
    _seeded(7)
    darts = Supernet(C=8, N=1, mode="darts").train()
    spos = Supernet(C=8, N=1)
    spos.load_state_dict({k: v for k, v in darts.state_dict().items() if k != "arch_parameters"})
    cell = (3, 1, 2, 4, 3, 1)
    with torch.no_grad():
        darts.arch_parameters.copy_(torch.full((6, 5), -1e4).scatter_(1, torch.tensor(cell)[:, None], 0.0))
    x = torch.randn(4, 3, 8, 8)
    assert torch.allclose(darts(x), spos(x, cell), atol=1e-5)


def test_spos_mode_has_no_architecture_parameters():
    supernet = Supernet(C=8, N=1)
    assert supernet.arch_parameters is None
    assert len(supernet.weight_parameters()) == len(list(supernet.parameters()))


# --- bad input -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("cell", [[0, 1, 2, 3, 4], [0, 1, 2, 3, 4, 5], [-1, 0, 0, 0, 0, 0], np.zeros(6),
                                  "|nor_conv_3x3~0|", [[0, 1, 2, 3, 4, 0]], [0, 1, 2, "3", 4, 0]])
def test_a_bad_cell_is_named(cell):
    supernet = Supernet(C=4, N=1)
    for make in (lambda: TinyNetwork(cell, C=4, N=1), lambda: count_params(cell), lambda: count_flops(cell),
                 lambda: supernet(torch.randn(1, 3, 8, 8), cell), lambda: supernet.standalone(cell)):
        with pytest.raises(ArchStringError) as err:
            make()
        assert repr(cell)[:20] in str(err.value) and "6 integer op ids in 0..4" in str(err.value)


def test_mode_errors_say_what_to_do():
    x = torch.randn(1, 3, 8, 8)
    with pytest.raises(HarnessError, match="pass cell="):
        Supernet(C=4, N=1)(x)
    with pytest.raises(HarnessError, match=r"takes no cell, got cell=\[1, 1, 1, 1, 1, 1\]"):
        Supernet(C=4, N=1, mode="darts")(x, [1] * 6)
    with pytest.raises(HarnessError, match="'dart'"):
        Supernet(mode="dart")


def test_bad_sizes_are_refused():
    with pytest.raises(HarnessError, match="C must be a positive int"):
        TinyNetwork([1] * 6, C=0)
    with pytest.raises(HarnessError, match="N must be"):
        count_params([1] * 6, N=2.5)
    with pytest.raises(HarnessError, match="multiple of 4.*30"):
        count_flops([1] * 6, resolution=30)


def test_a_child_per_searchable_cell_runs_each_cell_its_own_path():
    """NB201's uniform random sampling trains a supernet with a different child in every searchable cell: the
    forward equals a standalone network whose cells differ, built from the same weights block by block."""
    torch.manual_seed(0)
    supernet = Supernet(C=4, N=1).eval()
    children = np.array([[3, 1, 0, 4, 2, 3], [1, 1, 1, 0, 0, 2], [0, 3, 2, 1, 4, 3]])
    x = torch.randn(2, 3, 8, 8)
    out = supernet(x, children)
    by_block = iter(children)
    h = supernet.stem(x)
    for block in supernet.cells:
        h = block(h) if isinstance(block, ResNetBasicblock) else supernet.standalone(next(by_block)).cells[
            list(supernet.cells).index(block)](h)
    torch.testing.assert_close(out, supernet.classifier(supernet.lastact(h).mean((2, 3))), atol=1e-6, rtol=1e-5)
    assert not torch.allclose(out, supernet(x, children[0]))  # not the shared child
    with pytest.raises(ArchStringError, match="or 3 rows of them"):
        supernet(x, children[:2])
