"""Rank metrics: against scipy, and hand-built cases with known answers (ties, perfect/reversed, top-k edges)."""
import math

import numpy as np
import pytest
from scipy import stats

from harness.analysis import metrics as m
from harness.errors import HarnessError

RNG = np.random.default_rng(7)


def test_correlations_match_scipy_with_ties():
    t = np.round(RNG.normal(size=2000), 1)
    s = np.round(t + RNG.normal(size=2000), 1)
    assert m.kendall_tau(t, s) == pytest.approx(stats.kendalltau(t, s).statistic, abs=1e-12)
    assert m.spearman_rho(t, s) == pytest.approx(stats.spearmanr(t, s).statistic, abs=1e-12)
    assert m.pearson_r(t, s) == pytest.approx(stats.pearsonr(t, s).statistic, abs=1e-12)


@pytest.mark.parametrize("fn", [m.kendall_tau, m.spearman_rho, m.pearson_r])
def test_perfect_reversed_and_undefined(fn):
    t = np.arange(10.0)
    assert fn(t, 2 * t + 1) == pytest.approx(1.0)
    assert fn(t, -t) == pytest.approx(-1.0)
    assert math.isnan(fn(t, np.full(10, 3.0)))
    assert math.isnan(fn([1.0], [2.0]))


def test_kendall_tau_b_hand_case_with_ties():
    # pairs: (1,1),(2,2),(2,3),(3,3): C=4 (12,13,14,24? ...) computed by hand: C=4, D=0, ties x=1, ties y=1, n0=6
    t, s = [1, 2, 2, 3], [1, 2, 3, 3]
    assert m.kendall_tau(t, s) == pytest.approx(4 / math.sqrt(5 * 5))


def test_top_k_selection_breaks_ties_towards_earlier_cells():
    assert m.top_k([1, 3, 3, 2], 2).tolist() == [1, 2]
    assert m.top_k([5, 5, 5], 1).tolist() == [0]
    assert m.top_k_count(15625, 20) == 3125 and m.top_k_count(10, 1) == 1 and m.top_k_count(10, 100) == 10
    with pytest.raises(HarnessError, match="k_percent"):
        m.top_k_count(10, 0)
    with pytest.raises(HarnessError, match="1..3"):
        m.top_k([1, 2, 3], 4)


def test_retrieval_precision_and_ranks_on_a_hand_case():
    t = np.array([10, 9, 8, 7, 6, 5, 4, 3, 2, 1.0])  # cell 0 is the best
    s = np.array([1, 9, 8, 7, 6, 5, 4, 3, 2, 10.0])  # the proxy puts the worst cell first and the best last
    assert m.precision_at_k(t, s, 2) == 0.5  # proxy top 2 = {9, 1}, truth top 2 = {0, 1}
    assert m.retrieval_rate(t, s, 20) == 0.5  # top 20% of 10 cells = 2 cells
    assert m.best_rank_at_k(t, s, 2) == 2 and m.worst_rank_at_k(t, s, 2) == 10
    assert m.best_rank_at_k(t, t, 1) == 1 and m.worst_rank_at_k(t, t, 3) == 3
    assert m.retrieval_rate(t, s, 100) == 1.0
    assert m.ground_truth_ranks([3.0, 3.0, 1.0, 5.0]).tolist() == [2, 2, 4, 1]


def test_top_k_kendall_restricts_to_the_ground_truth_top():
    t = np.arange(100.0)
    s = np.where(t >= 80, -t, t)  # right order overall, reversed inside the top 20%
    assert m.top_k_kendall(t, s, 20) == pytest.approx(-1.0)
    inside = t >= 80
    assert m.top_k_kendall(t, s, 20) == pytest.approx(stats.kendalltau(t[inside], s[inside]).statistic)
    assert m.kendall_tau(t, s) > 0.2


def test_non_finite_values_are_counted_and_dropped():
    t = np.array([1, 2, 3, 4, np.nan, 6.0])
    s = np.array([1, np.nan, np.inf, 4, 5, -np.inf])
    tt, ss, dropped = m.finite_pairs(t, s)
    assert tt.tolist() == [1.0, 4.0] and ss.tolist() == [1.0, 4.0]
    assert dropped == {"nan_score": 1, "inf_score": 2, "no_truth": 1}


def test_undefined_reasons():
    assert "constant" in m.undefined_reason([1, 2, 3], [5, 5, 5])
    assert "at least 2" in m.undefined_reason([1], [1])
    assert "ground-truth values are equal" in m.undefined_reason([1, 1, 1], [1, 2, 3])
    assert m.undefined_reason([1, 2], [2, 1]) is None


def test_inputs_are_validated():
    with pytest.raises(HarnessError, match="one value per cell each; got 3 and 2"):
        m.kendall_tau([1, 2, 3], [1, 2])
    with pytest.raises(HarnessError, match="y_score must be 1-D"):
        m.kendall_tau([1, 2], [[1, 2]])
    with pytest.raises(HarnessError, match="y_true must be numbers"):
        m.kendall_tau(["a", "b"], [1, 2])
