"""Importers of the official formats, checked against the benchmark's own APIs on real records.

NATS-Bench: the real sample in ../shared/nb201/nats-tss-sample (fast-mode directory), and a single-file
archive the test writes from it. NB201 .pth: small files the test writes in the official structure from the
same real records (meta_archs, arch2infos with less/full ArchResults states, evaluated_indexes).
"""
import bz2
import copy
import pickle
import shutil

import nats_bench
import numpy as np
import pytest
import torch
from nas_201_api import NASBench201API

from harness.errors import OracleQueryError, SourceError
from harness.oracle import Oracle, import_source

SAMPLE = {0: (85.863333, 15.64737, 0.129306), 11: (91.583333, 113.95137, 0.802426), 284: (88.79, 11.71521, 0.101306)}


def test_readme_values_of_the_nats_sample(nats_oracle):
    for index, (acc, flops, params) in SAMPLE.items():
        assert nats_oracle.accuracy(index, dataset="cifar10", split="ori-test", hp=200) == pytest.approx(acc, abs=1e-6)
        assert nats_oracle.cost("flops", index, dataset="cifar10") == pytest.approx(flops, abs=1e-9)
        assert nats_oracle.cost("params", index, dataset="cifar10") == pytest.approx(params, abs=1e-9)
    assert nats_oracle.meta["cells_with_values"] == 3
    assert np.isnan(nats_oracle.accuracy(1, dataset="cifar10", split="ori-test"))  # not in the sample: NaN


def _nats_metric(results, dataset, split, seed, epoch):
    return results.get_metrics(dataset, split, iepoch=epoch, is_random=False if seed is None else seed)


def test_every_seed_and_epoch_matches_nats_bench(nats_oracle, nats_sample):
    api = nats_bench.create(str(nats_sample), "tss", fast_mode=True, verbose=False)
    checked = 0
    for index in SAMPLE:
        for hp in (12, 200):
            results = api.query_meta_info_by_index(index, hp=str(hp))
            for dataset in results.get_dataset_names():
                seeds = results.get_dataset_seeds(dataset)
                for key, info in nats_oracle.series.items():
                    if (key.dataset, key.hp) != (dataset, hp):
                        continue
                    assert info.seeds == seeds
                    epochs = [None, *info.curve_epochs[::37], *info.curve_epochs[-1:]]
                    for seed in [None, *seeds]:
                        for epoch in epochs:
                            want = _nats_metric(results, dataset, key.split, seed, epoch)[key.metric]
                            got = nats_oracle.query(index, dataset=dataset, split=key.split, hp=hp,
                                                    metric=key.metric, seed=seed, epoch=epoch)
                            assert got == pytest.approx(want, rel=1e-12), (index, key, seed, epoch)
                            checked += 1
                costs = results.get_compute_costs(dataset)
                assert nats_oracle.cost("latency", index, dataset=dataset) == pytest.approx(costs["latency"])
    assert checked > 2000


def test_both_schedules_have_seeds_and_curves(nats_oracle):
    hp12 = nats_oracle.series_info("accuracy", "cifar10-valid", "x-valid", 12)
    hp200 = nats_oracle.series_info("accuracy", "cifar10-valid", "x-valid", 200)
    assert hp12.seeds == [111, 777] and hp12.curve_epochs == list(range(12))
    assert hp200.seeds == [777, 888, 999] and hp200.curve_epochs == list(range(200))
    assert nats_oracle.series_info("accuracy", "cifar100", "x-test", 12).seeds == [111]


@pytest.mark.parametrize("where, fragments", [
    (dict(dataset="cifar100", split="x-valid", hp=200, epoch=50), ["final epoch (199) only", "epoch 50"]),
    (dict(dataset="cifar10-valid", split="ori-test", hp=200, epoch=100), ["final epoch (199) only"]),
    (dict(dataset="ImageNet16-120", split="x-test", hp=200, seed=777, epoch=10), ["final epoch (199) only"]),
    (dict(dataset="cifar10", split="ori-test", hp=200, seed=111), ["seed 111", "777, 888, 999"]),
    (dict(dataset="cifar10", split="ori-test", hp=12, seed=777), ["seed 777", "recorded seeds: 111"]),
    (dict(dataset="cifar10", split="ori-test", hp=12, epoch=12), ["0..11"]),
])
def test_the_benchmarks_quirks_are_errors_not_numbers(nats_oracle, where, fragments):
    with pytest.raises(OracleQueryError) as err:
        nats_oracle.accuracy(11, **where)
    for fragment in fragments:
        assert fragment in str(err.value)


def test_final_epoch_asked_explicitly_is_the_final_value(nats_oracle):
    where = dict(dataset="cifar10-valid", split="x-valid", hp=200)
    np.testing.assert_array_equal(nats_oracle.accuracy(**where, epoch=199), nats_oracle.accuracy(**where))
    np.testing.assert_array_equal(nats_oracle.accuracy(**where, epoch=199, seed=888),
                                  nats_oracle.accuracy(**where, seed=888))


