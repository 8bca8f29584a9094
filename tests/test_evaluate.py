"""Score files, `evaluate`, reports with figures, and the REFERENCE 12-vs-200-epoch figures, on the real table."""
import json

import numpy as np
import pandas as pd
import pytest

from harness.analysis.evaluate import evaluate_score_sets, evaluate_scores
from harness.analysis.score_sets import ScoreSet, read_scores, sidecar_path, write_scores
from harness.cli.main import main
from harness.errors import HarnessError
from harness.report import write_report


@pytest.mark.parametrize("dataset, split, expected", [
    ("cifar10", "ori-test", 0.594), ("cifar100", "x-test", 0.645), ("ImageNet16-120", "x-test", 0.643)])
def test_the_12_epoch_baseline_reproduces_reference(table_oracle, dataset, split, expected):
    evaluation = evaluate_score_sets([], table_oracle, dataset=dataset, split=split, n_boot=0)
    names = [r.score_set.name for r in evaluation.results]
    assert names == ["random (seed 0)", "params", "12-epoch accuracy"]
    table = evaluation.metrics_table().set_index(["score_set", "label"])
    assert table.loc[("12-epoch accuracy", "kendall_tau"), "value"] == pytest.approx(expected, abs=5e-4)
    assert abs(table.loc[("random (seed 0)", "kendall_tau"), "value"]) < 0.02


def test_metrics_table_has_intervals_and_counts(table_oracle):
    truth = table_oracle.accuracy(dataset="cifar10", split="ori-test")
    score = truth + np.random.default_rng(0).normal(scale=3, size=truth.size)
    score[:5] = np.nan
    score[5] = np.inf
    table = evaluate_scores(truth, score, n_boot=200, seed=1).set_index("label")
    tau = table.loc["kendall_tau"]
    assert tau["n_cells"] == 15620 and tau["n_nan"] == 5 and tau["n_inf"] == 1  # the infinite score is kept
    assert np.isnan(table.loc["pearson_r", "value"]) and "infinite" in table.loc["pearson_r", "reason"]
    assert tau["ci_low"] < tau["value"] < tau["ci_high"] and tau["ci_high"] - tau["ci_low"] < 0.03
    assert table.loc["top_kendall_tau@20%", "ci_low"] < table.loc["top_kendall_tau@20%", "ci_high"]
    assert np.isnan(table.loc["precision_at_k@10", "ci_low"])
    assert table.loc["retrieval_rate@5%", "ci_low"] <= table.loc["retrieval_rate@5%", "value"]
    again = evaluate_scores(truth, score, n_boot=200, seed=1).set_index("label")
    pd.testing.assert_frame_equal(table, again)  # seeded
    other = evaluate_scores(truth, score, n_boot=200, seed=2).set_index("label")
    assert other.loc["kendall_tau", "ci_low"] != tau["ci_low"]


def test_top_k_bootstrap_equals_materialised_resamples():
    from harness.analysis import metrics as m
    from harness.analysis.bootstrap import resample_weights
    from harness.analysis.evaluate import top_k_bootstrap
    rng = np.random.default_rng(5)
    t = np.round(rng.normal(size=300), 1)  # ties in the truth
    s = np.round(t + rng.normal(size=300), 0)  # and many in the scores
    weights = resample_weights(300, 40, 11)
    got = top_k_bootstrap(t, s, np.ascontiguousarray(weights.T), (20,), (1, 5, 10))
    for b, w in enumerate(weights):
        idx = np.repeat(np.arange(300), w)
        for k in (1, 5, 10):
            assert got[("retrieval_rate", k)][b] == pytest.approx(m.retrieval_rate(t[idx], s[idx], k))
        assert got[("top_kendall_tau", 20)][b] == pytest.approx(m.top_k_kendall(t[idx], s[idx], 20), abs=1e-9)


