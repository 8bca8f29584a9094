"""Results follow the code that computed them: a code hash of the modules a result imports is part of every job,
so an edited proxy recomputes its scores and its tables, and unchanged code reuses them."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import harness
from harness import provenance
from harness.reproduce import reproduce

PACKAGE = Path(harness.__file__).resolve().parent


def _names(files):
    return {f.relative_to(PACKAGE.parent).as_posix() for f in files}


def test_the_closure_follows_imports_lazy_ones_included():
    zero_cost = _names(provenance.code_files("harness.proxies.zero_cost"))
    assert {"harness/proxies/zero_cost.py", "harness/nets/supernet.py", "harness/data/splits.py",
            "harness/proxies/__init__.py", "harness/__init__.py"} <= zero_cost
    assert "harness/proxies/angle.py" not in zero_cost  # the registry loads the proxies by name, not by import
    assert "harness/train/loop.py" in _names(provenance.code_files("harness.proxies.angle"))  # imported in a function
    assert "harness/cli/main.py" not in _names(provenance.code_files("harness.reproduce.zero_cost_table"))
    assert provenance.code_hash("harness.proxies.costs") != provenance.code_hash("harness.proxies.zero_cost")


def _edited_copy(tmp_path, module_file: str, line: str) -> Path:
    """A copy of the package with one line appended to one of its modules."""
    root = tmp_path / "edited"
    shutil.copytree(PACKAGE, root / "harness", ignore=shutil.ignore_patterns("__pycache__"))
    with open(root / "harness" / module_file, "a") as fh:
        fh.write(line + "\n")
    return root


def _harness(root: Path | None, *argv: str) -> subprocess.CompletedProcess:
    """`harness ARGV` in a fresh interpreter, importing the package from `root` when given."""
    env = dict(os.environ)
    if root is not None:
        env["PYTHONPATH"] = str(root) + os.pathsep + env.get("PYTHONPATH", "")
    code = "import sys; from harness.cli.main import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, env=env, timeout=300,
                          cwd=root or Path(env.get("TMPDIR", "/tmp")))  # not the checkout: it would shadow root


def test_score_recomputes_after_a_one_line_edit_of_the_proxy_and_reuses_otherwise(tmp_path):
    out = tmp_path / "params.csv"
    args = ("score", "params", "--cells", "sample:40:2", "--out", str(out), "--quiet")
    first = _harness(None, *args)
    assert first.returncode == 0 and first.stdout.startswith("wrote"), first.stderr
    saved = json.loads((tmp_path / "params.meta.json").read_text())
    again = _harness(None, *args)
    assert again.stdout.startswith("reused the finished"), again.stdout
    assert json.loads((tmp_path / "params.meta.json").read_text())["created_utc"] == saved["created_utc"]
    edited = _edited_copy(tmp_path, "proxies/costs.py", "EDITED = True  # one line more")
    after = _harness(edited, *args)
    assert after.returncode == 0 and after.stdout.startswith("wrote"), (after.stdout, after.stderr)
    rescored = json.loads((tmp_path / "params.meta.json").read_text())
    assert rescored["code_hash"] != saved["code_hash"] and rescored["code_hash"] in after.stdout
    assert _harness(edited, *args).stdout.startswith("reused the finished")  # the edited code reuses its own file


def test_reproduce_recomputes_the_scores_an_edit_touches_and_reuses_the_rest(table_oracle, tmp_path, monkeypatch):
    """Without images the tiny zero-cost table measures synflow and params; an edit of the zero-cost module
    recomputes the table and synflow's scores, and reuses params' (their code does not import that module)."""
    from harness.analysis.score_sets import read_scores

    def run():
        reproduce("zero-cost", "tiny", tmp_path / "zero-cost", oracle=table_oracle, progress=False)
        table = json.loads((tmp_path / "zero-cost" / "provenance.json").read_text())
        return table, {p.name: read_scores(p).provenance for p in (tmp_path / "scores").glob("*.parquet")}

    table, files = run()
    assert sorted(name.split("-")[2] for name in files) == ["params"] * 3 + ["synflow"] * 3  # x 3 datasets
    table_again, files_again = run()
    assert table_again["created_utc"] == table["created_utc"] and files_again == files  # all reused
    edited = _edited_copy(tmp_path, "proxies/zero_cost.py", "EDITED = True")
    monkeypatch.setattr(provenance, "_PACKAGE_ROOT", edited / "harness")  # the hash reads the edited sources
    provenance.code_files.cache_clear()
    provenance.code_hash.cache_clear()
    try:
        table_edited, files_edited = run()
    finally:
        provenance.code_files.cache_clear()
        provenance.code_hash.cache_clear()
    assert table_edited["code_hash"] != table["code_hash"] and table_edited["created_utc"] != table["created_utc"]
    rows = (tmp_path / "zero-cost" / "rows.csv").read_text()
    for name, saved in files.items():
        if "-synflow-" in name:
            assert files_edited[name]["code_hash"] != saved["code_hash"], name  # scored again by the new code
            assert files_edited[name]["code_hash"] in rows  # and the table's rows name the code that did
        else:
            assert files_edited[name] == saved, name  # params: reused as it was


@pytest.mark.parametrize("table", ["zero-cost", "abs-shrinking"])
def test_from_scores_rederives_the_table_exactly_without_computing(table, table_oracle, cifar10_root, nb201_dir,
                                                                   tmp_path, monkeypatch):
    kwargs = {"oracle": table_oracle, "data_root": str(cifar10_root), "splits_dir": str(nb201_dir / "splits"),
              "progress": False}
    out = tmp_path / table
    reproduce(table, "tiny", out, **kwargs)
    text, rows = (out / "table.md").read_text(), (out / "rows.csv").read_text()
    shutil.rmtree(tmp_path / "runs", ignore_errors=True)  # no supernet, no journal: only the store is left
    from harness.proxies import scoring

    def refuse(*args, **kwargs):
        raise AssertionError("--from-scores computed something")
    monkeypatch.setattr(scoring, "score_cells", refuse)
    monkeypatch.setattr("harness.train.loop.train", refuse)
    reproduce(table, "tiny", out, oracle=table_oracle, progress=False, from_scores=True)  # no images needed
    assert (out / "table.md").read_text() == text and (out / "rows.csv").read_text() == rows
    store = sorted(p.name for p in (tmp_path / "scores").iterdir())
    assert store and all(name.endswith((".parquet", ".json")) for name in store)
    victim = next((tmp_path / "scores").glob("*.json" if table == "abs-shrinking" else "*synflow-cifar10*"))
    victim.unlink()
    with pytest.raises(harness.errors.HarnessError, match=f"--from-scores: no .*{victim.name}"):
        reproduce(table, "tiny", out, oracle=table_oracle, progress=False, from_scores=True)
