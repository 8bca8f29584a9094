"""Rank metrics: against scipy, and hand-built cases with known answers (ties, perfect/reversed, top-k edges)."""
import math
import re

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


def test_nan_is_dropped_and_counted_infinities_are_kept_and_counted():
    t = np.array([1, 2, 3, 4, np.nan, 6.0, 7.0])
    s = np.array([1, np.nan, np.inf, 4, 5, -np.inf, np.inf])
    tt, ss, counts = m.usable_pairs(t, s)
    assert tt.tolist() == [1.0, 3.0, 4.0, 6.0, 7.0] and ss.tolist() == [1.0, np.inf, 4.0, -np.inf, np.inf]
    assert counts == {"nan_score": 1, "inf_score": 3, "no_truth": 1}


def test_infinite_scores_rank_at_the_ends_as_ties():
    """-inf ranks below every finite score, +inf above, each tied with its own kind: the same tau as a finite
    stand-in with those ranks (computed by scipy on numbers it needs no rule for)."""
    t = np.array([5.0, 1.0, 4.0, 2.0, 3.0, 6.0, 0.5])
    s = np.array([0.3, -np.inf, 0.9, -np.inf, 0.1, np.inf, -np.inf])
    stand_in = np.array([0.3, -7.0, 0.9, -7.0, 0.1, 7.0, -7.0])
    assert m.kendall_tau(t, s) == pytest.approx(stats.kendalltau(t, stand_in).statistic, abs=1e-12)
    assert m.spearman_rho(t, s) == pytest.approx(stats.spearmanr(t, stand_in).statistic, abs=1e-12)
    assert m.top_k(s, 2).tolist() == [5, 2] and m.top_k(s, 7).tolist()[-3:] == [1, 3, 6]
    assert math.isnan(m.pearson_r(t, s))  # not a rank metric: undefined with infinite scores
    assert "constant" in m.undefined_reason([1, 2, 3], [-np.inf] * 3)  # all -inf: ranks nothing
    assert m.rank_ready(s).tolist()[1] < 0.1 < m.rank_ready(s).tolist()[5] - 1


def test_nan_and_non_finite_truth_are_refused_by_the_plain_functions():
    with pytest.raises(HarnessError, match=r"y_score has NaN \(no score\) at 1 at position\(s\) \[1\]"):
        m.kendall_tau([1, 2, 3], [1, np.nan, 3])
    with pytest.raises(HarnessError, match=r"y_true must be finite .* 2 at position\(s\) \[0, 2\]"):
        m.spearman_rho([np.nan, 2, np.inf], [1, 2, 3])
    for fn in (m.top_k_kendall, m.retrieval_rate):
        with pytest.raises(HarnessError, match="y_score has NaN"):
            fn([1, 2, 3], [np.nan, 2, 3], 50)


@pytest.mark.parametrize("call, fragment", [
    (lambda: m.precision_at_k([1, 2, 3], [3, 2, 1], 0), "k must be an integer in 1..3"),
    (lambda: m.precision_at_k([1, 2, 3], [3, 2, 1], 4), "k must be an integer in 1..3"),
    (lambda: m.best_rank_at_k([1, 2, 3], [3, 2, 1], 2.5), "k must be an integer in 1..3"),
    (lambda: m.worst_rank_at_k([1, 2, 3], [3, 2, 1], True), "got True"),
    (lambda: m.retrieval_rate([1, 2, 3], [3, 2, 1], 150), "k_percent must be a number in (0, 100], got 150"),
    (lambda: m.top_k_kendall([1, 2, 3], [3, 2, 1], -5), "got -5"),
    (lambda: m.top_k_count(10, "20"), "got '20'"),
])
def test_k_ranges_are_validated(call, fragment):
    with pytest.raises(HarnessError, match=re.escape(fragment)):
        call()


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
