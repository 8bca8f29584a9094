"""`harness reproduce` at the tiny preset: the tables' structure, values computed (not copied), published numbers
beside them, rows without images marked as not run."""
import json
import math

import numpy as np
import pandas as pd
import pytest

from harness.cli.main import main
from harness.reproduce import reproduce

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_weaknas_table_measures_every_method_and_dataset(table_oracle, tmp_path):
    rows = reproduce("weaknas", "tiny", tmp_path / "a", oracle=table_oracle, progress=False)
    # per dataset: the optimum; random and REA as NB201's scripts (the pick); the distinct-query random and REA
    # and WeakNAS's best found (2 budgets + reach each); WeakNAS's pick by validation (2 budgets)
    assert len(rows) == 3 * (1 + 2 + 3 * 3 + 2)
    nb201 = rows[rows["row"].isin(["random", "REA"])]
    assert (nb201["metric"] == "best_test").all() and nb201["published_std"].notna().all()
    assert nb201["std"].notna().all() and (nb201["n"] == 5).all()
    optimum = rows[rows["row"] == "optimum"].set_index("dataset")
    assert (optimum["difference"].abs() < 0.01).all()  # the table's optimum against NB201's published one
    other = reproduce("weaknas", "tiny", tmp_path / "b", oracle=table_oracle, seed=1, progress=False)
    searched = rows["row"] != "optimum"
    assert not rows.loc[searched, "value"].equals(other.loc[searched, "value"])  # measured, not copied
    provenance = json.loads((tmp_path / "a" / "provenance.json").read_text())
    assert provenance["machine"]["cpus"] >= 1 and provenance["ground_truth"]["source"]["name"] == "table.csv"
    page = (tmp_path / "a" / "table.md").read_text()
    assert "| REA (distinct, x-valid@200) | cifar10 | best_test@20 |" in page
    assert "| WeakNAS | cifar10 | best_found@40 |" in page and "| REA | cifar10 | best_test | " in page


def test_zero_cost_table_marks_missing_images_and_compares_with_the_paper(table_oracle, cifar10_root, nb201_dir,
                                                                          tmp_path):
    rows = reproduce("zero-cost", "tiny", tmp_path / "zero-cost", oracle=table_oracle, data_root=str(cifar10_root),
                     splits_dir=str(nb201_dir / "splits"), progress=False)
    rows = rows.set_index(["row", "dataset", "metric"]).sort_index()
    synflow = rows.loc[("synflow", "cifar10", "spearman_rho")]
    assert synflow["published"] == 0.737 and not math.isnan(synflow["value"]) and synflow["n"] == 12
    assert synflow["difference"] == pytest.approx(synflow["value"] - 0.737)
    assert "CIFAR-100" in rows.loc[("snip", "cifar100", "spearman_rho"), "reason"]
    assert not math.isnan(rows.loc[("snip", "cifar10", "kendall_tau"), "value"])
    assert not math.isnan(rows.loc[("synflow", "ImageNet16-120", "kendall_tau"), "value"])  # synflow needs no images
    tidy = pd.read_csv(tmp_path / "zero-cost" / "rows.csv")
    snip = tidy[(tidy["row"] == "snip") & (tidy["dataset"] == "cifar10")]["scores"].iloc[0]
    assert len(tidy) == len(rows) and (tmp_path / "scores" / snip).is_file() and snip.endswith(".parquet")
    other = reproduce("zero-cost", "tiny", tmp_path / "seed1", oracle=table_oracle, data_root=str(cifar10_root),
                      splits_dir=str(nb201_dir / "splits"), seed=1, progress=False)
    other = other.set_index(["row", "dataset", "metric"]).sort_index()  # another seed samples other cells
    assert other.loc[("synflow", "cifar10", "spearman_rho"), "value"] != synflow["value"]
    assert json.loads(other.loc[("synflow", "cifar10", "spearman_rho"), "settings"])["cells"] == "sample:12:1"


def test_reproduce_command_refuses_unknown_presets(table_oracle, tmp_path, capsys):
    assert main(["reproduce", "weaknas", "--preset", "huge", "--cache", str(table_oracle.path), "--out",
                 str(tmp_path / "weaknas")]) == 2
    assert "unknown preset 'huge' for weaknas; presets: tiny, cpu, gpu, paper" in capsys.readouterr().err
    assert main(["reproduce", "weaknas", "--preset", "tiny", "--cache", str(table_oracle.path), "--out",
                 str(tmp_path / "weaknas"), "--quiet"]) == 0
    assert "# weaknas (preset tiny)" in capsys.readouterr().out


