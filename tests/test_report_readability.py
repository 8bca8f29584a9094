"""Reports a researcher reads at a glance, on the real table: the HTML report's structure (a table that fits, its
legend, code as code, captioned figures), the figures (colour bars, a panel per dataset, labels clear of each other
and of the legend, no legend entry without a mark), the pick's accuracy and the top-k bands checked against
numpy on materialised resamples, the recorded cost, `--dataset all`, and a report written whole or not at all."""
import errno
import hashlib
import itertools
import json
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.container import ErrorbarContainer

from harness.analysis import metrics as m
from harness.analysis.bootstrap import resample_weights
from harness.analysis.evaluate import evaluate_score_sets, evaluate_scores
from harness.analysis.paired import compare_scores
from harness.analysis.score_sets import ScoreSet, read_scores, write_scores
from harness.cli.main import main
from harness.errors import HarnessError
from harness.report import figures, write_report
from harness.report.comparison import leaderboard
from harness.report.evaluation_report import headline_table
from harness.report.reproduce_figures import cost_quality_figure, table_figure

REPORTS = Path(__file__).resolve().parents[1] / "reports"
CELLS = np.arange(0, 15625, 5)  # 3,125 cells: more than the hexbin threshold, quick to bootstrap


def _noisy(oracle, dataset="cifar10", split="ori-test", seed=0, scale=3.0) -> ScoreSet:
    truth = oracle.accuracy(CELLS, dataset=dataset, split=split)
    noise = np.random.default_rng(seed).normal(scale=scale, size=CELLS.size)
    return ScoreSet("noisy truth", oracle.cells(CELLS), truth + noise, {"proxy": "noisy truth"})


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def evaluation(table_oracle):
    return evaluate_score_sets([_noisy(table_oracle)], table_oracle, dataset="cifar10", split="ori-test", n_boot=100)


