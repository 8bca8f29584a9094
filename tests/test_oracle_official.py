"""Importers of the official formats, checked against the benchmark's own APIs on real records.

NATS-Bench: the real sample in ../shared/nb201/nats-tss-sample (fast-mode directory), and a single-file
archive the test writes from it. NB201 .pth: small files the test writes in the official structure from the
same real records (meta_archs, arch2infos with less/full ArchResults states, evaluated_indexes).
"""
import bz2
import copy
import pickle
import shutil
from dataclasses import replace

import nats_bench
import numpy as np
import pytest
import torch
from nas_201_api import NASBench201API

from harness.errors import OracleQueryError, SourceError
from harness.oracle import Oracle, SeriesKey, import_source
from harness.oracle.cache import GroundTruthBuilder

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
                    # nats_bench answers only the epochs with an accuracy; the times of the others (the records
                    # time every epoch's evaluation) are checked against the raw records in the tests of `seconds`
                    asked = nats_oracle.series[replace(key, metric="accuracy")] if key.metric == "seconds" else info
                    epochs = [None, *asked.curve_epochs[::37], *asked.curve_epochs[-1:]]
                    for seed in [None, *seeds]:
                        for epoch in epochs:
                            name = "cur_time" if key.metric == "seconds" else key.metric  # that epoch's time
                            want = _nats_metric(results, dataset, key.split, seed, epoch)[name]
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


# -- recorded times (metric `seconds`) -------------------------------------------------------------------------
def _trials(nats_records):
    """(index, hp, dataset, seed, raw trial) for every trial of the sample, straight from the unpickled records."""
    for index, record in nats_records.items():
        for hp, state in record.items():
            for (dataset, seed), trial in state["all_results"].items():
                yield index, int(hp), dataset, int(seed), trial


def _recorded_seconds(trial, split, hp):
    """One trial's per-epoch seconds on `split`, read as the record holds them: train_times[e], eval_times['S@e']."""
    if split == "train":
        return [trial["train_times"][e] for e in range(hp)]
    return [trial["eval_times"][f"{split}@{e}"] for e in range(hp)]


def test_imported_seconds_are_the_records_times_per_seed_and_epoch(nats_oracle, nats_records):
    checked = 0
    for index, hp, dataset, seed, trial in _trials(nats_records):
        splits = ["train", *sorted({name.rpartition("@")[0] for name in trial["eval_times"]})]
        recorded = {k.split for k in nats_oracle.series if (k.metric, k.dataset, k.hp) == ("seconds", dataset, hp)}
        assert recorded == set(splits), (dataset, hp)
        for split in splits:
            want = _recorded_seconds(trial, split, hp)
            where = dict(dataset=dataset, split=split, hp=hp, metric="seconds", seed=seed)
            got = [nats_oracle.query(index, **where, epoch=e) for e in range(hp)]
            assert got == pytest.approx(want, rel=1e-12), (index, dataset, split, hp, seed)
            assert nats_oracle.query(index, **where) == pytest.approx(want[-1], rel=1e-12)  # final epoch
            assert nats_oracle.schedule_seconds(index, dataset=dataset, split=split, hp=hp, seed=seed) == \
                pytest.approx(sum(want), rel=1e-12)
            checked += 1
    assert checked == 3 * (2 * 3 + 2 + 4 + 4 + 3 * (3 + 2 + 4 + 4))  # per record: the splits of 5 + 12 trials


def test_schedule_seconds_over_seeds_is_the_mean_of_the_trials_sums(nats_oracle, nats_records):
    for index, record in nats_records.items():
        for hp, state in record.items():
            for dataset, seeds in state["dataset_seed"].items():
                for split in ("train", "x-valid", "ori-test"):
                    trials = [state["all_results"][(dataset, s)] for s in seeds]
                    if split != "train" and f"{split}@0" not in trials[0]["eval_times"]:
                        continue
                    want = np.mean([sum(_recorded_seconds(t, split, int(hp))) for t in trials])
                    got = nats_oracle.schedule_seconds(index, dataset=dataset, split=split, hp=int(hp))
                    assert got == pytest.approx(want, rel=1e-12), (index, dataset, split, hp)


def test_twelve_epoch_training_seconds_of_the_sample(nats_oracle, nats_records):
    """cifar10-valid@12 training seconds, summed here from the raw records; the numbers pin the import down."""
    expected = {0: 86.653116, 11: 149.544682, 284: 58.509532}
    for index, seconds in expected.items():
        trials = nats_records[index]["12"]["all_results"]
        for seed in (111, 777):
            assert sum(trials[("cifar10-valid", seed)]["train_times"][e] for e in range(12)) == \
                pytest.approx(seconds, abs=1e-6)
    got = nats_oracle.schedule_seconds(list(expected), dataset="cifar10-valid", split="train", hp=12)
    np.testing.assert_allclose(got, list(expected.values()), atol=1e-6)
    assert np.isnan(nats_oracle.schedule_seconds(1, dataset="cifar10-valid", split="train", hp=12))  # not sampled


def test_schedule_seconds_is_what_nats_bench_reports(nats_oracle, nats_sample):
    api = nats_bench.create(str(nats_sample), "tss", fast_mode=True, verbose=False)
    for index in SAMPLE:
        for hp, dataset in ((12, "cifar10-valid"), (200, "cifar10-valid"), (12, "cifar100"), (200, "ImageNet16-120")):
            seeds = api.query_meta_info_by_index(index, hp=str(hp)).get_dataset_seeds(dataset)
            for seed in [None, *seeds]:
                info = api.get_more_info(index, dataset, iepoch=None, hp=str(hp),
                                         is_random=False if seed is None else seed)
                where = dict(dataset=dataset, hp=hp, seed=seed)
                train = nats_oracle.schedule_seconds(index, split="train", **where)
                valid = nats_oracle.schedule_seconds(index, split="x-valid", **where)
                assert train == pytest.approx(info["train-all-time"], rel=1e-12)
                assert valid == pytest.approx(info["valid-all-time"], rel=1e-12)
                assert valid / hp == pytest.approx(info["valid-per-time"], rel=1e-12)
                # what NB201's RANDOM.py / R_EA.py charge a query
                assert train + valid / hp == pytest.approx(info["train-all-time"] + info["valid-per-time"], rel=1e-12)


