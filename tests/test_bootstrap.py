"""harness.analysis.bootstrap: every resample's correlation equals scipy's on the materialised resample."""
import warnings

import numpy as np
import pytest
from scipy import stats

from harness.analysis import bootstrap
from harness.analysis.bootstrap import (kendall_tau_b_weighted, pearson_weighted, resample_weights,
                                        spearman_weighted)

STATISTICS = {
    "kendall": (kendall_tau_b_weighted, stats.kendalltau),
    "spearman": (spearman_weighted, stats.spearmanr),
    "pearson": (pearson_weighted, stats.pearsonr),
}


def materialised(scipy_statistic, x, y, weights) -> np.ndarray:
    """scipy's statistic on np.repeat(x, w), np.repeat(y, w) for each row w; NaN below two draws."""
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns about constant resamples; they are NaN
        for w in weights:
            a, b = np.repeat(x, w), np.repeat(y, w)
            out.append(scipy_statistic(a, b).statistic if a.size >= 2 else np.nan)
    return np.array(out)


def weighted(fn, x, y, weights) -> np.ndarray:
    """The module's statistic, failing on any warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fn(x, y, weights)


def assert_matches_scipy(x, y, weights, names=tuple(STATISTICS)):
    for name in names:
        fn, scipy_statistic = STATISTICS[name]
        got, want = weighted(fn, x, y, weights), materialised(scipy_statistic, x, y, weights)
        assert got.shape == (len(weights),) and got.dtype == np.float64
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=f"{name}: NaN rows differ")
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9, equal_nan=True, err_msg=name)


def make_data(kind: str, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    if kind == "continuous":
        x = rng.normal(size=n)
        return x, x + rng.normal(size=n)
    if kind == "rounded":  # few levels in a small range, ties in both
        x = rng.uniform(0, 1, size=n)
        return np.round(x, 1), np.round(x + rng.uniform(-0.3, 0.3, size=n), 1)
    if kind == "accuracies":  # like rounded test accuracies: many small tie groups, and some large ones
        x = np.round(rng.uniform(10, 94, size=n), 2)
        return x, np.round(np.clip(x + rng.normal(scale=4, size=n), 10, 90), 1)
    if kind == "integers":  # a handful of huge tie groups, many joint ties
        return rng.integers(0, 4, size=n).astype(float), rng.integers(0, 3, size=n).astype(float)
    if kind == "monotone":  # y a coarsening of x: every tie in y spans many x values
        x = rng.integers(0, 50, size=n).astype(float)
        return x, np.floor(x / 7)
    raise AssertionError(kind)


def make_weights(n: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap rows, sparse rows with large multiplicities, and rows with constant x and with < 2 draws."""
    boot = resample_weights(n, n_boot, int(rng.integers(1 << 30)))
    sparse = rng.integers(0, 60, size=(n_boot, n)) * (rng.random((n_boot, n)) < 0.3)
    special = np.zeros((4, n), dtype=np.int64)
    special[0, rng.integers(n)] = 5  # one cell drawn five times: constant x and y
    special[1, : min(n, 2)] = [3, 1][: min(n, 2)]  # two cells (or one)
    special[2, rng.integers(n)] = 1  # a single draw
    return np.concatenate([boot, sparse, special])


KINDS = ["continuous", "rounded", "accuracies", "integers", "monotone"]


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("n", [2, 3, 5, 10])
@pytest.mark.parametrize("kind", KINDS)
def test_small_samples_match_scipy(kind, n, seed):
    rng = np.random.default_rng([seed, n])
    x, y = make_data(kind, n, rng)
    assert_matches_scipy(x, y, make_weights(n, 30, rng))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("kind", KINDS)
def test_medium_samples_match_scipy(kind, seed):
    rng = np.random.default_rng([seed, 300])
    x, y = make_data(kind, 300, rng)
    assert_matches_scipy(x, y, make_weights(300, 12, rng))


@pytest.mark.parametrize("kind", KINDS)
def test_large_samples_match_scipy(kind):
    rng = np.random.default_rng(3000)
    x, y = make_data(kind, 3000, rng)
    assert_matches_scipy(x, y, make_weights(3000, 6, rng))


@pytest.mark.parametrize("block", [1, 2, 3, 5, 16])
@pytest.mark.parametrize("kind", KINDS)
def test_kendall_matches_scipy_with_any_block_size(monkeypatch, kind, block):
    """Small blocks put most pairs in the grid and split tie groups over many blocks; small matrix products
    and chunks check that splitting the resamples changes nothing."""
    monkeypatch.setattr(bootstrap, "_block_size", lambda n: min(n, block))
    monkeypatch.setattr(bootstrap, "_GEMM", 40)
    monkeypatch.setattr(bootstrap, "_CHUNK", 500)
    rng = np.random.default_rng(block)
    x, y = make_data(kind, 120, rng)
    assert_matches_scipy(x, y, make_weights(120, 10, rng))