def test_abs_correlation_table_trains_a_supernet_per_seed(table_oracle, cifar10_root, nb201_dir, tmp_path):
    rows = reproduce("abs-correlation", "tiny", tmp_path / "abs", oracle=table_oracle, data_root=str(cifar10_root),
                     splits_dir=str(nb201_dir / "splits"), progress=False).set_index(["row", "dataset"])
    runs = sorted(p.name.rsplit("-", 2)[0] for p in (tmp_path / "runs").iterdir())
    # two seeds of the released recipe, one of the shared-child variant (the tiny preset's only variant)
    assert runs == ["cifar10-valid-seed0", "cifar10-valid-seed0", "cifar10-valid-seed1"]
    for row in ("random", "supernet_acc", "rebn", "angle", "angle (cells only)", "angle (from init)"):
        measured = rows.loc[(row, "cifar10")]
        assert not math.isnan(measured["value"]) and not math.isnan(measured["std"]), row
        assert "ImageNet16" in rows.loc[(row, "ImageNet16-120"), "reason"]
    assert rows.loc[("angle", "cifar10"), "published"] == 0.575 and rows.loc[("rebn", "cifar10"), "n"] == 20
    variant = rows.loc[("angle [shared-child sampling]", "cifar10")]
    assert math.isnan(variant["std"]) and variant["value"] not in (rows.loc[("angle", "cifar10"), "value"],)
    settings = json.loads(variant["settings"])
    assert settings["supernet"]["sampling"] == "spos" and settings["seeds"] == [0, 0]
    assert rows.loc[("angle (from init)", "cifar10"), "value"] != rows.loc[("angle", "cifar10"), "value"]
    diagnostics = rows[rows.index.get_level_values("row").str.startswith("diagnostic: ")].xs("cifar10", level=1)
    by_metric = diagnostics.set_index("metric", append=True)["value"]
    assert 0 < by_metric[("diagnostic: fixed part", "angle_deg")] < 90
    shares = [by_metric[(f"diagnostic: {part}", "norm_share_median")] for part in
              ("stem", "reduction 1", "reduction 2", "last BN", "classifier")]
    assert sum(shares) == pytest.approx(by_metric[("diagnostic: fixed part", "norm_share_median")], rel=0.2)
    assert 0 <= by_metric[("diagnostic: angle's top 100", "fixed_part_only_cells")] <= 100
    assert by_metric[("diagnostic: cells with no conv on a live path", "count")] > 0
    from harness.analysis.score_sets import read_scores

    for row in ("supernet_acc", "rebn"):  # the children's mean accuracy, recomputed from the store's files
        files = rows.loc[(row, "cifar10"), "scores"].split(";")
        means = [float(np.mean(read_scores(tmp_path / "scores" / f).scores)) for f in files]
        assert by_metric[(f"diagnostic: {row}", "mean_accuracy")] == pytest.approx(np.mean(means))
    other = reproduce("abs-correlation", "tiny", tmp_path / "seed1", oracle=table_oracle, data_root=str(cifar10_root),
                      splits_dir=str(nb201_dir / "splits"), seed=1, progress=False).set_index(["row", "dataset"])
    assert other.loc[("rebn", "cifar10"), "value"] != rows.loc[("rebn", "cifar10"), "value"]


def test_econas_table_ranks_by_reduced_training_and_reports_the_budget(table_oracle, cifar10_root, nb201_dir,
                                                                       tmp_path):
    rows = reproduce("econas", "tiny", tmp_path / "econas", oracle=table_oracle, data_root=str(cifar10_root),
                     splits_dir=str(nb201_dir / "splits"), progress=False)
    assert rows["row"].tolist() == ["c=2 r=8 s=0.02 e=1"] * 2 + ["hierarchical c=2 r=8 s=0.02 stages=[1, 2]"] * 2
    assert rows["value"].notna().all() and (rows["n"] == 6).all() and (rows["seconds"] > 0).all()
    hierarchical = json.loads(rows["settings"].iloc[-1])
    assert hierarchical["budget_epochs"] == 6 * 1 + 3 * 1 and hierarchical["flat_budget_epochs"] == 12
    other = reproduce("econas", "tiny", tmp_path / "seed1", oracle=table_oracle, data_root=str(cifar10_root),
                      splits_dir=str(nb201_dir / "splits"), seed=1, progress=False)
    assert not other["value"].equals(rows["value"])
    none = reproduce("econas", "tiny", tmp_path / "none", oracle=table_oracle, data_root=str(tmp_path / "empty"),
                     progress=False)
    assert none["reason"].str.contains("the data root holds no cifar-10-batches-py/").all()


