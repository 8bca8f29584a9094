"""The evaluation report in a real browser (headless Chromium through Playwright): at a laptop's width and at a
narrow one the page never scrolls sideways and the metrics table's box lies inside the window (a table wider than
its box scrolls inside it). Screenshots are kept in the test's tmp_path. A missing Chromium fails the test:
a skip would pass without ever looking at the page."""
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from harness.analysis.score_sets import ScoreSet, write_scores
from harness.cli.main import main

VIEWPORTS = ((1280, 800), (800, 800))


def _chromium() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if not path or not os.access(path, os.X_OK):
        pytest.fail(f"no Chromium to render the report with ({path or 'chromium not on PATH'}): install it "
                    f"(apt-get install chromium) or point CHROMIUM at the executable", pytrace=False)
    return path


@pytest.fixture(scope="module")
def report_html(table_oracle, tmp_path_factory):
    """A report over the baselines and one score file made from the oracle with noise, as `harness evaluate`
    writes it."""
    root = tmp_path_factory.mktemp("browser")
    idx = np.arange(0, 15625, 4)
    truth = table_oracle.accuracy(idx, dataset="cifar10", split="ori-test")
    noisy = truth + np.random.default_rng(7).normal(scale=3, size=idx.size)
    write_scores(root / "noisy.csv", ScoreSet("noisy truth", table_oracle.cells(idx), noisy,
                                              {"proxy": "noisy truth", "seconds_per_cell": 0.004}), table_oracle.order)
    assert main(["evaluate", str(root / "noisy.csv"), "--dataset", "cifar10", "--split", "ori-test", "--cache",
                 str(table_oracle.path), "--n-boot", "50", "--zoo", str(ZOO), "--out", str(root / "report")]) == 0
    return root / "report" / "report.html"


#: the committed zoo: its leaderboard and forest plot are part of the page checked
ZOO = Path(__file__).resolve().parents[1] / "reports" / "zoo"

LAYOUT = """() => {
  const table = document.querySelector('table');  // the metrics table, the page's first
  const box = table.closest('.table-box') || table;
  const r = box.getBoundingClientRect();
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
          box: [r.left, r.right], boxScrolls: getComputedStyle(box).overflowX,
          tableWidth: table.scrollWidth, boxWidth: box.clientWidth,
          images: [...document.images].map(i => [i.complete && i.naturalWidth > 0,
                                                  i.getBoundingClientRect().right])};
}"""


@pytest.mark.parametrize("width, height", VIEWPORTS)
def test_the_report_fits_the_window(report_html, tmp_path, width, height):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium(), headless=True)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(report_html.as_uri())
            page.wait_for_load_state("load")
            layout = page.evaluate(LAYOUT)
            page.screenshot(path=str(tmp_path / f"report-{width}.png"), full_page=True)
        finally:
            browser.close()
    assert layout["scrollWidth"] <= layout["innerWidth"], layout  # no sideways scrolling of the page
    left, right = layout["box"]
    assert 0 <= left and right <= layout["innerWidth"], layout  # the table's box inside the window
    assert layout["tableWidth"] <= layout["boxWidth"] or layout["boxScrolls"] == "auto", layout
    assert len(layout["images"]) == 4 and all(loaded and right <= width for loaded, right in layout["images"])
    assert (tmp_path / f"report-{width}.png").stat().st_size > 10_000
