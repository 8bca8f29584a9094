"""Ground truth: import the benchmark's files once into a columnar cache, then query it with `Oracle`.

    from harness.oracle import load
    oracle = load()                                   # $HARNESS_ORACLE or data/nb201-oracle.parquet
    oracle.accuracy(dataset="cifar10", split="ori-test", hp=200)   # all 15,625 cells, official order
"""
from harness.oracle.importers import import_source
from harness.oracle.keys import COSTS, DATASETS, METRICS, SPLITS, CostKey, SeriesKey
from harness.oracle.oracle import Oracle, load

__all__ = ["COSTS", "DATASETS", "METRICS", "SPLITS", "CostKey", "Oracle", "SeriesKey", "import_source", "load"]
