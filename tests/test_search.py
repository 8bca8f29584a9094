"""Search simulations on the real table: random search, REA and WeakNAS, what they found, and `harness search`."""
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from harness.analysis import search as s
from harness.cli.main import main
from harness.errors import HarnessError


@pytest.fixture(scope="module")
def c10(table_oracle):
    """CIFAR-10 as NB201 searches it: cifar10-valid/x-valid to select, cifar10/ori-test to report."""
    return (table_oracle.accuracy(dataset="cifar10-valid", split="x-valid"),
            table_oracle.accuracy(dataset="cifar10", split="ori-test"), table_oracle.cells())


def _search(method, valid, cells, budget, seed, **kw):
    if method == "random":
        return s.random_search(valid, budget, seed, **kw)
    if method == "weaknas":
        kw.setdefault("predictor", "mlp-small")  # the released MLP has its own test: 10-40 s a round
    return getattr(s, method)(valid, cells, budget, seed, **kw)


@pytest.mark.parametrize("method, budget", [("random", 1), ("random", 777), ("rea", 1), ("rea", 7), ("rea", 333),
                                            ("weaknas", 10), ("weaknas", 55)])
def test_budget_is_exact_and_cells_distinct(c10, method, budget):
    valid, _, cells = c10
    trace = _search(method, valid, cells, budget, seed=3)
    assert len(trace) == budget and len(np.unique(trace.queried)) == budget
    assert trace.method == method and trace.seed == 3 and trace.settings["budget"] == budget


@pytest.mark.parametrize("method", ["random", "rea", "weaknas"])
def test_seeded_runs_repeat_and_seeds_differ(c10, method):
    valid, _, cells = c10
    first, again, other = (_search(method, valid, cells, 60, seed) for seed in (5, 5, 6))
    assert np.array_equal(first.queried, again.queried)
    assert not np.array_equal(first.queried, other.queried)


@pytest.mark.parametrize("method", ["random", "rea", "weaknas"])
def test_candidates_are_respected(c10, method):
    valid, _, cells = c10
    connected = np.flatnonzero(np.isin(cells[:, 0], [2, 3]) & (cells[:, 5] != 0))  # closed under most mutations
    scattered = np.random.default_rng(0).choice(len(valid), 150, replace=False)  # mutations rarely stay inside
    for candidates, budget in ((connected, 400), (scattered, 150)):  # REA must find every scattered one
        trace = _search(method, valid, cells, budget, seed=1, candidates=candidates)
        assert len(trace) == budget and np.isin(trace.queried, candidates).all()
        assert trace.settings["candidates"] == len(candidates)


def test_rea_population_and_mutation(c10):
    """Each evaluation after the first `population` mutates one edge of a member of the current population, which is
    exactly the last `population` evaluations; the trace is the evaluations' distinct cells in first-seen order."""
    valid, _, cells = c10
    population = 10
    trace = s.rea(valid, cells, 500, seed=2, population=population, sample_size=3)
    evaluated, parents = trace.evaluated, trace.parents
    assert trace.evaluations > len(trace) == 500  # REA re-evaluates cells it holds; they do not count
    assert np.array_equal(trace.queried, pd.unique(evaluated))
    assert (parents[:population] == -1).all() and len(np.unique(evaluated[:population])) == population
    for j in range(population, len(evaluated)):
        assert parents[j] in evaluated[j - population:j]
        assert (cells[evaluated[j]] != cells[parents[j]]).sum() == 1
    changed = np.array([np.flatnonzero(cells[evaluated[j]] != cells[parents[j]])[0]
                        for j in range(population, len(evaluated))])
    share = np.bincount(changed, minlength=6) / len(changed)  # R_EA: a node, then one of its inputs
    np.testing.assert_allclose(share, [1 / 3, 1 / 6, 1 / 6, 1 / 9, 1 / 9, 1 / 9], atol=0.06)


def test_rea_selects_good_parents(c10):
    """Tournament selection: parents are better by valid than the population on average, and REA beats random."""
    valid, test, cells = c10
    trace = s.rea(valid, cells, 1000, seed=0)
    j = np.arange(10, trace.evaluations)
    members = np.stack([trace.evaluated[j - k] for k in range(1, 11)], axis=1)
    assert valid[trace.parents[j]].mean() > valid[members].mean() + 0.5
    rea_runs = s.run_searches("rea", valid, test, cells, 300, range(20))
    random_runs = s.run_searches("random", valid, test, cells, 300, range(20))
    best = {name: runs.groupby("run")["valid"].max().mean() for name, runs in (("rea", rea_runs),
                                                                               ("random", random_runs))}
    assert best["rea"] > best["random"] + 0.2


@pytest.mark.parametrize("predictor", ["mlp-small", "random_forest", "gbdt"])
def test_weaknas_beats_random_search_at_100_queries(c10, predictor):
    valid, test, cells = c10
    weak = s.run_searches("weaknas", valid, test, cells, 100, range(20), predictor=predictor)
    rand = s.run_searches("random", valid, test, cells, 100, range(200))
    at_100 = {name: runs.loc[runs["query"] == 100, "best_test"].mean() for name, runs in (("weak", weak),
                                                                                          ("random", rand))}
    assert at_100["weak"] > at_100["random"] + 0.1, at_100
    assert weak.attrs["settings"]["predictor"] == predictor


