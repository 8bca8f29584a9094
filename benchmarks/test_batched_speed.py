"""Many children in one pass (issue 17), side by side with the one-child paths, and each path's achieved rate of
multiply-adds against a dense matrix product of the same machine in the same session.

- Re-BN (calibration with momentum 0.1, then evaluation) of 16 seeded cells: one child at a time
  (`supernet_accuracy.recalibrate` + `child_accuracy`) against `harness.nets.batched` with all 16 in one pass, at
  C=8 N=2 16 px (the cpu preset) and C=16 N=5 32 px (the benchmark's network); 2 calibration and 2 validation
  batches of 64 random images (the values do not change the cost).
- EPS's member scoring (each of 8 seeded members on its own batch of 64, batch statistics) at C=16 N=5 32 px:
  one member at a time against the engine.
- SynFlow of 30 seeded cells: the autograd definition (`zero_cost.synflow_score` on built networks) against the
  path-sum pass (`synflow_pass`), both float64; `extra_info` extrapolates the pass to all 15,625 cells.
- A training step of the spos supernet (forward, backward, SGD; batch 64, C=8 N=2 16 px), eager and, for one fixed
  cell, `torch.compile`d: dynamo specialises on the cell, so a compiled step recompiles for every new cell.
- Dense float32 and float64 matrix products (1024^3, on each device) give the machine's rate. Each path's
  multiply-adds come from the cost model (`harness.nets.cost.count_flops`, the benchmark's FLOPs: multiply-adds of
  one image's forward pass; a training step counts 3 forward passes), and the summary prints each path's rate and
  its share of the product's.

Two threads, as the training benchmark; on a CUDA machine the Re-BN and EPS pairs and the dense products also run
on the GPU (`tools/gpu-bench`). Run: `pytest benchmarks/test_batched_speed.py`.
"""
from __future__ import annotations

import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from harness.nets import Supernet, TinyNetwork
from harness.nets.batched import children_accuracy, children_logits, recalibrate_children
from harness.nets.cost import count_flops
from harness.proxies.supernet_accuracy import child_accuracy, recalibrate
from harness.proxies.synflow_pass import synflow_pass
from harness.proxies.zero_cost import synflow_score
from harness.shrink.eps import without_running_statistics
from harness.space import all_cells

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
#: (C, N, resolution)
NETWORKS = {"C8-N2-16px": (8, 2, 16), "C16-N5-32px": (16, 5, 32)}
BATCH, CALIBRATION_BATCHES, VALID_BATCHES = 64, 2, 2
REBN_CELLS = all_cells()[np.random.default_rng(17).choice(15625, 16, replace=False)]
SYNFLOW_CELLS = all_cells()[np.random.default_rng(18).choice(15625, 30, replace=False)]
EPS_CELLS = all_cells()[np.random.default_rng(19).choice(15625, 8, replace=False)]
GEMM_SIZE = 1024


def _synchronised(fn, device):
    def run():
        out = fn()
        if device == "cuda":
            torch.cuda.synchronize()
        return out
    return run


def _rate(benchmark, record_mean, record_rate, name: str, multiply_adds: float, dtype: str,
          device: str = "cpu") -> None:
    """Keep the path's mean for the ratio summary and its multiply-adds per second beside the dense product's."""
    record_mean(name)
    record_rate(name, multiply_adds, f"gemm_{dtype}_{device}")
    benchmark.extra_info["gmac_per_s"] = round(multiply_adds / benchmark.stats.stats.mean / 1e9, 2)


def _macs(cells, C, N, resolution, images) -> float:
    return images * 1e6 * sum(count_flops(tuple(int(op) for op in c), C, N, 10, resolution) for c in cells)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_dense_product(benchmark, record_mean, record_rate, two_threads, dtype, device):
    a, b = (torch.randn(GEMM_SIZE, GEMM_SIZE, generator=torch.Generator().manual_seed(s), dtype=dtype).to(device)
            for s in (0, 1))
    out = benchmark.pedantic(_synchronised(lambda: torch.mm(a, b), device), rounds=10, iterations=1,
                             warmup_rounds=2)
    assert out.shape == (GEMM_SIZE, GEMM_SIZE)
    name = f"gemm_{str(dtype)[6:]}_{device}"
    record_mean(name)
    record_rate(name, GEMM_SIZE ** 3)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("network", list(NETWORKS))
@pytest.mark.parametrize("path", ["one", "engine"])
def test_rebn(benchmark, record_mean, record_rate, two_threads, path, network, device):
    C, N, resolution = NETWORKS[network]
    torch.manual_seed(0)
    model = Supernet(C, N, num_classes=10).to(device).to(memory_format=torch.channels_last)
    images = torch.Generator().manual_seed(1)

    def batch():
        return (torch.randn(BATCH, 3, resolution, resolution, generator=images).to(device),
                torch.randint(0, 10, (BATCH,), generator=images).to(device))
    calibration = [batch() for _ in range(CALIBRATION_BATCHES)]
    valid = [batch() for _ in range(VALID_BATCHES)]

    def one_at_a_time():
        accuracies = []
        for cell in REBN_CELLS:
            recalibrate(model, cell, calibration, momentum=0.1)
            accuracies.append(child_accuracy(model, cell, valid))
        return np.array(accuracies)

    def engine():
        statistics = recalibrate_children(model, REBN_CELLS, calibration, momentum=0.1)
        return children_accuracy(model, REBN_CELLS, valid, statistics)

    fn = _synchronised(one_at_a_time if path == "one" else engine, device)
    accuracies = benchmark.pedantic(fn, rounds=3, iterations=1, warmup_rounds=1)
    assert accuracies.shape == (len(REBN_CELLS),)
    images_per_cell = BATCH * (CALIBRATION_BATCHES + VALID_BATCHES)
    benchmark.extra_info["seconds_per_cell"] = benchmark.stats.stats.mean / len(REBN_CELLS)
    _rate(benchmark, record_mean, record_rate, f"rebn_{path}_{network}_{device}",
          _macs(REBN_CELLS, C, N, resolution, images_per_cell), "float32", device)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("path", ["one", "engine"])
