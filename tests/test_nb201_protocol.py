"""NB201's search scripts as released, on the real table: 12-epoch validation of one random seed per query, cells
drawn with replacement, a budget of seconds (or evaluations without times), REA's aging and tournament, and the
pick's test accuracy within the published mean +- std; WeakNAS's released measure, MLP and query rule."""
import numpy as np
import pytest

from harness.analysis import nb201_protocol as p
from harness.analysis import search as s
from harness.errors import HarnessError
from harness.reproduce.published import published


@pytest.fixture(scope="module")
def c10(table_oracle):
    """CIFAR-10 as NB201's scripts search it: cifar10-valid/x-valid@12, reported by cifar10/ori-test@200."""
    return (table_oracle.accuracy(dataset="cifar10-valid", split="x-valid", hp=12),
            table_oracle.accuracy(dataset="cifar10", split="ori-test"), table_oracle.cells())


def _two_seeds(valid):
    """A (cells, 2) table: seed 0 the real value, seed 1 the real value + 1; every third cell ran seed 0 only."""
    seeded = np.stack([valid, valid + 1.0], axis=1)
    seeded[::3, 1] = np.nan
    return seeded


def test_random_counts_evaluations_and_draws_with_replacement(c10):
    valid, _, _ = c10
    traces = [p.nb201_random(valid, 100, seed) for seed in range(300)]
    assert all(len(t) == 100 and t.spent[-1] == 100 for t in traces)
    repeats = np.mean([len(np.unique(t.queried)) < 100 for t in traces])
    assert repeats == pytest.approx(1 - np.prod(1 - np.arange(100) / len(valid)), abs=0.08)  # birthday odds: 27%


def test_each_query_sees_one_random_seed(c10):
    valid, _, cells = c10
    seeded = _two_seeds(valid)
    for trace in (p.nb201_random(seeded, 3000, 1), p.nb201_rea(seeded, cells, 3000, 1)):
        column = np.round(trace.observed - valid[trace.queried], 9)
        assert np.isin(column, [0.0, 1.0]).all()
        single = trace.queried % 3 == 0
        assert (column[single] == 0).all()  # a cell with one seed always shows it
        assert column[~single].mean() == pytest.approx(0.5, abs=0.05)  # two seeds: either, uniformly


def test_a_time_budget_stops_before_the_query_that_would_pass_it(c10):
    valid, _, cells = c10
    cost = 50.0 + np.arange(len(valid)) % 100  # seconds per query, by cell
    for trace in (p.nb201_random(valid, 12_000, 3, cost=cost), p.nb201_rea(valid, cells, 12_000, 3, cost=cost)):
        np.testing.assert_allclose(trace.spent, np.cumsum(cost[trace.queried]))
        assert trace.spent[-1] <= 12_000 and trace.settings["budget_unit"] == "seconds"
    tiny = p.nb201_rea(valid, cells, 100.0, 0, cost=cost)  # as released: the population is evaluated regardless
    assert len(tiny) == 10 and tiny.spent[-1] > 100


def test_rea_ages_its_population_and_mutates_the_tournament_winner(c10):
    valid, _, cells = c10
    trace = p.nb201_rea(_two_seeds(valid), cells, 2000, seed=4)
    parents, queried = trace.parents, trace.queried
    assert (parents[:10] == -1).all() and (parents[10:] >= 0).all()
    for j in range(10, len(queried)):
        members = queried[j - 10:j]  # the population: the last 10 evaluations, oldest dropped first
        assert parents[j] in members
        assert (cells[queried[j]] != cells[parents[j]]).sum() == 1
    better = np.mean([trace.observed[np.flatnonzero(queried[j - 10:j] == parents[j])[0] + j - 10]
                      >= np.median(trace.observed[j - 10:j]) for j in range(10, len(queried))])
    assert better > 0.75  # the best of 3 drawn with replacement beats the median 1 - 0.5^3 of the time


def test_the_pick_is_the_first_best_value_seen():
    valid = np.array([[50.0, 70.0], [60.0, 60.0], [70.0, np.nan]])
    trace = s.SearchTrace("random", 0, np.array([0, 1, 2, 0]), observed=np.array([50.0, 60.0, 70.0, 70.0]))
    test = np.array([90.0, 91.0, 92.0])
    assert s.best_so_far(trace, np.nanmean(valid, axis=1), test).tolist() == [90, 91, 92, 92]


@pytest.mark.parametrize("method, dataset", [("random", "cifar10"), ("REA", "cifar10"), ("random", "cifar100"),
                                             ("REA", "ImageNet16-120")])
def test_nb201_protocol_lands_within_the_published_std(table_oracle, method, dataset):
    """100 runs at the stand-in budget (table.csv has no times): the mean pick within the published std."""
    valid, cost, _ = p.protocol_inputs(table_oracle, dataset)
    _, test = s.protocol_columns(table_oracle, dataset)
    budget, unit = p.default_budget(cost)
    assert (budget, unit) == (100, "evaluations") and cost is None
    history = s.run_searches(method.lower(), valid, test, table_oracle.cells(), budget, range(100),
                             protocol="nb201")
    found = s.final_summary(history)
    ref = published("weaknas", method, dataset, "best_test")
    assert abs(found["mean"] - ref.value) < ref.std, (found, ref)
    assert ref.std / 2 < found["std"] < 2 * ref.std


