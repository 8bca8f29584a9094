"""Paired bootstrap differences between two proxies on the same cells, on the real ground truth."""
import numpy as np
import pytest
from scipy import stats

from harness.analysis import metrics as m
from harness.analysis.evaluate import _resamples
from harness.analysis.paired import (PAIRED_METRICS, compare_scores, holm, metric_resamples, paired_differences,
                                     paired_p_value)
from harness.errors import HarnessError


@pytest.fixture(scope="module")
def truth(table_oracle):
    return table_oracle.accuracy(dataset="cifar10", split="ori-test")


def _materialised(t, s, counts) -> dict[str, float]:
    """Every paired metric on one materialised resample, by scipy and the plain metric functions."""
    idx = np.repeat(np.arange(len(t)), counts)
    tt, ss = t[idx], s[idx]
    return {"kendall_tau": stats.kendalltau(tt, ss, variant="b").statistic,
            "spearman_rho": stats.spearmanr(tt, ss).statistic,
            "top_kendall_tau@20%": m.top_k_kendall(tt, ss, 20), "retrieval_rate@5%": m.retrieval_rate(tt, ss, 5),
            "retrieval_rate@10%": m.retrieval_rate(tt, ss, 10), "precision_at_k@10": m.precision_at_k(tt, ss, 10),
            "best_accuracy_at_k@1": tt[m.top_k(ss, 1)].max(), "best_accuracy_at_k@10": tt[m.top_k(ss, 10)].max()}


def test_the_paired_difference_equals_the_one_on_materialised_resamples(truth):
    rng = np.random.default_rng(3)
    cells = rng.choice(truth.size, 300, replace=False)
    t = truth[cells]
    a = np.round(t + rng.normal(0, 2, t.size), 1)  # rounded: ties in the scores, as real proxies have
    b = np.round(t + rng.normal(0, 4, t.size), 1)
    weights, by_cell = _resamples(t.size, 40, 5)
    boot_a = metric_resamples(t, m.rank_ready(a), weights, by_cell)
    boot_b = metric_resamples(t, m.rank_ready(b), weights, by_cell)
    for r in range(weights.shape[0]):
        want_a, want_b = _materialised(t, a, weights[r]), _materialised(t, b, weights[r])
        for k in PAIRED_METRICS:
            assert boot_a[k][r] - boot_b[k][r] == pytest.approx(want_a[k] - want_b[k], abs=1e-9), (k, r)
    rows = paired_differences(t, a, b, n_boot=40, seed=5).set_index("metric")
    for k in PAIRED_METRICS:
        assert rows.loc[k, "diff"] == pytest.approx(_materialised(t, a, np.ones(t.size, int))[k]
                                                    - _materialised(t, b, np.ones(t.size, int))[k], abs=1e-12)
        resampled = boot_a[k] - boot_b[k]
        assert rows.loc[k, "lo"] == pytest.approx(np.percentile(resampled, 2.5))
        assert rows.loc[k, "p"] == pytest.approx(paired_p_value(rows.loc[k, "diff"], resampled))


def test_identical_proxies_differ_by_exactly_zero_with_p_one(truth):
    scores = truth + np.random.default_rng(0).normal(0, 3, truth.size)
    rows = paired_differences(truth[:2000], scores[:2000], scores[:2000].copy(), n_boot=200)
    assert (rows["diff"] == 0).all() and (rows["lo"] == 0).all() and (rows["hi"] == 0).all()
    assert (rows["p"] == 1).all() and (rows["n"] == 2000).all()


def test_a_proxy_better_by_construction_is_found_better(truth):
    rng = np.random.default_rng(1)
    cells = rng.choice(truth.size, 500, replace=False)
    t = truth[cells]
    rows = paired_differences(t, t + rng.normal(0, 1, t.size), t + rng.normal(0, 5, t.size), n_boot=500)
    tau = rows.set_index("metric").loc["kendall_tau"]
    assert tau["diff"] > 0.1 and tau["lo"] > 0 and tau["p"] < 0.01
    assert rows.set_index("metric").loc["spearman_rho", "lo"] > 0


def test_the_95_interval_covers_the_true_difference_in_93_to_97_percent(truth):
    """400 seeded repetitions: 200 cells drawn from the 15,625, two fixed noisy proxies, 400 paired resamples each;
    the true difference is the one over the whole table."""
    rng = np.random.default_rng(11)
    a = truth + rng.normal(0, 2, truth.size)
    b = truth + rng.normal(0, 3, truth.size)
    true_diff = m.kendall_tau(truth, a) - m.kendall_tau(truth, b)
    covered = 0
    for rep in range(400):
        cells = rng.choice(truth.size, 200, replace=False)
        tau = paired_differences(truth[cells], a[cells], b[cells], n_boot=400, seed=rep,
                                 metrics=("kendall_tau",)).iloc[0]
        covered += tau["lo"] <= true_diff <= tau["hi"]
    assert 0.93 <= covered / 400 <= 0.97, covered


def test_holm_matches_its_definition():
    p = np.array([0.01, 0.04, 0.03, np.nan, 0.5])
    # sorted 0.01, 0.03, 0.04, 0.5 with multipliers 4, 3, 2, 1, made monotone
    np.testing.assert_allclose(holm(p), [0.04, 0.09, 0.09, np.nan, 0.5])


def test_compare_scores_pairs_on_the_common_cells_and_adjusts_over_all(truth):
    rng = np.random.default_rng(2)
    mine = rng.choice(truth.size, 400, replace=False)
    other = np.union1d(mine[:300], rng.choice(truth.size, 100, replace=False))
    table = compare_scores("mine", truth, mine, truth[mine] + rng.normal(0, 2, mine.size),
                           {"z1": (other, truth[other] + rng.normal(0, 4, other.size)),
                            "z2": (mine, truth[mine] + rng.normal(0, 1, mine.size))}, n_boot=100)
    assert list(table["against"].unique()) == ["z1", "z2"] and len(table) == 2 * len(PAIRED_METRICS)
    common = len(np.intersect1d(mine, other))
    assert (table[table["against"] == "z1"]["n"] == common).all() and (table[table["against"] == "z2"]["n"] == 400).all()
    np.testing.assert_allclose(table["p_holm"], holm(table["p"].to_numpy()))
    with pytest.raises(HarnessError, match="unknown paired metric"):
        paired_differences(truth[:50], truth[:50], truth[:50], metrics=("kendal",))
