"""The data the package ships equals the benchmark's files it was built from (tools/build-resources), and the
ground-truth cache refuses to serve a value from a damaged file."""
import json
from pathlib import Path

import numpy as np
import pytest

from harness.errors import HarnessError, SourceError
from harness.oracle import Oracle
from harness.paths import EMBEDDED_ORACLE, EMBEDDED_SPLITS
from harness.provenance import sha256_of
from tests.test_reports import MACHINE_PATH


def _columns(oracle: Oracle) -> list[str]:
    return [name for name in oracle._file.schema_arrow.names]


def test_the_embedded_ground_truth_equals_the_import_of_table_csv(table_oracle, table_csv):
    embedded = Oracle(EMBEDDED_ORACLE)
    assert embedded.embedded and not table_oracle.embedded
    assert _columns(embedded) == _columns(table_oracle)
    assert len([c for c in _columns(embedded) if c.startswith("accuracy:")]) == 13
    for name in _columns(embedded):
        mine, theirs = embedded._read(name), table_oracle._read(name)
        assert mine.equals(theirs), name
    assert embedded.table_hash == sha256_of(table_csv) == table_oracle.table_hash
    assert embedded.meta["series"] == table_oracle.meta["series"]
    assert embedded.meta["benchmark_version"].startswith("NAS-Bench-201 v1_1")
    about = embedded.meta["embedded"]
    assert "MIT" in about["licence"] and "v1_1" in about["release"]
    assert "path" not in embedded.meta["source"] and not MACHINE_PATH.search(json.dumps(embedded.meta))
    assert embedded.best(dataset="cifar10", split="ori-test") == (6111, pytest.approx(94.373333))
    assert EMBEDDED_ORACLE.stat().st_size < 2e6


def test_the_embedded_split_files_are_the_benchmarks(nb201_dir):
    shipped = sorted(p.name for p in EMBEDDED_SPLITS.iterdir())
    assert shipped == sorted(p.name for p in (nb201_dir / "splits").iterdir()) and len(shipped) == 4
    for name in shipped:
        assert (EMBEDDED_SPLITS / name).read_bytes() == (nb201_dir / "splits" / name).read_bytes(), name


def _all_values(path: Path) -> dict[str, np.ndarray]:
    oracle = Oracle(path)
    return {name: np.asarray(oracle._read(name).to_numpy(zero_copy_only=False)) for name in _columns(oracle)}


def test_a_byte_flipped_anywhere_is_a_corrupt_cache_never_a_wrong_value(table_oracle, tmp_path):
    original = table_oracle.path.read_bytes()
    truth = _all_values(table_oracle.path)
    damaged = tmp_path / "damaged.parquet"
    detected, positions = 0, range(0, len(original), 1553)
    for position in positions:
        data = bytearray(original)
        data[position] ^= 0x5A
        damaged.write_bytes(bytes(data))
        try:
            values = _all_values(damaged)
        except HarnessError as exc:
            assert isinstance(exc, SourceError) and str(exc).startswith(("corrupt ground-truth cache", str(damaged)))
            assert "re-import" in str(exc)
            detected += 1
            continue
        for name, column in truth.items():  # a flip that changes nothing read (a statistic, padding) is harmless
            assert np.array_equal(values[name], column, equal_nan=column.dtype.kind == "f"), (position, name)
    assert detected >= 0.95 * len(positions)


def test_a_truncated_cache_page_is_one_clear_error(table_oracle, tmp_path, capsys):
    from harness.cli.main import main

    cut = tmp_path / "cut.parquet"
    data = table_oracle.path.read_bytes()
    footer = int.from_bytes(data[-8:-4], "little") + 8
    cut.write_bytes(data[:len(data) // 2] + data[-footer:])  # pages cut off by a full disk, the footer kept
    assert main(["oracle", "top", "--cache", str(cut), "--dataset", "cifar10", "--split", "ori-test"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"harness: error: corrupt ground-truth cache {cut}") and "re-import" in err[0]


def test_a_cache_of_the_previous_format_asks_for_a_re_import(table_csv, tmp_path, monkeypatch):
    import harness.oracle.cache as cache
    from harness.oracle import import_source

    monkeypatch.setattr(cache, "FORMAT_VERSION", 1)
    path = import_source(table_csv, tmp_path / "v1.parquet", benchmark_version="v1_1", progress=False)
    monkeypatch.undo()
    with pytest.raises(SourceError, match="cache format 1, this harness reads 2; re-import"):
        Oracle(path)