def test_constant_and_all_nan_scores_are_undefined_with_a_reason(table_oracle):
    truth = table_oracle.accuracy(dataset="cifar10", split="ori-test")
    constant = evaluate_scores(truth, np.ones_like(truth), n_boot=10)
    assert constant["value"].isna().all() and constant["reason"].str.contains("constant proxy").all()
    nan = evaluate_scores(truth, np.full_like(truth, np.nan), n_boot=10)
    assert nan["value"].isna().all() and (nan["n_nan"] == 15625).all()
    assert nan["reason"].str.contains("0 scored cell").all()


def test_isomorphism_collapse_evaluates_classes(table_oracle):
    sset = ScoreSet("acc12", table_oracle.cells(), table_oracle.accuracy(dataset="cifar10-valid", split="x-valid", hp=12))
    ev = evaluate_score_sets([sset], table_oracle, dataset="cifar10", split="ori-test", baselines=False, n_boot=0,
                             iso_classes=True)
    tau = ev.metrics_table().set_index("label").loc["kendall_tau"]
    assert tau["n_cells"] == 6466 and 0.5 < tau["value"] < 0.7


def test_score_files_round_trip_with_provenance(table_oracle, tmp_path):
    idx = np.array([5, 6111, 42])
    sset = ScoreSet("mine", table_oracle.cells(idx), np.array([0.1, 0.9, np.nan]),
                    {"proxy": "mine", "settings": {"batch": 64}, "seeds": [0], "table_hash": table_oracle.table_hash})
    for name in ("s.csv", "s.parquet"):
        path = write_scores(tmp_path / name, sset, table_oracle.order)
        back = read_scores(path, table_oracle.order)
        assert back.name == "mine" and back.provenance == sset.provenance
        np.testing.assert_array_equal(back.cells, sset.cells)
        np.testing.assert_array_equal(back.scores, sset.scores)
    assert json.loads(sidecar_path(tmp_path / "s.csv").read_text())["settings"] == {"batch": 64}
    pd.DataFrame({"index": idx, "score": [1, 2, 3]}).to_csv(tmp_path / "by_index.csv", index=False)
    np.testing.assert_array_equal(read_scores(tmp_path / "by_index.csv", table_oracle.order).cells, sset.cells)


