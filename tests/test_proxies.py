"""The proxy registry, plugins, and scoring: resumable, sharded and merged, with provenance."""
import importlib.metadata
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.analysis.evaluate import evaluate_scores
from harness.analysis.score_sets import read_scores
from harness.cli.main import main
from harness.errors import HarnessError
from harness.proxies import ProxyContext, Setting, get_proxy, list_proxies, register_proxy
from harness.proxies import registry
from harness.proxies.scoring import job_identity, merge_shards, parse_shard, score_cells, select_cells
from harness.space import encode, format_archs

CALLS: list[int] = []


@register_proxy("test_counting", description="number of conv edges; records how many cells it was asked for",
                settings={"offset": Setting(float, 0.0, "added to every score")})
def counting(cells, context):
    CALLS.append(len(cells))
    return ((cells == 2) | (cells == 3)).sum(axis=1).astype(float) + context.settings["offset"]


@register_proxy("test_needs_images", needs=("images",))
def needs_images(cells, context):
    return np.zeros(len(cells))


def test_registry_lists_and_refuses_clearly():
    names = [p.name for p in list_proxies()]
    assert {"params", "flops", "test_counting"} <= set(names)
    with pytest.raises(HarnessError, match="unknown proxy 'synflw'; known proxies: .*params"):
        get_proxy("synflw")
    with pytest.raises(HarnessError, match="needs a dataset's images: --data-root DIR"):
        get_proxy("test_needs_images")(np.zeros((2, 6), dtype=np.int8), ProxyContext())
    with pytest.raises(HarnessError, match="already registered"):
        register_proxy("params")(lambda cells, context: cells)
    with pytest.raises(HarnessError, match="unknown needs"):
        register_proxy("x", needs=("gpu",))


