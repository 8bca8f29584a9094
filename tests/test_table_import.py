"""Plain-table imports: partial tables through an existing order, and every malformed table refused clearly."""
import numpy as np
import pandas as pd
import pytest

from harness.errors import SourceError
from harness.oracle import Oracle, import_source


@pytest.fixture(scope="module")
def table(table_csv):
    return pd.read_csv(table_csv)


def _write(frame, path):
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


def _import(path, **kw):
    kw.setdefault("benchmark_version", "test")
    return import_source(path, path.with_name("out.parquet"), progress=False, **kw)


def test_a_partial_parquet_table_with_seeds_and_losses_uses_an_existing_order(table, table_oracle, tmp_path):
    part = table.loc[[6111, 5, 77], ["arch", "cifar10/ori-test@200"]].reset_index(drop=True)
    part["cifar10/ori-test@200:seed=777"] = [94.1, 80.0, 70.0]
    part["loss:cifar10/ori-test@200"] = [0.2, 0.5, 0.9]
    src = _write(part, tmp_path / "part.parquet")
    with pytest.raises(SourceError, match="cannot define the official index order.*--order-from"):
        _import(src)
    oracle = Oracle(_import(src, order_from=table_oracle.path))
    np.testing.assert_array_equal(oracle.indices(part["arch"].tolist()), [6111, 5, 77])
    assert oracle.accuracy(6111, dataset="cifar10", split="ori-test", seed=777) == 94.1
    assert oracle.loss(77, dataset="cifar10", split="ori-test") == 0.9
    assert oracle.meta["cells_with_values"] == 3 and np.isnan(oracle.accuracy(0, dataset="cifar10", split="ori-test"))


@pytest.mark.parametrize("mutate, fragments", [
    (lambda f: f.assign(arch=f["arch"].where(f.index != 3, "|bad~0|+|none~0|none~1|+|none~0|none~1|none~2|")),
     ["1 of 15625", "row 3:", "'bad'", "valid ops"]),
    (lambda f: f.assign(index=f["index"].where(f.index != 10, 9)), ["index 9", "appears in rows [9, 10]"]),
    (lambda f: f.rename(columns={"cifar10/ori-test@200": "cifar10/test@200"}), ["unknown split 'test'"]),
    (lambda f: f.rename(columns={"cifar100/x-test@200": "cifar-100/x-test@200"}), ["unknown dataset 'cifar-100'"]),
    (lambda f: f.assign(notes="x"), ["column 'notes' is not a ground-truth column", "DATASET/SPLIT@HP"]),
    (lambda f: f.assign(**{"cifar10/ori-test@200": f["cifar10/ori-test@200"] / 100}), ["in 0..1", "percentages"]),
    (lambda f: f.assign(**{"cifar100/x-test@12": f["cifar100/x-test@12"].where(f.index != 4, 140.0)}),
     ["row 4 holds 140.0", "outside 0.0..100.0"]),
    (lambda f: f.assign(**{"cifar100/x-test@12": f["cifar100/x-test@12"].astype(object).where(f.index != 2, "abc")}),
     ["row 2 holds 'abc', not a number"]),
    (lambda f: f.drop(columns=["index", "arch"]), ["neither an 'index' nor an 'arch'"]),
    (lambda f: f.drop(columns=["index"]), ["cannot define the official index order"]),
])
def test_malformed_tables_are_refused_with_the_reason(table, tmp_path, mutate, fragments):
    src = _write(mutate(table.copy()), tmp_path / "t.csv")
    with pytest.raises(SourceError) as err:
        _import(src)
    for fragment in fragments:
        assert fragment in str(err.value)
    assert not (tmp_path / "out.parquet").exists()


def test_rows_that_contradict_the_order_are_refused(table, table_oracle, tmp_path):
    part = table.loc[[1, 2]].copy()
    part.loc[1, "index"] = 3
    with pytest.raises(SourceError, match="row 0 says index 3 is"):
        _import(_write(part, tmp_path / "p.csv"), order_from=table_oracle.path)


def test_a_table_must_say_its_release_and_be_readable(table_csv, tmp_path):
    with pytest.raises(SourceError, match="--benchmark-version"):
        import_source(table_csv, tmp_path / "o.parquet")
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1garbage")
    with pytest.raises(SourceError, match="could not be read as a parquet table"):
        _import(broken)
    with pytest.raises(SourceError, match="does not exist"):
        _import(tmp_path / "absent.csv")
    odd = tmp_path / "table.txt"
    odd.write_text("index,arch\n")
    with pytest.raises(SourceError, match="cannot tell what .* is.*--kind"):
        _import(odd)


def test_a_csv_cut_mid_row_is_refused(table_csv, tmp_path):
    cut = tmp_path / "cut.csv"
    cut.write_bytes(table_csv.read_bytes()[:-25])
    with pytest.raises(SourceError, match="ends in the middle of a row: it looks truncated"):
        _import(cut)


def test_out_must_be_a_file(table_csv, tmp_path):
    with pytest.raises(SourceError, match="is a directory"):
        import_source(table_csv, tmp_path, benchmark_version="t")
