"""Nothing finished is lost or overwritten by surprise: score files, journals, merged shards, plug-ins."""
import importlib.metadata
import json
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from harness.analysis.score_sets import read_scores
from harness.cli.main import main
from harness.errors import HarnessError
from harness.proxies import ProxyContext, get_proxy, list_proxies, register_proxy
from harness.proxies import registry
from harness.proxies.scoring import job_identity, journal_lock, score_cells
from harness.space import format_archs

SCORED: list[int] = []


@register_proxy("test_guarded", description="number of conv edges; records how many cells it scored")
def guarded(cells, context):
    SCORED.append(len(cells))
    return ((cells == 2) | (cells == 3)).sum(axis=1).astype(float)


def _plant_journal(out: Path, spec: str, lines: list[str]) -> None:
    """A journal as an interrupted `harness score --cells SPEC --out OUT` leaves it."""
    job = job_identity(get_proxy("test_guarded"), ProxyContext(), spec)
    Path(f"{out}.partial.json").write_text(json.dumps({"job": job, "seconds": 1.0}))
    Path(f"{out}.partial").write_text("".join(line + "\n" for line in lines))


def test_a_finished_file_of_another_job_is_not_overwritten_by_resuming_a_journal(tmp_path):
    proxy, out = get_proxy("test_guarded"), tmp_path / "s.csv"
    first = score_cells(proxy, "sample:40:0", ProxyContext(), out, progress=False)
    _plant_journal(out, "sample:10:0", [])  # another job into the same --out, interrupted before its first cell
    SCORED.clear()
    with pytest.raises(HarnessError, match=r"holds the scores of another job \(cells: 'sample:40:0' -> "
                                           r"'sample:10:0'\).*--force"):
        score_cells(proxy, "sample:10:0", ProxyContext(), out, progress=False)
    assert SCORED == [] and len(read_scores(out).scores) == 40
    assert read_scores(out).provenance["created_utc"] == first.provenance["created_utc"]
    score_cells(proxy, "sample:10:0", ProxyContext(), out, progress=False, force=True)
    assert len(read_scores(out).scores) == 10


def test_a_second_process_scoring_the_same_file_is_refused_with_the_holder_named(tmp_path):
    proxy, out = get_proxy("test_guarded"), tmp_path / "s.csv"
    with journal_lock(out):  # its own open file: flock conflicts as with another process
        SCORED.clear()
        with pytest.raises(HarnessError, match=rf"{out.name} is being scored by pid {os.getpid()} on .* since "):
            score_cells(proxy, "sample:10:0", ProxyContext(), out, progress=False)
        assert SCORED == [] and not out.exists()
    assert not Path(f"{out}.partial.lock").exists()
    assert len(score_cells(proxy, "sample:10:0", ProxyContext(), out, progress=False).scores) == 10