def test_nats_agrees_with_the_table_on_the_sample(nats_oracle, table_oracle):
    for key in table_oracle.series:
        where = dict(dataset=key.dataset, split=key.split, hp=key.hp)
        np.testing.assert_allclose(nats_oracle.accuracy(list(SAMPLE), **where),
                                   table_oracle.accuracy(list(SAMPLE), **where), atol=5e-7)


def _single_file(tmp_path, records, meta_archs):
    data = {"meta_archs": meta_archs, "total_archs": len(meta_archs), "evaluated_indexes": set(records),
            "arch2infos": copy.deepcopy(records)}
    nats_bench.pickle_save(data, str(tmp_path / "NATS-tss-v1_0-3ffb9.pickle"))
    return tmp_path / "NATS-tss-v1_0-3ffb9.pickle.pbz2"


def test_the_single_file_archive_gives_the_same_cache(tmp_path, nats_records, nats_meta_archs, nats_oracle):
    src = _single_file(tmp_path, nats_records, nats_meta_archs)
    oracle = Oracle(import_source(src, tmp_path / "single.parquet", progress=False))
    assert oracle.meta["benchmark_version"] == "NATS-Bench tss v1_0 (3ffb9)"  # read from the official name
    assert oracle.series.keys() == nats_oracle.series.keys()
    for key in oracle.series:
        for epoch in (None, 0):
            if epoch == 0 and not oracle.series[key].curve_epochs:
                continue
            where = dict(dataset=key.dataset, split=key.split, hp=key.hp, metric=key.metric, epoch=epoch)
            np.testing.assert_array_equal(oracle.query(**where), nats_oracle.query(**where))


def _copy_sample(nats_sample, tmp_path):
    dst = tmp_path / "sample"
    shutil.copytree(nats_sample, dst)
    for p in dst.iterdir():
        p.chmod(0o644)
    dst.chmod(0o755)
    return dst


def test_a_truncated_record_is_a_clear_error_and_writes_nothing(tmp_path, nats_sample, nats_oracle):
    src = _copy_sample(nats_sample, tmp_path)
    record = src / "000011.pickle.pbz2"
    record.write_bytes(record.read_bytes()[:5000])
    out = tmp_path / "cache.parquet"
    shutil.copy(nats_oracle.path, out)
    before = out.read_bytes()
    with pytest.raises(SourceError, match="000011.pickle.pbz2 could not be read.*truncated or corrupt"):
        import_source(src, out, benchmark_version="NATS-Bench tss v1_0", progress=False)
    assert out.read_bytes() == before  # the old cache is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache.parquet", "sample"]  # no temporary left


def test_a_record_filed_under_the_wrong_seed_is_refused(tmp_path, nats_sample):
    src = _copy_sample(nats_sample, tmp_path)
    path = src / "000284.pickle.pbz2"
    record = pickle.load(bz2.BZ2File(path))
    trial = record["200"]["all_results"][("cifar10", 888)]
    trial["seed"] = "0999"
    nats_bench.pickle_save(record, str(path), ext="")
    with pytest.raises(SourceError, match="seed 888 records seed '0999'"):
        import_source(src, tmp_path / "c.parquet", benchmark_version="x", progress=False)


def test_a_record_missing_a_field_is_refused(tmp_path, nats_sample):
    src = _copy_sample(nats_sample, tmp_path)
    path = src / "000000.pickle.pbz2"
    record = pickle.load(bz2.BZ2File(path))
    del record["12"]["all_results"][("cifar100", 111)]["eval_acc1es"]
    nats_bench.pickle_save(record, str(path), ext="")
    with pytest.raises(SourceError, match="cifar100@12 trial of seed 111 lists evaluations .* has no accuracies for "
                                          "ori-test, x-test, x-valid; the record is damaged"):
        import_source(src, tmp_path / "c.parquet", benchmark_version="x", progress=False)
    del record["12"]["dataset_seed"]
    nats_bench.pickle_save(record, str(path), ext="")
    with pytest.raises(SourceError, match=r"12-epoch record lists trials \[\] but holds .*the record is damaged"):
        import_source(src, tmp_path / "c.parquet", benchmark_version="x", progress=False)
    record = pickle.load(bz2.BZ2File(nats_sample / "000000.pickle.pbz2"))
    record["12"]["all_results"][("cifar100", 111)]["epochs"] = None
    nats_bench.pickle_save(record, str(path), ext="")
    with pytest.raises(SourceError, match="12-epoch record is not in the benchmark's ArchResults structure"):
        import_source(src, tmp_path / "c.parquet", benchmark_version="x", progress=False)


def test_a_directory_without_meta_is_refused(tmp_path):
    (tmp_path / "000000.pickle.pbz2").write_bytes(b"")
    with pytest.raises(SourceError, match="without meta.pickle.pbz2"):
        import_source(tmp_path, tmp_path / "c.parquet", benchmark_version="x")