@pytest.fixture(scope="module")
def report(evaluation, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "report"
    write_report(evaluation, out, origin={"command": "harness evaluate noisy.csv --dataset cifar10 --split ori-test",
                                          "code_hash": "0123456789abcdef"})
    return out


class _Page(HTMLParser):
    """The report's elements as (tag, attributes, path of enclosing tags), and the text inside each element."""

    def __init__(self):
        super().__init__()
        self.stack, self.elements, self.text = [], [], {}

    def handle_starttag(self, tag, attrs):
        if tag in ("img", "meta", "br"):
            self.elements.append((tag, dict(attrs), tuple(self.stack)))
            return
        self.stack.append(tag)
        self.elements.append((tag, dict(attrs), tuple(self.stack[:-1])))

    def handle_endtag(self, tag):
        if tag in self.stack:
            del self.stack[len(self.stack) - 1 - self.stack[::-1].index(tag):]

    def handle_data(self, data):
        for tag in self.stack:
            self.text[tag] = self.text.get(tag, "") + data


def _page(path: Path) -> tuple[_Page, str]:
    source = path.read_text()
    parser = _Page()
    parser.feed(source)
    return parser, source


def test_the_html_report_has_a_boxed_table_with_a_legend_code_and_captioned_figures(evaluation, report):
    from harness.report.evaluation_report import COLUMN_MEANINGS

    page, source = _page(report / "report.html")
    assert ".table-box{max-width:100%;overflow-x:auto" in source  # too wide a table scrolls in its box
    tables = [path for tag, _, path in page.elements if tag == "table"]
    assert tables and all(path[-1] == "div" for path in tables)
    boxes = [attrs for tag, attrs, _ in page.elements if tag == "div"]
    assert len(boxes) == len(tables) and all(a.get("class") == "table-box" for a in boxes)
    headers = [h for h in source.split("<thead>")[1].split("</thead>")[0].split("<th>")[1:]]
    headers = [h.split("</th>")[0] for h in headers]
    legend = source.split('<dl class="legend">')[1].split("</dl>")[0]
    assert headers == [name for name, _ in COLUMN_MEANINGS]  # every column explained, in order
    assert all(f"<dt>{h}</dt>" in legend for h in headers)
    assert source.index("</table>") < source.index('<dl class="legend">') < source.index("<figure>")  # beside it
    # code as code: the command in a block, arch strings, file names and targets inline
    assert "<pre><code>harness evaluate noisy.csv --dataset cifar10 --split ori-test</code></pre>" in source
    assert "<code>metrics.csv</code>" in source and "<code>cifar10/ori-test@200</code>" in source
    archs = [r.pick["arch"] for r in evaluation.results]
    assert len(archs) == 4 and all(f'<td class="text"><code>{arch}</code></td>' in source for arch in archs)
    assert "`" not in page.text.get("body", "")  # no markdown left unrendered
    images = [(attrs, path) for tag, attrs, path in page.elements if tag == "img"]
    assert len(images) == 3 and all(path[-1] == "figure" for _, path in images)
    captions = source.split("<figcaption>")[1:]
    assert len(captions) == 3 and all(len(c.split("</figcaption>")[0]) > 80 for c in captions)
    assert all((report / attrs["src"]).is_file() for attrs, _ in images)
    md = (report / "report.md").read_text()
    assert md.count("\n*") >= 3 and "Columns:" in md  # captions and the legend in the markdown too
    assert all("`" + arch.replace("|", "\\|") + "`" in md for arch in archs)  # a bare | would end the cell


def test_pick_accuracy_and_best_of_top_10_equal_numpy_on_materialised_resamples(table_oracle):
    truth = table_oracle.accuracy(CELLS, dataset="cifar100", split="x-test")
    score = truth + np.random.default_rng(1).normal(scale=4, size=truth.size)
    n_boot, seed = 60, 3
    table = evaluate_scores(truth, score, n_boot=n_boot, seed=seed).set_index("label")
    assert table.loc["best_accuracy_at_k@1", "value"] == pytest.approx(truth[np.argmax(score)])
    assert table.loc["best_accuracy_at_k@10", "value"] == pytest.approx(truth[np.argsort(-score)[:10]].max())
    picks, best10 = [], []
    for w in resample_weights(truth.size, n_boot, seed):
        drawn = np.repeat(np.arange(truth.size), w)  # the materialised resample, cells in order
        order = drawn[np.argsort(-score[drawn], kind="stable")]
        picks.append(truth[order[0]])
        best10.append(truth[order[:10]].max())
    for label, values in (("best_accuracy_at_k@1", picks), ("best_accuracy_at_k@10", best10)):
        assert [table.loc[label, "ci_low"], table.loc[label, "ci_high"]] == pytest.approx(
            np.percentile(values, [2.5, 97.5]))
    assert table.loc["best_accuracy_at_k@10", "value"] >= table.loc["best_accuracy_at_k@1", "value"]


def test_top_k_curves_have_bootstrap_bands_equal_to_materialised_resamples(table_oracle):
    from harness.analysis.evaluate import top_k_curves

    idx = np.arange(0, 15625, 41)  # 382 cells
    truth = table_oracle.accuracy(idx, dataset="ImageNet16-120", split="x-test")
    score = np.round(truth + np.random.default_rng(2).normal(scale=5, size=truth.size), 0)  # ties in the scores
    percents = (2, 10, 50, 100)
    curves = top_k_curves(truth, score, percents=percents, n_boot=50, seed=4).set_index(["metric", "k"])
    weights = resample_weights(truth.size, 50, 4)
    for k in percents:
        for metric, point in (("retrieval_rate", m.retrieval_rate), ("top_kendall_tau", m.top_k_kendall)):
            values = [point(truth[d], score[d], k) for d in (np.repeat(np.arange(truth.size), w) for w in weights)]
            row = curves.loc[(metric, k)]
            assert row["value"] == pytest.approx(point(truth, score, k))
            assert [row["ci_low"], row["ci_high"]] == pytest.approx(np.nanpercentile(values, [2.5, 97.5]), abs=1e-9)


def test_the_top_k_figure_draws_a_band_per_curve(evaluation):
    fig = figures.top_k_curves(evaluation)
    for ax in fig.axes:
        bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
        assert len(bands) == len(ax.lines) == len(evaluation.results)
    _assert_legends_name_only_drawn_marks(fig)


def test_the_recorded_cost_is_shown_or_said_not_recorded(table_oracle, tmp_path):
    store, = sorted((REPORTS / "scores").glob("zero-cost-synflow-cifar10-*.parquet"))  # the zero-cost table's
    scored = read_scores(store, table_oracle.order)
    ev = evaluate_score_sets([scored], table_oracle, dataset="cifar10", split="ori-test", n_boot=20)
    costs = headline_table(ev).set_index("score set")["cost"]
    assert costs["synflow"] == f"{scored.provenance['seconds_per_cell'] * 1e3:.3g} ms/cell"
    assert (costs.drop("synflow") == "not recorded").all() and len(costs) == 4  # the baselines record none
    write_report(ev, tmp_path / "r")
    assert costs["synflow"] in (tmp_path / "r" / "report.html").read_text()


def test_dataset_all_writes_one_report_with_a_section_and_rows_per_dataset(table_oracle, tmp_path, capsys):
    from harness.analysis.evaluate import ALL_TARGETS

    truth = table_oracle.accuracy(CELLS, dataset="cifar100", split="x-test")
    write_scores(tmp_path / "s.csv", ScoreSet("c100 noisy", table_oracle.cells(CELLS), truth + np.random.default_rng(
        5).normal(scale=3, size=CELLS.size), {"proxy": "c100 noisy"}), table_oracle.order)
    common = [str(tmp_path / "s.csv"), "--cache", str(table_oracle.path), "--n-boot", "20"]
    assert main(["evaluate", *common, "--dataset", "all", "--out", str(tmp_path / "all")]) == 0
    metrics = pd.read_csv(tmp_path / "all" / "metrics.csv")
    assert metrics.columns[0] == "dataset" and list(dict.fromkeys(metrics["dataset"])) == list(ALL_TARGETS)
    for dataset, split in ALL_TARGETS.items():
        part = metrics[(metrics["dataset"] == dataset) & (metrics["score_set"] == "c100 noisy")].set_index("label")
        assert set(part["target"]) == {f"{dataset}/{split}@200"}
        expected = table_oracle.accuracy(CELLS, dataset=dataset, split=split)
        scores = truth + np.random.default_rng(5).normal(scale=3, size=CELLS.size)
        assert part.loc["best_accuracy_at_k@1", "value"] == pytest.approx(expected[np.argmax(scores)])
        assert set(metrics.loc[metrics["dataset"] == dataset, "score_set"]) == {
            "c100 noisy", "random (seed 0)", "params", "12-epoch accuracy"}
    md = (tmp_path / "all" / "report.md").read_text()
    page = (tmp_path / "all" / "report.html").read_text()
    for dataset, split in ALL_TARGETS.items():
        assert f"## {dataset} (`{dataset}/{split}@200`)" in md and f'<section id="{dataset}">' in page
        assert (tmp_path / "all" / "figures" / dataset / "top_k_curves.svg").is_file()
        assert f"figures/{dataset}/operator_scores.svg" in page
    assert json.loads((tmp_path / "all" / "provenance.json").read_text())["target"] == [
        f"{d}/{s}@200" for d, s in ALL_TARGETS.items()]
    capsys.readouterr()
    assert main(["evaluate", *common, "--dataset", "all", "--split", "x-test", "--out", str(tmp_path / "no")]) == 2
    err = capsys.readouterr().err
    assert "--split x-test cannot be given with --dataset all" in err and not (tmp_path / "no").exists()
    assert main(["evaluate", *common, "--dataset", "cifar100", "--out", str(tmp_path / "no")]) == 2
    assert "--dataset cifar100 needs --split" in capsys.readouterr().err and not (tmp_path / "no").exists()


def _tree(path: Path) -> dict[str, str]:
    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(path.rglob("*"))
            if p.is_file()}


