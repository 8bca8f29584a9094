"""The committed reports: each names the command that wrote it and its code hash, names no path of the machine that
made it, and every table row's score files are in the store beside the tables."""
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from harness.analysis.score_sets import read_scores

REPORTS = Path(__file__).resolve().parents[1] / "reports"
#: absolute paths of a machine: a home, a work or temporary directory, a checkout
MACHINE_PATH = re.compile(r"(?<![\w.])/(?:work|tmp|root|home|Users|builds|runner|github)/")
TEXT = (".md", ".csv", ".json", ".html", ".jsonl")


def _files(suffixes):
    """The committed report files: not the run directories beside them (supernet runs, shrinking stages, EPS
    generations: working state) nor reports/tiny/ (the quick path's, which CI's main job writes before the tests)."""
    def working(part: str) -> bool:
        return part == "runs" or part.startswith(("stage-", "gen-"))
    return sorted(p for p in REPORTS.rglob("*") if p.is_file() and p.suffix in suffixes
                  and p.relative_to(REPORTS).parts[0] != "tiny" and not any(map(working, p.relative_to(REPORTS).parts)))


def test_no_report_names_a_path_of_the_machine_that_made_it():
    offenders = [str(p.relative_to(REPORTS)) for p in _files(TEXT) if MACHINE_PATH.search(p.read_text())]
    offenders += [str(p.relative_to(REPORTS)) for p in sorted((REPORTS / "scores").glob("*.parquet"))
                  if MACHINE_PATH.search(json.dumps(read_scores(p).provenance))]
    assert not offenders


def test_every_report_names_its_command_and_code_hash():
    provenances = _files((".json",))
    provenances = [p for p in provenances if p.name == "provenance.json"]
    assert len(provenances) >= 9  # the six tables and the three baselines, at the least
    for path in provenances:
        provenance = json.loads(path.read_text())
        assert provenance.get("command", "").startswith("harness "), path
        assert re.fullmatch(r"[0-9a-f]{16}", provenance.get("code_hash", "")), path


@pytest.mark.parametrize("table", ["zero-cost", "econas", "abs-correlation", "eps-top20", "abs-shrinking"])
def test_every_measured_row_names_score_files_that_are_in_the_store(table):
    rows = pd.read_csv(REPORTS / table / "rows.csv", keep_default_na=False)
    measured = rows[rows["reason"] == ""]
    assert len(measured) and (measured["code_hash"] != "").all()
    with_files = measured[measured["scores"] != ""]
    assert len(with_files), table
    for names, codes in zip(with_files["scores"], with_files["code_hash"]):
        for name in names.split(";"):
            path = REPORTS / "scores" / name
            assert path.is_file(), name
            if path.suffix == ".parquet":
                recorded = read_scores(path).provenance["code_hash"]
            else:  # a history (its identity) or a measurement record (`Inputs.record`)
                saved = json.loads(path.read_text())
                recorded = saved["identity"]["code_hash"] if "identity" in saved else saved["code_hash"]
            assert recorded in codes.split(";"), name
