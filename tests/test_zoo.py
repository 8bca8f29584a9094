"""The committed zoo (reports/zoo): what it holds, that a fresh scoring of its cells gives its scores exactly, and
`harness evaluate` comparing a new proxy with it end to end on the real ground truth."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.analysis.paired import COLUMNS, PAIRED_METRICS
from harness.analysis.score_sets import read_scores
from harness.cli.main import main
from harness.errors import HarnessError
from harness.proxies.zoo import ZOO_OF, add, build, compare, entries, load
from harness.space import format_archs

ZOO = Path(__file__).resolve().parents[1] / "reports" / "zoo"

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_the_committed_zoo_holds_the_cheap_proxies_on_every_cell(capsys):
    held = {(e.dataset, e.proxy) for e in entries(ZOO)}
    for dataset in ("cifar10", "cifar100", "ImageNet16-120"):
        assert {(dataset, "params"), (dataset, "flops")} <= held
    assert ("cifar10", "synflow") in held
    for entry in entries(ZOO):
        provenance = read_scores(entry.path).provenance
        assert ZOO_OF[provenance["dataset"]] == entry.dataset
        assert provenance["proxy"] == entry.proxy or ("zoo_source" in provenance
                                                      and entry.proxy.startswith(provenance["proxy"]))
        assert provenance["n_cells"] == (15625 if provenance["cells"] == "all" else int(provenance["cells"].split(":")[1]))
    assert main(["zoo", "list", "--zoo", str(ZOO)]) == 0
    out = capsys.readouterr().out
    assert "synflow" in out and "15625" in out and "ms/cell" in out


def test_every_zoo_file_is_its_proxy_at_its_defaults_as_the_code_computes_it_now():
    """Each zoo file and each all-cell shard of a built-in proxy (not a file added from a run) was scored at the
    proxy's default settings by the code as it is now (its code hash): an edit to a proxy or a changed default that
    is not followed by scoring the zoo again fails here, so nothing is ever compared with stale scores."""
    from harness.proxies import ProxyContext, get_proxy
    from harness.proxies.scoring import job_identity

    files = [e.path for e in entries(ZOO)] + sorted((ZOO.parent / "zoo-build").glob("*/*.parquet"))
    checked = 0
    for path in files:
        saved = read_scores(path).provenance
        if "zoo_source" in saved:
            continue
        proxy = get_proxy(saved["proxy"])
        now = job_identity(proxy, ProxyContext(dataset=saved["dataset"], seed=saved["seed"]), saved["cells"])
        for key in ("settings", "code_hash", "version"):
            assert saved[key] == now[key], (path.relative_to(ZOO.parent), key, saved[key], now[key])
        checked += 1
    assert checked >= 9


def test_a_fresh_scoring_of_zoo_cells_gives_the_zoo_scores(tmp_path, table_oracle, cifar10_root, nb201_dir):
    """params exactly; the networks' scores to float rounding: torch orders a reduction by the CPU's vector width
    (AVX2 or AVX-512 kernels), so the same code and batch on another machine differ in the last bits."""
    zoo_sets = {s.name: s for s in load(ZOO, "cifar10", table_oracle.order)}
    rng = np.random.default_rng(0)
    for name, n in (("params", 30), ("synflow", 8), ("jacob_cov", 4)):
        if name not in zoo_sets:
            continue
        committed = zoo_sets[name]
        pick = rng.choice(len(committed.cells), n, replace=False)
        cells_file = tmp_path / f"{name}-cells.csv"
        pd.DataFrame({"arch": format_archs(committed.cells[pick])}).to_csv(cells_file, index=False)
        fresh, = build(tmp_path / "zoo", "cifar10", [name], cells=str(cells_file), data_root=str(cifar10_root),
                       splits_dir=str(nb201_dir / "splits"), order=table_oracle.order, progress=False,
                       report=lambda line: None)
        again = read_scores(fresh, table_oracle.order)
        np.testing.assert_array_equal(again.cells, committed.cells[pick])
        if name == "params":
            np.testing.assert_array_equal(again.scores, committed.scores[pick])
        else:
            np.testing.assert_allclose(again.scores, committed.scores[pick], rtol=1e-5)
        assert again.provenance["code_hash"] == committed.provenance["code_hash"]


def test_the_all_cell_summary_holds_the_zoo_s_own_numbers(table_oracle):
    """reports/zero-cost/all-cells.csv (tools/zero-cost-summary) cannot go stale: every zoo file of a zero-cost
    proxy on all cells, and every proxy still being built from its finished all-cell shards, has its rows, each
    Spearman recomputed from the files by ranks (over every cell, and over the cells with a finite score as the
    zero-cost code's evaluation), and its code hash."""
    summary = pd.read_csv(ZOO.parent / "zero-cost" / "all-cells.csv")
    sources = {}
    for entry in entries(ZOO):
        scores = read_scores(entry.path, table_oracle.order)
        if entry.proxy not in ("params", "flops") and "zoo_source" not in scores.provenance:
            sources[(entry.dataset, entry.proxy)] = [scores] if len(scores.cells) == 15625 else []
    for key, held in sources.items():
        if not held:  # a sample in the zoo: the rows come from the shards built so far
            shards = sorted((ZOO.parent / "zoo-build" / key[0]).glob(f"{key[1]}.shard-*-of-16.parquet"))
            held.extend(read_scores(path, table_oracle.order) for path in shards)
    expected = {key for key, held in sources.items() if held}
    assert ("cifar10", "synflow") in expected
    for (dataset, proxy), held in sources.items():
        rows = summary[(summary["dataset"] == dataset) & (summary["proxy"] == proxy)]
        if not held:
            assert rows.empty
            continue
        assert len(rows) == (2 if dataset == "cifar10" else 1), (dataset, proxy)
        cells = np.concatenate([s.cells for s in held])
        scores = np.concatenate([s.scores for s in held])
        index = table_oracle.indices(cells)
        finite = np.isfinite(scores)
        for row in rows.itertuples():
            assert row.cells == len(cells) and row.non_finite == (~finite).sum()
            truth, split = row.truth.removesuffix("@200").split("/")
            accuracy = np.asarray(table_oracle.accuracy(dataset=truth, split=split, hp=200))[index]
            ranks = [pd.Series(v).rank().to_numpy() for v in (scores, accuracy)]  # -inf ranks last
            assert row.spearman_rho == pytest.approx(np.corrcoef(*ranks)[0, 1], abs=1e-9)
            ranks = [pd.Series(v[finite]).rank().to_numpy() for v in (scores, accuracy)]
            assert row.spearman_rho_finite == pytest.approx(abs(np.corrcoef(*ranks)[0, 1]), abs=1e-9)
            assert row.code_hash == ",".join(sorted({s.provenance["code_hash"] for s in held}))
    assert {(r.dataset, r.proxy) for r in summary.itertuples()} == expected


def test_the_released_code_rows_hold_its_files_and_the_harness_s_scores_of_the_same_cells(table_oracle):
    """reports/zero-cost/reference.csv (tools/zero-cost-summary): each file of the zero-cost code's own run has its
    row, whose Spearman values are recomputed here by ranks from that file and from the harness's scores of the same
    cells (the zoo's all-cell shards)."""
    rows = pd.read_csv(ZOO.parent / "zero-cost" / "reference.csv")
    files = sorted((ZOO.parent / "zero-cost" / "reference").glob("*/reference-*.parquet"))
    assert len(files) >= 2 and len(rows) == len(files)
    truth = np.asarray(table_oracle.accuracy(dataset="cifar10-valid", split="ori-test", hp=200))
    for row, path in zip(rows.sort_values("file").itertuples(), files):
        assert row.file == f"reference/{path.parent.name}/{path.name}"
        reference = read_scores(path, table_oracle.order)
        assert reference.provenance["reference"].startswith("SamsungLabs/zero-cost-nas ")
        shards = [read_scores(f, table_oracle.order) for f in (ZOO.parent / "zoo-build" / "cifar10").glob(
            f"{row.proxy}.shard-*-of-16.parquet")] or [read_scores(ZOO / "cifar10" / f"{row.proxy}.parquet")]
        mine = pd.concat([pd.Series(s.scores, index=table_oracle.indices(s.cells)) for s in shards])
        index = table_oracle.indices(reference.cells)
        values = {"released_code": reference.scores, "harness": mine.loc[index].to_numpy()}
        for column, v in values.items():
            ranks = [pd.Series(a).rank().to_numpy() for a in (v, truth[index])]
            assert getattr(row, column) == pytest.approx(abs(np.corrcoef(*ranks)[0, 1]), abs=1e-9)
        ranks = [pd.Series(a).rank().to_numpy() for a in values.values()]
        assert row.agreement == pytest.approx(np.corrcoef(*ranks)[0, 1], abs=1e-9) and row.cells == len(index)


def test_evaluate_compares_a_new_proxy_with_the_zoo(tmp_path, table_oracle, table_csv, monkeypatch):
    monkeypatch.chdir(tmp_path)
    truth = pd.read_csv(table_csv, usecols=["arch", "cifar10/ori-test@200"]).sample(1500, random_state=1)
    scores = truth["cifar10/ori-test@200"] + np.random.default_rng(1).normal(0, 2, len(truth))
    pd.DataFrame({"arch": truth["arch"], "score": scores}).to_csv("mine.csv", index=False)
    assert main(["evaluate", "mine.csv", "--dataset", "cifar10", "--split", "ori-test", "--cache",
                 str(table_oracle.path), "--zoo", str(ZOO), "--n-boot", "200", "--out", "rep"]) == 0
    rows = pd.read_csv("rep/comparison.csv")
    assert list(rows.columns) == COLUMNS + ["dataset", "target"]
    zoo_names = {e.proxy for e in entries(ZOO) if e.dataset == "cifar10"}
    assert set(rows["against"]) == zoo_names and set(rows["metric"]) == set(PAIRED_METRICS)
    params = rows[(rows["against"] == "params") & (rows["metric"] == "kendall_tau")].iloc[0]
    assert params["n"] == 1500 and params["diff"] == pytest.approx(params["value"] - params["against_value"])
    report = Path("rep/report.md").read_text()
    assert "## mine against the zoo" in report and "**mine (yours)**" in report
    assert Path("rep/figures/zoo-mine.png").stat().st_size > 0 and "zoo-mine.svg" in Path("rep/report.html").read_text()
    table = compare("mine.csv", dataset="cifar10", zoo=ZOO, oracle=table_oracle, n_boot=200)  # the Python API
    pd.testing.assert_frame_equal(table.reset_index(drop=True), rows[COLUMNS].reset_index(drop=True),
                                  check_dtype=False)
    assert main(["evaluate", "mine.csv", "--dataset", "cifar10", "--split", "ori-test", "--cache",
                 str(table_oracle.path), "--zoo", str(ZOO), "--against", "params,nope", "--out", "rep2"]) == 2
    assert main(["evaluate", "mine.csv", "--dataset", "cifar10", "--split", "ori-test", "--cache",
                 str(table_oracle.path), "--against", "none", "--n-boot", "20", "--out", "rep"]) == 0
    assert not Path("rep/comparison.csv").exists() and not Path("rep/figures/zoo-mine.png").exists()  # none stale


def test_without_a_zoo_the_report_says_so_and_named_proxies_must_exist(tmp_path, table_oracle):
    sset = tmp_path / "s.csv"
    cells = table_oracle.cells(np.arange(200))
    pd.DataFrame({"arch": format_archs(cells), "score": np.arange(200.0)}).to_csv(sset, index=False)
    assert main(["evaluate", str(sset), "--dataset", "cifar100", "--split", "x-test", "--cache",
                 str(table_oracle.path), "--zoo", str(tmp_path / "none"), "--n-boot", "20", "--out",
                 str(tmp_path / "rep")]) == 0
    assert "Not compared with the zoo on cifar100: --zoo holds no scores" in (tmp_path / "rep" / "report.md").read_text()
    assert not (tmp_path / "rep" / "comparison.csv").exists()
    with pytest.raises(HarnessError, match="has no nope for cifar10; it has .*params"):
        load(ZOO, "cifar10", names=["nope"])
    assert json.loads((tmp_path / "rep" / "provenance.json").read_text())["target"] == "cifar100/x-test@200"


def test_dataset_all_compares_on_each_dataset_with_its_own_zoo(tmp_path, table_oracle):
    cells = table_oracle.cells(np.arange(0, 15625, 25))
    truth = table_oracle.accuracy(np.arange(0, 15625, 25), dataset="cifar100", split="x-test")
    pd.DataFrame({"arch": format_archs(cells), "score": truth + np.random.default_rng(4).normal(0, 3, truth.size)}
                 ).to_csv(tmp_path / "s.csv", index=False)
    assert main(["evaluate", str(tmp_path / "s.csv"), "--dataset", "all", "--cache", str(table_oracle.path), "--zoo",
                 str(ZOO), "--against", "params,flops", "--n-boot", "50", "--out", str(tmp_path / "rep")]) == 0
    rows = pd.read_csv(tmp_path / "rep" / "comparison.csv")
    assert set(rows["dataset"]) == {"cifar10", "cifar100", "ImageNet16-120"} and set(rows["against"]) == {"params", "flops"}
    assert (rows["n"] == 625).all()
    for dataset in ("cifar10", "cifar100", "ImageNet16-120"):
        assert (tmp_path / "rep" / "figures" / dataset / "zoo-s.png").is_file()


def test_zoo_build_refuses_unknown_proxies_and_skips_image_proxies_without_images(tmp_path):
    with pytest.raises(HarnessError, match="rebn not in the zoo; its proxies are params, flops"):
        build(tmp_path, "cifar10", ["rebn"])
    said = []
    assert build(tmp_path, "cifar10", ["snip"], cells="sample:3:0", report=said.append) == []
    assert said == ["zoo cifar10/snip: skipped, it needs images (--data-root DIR holding cifar10's)"]


def test_a_score_file_from_the_store_joins_the_zoo_with_its_provenance(tmp_path, capsys):
    store = Path(__file__).resolve().parents[1] / "reports" / "scores"
    angle = next(store.glob("cifar10-valid-seed0-*-angle-*.parquet"))
    out = add(tmp_path, angle, "angle-s0")
    assert out == tmp_path / "cifar10" / "angle-s0.parquet"
    joined, original = read_scores(out), read_scores(angle)
    np.testing.assert_array_equal(joined.scores, original.scores)
    assert joined.provenance == {**original.provenance, "zoo_source": angle.name}
    assert add(tmp_path, angle, "angle-s0") == out  # the same scores again: nothing to refuse
    other = next(store.glob("cifar10-valid-seed1-*-angle-*.parquet"))
    assert main(["zoo", "add", str(other), "--as", "angle-s0", "--zoo", str(tmp_path)]) == 2
    assert "holds other scores" in capsys.readouterr().err
    with pytest.raises(HarnessError, match="zoo name 'a b'"):
        add(tmp_path, angle, "a b")