def _fail_on_second_figure(monkeypatch):
    saved = figures.save
    calls = []

    def save(fig, directory, stem):
        calls.append(stem)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(directory / stem))
        return saved(fig, directory, stem)

    monkeypatch.setattr(figures, "save", save)


def test_a_full_disk_halfway_leaves_no_partial_report(evaluation, tmp_path, monkeypatch):
    _fail_on_second_figure(monkeypatch)
    with pytest.raises(OSError) as err:
        write_report(evaluation, tmp_path / "out")
    assert err.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []  # neither the report nor its temporary directory


def test_a_full_disk_halfway_leaves_an_earlier_report_as_it_was(evaluation, tmp_path, monkeypatch):
    from harness.report.evaluation_report import REPORT_ENTRIES

    out = tmp_path / "out"
    write_report(evaluation, out)
    (out / "scores").mkdir()  # what the report sits beside (tools/extra-reports keeps its score files there)
    (out / "scores" / "mine.csv").write_text("arch,score\n")
    before = _tree(out)
    with monkeypatch.context() as patched:
        _fail_on_second_figure(patched)
        with pytest.raises(OSError):
            write_report(evaluation, out, title="a new title")
    assert _tree(out) == before and [p.name for p in tmp_path.iterdir()] == ["out"]
    write_report(evaluation, out, title="a new title")  # complete: it replaces the report, keeps the rest
    after = _tree(out)
    assert after["scores/mine.csv"] == before["scores/mine.csv"] and after["report.md"] != before["report.md"]
    assert set(after) == set(before) and [p.name for p in tmp_path.iterdir()] == ["out"]
    (tmp_path / "beside").mkdir()  # a first report beside score files
    (tmp_path / "beside" / "scores.csv").write_text("arch,score\n")
    write_report(evaluation, tmp_path / "beside")
    assert {p.name for p in (tmp_path / "beside").iterdir()} == {"scores.csv", *REPORT_ENTRIES} - {"comparison.csv"}
    (tmp_path / "elsewhere" / "figures").mkdir(parents=True)  # someone's figures, not a report's
    with pytest.raises(HarnessError, match="holds figures but no report.md"):
        write_report(evaluation, tmp_path / "elsewhere")
    assert [p.name for p in (tmp_path / "elsewhere").iterdir()] == ["figures"]


