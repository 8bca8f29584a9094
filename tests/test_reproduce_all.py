"""The main job (`harness reproduce all`) at the tiny preset: every table it asks for, the overview with the
cost-quality chart, and a rerun that reuses finished tables instead of measuring them again."""
import pandas as pd
import pytest

from harness.cli.main import main
from harness.reproduce import reproduce_all

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_main_job_writes_every_table_and_the_cost_quality_chart(table_oracle, cifar10_root, nb201_dir, tmp_path,
                                                                 capsys):
    options = {"oracle": table_oracle, "data_root": str(cifar10_root), "splits_dir": str(nb201_dir / "splits"),
               "progress": False}
    tables = ("weaknas", "zero-cost", "econas")
    points = reproduce_all("tiny", tmp_path, tables=tables, **options)
    for table in tables:
        written = {p.name for p in (tmp_path / table).iterdir()}
        assert {"rows.csv", "table.md", "figure.png", "provenance.json"} <= written
    printed = capsys.readouterr().out
    assert "[1/3] weaknas at preset tiny" in printed and "[3/3] econas:" in printed
    # the chart's points: every measured Kendall tau with its cost, from the tables that have one
    zero_cost = pd.read_csv(tmp_path / "zero-cost" / "rows.csv")
    taus = zero_cost[(zero_cost["metric"] == "kendall_tau") & zero_cost["value"].notna() & (zero_cost["seconds"] > 0)]
    assert len(taus) > 0 and set(points["table"]) == {"zero-cost", "econas"}
    assert len(points[points["table"] == "zero-cost"]) == len(taus)
    assert pd.read_csv(tmp_path / "cost-quality.csv")["kendall_tau"].tolist() == pytest.approx(
        points["kendall_tau"].tolist())
    overview = (tmp_path / "reproduce.md").read_text()
    assert "[weaknas](weaknas/table.md)" in overview and "![Kendall tau against seconds](cost-quality.png)" in overview
    from harness.reproduce.results import compared_rows

    compared = compared_rows(pd.read_csv(tmp_path / "weaknas" / "rows.csv"))  # the 3 optima and NB201's random and REA on 3 datasets
    gaps = sum(not covered for _, covered, _ in compared)
    assert len(compared) == 9 and f"9 published: {9 - gaps} within the spread, {gaps} gap" in overview
    assert (tmp_path / "cost-quality.png").stat().st_size > 0
    # a rerun reuses the finished tables; --force measures them again
    written = {t: (tmp_path / t / "rows.csv").stat().st_mtime_ns for t in tables}
    reproduce_all("tiny", tmp_path, tables=tables, **options)
    assert {t: (tmp_path / t / "rows.csv").stat().st_mtime_ns for t in tables} == written
    reproduce_all("tiny", tmp_path, tables=("weaknas",), force=True, **options)
    assert (tmp_path / "weaknas" / "rows.csv").stat().st_mtime_ns != written["weaknas"]


def test_main_job_refuses_an_unknown_preset_before_running_anything(table_oracle, tmp_path, capsys):
    assert main(["reproduce", "all", "--preset", "laptop", "--cache", str(table_oracle.path), "--out",
                 str(tmp_path)]) == 2
    assert "unknown preset 'laptop'" in capsys.readouterr().err and not any(tmp_path.iterdir())