def test_best_so_far_by_hand(c10):
    valid, test, cells = c10
    trace = s.random_search(valid, 200, seed=4)
    curve = s.best_so_far(trace, valid, test)
    expected, best = [], None
    for i in trace.queried:
        if best is None or valid[i] > valid[best]:
            best = i
        expected.append(test[best])
    assert np.array_equal(curve, expected)
    chosen_valid = np.maximum.accumulate(valid[trace.queried])
    assert np.all(np.diff(chosen_valid) >= 0)


def test_best_so_far_follows_valid_not_test():
    """The pick is the best by valid; its test accuracy may drop, and a tie in valid keeps the earlier cell."""
    valid = np.array([50.0, 60.0, 70.0, 70.0, 65.0])
    test = np.array([80.0, 90.0, 85.0, 99.0, 100.0])
    assert s.best_so_far(np.array([0, 1, 2, 3, 4]), valid, test).tolist() == [80, 90, 85, 85, 85]
    assert s.best_so_far(np.array([4, 3, 2]), valid, test).tolist() == [100, 99, 99]


def test_queries_to_reach_by_hand():
    trace = s.SearchTrace("random", 0, np.array([5, 3, 9, 1]))
    assert s.queries_to_reach(trace, 5) == 1
    assert s.queries_to_reach(trace, 9) == 3
    assert s.queries_to_reach(trace, 7) is None
    assert s.queries_to_reach(trace, [7, 1, 3]) == 2


def test_summaries_by_hand():
    history = pd.DataFrame({"run": np.repeat([0, 1, 2], 4), "seed": np.repeat([0, 1, 2], 4),
                            "query": np.tile([1, 2, 3, 4], 3), "index": [8, 6, 1, 2, 3, 4, 5, 6, 9, 10, 11, 12],
                            "best_test": [1.0, 2, 3, 4, 2, 2, 2, 2, 0, 3, 3, 6]})
    summary = s.summarize_runs(history, at=(2, 4, 100))
    assert summary["queries"].tolist() == [2, 4]  # 100 is beyond the budget
    assert summary["mean"].tolist() == pytest.approx([7 / 3, 4])
    assert summary["std"].tolist() == pytest.approx([np.std([2, 2, 3], ddof=1), 2])
    assert (summary["ci_low"] <= summary["mean"]).all() and (summary["mean"] <= summary["ci_high"]).all()
    reach = s.queries_to_optimum(history, 6)
    assert reach == {"runs": 3, "budget": 4, "reached": 2, "share": pytest.approx(2 / 3), "q25": 2, "median": 4,
                     "q75": None, "mean_if_reached": 3.0}


def test_optimum_is_nb201s_best_by_validation(c10):
    valid, test, _ = c10
    best = s.optimum(valid)
    assert best.tolist() == [6111] and test[6111] == pytest.approx(94.3733, abs=1e-4)
    assert s.optimum(valid, candidates=np.array([0, 1, 2])).tolist() == [int(np.argmax(valid[:3]))]


@pytest.mark.parametrize("call, fragment", [
    (lambda v, t, c: s.run_searches("random", v, t[:-1], c, 10, [0]), "test must have one value per cell"),
    (lambda v, t, c: s.rea(v, c[:-1], 10, 0), "one row per value of valid"),
    (lambda v, t, c: s.random_search(np.where(np.arange(len(v)) == 7, np.nan, v), 10, 0),
     "valid is NaN for 1 candidate cell(s), e.g. position 7"),
    (lambda v, t, c: s.random_search(v, 6, 0, candidates=np.arange(5)), "budget must be an integer in 1..5"),
    (lambda v, t, c: s.rea(v, c, 0, 0), "budget must be an integer in 1..15625"),
    (lambda v, t, c: s.run_searches("bayesopt", v, t, c, 10, [0]), "known methods: random, rea, weaknas"),
    (lambda v, t, c: s.weaknas(v, c, 20, 0, predictor="svm"), "known predictors: mlp, mlp-small, random_forest, gbdt"),
    (lambda v, t, c: s.weaknas(v, c, 5, 0), "initial=10 random queries exceed the budget of 5"),
    (lambda v, t, c: s.random_search(v, 5, 0, candidates=np.array([1, 1, 2, 3, 4, 5])), "duplicates"),
    (lambda v, t, c: s.random_search(v, 5, 0, candidates=np.array([0, 15625])), "candidate 15625 is out of range"),
])
def test_bad_inputs_say_what_is_wrong(c10, call, fragment):
    valid, test, cells = c10
    with pytest.raises(HarnessError) as info:
        call(valid, test, cells)
    assert fragment in str(info.value)


