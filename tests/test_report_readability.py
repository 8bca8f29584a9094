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
from harness.analysis.score_sets import ScoreSet, read_scores, write_scores
from harness.cli.main import main
from harness.errors import HarnessError
from harness.report import figures, write_report
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