def test_rows_are_chunked_consistently(monkeypatch):
    rng = np.random.default_rng(5)
    x, y = make_data("accuracies", 200, rng)
    weights = make_weights(200, 20, rng)
    whole = {name: fn(x, y, weights) for name, (fn, _) in STATISTICS.items()}
    monkeypatch.setattr(bootstrap, "_CHUNK", 700)  # 3 rows per chunk
    for name, (fn, _) in STATISTICS.items():
        np.testing.assert_array_equal(fn(x, y, weights), whole[name], err_msg=name)


def test_undefined_resamples_are_nan_without_warnings():
    x = np.array([1.0, 1.0, 2.0, 3.0])
    y = np.array([5.0, 6.0, 6.0, 7.0])
    weights = np.array([
        [2, 3, 0, 0],  # x constant
        [0, 4, 1, 0],  # y constant
        [0, 0, 0, 9],  # one cell
        [0, 1, 0, 0],  # one draw
        [0, 0, 0, 0],  # no draw
        [1, 0, 1, 1],  # defined
    ])
    for name, (fn, _) in STATISTICS.items():
        got = weighted(fn, x, y, weights)
        assert np.isnan(got[:5]).all() and np.isfinite(got[5]), name


def test_perfect_agreement_is_one():
    x = np.arange(50.0)
    weights = resample_weights(50, 5, 0)
    for name, (fn, _) in STATISTICS.items():
        np.testing.assert_allclose(fn(x, 2 * x + 1, weights), 1.0, rtol=0, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(fn(x, -x, weights), -1.0, rtol=0, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("dtype", [np.int8, np.uint16, np.int32, np.int64, np.uint64])
def test_any_integer_dtype_of_weights(dtype):
    rng = np.random.default_rng(7)
    x, y = make_data("rounded", 40, rng)
    weights = rng.integers(0, 5, size=(8, 40))
    for name, (fn, _) in STATISTICS.items():
        np.testing.assert_array_equal(fn(x, y, weights.astype(dtype)), fn(x, y, weights), err_msg=name)


def test_resample_weights_are_seeded_multiplicities():
    w = resample_weights(1000, 50, 3)
    assert w.shape == (50, 1000) and w.dtype == np.int32
    assert (w >= 0).all() and (w.sum(axis=1) == 1000).all()
    np.testing.assert_array_equal(resample_weights(1000, 50, 3), w)
    assert not np.array_equal(resample_weights(1000, 50, 4), w)
    assert 0.3 < (w == 0).mean() < 0.44  # a cell is left out of a resample with probability ~1/e
    assert resample_weights(1, 3, 0).tolist() == [[1], [1], [1]]


def test_resample_weights_rejects_empty_sizes():
    with pytest.raises(ValueError, match="n and n_boot must be positive"):
        resample_weights(0, 10, 0)
    with pytest.raises(ValueError, match="n and n_boot must be positive"):
        resample_weights(10, 0, 0)


@pytest.mark.parametrize("fn", [kendall_tau_b_weighted, spearman_weighted, pearson_weighted])
def test_invalid_inputs_name_the_argument(fn):
    x, y, w = np.arange(4.0), np.arange(4.0), np.ones((3, 4), dtype=int)
    with pytest.raises(ValueError, match=r"x and y must have the same length, got shapes \(4,\) and \(3,\)"):
        fn(x, y[:3], w)
    with pytest.raises(ValueError, match=r"x must be 1-D .* got shape \(2, 2\)"):
        fn(x.reshape(2, 2), y, w)
    with pytest.raises(ValueError, match=r"y must be 1-D with at least 2 values, got shape \(1,\)"):
        fn(x, y[:1], w)
    with pytest.raises(ValueError, match="y must be finite"):
        fn(x, np.array([0.0, np.nan, 1.0, 2.0]), w)
    with pytest.raises(ValueError, match=r"weights must have shape \(n_boot, 4\) .* got shape \(3, 5\)"):
        fn(x, y, np.ones((3, 5), dtype=int))
    with pytest.raises(ValueError, match=r"weights must have shape \(n_boot, 4\) .* got shape \(4,\)"):
        fn(x, y, np.ones(4, dtype=int))
    with pytest.raises(ValueError, match="weights must be non-negative"):
        fn(x, y, np.array([[1, 2, -1, 2]]))
    with pytest.raises(ValueError, match="weights must be integer multiplicities, got dtype float64"):
        fn(x, y, np.ones((3, 4)))
    with pytest.raises(ValueError, match="weights must add up to at most"):
        fn(x, y, np.array([[2**20, 1, 0, 0]]))