def test_plugins_register_through_entry_points(tmp_path, monkeypatch):
    (tmp_path / "demo_proxy_plugin.py").write_text(
        "import numpy as np\nfrom harness.proxies import register_proxy\n"
        "@register_proxy('demo_plugin', description='from a plugin')\n"
        "def demo(cells, context):\n    return np.ones(len(cells))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    entry = importlib.metadata.EntryPoint("demo", "demo_proxy_plugin", registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry, "entry_points", lambda group: [entry] if group == registry.ENTRY_POINT_GROUP else [])
    monkeypatch.setattr(registry, "_loaded_plugins", False)
    assert get_proxy("demo_plugin").description == "from a plugin"
    sys.modules.pop("demo_proxy_plugin", None)


def test_params_proxy_is_the_benchmarks_parameter_count(table_oracle, tmp_path):
    result = score_cells(get_proxy("params"), "all", ProxyContext(dataset="cifar10"), tmp_path / "params.csv",
                         order=table_oracle.order, table_hash=table_oracle.table_hash, progress=False)
    truth = table_oracle.cost("params", table_oracle.indices(result.cells), dataset="cifar10")
    assert np.isclose(result.scores, truth, atol=5e-7).sum() == 15421  # the other 204 are the table's seed quirk
    back = read_scores(tmp_path / "params.csv", table_oracle.order)
    assert back.provenance["table_hash"] == table_oracle.table_hash and back.provenance["n_cells"] == 15625
    tau = evaluate_scores(table_oracle.accuracy(back.cells, dataset="cifar10", split="ori-test"), back.scores,
                          n_boot=0).set_index("label").loc["kendall_tau", "value"]
    assert tau == pytest.approx(0.577, abs=2e-3)  # as the params baseline in reports/baselines-cifar10


def test_an_interrupted_scoring_run_scores_only_the_rest(tmp_path):
    proxy = get_proxy("test_counting")
    out = tmp_path / "counting.csv"
    original = proxy.fn

    def stop_on_tenth(cells, context):
        if len(CALLS) == 9:
            raise KeyboardInterrupt
        return original(cells, context)
    CALLS.clear()
    object.__setattr__(proxy, "fn", stop_on_tenth)  # Proxy is frozen; restored below
    try:
        with pytest.raises(KeyboardInterrupt):
            score_cells(proxy, "sample:1000:3", ProxyContext(), out, chunk=256, progress=False)
    finally:
        object.__setattr__(proxy, "fn", original)
    assert CALLS == [1, 2, 4, 8, 16, 32, 64, 128, 256]  # chunks double while quick, up to `chunk`
    assert not out.exists() and len((tmp_path / "counting.csv.partial").read_text().splitlines()) == 511
    CALLS.clear()
    with pytest.raises(HarnessError, match="holds scores of another job or code .*offset"):
        score_cells(proxy, "sample:1000:3", ProxyContext(settings={"offset": 1}), out, progress=False)
    result = score_cells(proxy, "sample:1000:3", ProxyContext(), out, chunk=256, progress=False)
    assert sum(CALLS) == 1000 - 511
    np.testing.assert_array_equal(result.cells, select_cells("sample:1000:3"))
    np.testing.assert_array_equal(result.scores, ((result.cells == 2) | (result.cells == 3)).sum(axis=1))
    assert not (tmp_path / "counting.csv.partial").exists() and not (tmp_path / "counting.csv.partial.json").exists()


def test_a_cut_last_journal_line_is_scored_again(tmp_path):
    proxy, out = get_proxy("test_counting"), tmp_path / "c.csv"
    full = score_cells(proxy, "sample:20:1", ProxyContext(), out, progress=False)
    out.unlink()
    journal = Path(f"{out}.partial")
    job = {"job": job_identity(proxy, ProxyContext(), "sample:20:1"), "seconds": 0.0}
    Path(f"{out}.partial.json").write_text(json.dumps(job))
    lines = [f"{a},{s!r}" for a, s in zip(format_archs(full.cells[:6]), full.scores[:6].tolist())]
    journal.write_text("\n".join(lines[:5]) + "\n" + lines[5][:20])  # the interruption cut the sixth line
    CALLS.clear()
    again = score_cells(proxy, "sample:20:1", ProxyContext(), out, chunk=8, progress=False)
    assert sum(CALLS) == 15
    np.testing.assert_array_equal(again.scores, full.scores)


def test_shards_merge_into_the_whole_and_are_checked(tmp_path):
    proxy = get_proxy("test_counting")
    whole = score_cells(proxy, "sample:300:7", ProxyContext(), tmp_path / "whole.csv", progress=False)
    shards = [tmp_path / f"s{i}.csv" for i in range(3)]
    for i, path in enumerate(shards):
        score_cells(proxy, "sample:300:7", ProxyContext(), path, shard=(i, 3), progress=False)
    merged = merge_shards(shards, tmp_path / "merged.csv")
    order = np.argsort(encode(merged.cells))
    np.testing.assert_array_equal(merged.cells[order], whole.cells)
    np.testing.assert_array_equal(merged.scores[order], whole.scores)
    assert read_scores(tmp_path / "merged.csv").provenance["n_cells"] == 300
    with pytest.raises(HarnessError, match=r"missing \[2\]"):
        merge_shards(shards[:2], tmp_path / "m.csv")
    with pytest.raises(HarnessError, match=r"given twice \[1\]"):
        merge_shards([shards[0], shards[1], shards[1]], tmp_path / "m.csv")
    score_cells(proxy, "sample:300:8", ProxyContext(), tmp_path / "other.csv", shard=(2, 3), progress=False)
    with pytest.raises(HarnessError, match="different jobs"):
        merge_shards([shards[0], shards[1], tmp_path / "other.csv"], tmp_path / "m.csv")


@pytest.mark.parametrize("spec, fragment", [("sample:0", "N must be in 1..15625"), ("sample:x", "integers"),
                                            ("nowhere.csv", "not 'all', 'sample:N[:SEED]' or an existing file")])
def test_bad_cell_specs(spec, fragment):
    with pytest.raises(HarnessError, match=re.escape(fragment)):
        select_cells(spec)


@pytest.mark.parametrize("text", ["3/3", "a/b", "1"])
def test_bad_shards(text):
    with pytest.raises(HarnessError, match="--shard"):
        parse_shard(text)


def test_score_and_list_commands(tmp_path, capsys):
    assert main(["proxies", "list"]) == 0
    assert "params" in capsys.readouterr().out
    out = tmp_path / "flops.parquet"
    assert main(["score", "flops", "--cells", "sample:50:1", "--dataset", "ImageNet16-120", "--out", str(out),
                 "--quiet"]) == 0
    result = read_scores(out)
    assert len(result.scores) == 50 and result.provenance["dataset"] == "ImageNet16-120"
    assert main(["score", "nope", "--out", str(tmp_path / "x.csv")]) == 2
    assert "unknown proxy 'nope'" in capsys.readouterr().err


def test_a_finished_score_file_of_the_same_job_is_reused(tmp_path):
    proxy, out = get_proxy("test_counting"), tmp_path / "c.csv"
    first = score_cells(proxy, "sample:30:4", ProxyContext(), out, progress=False)
    CALLS.clear()
    again = score_cells(proxy, "sample:30:4", ProxyContext(), out, progress=False)
    assert CALLS == [] and again.provenance["created_utc"] == first.provenance["created_utc"]
    with pytest.raises(HarnessError, match=r"holds the scores of another job \(settings: .*'offset': 2.*--force"):
        score_cells(proxy, "sample:30:4", ProxyContext(settings={"offset": 2}), out, progress=False)
    assert CALLS == [] and read_scores(out).provenance["created_utc"] == first.provenance["created_utc"]
    score_cells(proxy, "sample:30:4", ProxyContext(settings={"offset": 2}), out, progress=False, force=True)
    assert sum(CALLS) == 30  # another job replaces a finished file only when forced


BUILTIN = ("angle", "econas", "econas_hierarchical", "flops", "fisher", "grad_norm", "grasp", "jacob_cov", "magnitude",
           "naswot", "params", "rebn", "snip", "supernet_acc", "synflow")


@pytest.mark.parametrize("name", BUILTIN)
def test_an_unknown_setting_is_refused_with_the_valid_ones(name, tmp_path, capsys):
    """A typo (`part` for `parts`) must not run the default: exit 2, listing every declared setting."""
    out = tmp_path / "s.csv"
    assert main(["score", name, "--cells", "sample:3", "--settings", '{"part": "cells"}', "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"unknown setting(s) 'part' for proxy '{name}'" in err and "Traceback" not in err
    declared = get_proxy(name).settings
    assert all(f"{key} (" in err for key in declared) if declared else f"proxy '{name}' takes no settings" in err
    assert not out.exists() and not Path(f"{out}.partial").exists()


@pytest.mark.parametrize("name, settings, fragment", [
    ("synflow", {"channels": "16"}, "setting 'channels' of proxy 'synflow' is '16'; expected int, default 16"),
    ("angle", {"parts": "cell"}, 'expected str, default "all", one of "all", "cells"'),
    ("rebn", {"calibration_images": True}, "setting 'calibration_images' of proxy 'rebn' is True; expected int"),
    ("econas", {"samples": None}, "setting 'samples' of proxy 'econas' is None; expected float"),
])
def test_a_setting_of_the_wrong_type_is_refused(name, settings, fragment):
    with pytest.raises(HarnessError, match=re.escape(fragment)):
        get_proxy(name).resolve_settings(settings)


def test_resolved_settings_fill_the_defaults_and_go_into_the_score_file(tmp_path, capsys):
    assert get_proxy("angle").resolve_settings({}) == {"parts": "all", "reference": "epoch:1"}
    assert get_proxy("econas").resolve_settings({"samples": 1})["samples"] == 1  # an int is a valid float
    assert main(["score", "test_counting", "--cells", "sample:5", "--out", str(tmp_path / "c.csv")]) == 0
    assert json.loads((tmp_path / "c.meta.json").read_text())["settings"] == {"offset": 0.0}
    assert main(["proxies", "list"]) == 0
    listing = capsys.readouterr().out
    assert "setting parts: str, default \"all\", one of \"all\", \"cells\"" in listing
    assert "setting calibration_images: int, default 20000" in listing