def test_seconds_per_seed_and_epoch_are_not_mixed_up(tmp_path, nats_sample):
    """The real records repeat one time over epochs and seeds; a copy with distinct times catches a seed mix-up
    or a sum over the wrong epochs."""
    src = _copy_sample(nats_sample, tmp_path)
    path = src / "000011.pickle.pbz2"
    record = pickle.load(bz2.BZ2File(path))
    for hp in ("12", "200"):
        for (dataset, seed), trial in record[hp]["all_results"].items():
            trial["train_times"] = {e: t * (1 + e / 100) * seed / 500 for e, t in trial["train_times"].items()}
            trial["eval_times"] = {k: t * (2 + int(k.rpartition("@")[2])) * seed / 700
                                   for k, t in trial["eval_times"].items()}
    nats_bench.pickle_save(record, str(path), ext="")
    oracle = Oracle(import_source(src, tmp_path / "c.parquet", benchmark_version="x", progress=False))
    sums = {}
    for hp, dataset, split in ((12, "cifar10-valid", "train"), (12, "cifar10-valid", "x-valid"),
                               (200, "cifar100", "x-test"), (200, "cifar10", "train")):
        for seed in record[str(hp)]["dataset_seed"][dataset]:
            want = sum(_recorded_seconds(record[str(hp)]["all_results"][(dataset, seed)], split, hp))
            sums[seed] = oracle.schedule_seconds(11, dataset=dataset, split=split, hp=hp, seed=seed)
            assert sums[seed] == pytest.approx(want, rel=1e-12), (dataset, split, hp, seed)
        assert len(set(sums.values())) == len(sums)
        assert oracle.schedule_seconds(11, dataset=dataset, split=split, hp=hp) == \
            pytest.approx(np.mean(list(sums.values())), rel=1e-12)
        sums.clear()


def test_seconds_are_listed_as_available(nats_oracle):
    table = nats_oracle.available()
    seconds = table[table["metric"] == "seconds"].set_index(["dataset", "split", "hp"])
    assert seconds.loc[("cifar10-valid", "train", 12)].to_dict() == {"metric": "seconds", "seeds": "111 777",
                                                                     "epochs": "0..11"}
    assert seconds.loc[("cifar10-valid", "x-valid", 200), "seeds"] == "777 888 999"
    assert seconds.loc[("cifar10-valid", "x-valid", 200), "epochs"] == "0..199"
    assert sorted(seconds.loc["cifar10"].index.get_level_values("split").unique()) == ["ori-test", "train"]
    assert len(seconds) == 2 * (3 + 2 + 4 + 4)


def test_schedule_seconds_refuses_what_is_not_recorded(nats_oracle):
    with pytest.raises(OracleQueryError, match="seed 111 is not recorded for seconds:cifar10/train@200.*777, 888"):
        nats_oracle.schedule_seconds(0, dataset="cifar10", split="train", hp=200, seed=111)
    with pytest.raises(OracleQueryError, match="has no validation split"):
        nats_oracle.schedule_seconds(0, dataset="cifar10", split="x-valid", hp=12)
    with pytest.raises(OracleQueryError, match="hp 90 is not recorded"):
        nats_oracle.schedule_seconds(0, dataset="cifar100", split="train", hp=90)


def test_pth_import_keeps_the_times(tmp_path, nats_records, nats_meta_archs):
    src = _pth(tmp_path / "NAS-Bench-201-v1_1-096897.pth", nats_records, nats_meta_archs)
    api = NASBench201API(str(src), verbose=False)
    oracle = Oracle(import_source(src, tmp_path / "pth.parquet", progress=False))
    for index in nats_records:
        for seed in (111, 777):
            info = api.get_more_info(index, "cifar10-valid", iepoch=None, hp="12", is_random=seed)
            where = dict(dataset="cifar10-valid", hp=12, seed=seed)
            assert oracle.schedule_seconds(index, split="train", **where) == \
                pytest.approx(info["train-all-time"], rel=1e-12)
            assert oracle.schedule_seconds(index, split="x-valid", **where) / 12 == \
                pytest.approx(info["valid-per-time"], rel=1e-12)


def test_a_cache_imported_before_times_were_kept_says_to_reimport(tmp_path, nats_oracle):
    builder = GroundTruthBuilder(nats_oracle.order)
    builder.set_mean(SeriesKey("accuracy", "cifar10", "ori-test", 200), np.full(15625, 90.0), 200)
    provenance = {"source": {"name": "NATS-tss-v1_0-3ffb9-simple", "kind": "nats-tss", "sha256": "0"},
                  "benchmark_version": "NATS-Bench tss v1_0",
                  "importer": {"name": "nats-tss", "version": 1, "library": "nats_bench 1.8"}}
    old = Oracle(builder.write(tmp_path / "old.parquet", provenance))
    with pytest.raises(OracleQueryError, match="records no times; it was imported by nats-tss v1, which dropped "
                                               "them: re-import NATS-tss-v1_0-3ffb9-simple"):
        old.schedule_seconds(dataset="cifar10", split="train", hp=200)
