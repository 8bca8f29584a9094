"""Operator-level shrinking: the lowest-scoring ops go first, no edge is emptied, NaN scores are kept."""
import numpy as np
import pytest

from harness.analysis.shrinking import drop_lowest, space_size
from harness.errors import HarnessError
from harness.space import operator_means


def test_drops_the_lowest_allowed_ops_and_never_empties_an_edge():
    mask = np.ones((6, 5), dtype=bool)
    scores = np.tile(np.arange(5, dtype=float), (6, 1)) + np.arange(6)[:, None] * 0.1  # op 0 worst, edge 0 first
    shrunk, dropped = drop_lowest(mask, scores, 8)
    assert [edge for edge, _ in dropped[:6]] == ["1<-0", "2<-0", "2<-1", "3<-0", "3<-1", "3<-2"]
    assert [op for _, op in dropped] == ["none"] * 6 + ["skip_connect"] * 2
    assert space_size(shrunk) == 4 ** 4 * 3 ** 2
    everything, gone = drop_lowest(mask, scores, 100)
    assert everything.sum(axis=1).tolist() == [1] * 6 and len(gone) == 24
    assert everything[:, 4].all()  # each edge keeps its best op


def test_unscored_ops_are_kept_and_disallowed_ops_are_not_dropped_again():
    mask = np.ones((6, 5), dtype=bool)
    mask[0, 1] = False
    scores = np.zeros((6, 5))
    scores[0, 0] = np.nan
    scores[1, 2] = -1.0
    shrunk, dropped = drop_lowest(mask, scores, 1)
    assert dropped == [("2<-0", "nor_conv_1x1")]
    _, dropped_all = drop_lowest(mask, scores, 30)
    assert ("1<-0", "none") not in dropped_all and ("1<-0", "skip_connect") not in dropped_all


def test_ground_truth_operator_scores_keep_the_best_cell(table_oracle):
    truth = table_oracle.accuracy(dataset="cifar100", split="x-test")
    cells = table_oracle.cells()
    mask = np.ones((6, 5), dtype=bool)
    while space_size(mask) > 1:
        inside = mask[np.arange(6), cells].all(axis=1)
        mask, dropped = drop_lowest(mask, operator_means(cells[inside], truth[inside]), 2)
        assert dropped
    best = cells[np.nanargmax(truth)]
    assert mask[np.arange(6), best].all()


@pytest.mark.parametrize("scores, n_drop, fragment", [(np.zeros((5, 5)), 1, "(6, 5) array"),
                                                      (np.zeros((6, 5)), -1, "n_drop=-1")])
def test_bad_inputs(scores, n_drop, fragment):
    with pytest.raises(HarnessError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        drop_lowest(np.ones((6, 5), dtype=bool), scores, n_drop)
