"""The oracle over the real ../shared/nb201/table.csv: values, order, queries, provenance, guardrails."""
import hashlib

import numpy as np
import pandas as pd
import pytest
from nats_bench.genotype_utils import topology_str2structure

from harness import space
from harness.errors import MissingTableError, OracleQueryError, SourceError
from harness.oracle import Oracle, import_source

COLUMNS_200 = ["cifar10-valid/x-valid@200", "cifar10-valid/ori-test@200", "cifar10/ori-test@200",
               "cifar100/x-valid@200", "cifar100/x-test@200", "ImageNet16-120/x-valid@200", "ImageNet16-120/x-test@200"]


@pytest.fixture(scope="module")
def table(table_csv):
    return pd.read_csv(table_csv)


def _where(column):
    dataset, rest = column.split("/")
    split, hp = rest.split("@")
    return dict(dataset=dataset, split=split, hp=int(hp))


def test_every_value_of_the_table_is_in_the_cache(table_oracle, table):
    assert len(table) == 15625 and table["index"].tolist() == list(range(15625))
    value_columns = [c for c in table.columns if "/" in c]
    assert len(value_columns) == 13
    for column in value_columns:
        np.testing.assert_array_equal(table_oracle.accuracy(**_where(column)), table[column].to_numpy())
    np.testing.assert_array_equal(table_oracle.cost("params", dataset="cifar10"), table["params_mb@cifar10"])
    assert table_oracle.meta["cells_with_values"] == 15625


@pytest.mark.parametrize("column, best, index", [
    ("cifar10/ori-test@200", 94.373333, 6111), ("cifar100/x-test@200", 73.513333, None),
    ("ImageNet16-120/x-test@200", 47.311111, None), ("cifar10-valid/x-valid@200", 91.606667, None)])
def test_the_maxima_of_the_readme(table_oracle, table, column, best, index):
    got_index, got = table_oracle.best(**_where(column))
    assert got == pytest.approx(best, abs=1e-9)
    assert got_index == (index if index is not None else int(table.loc[table[column].idxmax(), "index"]))


def test_official_order_round_trips_for_every_cell(table_oracle, table):
    order = table_oracle.order
    assert order.archs_of(np.arange(15625)) == table["arch"].tolist()
    cells = space.parse_archs(table["arch"])
    np.testing.assert_array_equal(order.index_of(cells), np.arange(15625))
    np.testing.assert_array_equal(table_oracle.indices(table["arch"].tolist()), np.arange(15625))
    assert order.archs_of([0])[0] == ("|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|"
                                      "skip_connect~1|skip_connect~2|")
    assert not np.array_equal(order.codes, np.arange(15625))  # not the product order


def test_cells_can_be_given_as_indices_strings_or_op_arrays(table_oracle, table):
    idx = np.array([6111, 0, 15624, 42])
    archs = table["arch"].iloc[idx].tolist()
    where = _where("cifar100/x-test@200")
    expected = table["cifar100/x-test@200"].to_numpy()[idx]
    np.testing.assert_array_equal(table_oracle.accuracy(idx, **where), expected)
    np.testing.assert_array_equal(table_oracle.accuracy(archs, **where), expected)
    np.testing.assert_array_equal(table_oracle.accuracy(space.parse_archs(archs), **where), expected)
    assert table_oracle.accuracy(archs[0], **where) == expected[0]
    assert table_oracle.accuracy(6111, **where) == expected[0]


def test_top_k_is_sorted_with_ties_to_the_lower_index(table_oracle, table):
    top = table_oracle.top_k(50, **_where("cifar10-valid/x-valid@12"))
    col = table["cifar10-valid/x-valid@12"].to_numpy()
    expected = np.lexsort((np.arange(15625), -col))[:50]
    np.testing.assert_array_equal(top, expected)
    assert (np.diff(col[top]) <= 0).all()
    with pytest.raises(OracleQueryError, match="k must be an integer in 1..15625"):
        table_oracle.top_k(0, dataset="cifar10", split="ori-test")