def test_operator_heatmaps_share_one_rank_scale_with_a_colour_bar(evaluation):
    fig = figures.operator_heatmaps(evaluation)
    bars = [ax for ax in fig.axes if "rank" in ax.get_ylabel()]
    assert len(bars) == 1 and "all panels" in bars[0].get_ylabel()
    panels = [ax for ax in fig.axes if ax.images and ax not in bars]
    assert len(panels) == 1 + len(evaluation.results)
    assert {ax.images[0].get_clim() for ax in panels} == {(0.5, 5.5)}  # one scale
    assert all("numbers: mean" in ax.get_title() for ax in panels)  # what the numbers are, per panel
    for ax, r in zip(panels[1:], evaluation.results):  # the colour is the op's rank on its edge
        ranks = r.operators["proxy_rank"].to_numpy().reshape(6, 5)
        np.testing.assert_array_equal(ax.images[0].get_array(), ranks)


def _drawn(artist) -> bool:
    if isinstance(artist, ErrorbarContainer):
        return len(artist.lines[0].get_xdata()) > 0
    if hasattr(artist, "get_offsets"):
        return len(artist.get_offsets()) > 0
    return len(artist.get_xdata()) > 0


def _assert_legends_name_only_drawn_marks(fig):
    drawn = {a.get_label() for ax in fig.axes for a in (*ax.lines, *ax.collections, *ax.containers) if _drawn(a)}
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]
    for legend in legends:
        named = [t.get_text() for t in legend.get_texts()]
        assert named and set(named) <= drawn, f"legend entries without a mark: {set(named) - drawn}"


