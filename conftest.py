"""Fixtures over the real benchmark files in NB201_DATA (../shared/nb201 beside the project by default).

A missing data directory fails the run: these tests exist to check real data, and a skip would pass silently.
"""
from __future__ import annotations

import bz2
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from harness.oracle import Oracle, import_source

REPO = Path(__file__).resolve().parent


def _nb201_dir() -> Path:
    path = Path(os.environ.get("NB201_DATA") or REPO.parent / "shared" / "nb201")
    if not (path / "table.csv").is_file():
        pytest.fail(f"real NB201 data not found at {path}: set NB201_DATA to the directory holding table.csv, "
                    f"nats-tss-sample/ and splits/ (../shared/nb201 beside the project)", pytrace=False)
    return path


@pytest.fixture(scope="session")
def nb201_dir() -> Path:
    return _nb201_dir()


@pytest.fixture(scope="session")
def table_csv(nb201_dir) -> Path:
    return nb201_dir / "table.csv"


@pytest.fixture(scope="session")
def nats_sample(nb201_dir) -> Path:
    return nb201_dir / "nats-tss-sample"


@pytest.fixture(scope="session")
def table_oracle(table_csv, tmp_path_factory) -> Oracle:
    out = tmp_path_factory.mktemp("oracle") / "table.parquet"
    return Oracle(import_source(table_csv, out, benchmark_version="NAS-Bench-201 v1_1", progress=False))


@pytest.fixture(scope="session")
def nats_oracle(nats_sample, tmp_path_factory) -> Oracle:
    out = tmp_path_factory.mktemp("oracle") / "nats.parquet"
    return Oracle(import_source(nats_sample, out, benchmark_version="NATS-Bench tss v1_0", progress=False))


@pytest.fixture(scope="session")
def nats_records(nats_sample) -> dict[int, dict]:
    """The sample's raw records: index -> {hp: ArchResults state dict}, as the official files hold them."""
    return {int(p.name[:6]): pickle.load(bz2.BZ2File(p)) for p in sorted(nats_sample.glob("0*.pickle.pbz2"))}


@pytest.fixture(scope="session")
def nats_meta_archs(nats_sample) -> list[str]:
    return pickle.load(bz2.BZ2File(nats_sample / "meta.pickle.pbz2"))["meta_archs"]


@pytest.fixture(scope="session")
def cifar10_root(nb201_dir, tmp_path_factory) -> Path:
    """Real CIFAR-10 in the official python layout, materialized once per session from ../shared/cifar10."""
    script = nb201_dir.parent / "cifar10" / "materialize.py"
    if not script.is_file():
        pytest.fail(f"{script} not found: the real CIFAR-10 copy lives in ../shared/cifar10", pytrace=False)
    root = tmp_path_factory.mktemp("cifar10")
    subprocess.run([sys.executable, str(script), str(root)], check=True, capture_output=True)
    return root


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny batches gain nothing from a second thread, and lose badly when another process holds that core."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