def test_eps_top20_table_shares_the_abs_correlation_supernets(table_oracle, cifar10_root, nb201_dir, tmp_path):
    common = {"oracle": table_oracle, "data_root": str(cifar10_root), "splits_dir": str(nb201_dir / "splits"),
              "progress": False, "runs": tmp_path / "runs"}
    rows = reproduce("eps-top20", "tiny", tmp_path / "eps", **common)
    rows = rows.set_index(["row", "dataset", "metric"]).sort_index()
    supernets = sorted(p.name for p in (tmp_path / "runs").iterdir() if not p.name.startswith("eps-"))
    assert len(supernets) == 2 and all(name.startswith("cifar10-valid-seed") for name in supernets)
    for row in ("supernet_acc", "rebn", "angle", "angle (cells only)", "angle (from init)"):
        assert not math.isnan(rows.loc[(row, "cifar10", "kendall_tau"), "value"]), row
        assert "CIFAR-100" in rows.loc[(row, "cifar100", "kendall_tau"), "reason"]
    # the top-20% tau is over the cells in the ground-truth top 20% of ALL cells: 3,125 for the angle (a real
    # sub-ranking, not the global one), and those of the 20 sampled cells that are in it for the accuracies
    angle = rows.xs(("angle", "cifar10"))
    assert angle.loc["kendall_tau", "n"] == 15625 and angle.loc["top20_kendall_tau", "n"] == 3125
    assert angle.loc["kendall_tau", "value"] != angle.loc["top20_kendall_tau", "value"]
    truth = table_oracle.accuracy(dataset="cifar10", split="ori-test")
    sample = json.loads(rows.loc[("rebn", "cifar10", "kendall_tau"), "settings"])["cells"]
    from harness.proxies.scoring import select_cells
    in_top = (truth[table_oracle.indices(select_cells(sample))] >= np.sort(truth)[-3125]).sum()
    assert rows.loc[("rebn", "cifar10", "kendall_tau"), "n"] == 20
    assert rows.loc[("rebn", "cifar10", "top20_kendall_tau"), "n"] == in_top < 20
    test = table_oracle.accuracy(dataset="cifar10", split="ori-test")
    for row, prior in (("EPS", "on"), ("EPS (no prior)", "off")):  # the pick with the prior and the lowest loss
        eps = rows.xs((row, "cifar10"))
        best, rank = eps.loc["best_test", "value"], int(eps.loc["pick_rank", "value"])
        assert best in test and rank == 1 + int((test > best).sum())  # the pick is a real cell, ranked in the table
        settings = json.loads(eps.loc["best_test", "settings"])
        assert settings["prior"] == prior and settings["scale"].startswith("tiny")
        assert "CIFAR-100" in rows.loc[(row, "cifar100", "best_test"), "reason"]
    assert rows.loc[("EPS", "cifar10", "best_test"), "published"] == 94.34
    # abs-correlation on the same runs reuses the supernets and their scores: same numbers, nothing new trained
    abs_rows = reproduce("abs-correlation", "tiny", tmp_path / "abs", **common).set_index(["row", "dataset"])
    after = {p.name for p in (tmp_path / "runs").iterdir() if not p.name.startswith("eps-")}
    assert set(supernets) < after and len(after - set(supernets)) == 1  # only the shared-child variant is new
    assert abs_rows.loc[("rebn", "cifar10"), "value"] == pytest.approx(rows.loc[("rebn", "cifar10", "kendall_tau"),
                                                                               "value"])
    other = reproduce("eps-top20", "tiny", tmp_path / "eps1", **{**common, "runs": tmp_path / "runs1"}, seed=1)
    assert other.set_index(["row", "dataset", "metric"]).loc[("angle", "cifar10", "kendall_tau"), "value"] != \
        angle.loc["kendall_tau", "value"]


