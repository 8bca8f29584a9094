"""Shrunk-space quality (exact from the real table) and operator scores beside the ground truth's."""
import itertools

import numpy as np
import pytest

from harness.analysis.operators import operator_agreement, operator_table
from harness.analysis.shrunk_space import allowed_ops_mask, cells_in, expected_best_of_draws, in_space, space_quality
from harness.errors import HarnessError
from harness.space import OPS


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_expected_best_of_draws_is_exact(n):
    values = np.array([3.0, 1.0, 4.0, 1.5, 9.0])
    brute = np.mean([max(c) for c in itertools.combinations(values, n)])
    assert expected_best_of_draws(values, n) == pytest.approx(brute)
    brute = np.mean([max(c) for c in itertools.product(values, repeat=n)])
    assert expected_best_of_draws(values, n, replace=True) == pytest.approx(brute)


def test_quality_of_the_full_space_and_of_a_shrunk_one(table_oracle):
    truth = table_oracle.accuracy(dataset="cifar10", split="ori-test")
    cells = table_oracle.cells()
    full = space_quality(truth, np.ones(15625, dtype=bool))
    assert full["size"] == 15625 and full["best"] == pytest.approx(94.373333) and full["best_global_rank"] == 1
    assert full["top1%_kept"] == 1.0 and full["random10_best"] == full["random10_best_full_space"]
    mask = allowed_ops_mask([["nor_conv_3x3", "nor_conv_1x1", "skip_connect"]] * 6)
    inside = cells_in(cells, mask)
    assert inside.sum() == 3**6
    shrunk = space_quality(truth, inside)
    assert shrunk["size"] == 729 and shrunk["best"] == pytest.approx(94.373333)  # the optimum uses only these ops
    assert shrunk["mean"] == pytest.approx(truth[inside].mean())
    assert shrunk["random100_best"] > shrunk["random100_best_full_space"]  # random search gains in the shrunk space
    pool_only = space_quality(truth, cells_in(cells, allowed_ops_mask([["avg_pool_3x3"]] * 6)))
    assert pool_only["size"] == 1 and pool_only["best_global_rank"] > 10000 and pool_only["top5%_kept"] == 0.0


def test_bad_spaces_are_refused():
    with pytest.raises(HarnessError, match="edge 2 allows no op"):
        allowed_ops_mask([[0], [1], [], [3], [4], [0]])
    with pytest.raises(HarnessError, match="'conv'"):
        allowed_ops_mask([["conv"]] * 6)
    with pytest.raises(HarnessError, match="one list per edge"):
        allowed_ops_mask([[0]] * 5)


def test_operator_scores_of_the_ground_truth_itself_agree_perfectly(table_oracle):
    cells = table_oracle.cells()
    truth = table_oracle.accuracy(dataset="cifar100", split="x-test")
    gt = table_oracle.operator_scores(dataset="cifar100", split="x-test")
    table = operator_table(cells, truth, gt)
    assert len(table) == 30 and set(table["op"]) == set(OPS)
    np.testing.assert_allclose(table["proxy_score"], table["ground_truth_score"])
    assert (table["proxy_rank"] == table["ground_truth_rank"]).all()
    assert operator_agreement(table) == pytest.approx(1.0)
    reversed_table = operator_table(cells, -truth, gt)
    assert operator_agreement(reversed_table) == pytest.approx(-1.0)


def test_a_space_given_as_cells_or_as_allowed_ops(table_oracle):
    cells = table_oracle.cells()
    by_ops = in_space(cells, [["nor_conv_3x3", "skip_connect"]] * 6)
    assert by_ops.sum() == 64
    listed = table_oracle.archs(np.flatnonzero(by_ops))
    np.testing.assert_array_equal(in_space(cells, listed), by_ops)
    np.testing.assert_array_equal(in_space(cells, cells[by_ops]), by_ops)
    np.testing.assert_array_equal(in_space(cells, allowed_ops_mask([[1, 3]] * 6)), by_ops)
    truth = table_oracle.accuracy(dataset="cifar10", split="ori-test")
    quality = space_quality(truth, in_space(cells, listed[:5]))
    assert quality["size"] == 5 and quality["best"] == truth[np.flatnonzero(by_ops)[:5]].max()