def test_eps_scoring(benchmark, record_mean, record_rate, two_threads, path, device):
    """EPS's member scoring at its released network: 8 members, each on its own batch of 64 validation images,
    every BN on batch statistics (`EpsSettings.batch_cells`)."""
    C, N, resolution = NETWORKS["C16-N5-32px"]
    torch.manual_seed(0)
    model = without_running_statistics(Supernet(C, N, num_classes=10)).to(device).to(
        memory_format=torch.channels_last)
    images = torch.Generator().manual_seed(2)
    x = torch.randn(len(EPS_CELLS), BATCH, 3, resolution, resolution, generator=images).to(device)
    y = torch.randint(0, 10, (len(EPS_CELLS), BATCH), generator=images).to(device)

    @torch.no_grad()
    def one_at_a_time():
        return [F.cross_entropy(model(x[k], cell), y[k]).item() for k, cell in enumerate(EPS_CELLS)]

    @torch.no_grad()
    def engine():
        return [F.cross_entropy(z, t).item() for z, t in zip(children_logits(model, x, EPS_CELLS, training=True), y)]

    losses = benchmark.pedantic(one_at_a_time if path == "one" else engine, rounds=2, iterations=1, warmup_rounds=1)
    assert np.all(np.isfinite(losses))  # .item() waits for the device
    benchmark.extra_info["seconds_per_cell"] = benchmark.stats.stats.mean / len(EPS_CELLS)
    _rate(benchmark, record_mean, record_rate, f"eps_scoring_{path}_{device}",
          _macs(EPS_CELLS, C, N, resolution, BATCH), "float32", device)


@pytest.mark.parametrize("path", ["autograd", "pass"])
def test_synflow(benchmark, record_mean, record_rate, two_threads, path):
    def autograd():
        scores = []
        for cell in SYNFLOW_CELLS:
            torch.manual_seed(0)
            scores.append(synflow_score(TinyNetwork(tuple(int(op) for op in cell), C=16, N=5, num_classes=10),
                                        (3, 32, 32), bn="eval"))  # the variant the pass computes
        return scores

    def path_sum():
        return [synflow_pass(tuple(int(op) for op in cell), 16, 5, 10, 32, 0) for cell in SYNFLOW_CELLS]

    scores = benchmark.pedantic(autograd if path == "autograd" else path_sum, rounds=2, iterations=1,
                                warmup_rounds=1)
    assert np.all(np.isfinite(scores))
    per_cell = benchmark.stats.stats.mean / len(SYNFLOW_CELLS)
    benchmark.extra_info["seconds_per_cell"] = per_cell
    benchmark.extra_info["all_cells_minutes_one_process"] = round(15625 * per_cell / 60, 1)
    # autograd: a forward pass of one image and its backward pass (counted as 2); the pass: 2 images forward
    passes = 3 if path == "autograd" else 2
    _rate(benchmark, record_mean, record_rate, f"synflow_{path}", _macs(SYNFLOW_CELLS, 16, 5, 32, passes), "float64")


@pytest.mark.parametrize("mode", ["eager", "eager_fixed_cell", "compiled_fixed_cell"])
def test_training_step(benchmark, record_mean, record_rate, record_note, two_threads, mode):
    C, N, resolution = NETWORKS["C8-N2-16px"]
    torch.manual_seed(0)
    model = Supernet(C, N, num_classes=10).to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.025, momentum=0.9, nesterov=True, weight_decay=5e-4)
    x = torch.randn(BATCH, 3, resolution, resolution).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (BATCH,))
    rng = np.random.default_rng(0)
    fixed = tuple(int(op) for op in REBN_CELLS[0])
    forward = model
    if mode == "compiled_fixed_cell":
        forward = torch.compile(model)
        began = time.perf_counter()
        F.cross_entropy(forward(x, fixed), y).backward()
        record_note(f"torch.compile of the training step (C=8 N=2 16 px, one cell): first step "
                    f"{time.perf_counter() - began:.0f} s, and again for every new cell")
    cells = []

    def step():
        cell = tuple(int(op) for op in rng.integers(0, 5, 6)) if mode == "eager" else fixed
        cells.append(cell)
        loss = F.cross_entropy(forward(x, cell), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.item()

    loss = benchmark.pedantic(step, rounds=30, iterations=1, warmup_rounds=2)
    assert np.isfinite(loss)
    mean_macs = _macs(cells, C, N, resolution, BATCH) / len(cells)
    _rate(benchmark, record_mean, record_rate, f"train_{mode}", 3 * mean_macs, "float32")