def test_abs_shrinking_table_measures_the_shrunk_spaces_per_signal(table_oracle, cifar10_root, nb201_dir, tmp_path):
    kwargs = {"oracle": table_oracle, "data_root": str(cifar10_root), "splits_dir": str(nb201_dir / "splits"),
              "progress": False}
    rows = reproduce("abs-shrinking", "tiny", tmp_path / "a", **kwargs)
    released = "angle, one round of 20 (as released)"
    assert rows["row"].unique().tolist() == ["truth", "params", "angle", released] and rows["published"].isna().all()
    table = rows.set_index(["row", "dataset", "metric"]).sort_index()
    for dataset in ("cifar10", "cifar100", "ImageNet16-120"):
        truth = table.loc[("truth", dataset)]["value"]
        assert truth["best_global_rank"] == 1 and truth["top1%_kept"] > 0, dataset  # the oracle keeps the best
        stages = json.loads(next((tmp_path / "scores").glob(f"shrink-{dataset}-truth-*.json")).read_text())["stages"]
        left = {}  # edge -> ops it keeps: 5, less those the stages dropped
        for stage in stages:
            for edge, _ in stage["dropped"]:
                left[edge] = left.get(edge, 5) - 1
        assert sum(5 - n for n in left.values()) == 2 * 3 and truth["cells_left"] == math.prod(left.values()) * 5 ** (
            6 - len(left)) < 5 ** 6
        params = table.loc[("params", dataset)]
        assert params["value"].notna().all() and (params["seconds"] > 0).all(), dataset  # no images needed
    angle = table.loc[("angle", "cifar10")]
    assert angle["value"].map(math.isfinite).all() and (angle["seconds"] > 0).all()
    assert angle.loc["cells_left", "n"] == angle.loc["cells_left", "value"] and angle.loc["rea@20_gain", "n"] == 5
    assert table.loc[("angle", "cifar100"), "reason"].str.contains("CIFAR-100").all()
    assert table.loc[("angle", "ImageNet16-120"), "reason"].str.contains("ImageNet16").all()
    other = reproduce("abs-shrinking", "tiny", tmp_path / "b", seed=1, **kwargs)
    other = other.set_index(["row", "dataset", "metric"]).sort_index()
    changed = other["value"].ne(table["value"]) & other["value"].notna()
    assert changed.loc[("angle", "cifar10")].any() or changed.loc[("truth", "cifar10", "rea@20_inside")]
    assert changed.loc[(slice(None), slice(None), "rea@20_gain")].any()  # the searches are measured, not copied
    one_round = table.loc[(released, "cifar10")]["value"]  # 20 of the 30 (edge, op) pairs dropped at once
    history = json.loads(next((tmp_path / "scores").glob("shrink-cifar10-angle-one-round-*.json")).read_text())
    assert len(history["stages"]) == 1 and len(history["stages"][0]["dropped"]) == 20
    kept = np.array(history["stages"][0]["allowed_mask"]).sum(axis=1)
    assert kept.sum() == 10 and (kept >= 1).all() and one_round["cells_left"] == np.prod(kept)


def test_each_published_number_is_a_match_or_a_gap_with_its_explanation(tmp_path):
    """The page says, for each row beside a published number, whether the two spreads cover the difference, and
    gives a gap the table's explanation (or says there is none); computed here by hand from the published values."""
    from harness.reproduce.published import published
    from harness.reproduce.results import Row, frame, against_published

    ref = published("weaknas", "REA", "cifar10", "best_test")  # 93.92 +- 0.30
    rows = [Row("weaknas", "REA", "cifar10", "best_test", value=ref.value + 0.5, std=0.2, n=100),  # 2 sqrt(.3^2+.2^2)
            Row("weaknas", "random", "cifar10", "best_test", value=95.0, std=0.1, n=100),
            Row("weaknas", "optimum", "cifar10", "best_test", value=94.373333, n=15625),  # 94.37 as published
            Row("weaknas", "REA", "cifar100", "best_test", reason="not run")]
    lines = against_published(frame(rows), {"random": lambda data, r: f"because {r.value:.1f} was measured."})
    assert lines == [f"- REA, cifar10, best_test: within the spread (+0.500; spread {np.hypot(0.3, 0.2):.3f}).",
                     "- random, cifar10, best_test: a gap (+1.300; spread 0.374). because 95.0 was measured.",
                     "- optimum, cifar10, best_test: within the spread (+0.003; spread 0.000)."]
    rows[0] = Row("weaknas", "REA", "cifar10", "best_test", value=ref.value + 0.8, std=0.2, n=100)
    assert against_published(frame(rows), {})[0].endswith("a gap (+0.800; spread 0.361). Not explained yet.")
    synflow = published("zero-cost", "synflow", "cifar10", "spearman_rho")  # 0.737, no std: the interval decides
    inside, outside = (Row("zero-cost", "synflow", "cifar10", "spearman_rho", value=v, ci_low=lo, ci_high=hi, n=100)
                       for v, lo, hi in ((0.76, 0.65, 0.84), (0.60, 0.50, 0.70)))
    assert "within the spread (+0.023; 95% interval [0.650, 0.840])" in against_published(frame([inside]), {})[0]
    assert "a gap (-0.137; 95% interval [0.500, 0.700])" in against_published(frame([outside]), {})[0]
    assert synflow.value == 0.737