def test_max_so_far_by_hand():
    trace = s.SearchTrace("weaknas", 0, np.array([2, 0, 1, 3]))
    assert s.max_so_far(trace, np.array([5.0, 9.0, 7.0, 8.0])).tolist() == [7, 7, 9, 9]


def test_weaknas_queries_the_unqueried_among_the_predicted_top_then_the_next_best(c10, monkeypatch):
    """Released rule: the top 100 of ALL candidates by prediction, minus the queried; when fewer than a round are
    left there, the best-predicted unqueried cells in order."""
    valid, _, cells = c10
    features = s.to_onehot(cells).reshape(len(cells), -1).astype(np.float32)
    by_row = {row.tobytes(): v for row, v in zip(features, valid)}

    class Exact:
        def fit(self, x, y):
            pass

        def predict(self, x):
            return np.array([by_row[row.tobytes()] for row in x])

    monkeypatch.setattr(s, "_make_predictor", lambda name, seed: Exact())
    trace = s.weaknas(valid, cells, 250, seed=0)
    order = np.argsort(-valid, kind="stable")
    top = set(order[:100])
    later = trace.queried[10:]
    inside = np.array([q in top for q in later])
    first_out = np.argmin(inside)  # once the top 100 is spent, the rule falls back to the ranking
    assert inside[:first_out].all() and len(top - set(trace.queried)) < 10
    rest = [q for q in order if q not in set(trace.queried[:10 + first_out])]
    assert later[first_out:].tolist() == rest[:len(later) - first_out]


def test_weaknas_labels_each_cell_by_one_seed_per_run(c10):
    valid, _, cells = c10
    trace = s.weaknas(_two_seeds(valid), cells, 200, seed=2, predictor="mlp-small")
    column = np.round(trace.observed - valid[trace.queried], 9)
    assert np.isin(column, [0.0, 1.0]).all() and (column[trace.queried % 3 == 0] == 0).all()
    assert 0.3 < column[trace.queried % 3 != 0].mean() < 0.7
    assert trace.settings["label"] == "one random seed per cell"


def test_the_released_mlp_has_four_layers_of_a_thousand(c10):
    valid, _, cells = c10
    model = s._make_predictor("mlp", 0)
    trace = s.weaknas(valid, cells, 20, seed=0, predictor="mlp")
    assert len(trace) == 20 and len(np.unique(trace.queried)) == 20
    features = s.to_onehot(cells[:40]).reshape(40, -1).astype(np.float32)
    model.fit(features, valid[:40])
    assert [w.shape for w in model.model.coefs_] == [(30, 1000)] + [(1000, 1000)] * 3 + [(1000, 1)]
    assert model.model.max_iter == 100


@pytest.mark.parametrize("call, fragment", [
    (lambda v, c: p.nb201_random(v, 0, 0), "budget must be a whole number of evaluations >= 1"),
    (lambda v, c: p.nb201_random(v, 10.5, 0), "budget must be a whole number of evaluations"),
    (lambda v, c: p.nb201_random(v, -5.0, 0, cost=np.ones(len(v))), "budget must be a positive number of seconds"),
    (lambda v, c: p.nb201_random(v, 5.0, 0, cost=np.full(len(v), 10.0)), "does not pay for a single query"),
    (lambda v, c: p.nb201_random(v, 5, 0, cost=np.ones(3)), "cost must have the shape of valid"),
    (lambda v, c: p.nb201_random(v, 5, 0, cost=np.where(np.arange(len(v)) == 4, np.nan, 1.0)),
     "cost of cell 4, seed column 0 is nan"),
    (lambda v, c: s.run_searches("weaknas", v, v, c, 20, [0], protocol="nb201"), "run weaknas with protocol="),
    (lambda v, c: s.run_searches("random", v, v, c, 20, [0], protocol="nb2O1"), "unknown search protocol"),
    (lambda v, c: s.run_searches("random", v, v, c, 20, [0], cost=np.ones(len(v))), "cost applies to"),
])
def test_bad_inputs_say_what_is_wrong(c10, call, fragment):
    valid, _, cells = c10
    with pytest.raises(HarnessError, match=fragment.replace("(", r"\(")):
        call(valid, cells)


def test_recorded_times_are_the_query_cost(nats_oracle):
    """The real NATS-Bench records: each query of index 11 costs its seed's 12 epochs of training plus one epoch's
    evaluation on x-valid (149.54 + 4.15 s), and 12,000 s pay for the queries whose costs fit."""
    valid, cost, described = p.protocol_inputs(nats_oracle, "cifar10")
    assert cost is not None and described["query_cost"].startswith("the seed's 12-epoch training time")
    assert p.default_budget(cost) == (12_000.0, "seconds")
    sampled = np.flatnonzero(np.isfinite(valid).any(axis=1))
    assert sampled.tolist() == [0, 11, 284] and valid.shape[1] == 2
    np.testing.assert_allclose(cost[11], 149.544682 + 4.151251713434855, atol=1e-5)
    trace = p.nb201_random(valid, 12_000, 0, cost=cost)
    np.testing.assert_allclose(trace.spent, np.cumsum(cost[trace.queried, 0]))  # every seed costs the same here
    assert trace.spent[-1] <= 12_000 < trace.spent[-1] + cost[sampled].max()