def test_operator_scores_are_the_mean_accuracy_of_cells_holding_the_op(table_oracle, table):
    scores = table_oracle.operator_scores(dataset="cifar10", split="ori-test")
    cells = space.parse_archs(table["arch"])
    acc = table["cifar10/ori-test@200"].to_numpy()
    for e in range(6):
        for o in range(5):
            assert scores[e, o] == pytest.approx(acc[cells[:, e] == o].mean())
    # on every edge a 3x3 convolution beats `none` on average
    assert (scores[:, 3] > scores[:, 0]).all()


def test_isomorphism_aggregation(table_oracle, table):
    frame = table_oracle.by_class(dataset="cifar10", split="ori-test")
    assert len(frame) == 6466 and frame["size"].sum() == 15625
    forms = table["arch"].map(lambda s: topology_str2structure(s).to_unique_str(consider_zero=True))
    expected = table.groupby(forms)["cifar10/ori-test@200"].mean().sort_values().to_numpy()
    np.testing.assert_allclose(np.sort(frame["value"].to_numpy()), expected)
    reps = frame["representative"].to_numpy()
    np.testing.assert_array_equal(space.class_ids(table_oracle.cells(reps)), frame.index.to_numpy())
    first = table.groupby(forms)["index"].min().sort_values().to_numpy()
    np.testing.assert_array_equal(np.sort(reps), first)


def test_provenance_names_the_source_and_its_digest(table_oracle, table_csv):
    meta = table_oracle.meta
    assert meta["source"]["sha256"] == hashlib.sha256(table_csv.read_bytes()).hexdigest()
    assert meta["source"]["name"] == "table.csv" and meta["source"]["kind"] == "table"
    assert meta["benchmark_version"] == "NAS-Bench-201 v1_1"
    assert meta["importer"]["name"] == "table" and meta["importer"]["version"] == 1
    assert table_oracle.provenance["source"]["sha256"] == table_oracle.table_hash
    assert table_oracle.path.read_bytes()[:4] == b"PAR1"  # parquet, not a pickle


@pytest.mark.parametrize("where, fragments", [
    (dict(dataset="cifar10", split="valid"), ["has no validation split", "'cifar10-valid'", "'x-valid'"]),
    (dict(dataset="cifar10", split="x-valid"), ["has no validation split"]),
    (dict(dataset="cifar-10", split="ori-test"), ["'cifar-10'", "cifar10-valid, cifar10, cifar100, ImageNet16-120"]),
    (dict(dataset="cifar100", split="test"), ["'test'", "x-test", "this table has x-test, x-valid"]),
    (dict(dataset="cifar100", split="x-test", hp=90), ["hp 90", "12, 200"]),
    (dict(dataset="cifar10-valid", split="ori-test", hp=12), ["hp 12", "200"]),
    (dict(dataset="cifar100", split="x-test", metric="loss"), ["loss is not recorded", "accuracy"]),
    (dict(dataset="cifar100", split="x-test", metric="top5"), ["unknown metric 'top5'"]),
    (dict(dataset="cifar100", split="x-test", seed=777), ["seed 777", "only the mean"]),
    (dict(dataset="cifar100", split="x-test", epoch=100), ["final epoch (199) only", "not at epoch 100"]),
    (dict(dataset="cifar100", split="x-test", epoch=200), ["out of range", "0..199"]),
])
def test_queries_for_what_the_table_lacks_list_what_exists(table_oracle, where, fragments):
    with pytest.raises(OracleQueryError) as err:
        table_oracle.query(0, **{"metric": "accuracy", **where})
    for fragment in fragments:
        assert fragment in str(err.value)


def test_bad_cells_and_costs(table_oracle):
    with pytest.raises(ValueError, match="out of range"):
        table_oracle.accuracy(15625, dataset="cifar10", split="ori-test")
    with pytest.raises(ValueError, match="valid ops"):
        table_oracle.accuracy("|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|", dataset="cifar10", split="ori-test")
    with pytest.raises(OracleQueryError, match="no flops"):
        table_oracle.cost("flops", 0)
    with pytest.raises(OracleQueryError, match="unknown cost 'size'"):
        table_oracle.cost("size", 0)