def _plain(value):
    """The state with numpy scalars turned into Python numbers, as torch's safe loader accepts."""
    if isinstance(value, dict):
        return type(value)((k, _plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value.item() if isinstance(value, np.generic) else value


def _pth(path, records, meta_archs, plain=True, less_datasets=None):
    infos = {}
    for index, record in records.items():
        less = copy.deepcopy(record["12"])
        if less_datasets is not None:  # v1_0: the 12-epoch results cover cifar10-valid only
            less["all_results"] = {k: v for k, v in less["all_results"].items() if k[0] in less_datasets}
            less["dataset_seed"] = {k: v for k, v in less["dataset_seed"].items() if k in less_datasets}
        infos[index] = {"less": less, "full": record["200"]}
    data = {"meta_archs": list(meta_archs), "arch2infos": infos, "evaluated_indexes": sorted(records)}
    torch.save(_plain(data) if plain else data, path)
    return path


def test_pth_import_matches_nas_201_api(tmp_path, nats_records, nats_meta_archs):
    src = _pth(tmp_path / "NAS-Bench-201-v1_1-096897.pth", nats_records, nats_meta_archs)
    api = NASBench201API(str(src), verbose=False)  # the official API reads the same file
    assert len(api) == 15625 and api.evaluated_indexes == sorted(nats_records)
    oracle = Oracle(import_source(src, tmp_path / "pth.parquet", progress=False))
    assert oracle.meta["benchmark_version"] == "NAS-Bench-201 v1_1 (096897)"
    assert oracle.meta["importer"]["name"] == "nb201-pth"
    for index in nats_records:
        for dataset, test_split in (("cifar10", "ori-test"), ("cifar100", "x-test"), ("ImageNet16-120", "x-test")):
            for hp in ("12", "200"):
                info = api.get_more_info(index, dataset, hp=hp, is_random=False)
                assert oracle.accuracy(index, dataset=dataset, split=test_split, hp=int(hp)) == \
                    pytest.approx(info["test-accuracy"], rel=1e-12)
                assert oracle.loss(index, dataset=dataset, split="train", hp=int(hp)) == \
                    pytest.approx(info["train-loss"], rel=1e-12)
        info = api.get_more_info(index, "cifar10-valid", iepoch=20, hp="200", is_random=888)
        assert oracle.accuracy(index, dataset="cifar10-valid", split="x-valid", hp=200, seed=888, epoch=20) == \
            pytest.approx(info["valid-accuracy"], rel=1e-12)
        assert oracle.cost("params", index, dataset="cifar100") == api.get_cost_info(index, "cifar100")["params"]


def test_pth_with_numpy_scalars_and_v1_0_layout(tmp_path, nats_records, nats_meta_archs):
    src = _pth(tmp_path / "NAS-Bench-201-v1_0-e61699.pth", nats_records, nats_meta_archs, plain=False,
               less_datasets={"cifar10-valid"})
    oracle = Oracle(import_source(src, tmp_path / "v10.parquet", progress=False))
    assert oracle.meta["benchmark_version"] == "NAS-Bench-201 v1_0 (e61699)"
    assert oracle.accuracy(11, dataset="cifar10", split="ori-test") == pytest.approx(91.583333, abs=1e-6)
    assert oracle.accuracy(11, dataset="cifar10-valid", split="x-valid", hp=12, seed=111) == pytest.approx(62.58)
    with pytest.raises(OracleQueryError, match="hp 12 is not recorded for cifar100/x-test; .*: 200"):
        oracle.accuracy(11, dataset="cifar100", split="x-test", hp=12)


def test_damaged_pth_files_are_refused(tmp_path, nats_records, nats_meta_archs):
    src = _pth(tmp_path / "NAS-Bench-201-v1_1-096897.pth", nats_records, nats_meta_archs)
    truncated = tmp_path / "NAS-Bench-201-v1_1-cut.pth"
    truncated.write_bytes(src.read_bytes()[:-4096])
    with pytest.raises(SourceError, match="could not be read as a NAS-Bench-201 .pth file.*truncated or corrupt"):
        import_source(truncated, tmp_path / "c.parquet", progress=False)
    torch.save({"meta_archs": [], "arch2infos": {}}, tmp_path / "NAS-Bench-201-v1_1-x.pth")
    with pytest.raises(SourceError, match="lacks evaluated_indexes"):
        import_source(tmp_path / "NAS-Bench-201-v1_1-x.pth", tmp_path / "c.parquet", benchmark_version="t",
                      progress=False)
    data = torch.load(src, weights_only=False)
    data["evaluated_indexes"].append(5)
    torch.save(data, tmp_path / "NAS-Bench-201-v1_1-y.pth")
    with pytest.raises(SourceError, match="1 evaluated indexes have no results"):
        import_source(tmp_path / "NAS-Bench-201-v1_1-y.pth", tmp_path / "c.parquet", benchmark_version="t",
                      progress=False)
    data = torch.load(src, weights_only=False)
    data["meta_archs"][0], data["meta_archs"][11] = data["meta_archs"][11], data["meta_archs"][0]
    torch.save(data, tmp_path / "NAS-Bench-201-v1_1-z.pth")
    with pytest.raises(SourceError, match="index 0 holds .* but the benchmark's list"):
        import_source(tmp_path / "NAS-Bench-201-v1_1-z.pth", tmp_path / "c.parquet", benchmark_version="t",
                      progress=False)
    assert not (tmp_path / "c.parquet").exists()