@pytest.mark.parametrize("frame, fragment", [
    (pd.DataFrame({"arch": ["junk", "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "bad"], "score": [1, 2, 3]}),
     "2 of 3 rows of"),
    (pd.DataFrame({"index": [1, 2, 1], "score": [1, 2, 3]}), "appears in rows [0, 2]"),
    (pd.DataFrame({"index": [1, 2], "value": [1, 2]}), "no 'score' column"),
    (pd.DataFrame({"cell": [1, 2], "score": [1, 2]}), "needs an 'arch'"),
    (pd.DataFrame({"index": [1, 99999], "score": [1, 2]}), "index 99999 is out of range"),
    (pd.DataFrame({"index": [1, 2], "score": [1, "high"]}), "row 1 has score 'high'"),
])
def test_bad_score_files_say_what_is_wrong(table_oracle, tmp_path, frame, fragment):
    frame.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(HarnessError) as err:
        read_scores(tmp_path / "bad.csv", table_oracle.order)
    assert fragment in str(err.value)


def test_report_from_the_real_table_with_a_seeded_random_proxy(table_oracle, tmp_path):
    rng = np.random.default_rng(3)
    idx = rng.choice(15625, 2500, replace=False)
    noisy = table_oracle.accuracy(idx, dataset="cifar10-valid", split="x-valid") + rng.normal(scale=4, size=idx.size)
    sets = [ScoreSet("seeded random", table_oracle.cells(idx), rng.random(idx.size), {"proxy": "random", "seed": 3}),
            ScoreSet("noisy valid", table_oracle.cells(idx), noisy, {"proxy": "noisy"})]
    ev = evaluate_score_sets(sets, table_oracle, dataset="cifar10", split="ori-test", n_boot=100)
    written = write_report(ev, tmp_path / "report")
    for key in ("metrics", "markdown", "html", "provenance", "scores_vs_truth.png", "scores_vs_truth.svg",
                "top_k_curves.png", "top_k_curves.svg", "operator_scores.png", "operator_scores.svg"):
        assert written[key].is_file() and written[key].stat().st_size > 1000, key
    metrics = pd.read_csv(written["metrics"])
    assert set(metrics["score_set"]) == {"seeded random", "noisy valid", "random (seed 0)", "params",
                                         "12-epoch accuracy"}
    assert (metrics.loc[metrics["label"] == "kendall_tau", "n_cells"] == 2500).all()  # baselines on the same cells
    md = written["markdown"].read_text()
    assert "seeded random" in md and "figures/top_k_curves.png" in md and "NAS-Bench-201 v1_1" in md
    assert written["png" if False else "scores_vs_truth.png"].read_bytes()[:4] == b"\x89PNG"
    assert not list((tmp_path / "report").rglob("*.tmp"))


def test_evaluate_command(table_oracle, tmp_path, capsys):
    cells = table_oracle.cells(np.arange(0, 15625, 7))
    write_scores(tmp_path / "acc12.csv", ScoreSet("acc12", cells, table_oracle.accuracy(
        np.arange(0, 15625, 7), dataset="cifar100", split="x-valid", hp=12), {"proxy": "acc12"}))
    assert main(["evaluate", str(tmp_path / "acc12.csv"), "--dataset", "cifar100", "--split", "x-test",
                 "--cache", str(table_oracle.path), "--out", str(tmp_path / "out"), "--n-boot", "50"]) == 0
    out = capsys.readouterr().out
    assert "acc12" in out and "params (baseline)" in out and (tmp_path / "out" / "report.html").is_file()
    assert main(["evaluate", str(tmp_path / "missing.csv"), "--dataset", "cifar100", "--split", "x-test",
                 "--cache", str(table_oracle.path)]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_scores_of_another_dataset_or_table_are_refused_unless_allowed(table_oracle, tmp_path, capsys, monkeypatch):
    idx = np.arange(0, 15625, 11)
    truth = table_oracle.accuracy(idx, dataset="cifar10", split="ori-test")
    write_scores(tmp_path / "c100.csv", ScoreSet("c100", table_oracle.cells(idx), truth, {"dataset": "cifar100"}))
    write_scores(tmp_path / "valid.csv", ScoreSet("valid", table_oracle.cells(idx), truth,
                                                  {"dataset": "cifar10-valid", "table_hash": table_oracle.table_hash}))
    write_scores(tmp_path / "old.csv", ScoreSet("old", table_oracle.cells(idx), truth, {"table_hash": "f" * 64}))
    common = ["--dataset", "cifar10", "--split", "ori-test", "--cache", str(table_oracle.path), "--n-boot", "20",
              "--no-baselines"]
    assert main(["evaluate", str(tmp_path / "valid.csv"), *common, "--out", str(tmp_path / "a")]) == 0  # CIFAR-10
    for name, fragment in (("c100", "was scored on cifar100 (CIFAR-100), the target is cifar10 (CIFAR-10)"),
                           ("old", "was scored with ground truth ffffffffffffffff..., the oracle holds")):
        capsys.readouterr()
        assert main(["evaluate", str(tmp_path / f"{name}.csv"), *common, "--out", str(tmp_path / name)]) == 2
        err = capsys.readouterr().err
        assert fragment in err and "--allow-mismatch" in err and not (tmp_path / name).exists()
    monkeypatch.chdir(tmp_path)  # the report names the command with paths relative to where it ran
    assert main(["evaluate", str(tmp_path / "c100.csv"), *common, "--out", str(tmp_path / "c100"),
                 "--allow-mismatch"]) == 0
    report = (tmp_path / "c100" / "report.md").read_text()
    assert "Evaluated with --allow-mismatch although" in report and "was scored on cifar100" in report
    provenance = json.loads((tmp_path / "c100" / "provenance.json").read_text())
    assert provenance["command"].startswith("harness evaluate c100.csv --dataset cifar10") and str(tmp_path) not in \
        provenance["command"] and len(provenance["code_hash"]) == 16
    assert provenance["settings"]["allowed_mismatches"] and "cache" in provenance["ground_truth"]