def test_missing_and_foreign_caches_say_what_to_do(tmp_path):
    with pytest.raises(MissingTableError, match="harness oracle import"):
        Oracle(tmp_path / "absent.parquet")
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(SourceError, match="not a readable ground-truth cache"):
        Oracle(junk)
    other = tmp_path / "other.parquet"
    pd.DataFrame({"a": [1.0]}).to_parquet(other)
    with pytest.raises(SourceError, match="not a ground-truth cache"):
        Oracle(other)


def test_the_cache_is_found_through_the_environment(table_oracle, monkeypatch, tmp_path):
    monkeypatch.setenv("HARNESS_ORACLE", str(table_oracle.path))
    assert Oracle().path == table_oracle.path
    monkeypatch.delenv("HARNESS_ORACLE")
    monkeypatch.setenv("HARNESS_DATA_DIR", str(tmp_path))
    assert Oracle().embedded  # nothing imported there: the mean ground truth shipped in the package
    (tmp_path / "nb201-oracle.parquet").write_bytes(table_oracle.path.read_bytes())
    assert Oracle().path == tmp_path / "nb201-oracle.parquet" and not Oracle().embedded  # an import takes precedence
    monkeypatch.setenv("HARNESS_ORACLE", str(tmp_path / "nowhere.parquet"))
    with pytest.raises(MissingTableError, match="nowhere.parquet"):  # a cache named but missing is never replaced
        Oracle()


def test_a_table_without_times_refuses_schedule_seconds_and_names_the_sources(table_oracle):
    with pytest.raises(OracleQueryError) as err:
        table_oracle.schedule_seconds(0, dataset="cifar10-valid", split="train", hp=12)
    for fragment in ("table.csv, a table source) records no times", "NAS-Bench-201-v1_1-096897.pth",
                     "NATS-Bench tss", "training and evaluation seconds"):
        assert fragment in str(err.value)


def test_seconds_columns_of_a_plain_table_round_trip(table_oracle, tmp_path):
    idx = np.array([0, 11, 284, 6111])
    frame = pd.DataFrame({"index": idx, "seconds:cifar10-valid/train@12": [7.2, 12.5, 4.9, 13.0],
                          "seconds:cifar10-valid/x-valid@12:seed=777": [2.1, 4.2, 2.4, np.nan]})
    frame.to_csv(tmp_path / "times.csv", index=False)
    oracle = Oracle(import_source(tmp_path / "times.csv", tmp_path / "t.parquet", benchmark_version="t",
                                  order_from=table_oracle.path, progress=False))
    where = dict(dataset="cifar10-valid", hp=12, metric="seconds")
    np.testing.assert_array_equal(oracle.query(idx, split="train", **where), frame.iloc[:, 1])
    np.testing.assert_array_equal(oracle.query(idx, split="x-valid", seed=777, **where), frame.iloc[:, 2])
    np.testing.assert_array_equal(oracle.query(idx, split="x-valid", **where), frame.iloc[:, 2])  # the one seed
    assert np.isnan(oracle.query(1, split="train", **where))
    listed = oracle.available().set_index("split")
    assert listed.loc["train", "metric"] == "seconds" and listed.loc["x-valid", "seeds"] == "777"
    assert oracle.top_k(1, split="train", **where)[0] == 284  # the fastest: fewest seconds
    with pytest.raises(OracleQueryError, match=r"seconds:cifar10-valid/train@12 is recorded at its final epoch .* "
                                               r"not at every epoch 0..11, so its schedule's seconds cannot be summed"):
        oracle.schedule_seconds(0, dataset="cifar10-valid", split="train", hp=12)
    frame.iloc[0, 1] = -1.0
    frame.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(SourceError, match=r"'seconds:cifar10-valid/train@12' row 0 holds -1.0, outside 0.0..inf"):
        import_source(tmp_path / "bad.csv", tmp_path / "b.parquet", benchmark_version="t",
                      order_from=table_oracle.path, progress=False)