def test_every_reproduced_table_figure_has_a_panel_per_metric_and_dataset():
    for table in ("weaknas", "zero-cost", "abs-shrinking", "eps-top20", "abs-correlation", "econas"):
        rows = pd.read_csv(REPORTS / table / "rows.csv")
        shown = rows[rows["reason"].isna()]
        fig = table_figure(rows)
        panels = [ax for ax in fig.axes if ax.get_visible()]
        expected = {f"{metric}: {dataset}" for metric, dataset in zip(shown["metric"], shown["dataset"])}
        assert {ax.get_title() for ax in panels} == expected, table  # one axis per metric and dataset
        for ax in panels:
            metric, dataset = ax.get_title().split(": ")
            part = shown[(shown["metric"] == metric) & (shown["dataset"] == dataset)]
            assert len(ax.containers[0].lines[0].get_xdata()) == len(part)


def test_no_figure_has_a_legend_entry_without_a_mark(evaluation):
    for table in ("weaknas", "zero-cost", "abs-shrinking", "eps-top20", "abs-correlation", "econas"):
        rows = pd.read_csv(REPORTS / table / "rows.csv")
        for data in (rows, rows[rows["published"].isna()]):  # as measured, and with no published number at all
            _assert_legends_name_only_drawn_marks(table_figure(data))
    _assert_legends_name_only_drawn_marks(cost_quality_figure(pd.read_csv(REPORTS / "cost-quality.csv")))
    for figure in (figures.top_k_curves, figures.scores_vs_truth, figures.operator_heatmaps):
        _assert_legends_name_only_drawn_marks(figure(evaluation))


def test_the_cost_quality_chart_keeps_labels_off_each_other_and_the_legend():
    points = pd.read_csv(REPORTS / "cost-quality.csv")  # the main job's points: a dozen proxies at ~1,000 s
    fig = cost_quality_figure(points)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legends = [legend.get_window_extent(renderer) for legend in fig.legends]
    assert len(legends) == 1 and not any(ax.get_legend() for ax in fig.axes)
    for ax, (dataset, part) in zip(fig.axes, points.groupby("dataset", sort=False)):
        key = [t for t in ax.texts if t.get_transform() == ax.transAxes]
        marks = [t for t in ax.texts if t not in key]
        numbers = sorted(int(n) for t in marks for n in t.get_text().split(", "))
        assert numbers == list(range(1, len(part) + 1)), dataset  # every point carries its number, once
        assert all(f"{r.row} ({r.n})" in key[0].get_text() for r in part.itertuples())  # and the key names it
        boxes = [t.get_window_extent(renderer) for t in ax.texts]
        for a, b in itertools.combinations(boxes, 2):
            assert not a.overlaps(b), dataset
        assert not any(box.overlaps(legend) for box in boxes for legend in legends)
        assert all(ax.bbox.contains(b.x0, b.y0) and ax.bbox.contains(b.x1, b.y1)
                   for b in (t.get_window_extent(renderer) for t in marks))


def test_the_leaderboard_shows_an_underflowed_p_as_a_bound_not_as_zero(table_oracle):
    """Over thousands of cells a large difference is hundreds of standard errors: its normal tail is 0.0 in floating
    point, which the leaderboard must not print as p = 0; a p that did not underflow prints as computed."""
    truth_all = np.asarray(table_oracle.accuracy(dataset="cifar10", split="ori-test"))
    truth = truth_all[CELLS]
    rng = np.random.default_rng(0)
    mine = truth + rng.normal(0, 0.1, truth.size)
    others = {"far-worse": (CELLS, truth + rng.normal(0, 50, truth.size)),
              "near": (CELLS, truth + rng.normal(0, 0.1, truth.size))}
    comparison = compare_scores("mine", truth_all, CELLS, mine, others, n_boot=100)
    board = leaderboard(comparison, "mine", {"kendall_tau": m.kendall_tau(truth, mine),
                                             "spearman_rho": m.spearman_rho(truth, mine)}, len(CELLS)).set_index("proxy")
    p = comparison[comparison["metric"] == "kendall_tau"].set_index("against")["p_holm"]
    assert p["far-worse"] == 0 and board.loc["far-worse", "p (Holm)"] == "< 1e-300"
    assert 0 < p["near"] and board.loc["near", "p (Holm)"] == f"{p['near']:.3g}"
