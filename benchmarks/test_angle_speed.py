"""Angle proxy speed: the closed form over all 15,625 cells from precomputed tables (target <= 1 s, read from the
benchmark's figures, never asserted), and the tables' precomputation, for two seeded Supernet(C=16, N=5) (random
weights; the weights do not change the cost).

Run: `pytest benchmarks/test_angle_speed.py`.
"""
import numpy as np
import pytest
import torch

from harness.nets import Supernet
from harness.proxies.angle import angle_from_tables, angle_tables
from harness.space import NUM_CELLS, all_cells


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    model0 = Supernet(16, 5)
    torch.manual_seed(1)
    return model0, Supernet(16, 5)


def test_angle_tables_precomputation(benchmark, models):
    tables = benchmark.pedantic(angle_tables, args=models, rounds=5, iterations=1)
    assert tables.edges.shape == (3, 15, 6, 5)


def test_angle_all_cells_from_tables(benchmark, models):
    tables, cells = angle_tables(*models), all_cells()
    scores = benchmark(angle_from_tables, tables, cells)
    assert scores.shape == (NUM_CELLS,) and np.isfinite(scores).all()