def test_analysis_search_does_not_import_torch():
    code = ("import sys, numpy as np; from harness.analysis import search as s; "
            "s.weaknas(np.arange(15625.0), np.indices((5,) * 6).reshape(6, -1).T, 20, 0, predictor='mlp-small'); "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("method, dataset, extra", [("weaknas", "cifar10", ["--predictor", "gbdt"]),
                                                    ("rea", "ImageNet16-120", ["--protocol", "distinct"]),
                                                    ("random", "cifar100", ["--protocol", "distinct"])])
def test_cli_writes_history_summary_and_provenance(table_oracle, tmp_path, capsys, method, dataset, extra):
    out = tmp_path / "search"
    argv = ["search", method, "--dataset", dataset, "--budget", "120", "--runs", "3", "--seed", "7",
            "--cache", str(table_oracle.path), "--out", str(out), "--quiet", *extra]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "3 runs of 120 distinct cells queried" in printed and "| 100 |" in printed and "| 120 |" in printed

    history = pd.read_parquet(out / "history.parquet")
    assert list(history.columns) == ["run", "seed", "query", "index", "arch", "valid", "test", "best_test",
                                     "max_test"]
    assert len(history) == 360 and sorted(history["seed"].unique()) == [7, 8, 9]
    valid, test = _columns(table_oracle, dataset)
    idx = history["index"].to_numpy()
    assert np.array_equal(history["valid"], valid[idx]) and np.array_equal(history["test"], test[idx])
    assert history["arch"].tolist() == table_oracle.archs(idx)
    run0 = history[history["run"] == 0]
    assert np.array_equal(run0["best_test"], s.best_so_far(run0["index"].to_numpy(), valid, test))

    summary = pd.read_csv(out / "summary.csv")
    best = summary[summary["statistic"] == "best_test"]
    assert best["queries"].tolist() == [100, 120]
    at_120 = history.loc[history["query"] == 120, "best_test"].mean()
    assert best["value"].iloc[-1] == pytest.approx(at_120)
    assert summary.loc[summary["statistic"] == "pick_test", "value"].item() == pytest.approx(at_120)
    assert np.array_equal(run0["max_test"], np.maximum.accumulate(test[run0["index"]]))
    assert "optimum_reached_share" in summary["statistic"].tolist()
    assert (out / "summary.md").read_text().startswith("# ")
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["method"] == method and provenance["seeds"] == [7, 8, 9] and provenance["budget"] == 120
    assert provenance["protocol"] == "distinct"
    assert provenance["ground_truth"]["source"]["sha256"] == table_oracle.table_hash
    assert provenance["reported"] == REPORTED[dataset]
    if method == "weaknas":
        assert provenance["settings"]["predictor"] == "gbdt"


REPORTED = {"cifar10": "cifar10/ori-test@200", "cifar100": "cifar100/x-test@200",
            "ImageNet16-120": "ImageNet16-120/x-test@200"}


def _columns(oracle, dataset):
    """(valid, test) as NB201 searches and reports `dataset`."""
    if dataset == "cifar10":
        return (oracle.accuracy(dataset="cifar10-valid", split="x-valid"),
                oracle.accuracy(dataset="cifar10", split="ori-test"))
    return oracle.accuracy(dataset=dataset, split="x-valid"), oracle.accuracy(dataset=dataset, split="x-test")


def test_cli_runs_nb201s_protocol_by_default_for_random_and_rea(table_oracle, tmp_path, capsys):
    out = tmp_path / "rea"
    argv = ["search", "rea", "--runs", "4", "--cache", str(table_oracle.path), "--out", str(out), "--quiet"]
    assert main(argv) == 0
    assert "4 runs of 100 evaluations" in capsys.readouterr().out  # table.csv records no times: the stand-in
    history = pd.read_parquet(out / "history.parquet")
    assert history.groupby("run")["query"].max().tolist() == [100] * 4 and history["spent"].max() == 100
    valid12 = table_oracle.accuracy(dataset="cifar10-valid", split="x-valid", hp=12)
    assert np.array_equal(history["valid"], valid12[history["index"]])  # the 12-epoch validation accuracy
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["protocol"] == "nb201" and provenance["searched"] == "cifar10-valid/x-valid@12"
    assert provenance["budget_counts"] == "evaluations"
    assert main(argv[:-3] + ["--budget", "10.5", "--out", str(tmp_path / "x"), "--quiet"]) == 2
    assert "whole number of evaluations" in capsys.readouterr().err


@pytest.mark.parametrize("argv, fragment", [
    (["search", "rea", "--predictor", "mlp"], "--predictor applies to weaknas only"),
    (["search", "weaknas", "--predictor", "svm", "--budget", "20", "--runs", "1"], "known predictors"),
    (["search", "random", "--protocol", "distinct", "--budget", "20000", "--runs", "1"],
     "budget must be an integer in 1..15625"),
])
def test_cli_errors_are_messages(table_oracle, tmp_path, capsys, argv, fragment):
    assert main(argv + ["--cache", str(table_oracle.path), "--out", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("harness: error:") and fragment in err
    assert not (tmp_path / "history.parquet").exists()