@pytest.mark.parametrize("damage, fragment", [
    ("score", "line 2 is .*,oops', not 'arch,score' with a number"),
    ("arch", "1 of 2 lines of .* are not NB201 cells: row 1: bad op 'conv_9x9'"),
    ("meta", r"s\.csv\.partial\.json is damaged: it is not the journal's JSON record"),
])
def test_a_damaged_journal_is_one_clear_error(tmp_path, capsys, damage, fragment):
    proxy, out = get_proxy("test_guarded"), tmp_path / "s.csv"
    cells = format_archs(np.array([[0, 1, 2, 3, 4, 0], [1, 1, 1, 1, 1, 1]], dtype=np.int8))
    lines = [f"{cells[0]},1.0", f"{cells[1]},oops" if damage == "score" else f"{cells[1]},2.0"]
    if damage == "arch":
        lines[1] = "|conv_9x9~0|+|none~0|none~1|+|none~0|none~1|none~2|,2.0"
    _plant_journal(out, "sample:10:0", lines)
    if damage == "meta":
        Path(f"{out}.partial.json").write_text('{"job": {"proxy": "test_guarded"')  # cut by a full disk
    with pytest.raises(HarnessError, match=fragment) as caught:
        score_cells(proxy, "sample:10:0", ProxyContext(), out, progress=False)
    assert "Remove " in str(caught.value) and "to score those cells again" in str(caught.value)
    assert not out.exists() and Path(f"{out}.partial").exists()  # nothing thrown away unasked
    assert main(["score", "test_guarded", "--cells", "sample:10:0", "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("harness: error: the scoring journal")


def test_merge_scores_refuses_an_out_that_names_a_shard(tmp_path, capsys):
    shards = [tmp_path / f"s{i}.csv" for i in range(2)]
    for i, path in enumerate(shards):
        assert main(["score", "params", "--cells", "sample:30:2", "--shard", f"{i}/2", "--out", str(path),
                     "--quiet"]) == 0
    before = shards[0].read_bytes()
    assert main(["merge-scores", *map(str, shards), "--out", str(shards[0])]) == 2
    assert "is one of the shards to merge" in capsys.readouterr().err
    assert shards[0].read_bytes() == before
    assert main(["merge-scores", *map(str, shards), "--out", str(shards[0]), "--force"]) == 0
    assert len(read_scores(shards[0]).scores) == 30


def test_merge_scores_replaces_an_existing_out_only_with_force(tmp_path, capsys):
    shards = [tmp_path / f"s{i}.csv" for i in range(2)]
    for i, path in enumerate(shards):
        assert main(["score", "params", "--cells", "sample:30:2", "--shard", f"{i}/2", "--out", str(path),
                     "--quiet"]) == 0
    sample = tmp_path / "sample.csv"  # a finished file of another job, as a zoo's 300-cell sample
    assert main(["score", "params", "--cells", "sample:5:0", "--out", str(sample), "--quiet"]) == 0
    before = sample.read_bytes()
    assert main(["merge-scores", *map(str, shards), "--out", str(sample)]) == 2
    err = capsys.readouterr().err
    assert f"--out {sample} exists" in err and "--force" in err
    assert sample.read_bytes() == before
    assert main(["merge-scores", *map(str, shards), "--out", str(sample), "--force"]) == 0
    assert len(read_scores(sample).scores) == 30


def test_a_broken_plugin_disables_only_itself(tmp_path, monkeypatch):
    (tmp_path / "good_guarded_plugin.py").write_text(
        "import numpy as np\nfrom harness.proxies import register_proxy\n"
        "@register_proxy('good_plugin')\ndef good(cells, context):\n    return np.ones(len(cells))\n")
    (tmp_path / "broken_guarded_plugin.py").write_text("import a_module_that_is_not_installed\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    entries = [importlib.metadata.EntryPoint("broken", "broken_guarded_plugin", registry.ENTRY_POINT_GROUP),
               importlib.metadata.EntryPoint("good", "good_guarded_plugin", registry.ENTRY_POINT_GROUP)]
    monkeypatch.setattr(registry, "entry_points", lambda group: entries if group == registry.ENTRY_POINT_GROUP else [])
    monkeypatch.setattr(registry, "_loaded_plugins", False)
    monkeypatch.setattr(registry, "_BROKEN_PLUGINS", {})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        names = {p.name for p in list_proxies()}
    assert {"good_plugin", "params", "angle"} <= names
    assert len(caught) == 1 and "entry point 'broken_guarded_plugin'" in str(caught[0].message)
    assert "ModuleNotFoundError" in str(caught[0].message) and "is disabled" in str(caught[0].message)
    with pytest.raises(HarnessError, match="plug-in 'broken' .* failed to load: ModuleNotFoundError"):
        get_proxy("broken")
    sys.modules.pop("good_guarded_plugin", None)
    registry._REGISTRY.pop("good_plugin", None)


def test_a_full_disk_while_scoring_keeps_the_journal_and_the_old_file(tmp_path, capsys, monkeypatch):
    import errno

    import pandas as pd

    out = tmp_path / "p.csv"
    assert main(["score", "params", "--cells", "sample:10:0", "--out", str(out), "--quiet"]) == 0
    old = out.read_bytes(), Path(f"{out}".replace(".csv", ".meta.json")).read_bytes()

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(out))
    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    assert main(["score", "params", "--cells", "sample:20:0", "--out", str(out), "--quiet", "--force"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("harness: error: no space left on the device writing")
    assert (out.read_bytes(), Path(f"{out}".replace(".csv", ".meta.json")).read_bytes()) == old  # no mixed pair
    assert len(Path(f"{out}.partial").read_text().splitlines()) == 20  # what was scored is kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.csv", "p.csv.partial", "p.csv.partial.json",
                                                          "p.meta.json"]
    monkeypatch.undo()
    assert main(["score", "params", "--cells", "sample:20:0", "--out", str(out), "--quiet", "--force"]) == 0
    assert len(read_scores(out).scores) == 20


def test_an_unwritable_out_is_one_clear_error(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):  # root ignores permissions; it may not create files in /sys
            locked = Path("/sys/nb201-harness")
        assert main(["score", "params", "--cells", "sample:5:0", "--out", str(locked / "p.csv"), "--quiet"]) == 2
    finally:
        (tmp_path / "locked").chmod(0o700)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("harness: error: cannot write"), err
