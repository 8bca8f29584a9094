"""Training on real CIFAR-10 at tiny settings: learning, exact resume, run-directory rules, DARTS, standalone."""
import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from harness.cli.main import main
from harness.errors import HarnessError
from harness.space import parse_arch
from harness.train import standalone_config, supernet_config
from harness.train.loop import load_model, train
from harness.train.run_dir import RunDir
from harness.train.sampler import CellSampler

ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def tiny(cifar10_root, nb201_dir):
    """ABS's recipe scaled down: C=8, N=1, 16 px, 8% of the search-train half."""
    return supernet_config(channels=8, cells=1, resolution=16, samples=0.08, epochs=3, batch_size=64, lr=0.05,
                           valid_cells=4, valid_batches=4, data_root=str(cifar10_root),
                           splits_dir=str(nb201_dir / "splits"), progress=False)


def test_a_short_supernet_run_learns(tiny, tmp_path):
    run = train(tiny, tmp_path / "run")
    log = run.read_log()
    assert [r["epoch"] for r in log] == [1, 2, 3]
    assert log[-1]["train_loss"] < log[0]["train_loss"]
    assert log[-1]["valid_accuracy"] > 15.0  # chance is 10%; 1,024 valid images put 15% > 5 standard errors above it
    assert json.loads(run.config_path.read_text())["channels"] == 8
    assert run.checkpoint_path(0).is_file() and run.checkpoint_path(3).is_file() and run.checkpoint_path().is_file()


def test_epoch_zero_holds_the_initial_weights(tiny, tmp_path):
    run = train(replace(tiny, epochs=1), tmp_path / "run")
    _, initial = load_model(run.path, epoch=0)
    torch.manual_seed(tiny.seed)
    from harness.nets import Supernet
    fresh = Supernet(C=8, N=1, num_classes=10, affine=False, track_running_stats=True)
    for (name, a), b in zip(initial.state_dict().items(), fresh.state_dict().values()):
        assert torch.equal(a, b), name
    _, trained = load_model(run.path)
    assert not all(torch.equal(a, b) for a, b in zip(initial.state_dict().values(), trained.state_dict().values()))


def test_an_interrupted_run_resumes_to_the_same_weights(tiny, tmp_path, monkeypatch):
    config = replace(tiny, epochs=2, samples=0.03)
    whole = train(config, tmp_path / "whole")
    original_log = RunDir.log

    def interrupt_in_epoch_2(self, record):
        original_log(self, record)
        if record["epoch"] == 2:
            raise KeyboardInterrupt  # after logging epoch 2, before its checkpoint
    monkeypatch.setattr(RunDir, "log", interrupt_in_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path / "cut")
    monkeypatch.setattr(RunDir, "log", original_log)
    assert torch.load(RunDir(tmp_path / "cut").checkpoint_path(), weights_only=False)["epoch"] == 1
    resumed = train(config, tmp_path / "cut", resume=True)
    a = torch.load(whole.checkpoint_path(), weights_only=False)
    b = torch.load(resumed.checkpoint_path(), weights_only=False)
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name
    assert [r["epoch"] for r in resumed.read_log()] == [1, 2]
    assert [r["train_loss"] for r in resumed.read_log()] == [r["train_loss"] for r in whole.read_log()]


def test_stopping_early_and_resuming_follows_one_schedule(tiny, tmp_path):
    config = replace(tiny, epochs=2, samples=0.03)
    whole = train(config, tmp_path / "whole")
    first = train(config, tmp_path / "staged", until=1)
    assert [r["epoch"] for r in first.read_log()] == [1]
    train(config, tmp_path / "staged", resume=True, until=2)
    assert [r["lr"] for r in first.read_log()] == [r["lr"] for r in whole.read_log()]
    a = torch.load(whole.checkpoint_path(), weights_only=False)["model"]
    b = torch.load(first.checkpoint_path(), weights_only=False)["model"]
    assert all(torch.equal(a[name], b[name]) for name in a)
    for bad in (0, 3, 1.5):
        with pytest.raises(HarnessError, match=f"until={bad!r} is not an epoch of this run's schedule, 1..2"):
            train(config, tmp_path / f"bad{bad}", until=bad)


def test_run_directory_rules(tiny, tmp_path):
    config = replace(tiny, epochs=1, samples=0.02)
    train(config, tmp_path / "run")
    with pytest.raises(HarnessError, match="already holds a run; pass --resume"):
        train(config, tmp_path / "run")
    with pytest.raises(HarnessError, match=r"different configuration: channels: 8 -> 4"):
        train(replace(config, channels=4), tmp_path / "run", resume=True)
    with pytest.raises(HarnessError, match="nothing to resume"):
        train(config, tmp_path / "empty", resume=True)
    train(replace(config, device="cpu", progress=True), tmp_path / "run", resume=True)  # where it runs may differ


def test_darts_mode_trains_architecture_parameters(tiny, tmp_path):
    run = train(replace(tiny, mode="darts", epochs=1, samples=0.03), tmp_path / "darts")
    _, start = load_model(run.path, epoch=0)
    _, model = load_model(run.path)
    assert model.arch_parameters.shape == (6, 5)
    moved = (model.arch_parameters - start.arch_parameters).abs()
    assert moved.min() > 0 and moved.max() > 1e-3  # every op's weight took Adam steps (lr 3e-4)
    assert len(run.read_log()[0]["arch"]) == 6


def test_a_standalone_cell_learns(cifar10_root, nb201_dir, tmp_path):
    config = standalone_config(ARCH, channels=8, cells=1, resolution=16, samples=0.08, epochs=2, batch_size=64,
                               lr=0.05, valid_batches=8, data_root=str(cifar10_root),
                               splits_dir=str(nb201_dir / "splits"), progress=False)
    run = train(config, tmp_path / "alone")
    log = run.read_log()
    assert log[-1]["train_loss"] < log[0]["train_loss"] and log[-1]["valid_accuracy"] > 15.0


def test_sub_space_sampling_stays_inside():
    sampler = CellSampler([["nor_conv_3x3", "skip_connect"]] * 3 + [["none"]] * 3, seed=1)
    cells = np.array([sampler.sample() for _ in range(200)])
    assert set(np.unique(cells[:, :3])) == {1, 3} and set(np.unique(cells[:, 3:])) == {0}
    listed = CellSampler([ARCH], seed=2)
    assert (listed.sample() == parse_arch(ARCH)).all()
    state = sampler.state_dict()
    first = [sampler.sample().tolist() for _ in range(5)]
    sampler.load_state_dict(state)
    assert [sampler.sample().tolist() for _ in range(5)] == first
    with pytest.raises(HarnessError, match="edge 2 allows"):
        CellSampler([[1], [1], [], [1], [1], [1]])


def test_train_command(tiny, tmp_path, capsys):
    args = ["train", "supernet", "--dataset", "cifar10-valid", "--data-root", tiny.data_root, "--splits",
            tiny.splits_dir, "--channels", "8", "--cells", "1", "--resolution", "16", "--samples", "0.02",
            "--epochs", "1", "--out", str(tmp_path / "cli"), "--quiet"]
    assert main(args) == 0
    assert "epoch 1, train loss" in capsys.readouterr().out
    assert main(args) == 2
    assert "pass --resume" in capsys.readouterr().err
    assert main(["train", "standalone", "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|", "--out",
                 str(tmp_path / "bad"), "--data-root", tiny.data_root]) == 2
    assert "bad op 'conv'" in capsys.readouterr().err


def test_urs_draws_each_cell_its_own_child_node_by_node():
    """NB201's forward_urs: per searchable cell and node, uniform ops on the node's input edges, redrawn while they
    are all `none`. Checked against the exact distribution that rule implies, and for independence across cells."""
    sampler = CellSampler(seed=3)
    draws = np.concatenate([sampler.sample_urs(15) for _ in range(2000)])  # 30,000 cells
    into = ((0,), (1, 2), (3, 4, 5))
    for edges in into:
        assert (draws[:, edges] != 0).any(axis=1).all()  # no node with all inputs `none`
    for edges in into:  # given the redraw, an edge is `none` with probability (5^(k-1) - 1) / (5^k - 1)
        k = len(edges)
        p_none = (5 ** (k - 1) - 1) / (5 ** k - 1)
        for e in edges:
            counts = np.bincount(draws[:, e], minlength=5) / len(draws)
            assert counts[0] == pytest.approx(p_none, abs=0.01), (e, counts)
            assert np.allclose(counts[1:], (1 - p_none) / 4, atol=0.01), (e, counts)  # the other ops uniform
    rows = draws.reshape(2000, 15, 6)
    differ = (rows[:, 0] != rows[:, 1]).any(axis=1).mean()
    assert differ > 0.99  # the cells of one step differ (a shared child would give 0)
    a, b = rows[:, 0, 5], rows[:, 7, 5]  # independent across cells: joint = product of the marginals
    joint = np.histogram2d(a, b, bins=5, range=[[0, 5], [0, 5]])[0] / len(a)
    marginals = np.outer(np.bincount(a, minlength=5), np.bincount(b, minlength=5)) / len(a) ** 2
    assert np.abs(joint - marginals).max() < 0.025
    restricted = CellSampler([["none"], ["none", "skip_connect"], ["none"], ["none"], ["none"], ["nor_conv_3x3"]],
                             seed=0).sample_urs(50)
    assert (restricted[:, 0] == 0).all() and (restricted[:, 1] == 1).all()  # node 1 can only be cut: accepted


def test_decay_all_moves_an_op_no_step_samples(tiny, tmp_path):
    """decay: all (PyTorch < 2.0's zero_grad, as the papers' code ran) gives every parameter a zero gradient, so SGD's
    weight decay and Nesterov momentum act on an op that no step samples; decay: sampled leaves it untouched."""
    never = [["none", "skip_connect", "nor_conv_3x3", "avg_pool_3x3"]] * 6  # nor_conv_1x1 is never sampled
    config = replace(tiny, epochs=1, samples=0.02, allowed=never, sampling="urs", checkpoint_epochs=())
    weights = {}
    for decay in ("all", "sampled"):
        run = train(replace(config, decay=decay), tmp_path / decay)
        _, before = load_model(run.path, epoch=0)
        _, after = load_model(run.path)
        state = torch.load(run.checkpoint_path(), weights_only=False)
        w0 = before.cells[0].edges["1<-0"]["nor_conv_1x1"].conv.weight
        w1 = after.cells[0].edges["1<-0"]["nor_conv_1x1"].conv.weight
        weights[decay] = (w0, w1, state["optimizer"]["state"])
    w0, w1, _ = weights["sampled"]
    assert torch.equal(w0, w1)  # never sampled, never moved
    sampled_state = weights["sampled"][2]
    w0, w1, optimizer_state = weights["all"]
    ratio = (w1.norm() / w0.norm()).item()
    assert ratio < 1 - 1e-4 and torch.allclose(w1 / w1.norm(), w0 / w0.norm(), atol=1e-6)  # shrunk, not turned
    n_params = len(list(before.parameters()))
    assert len(optimizer_state) == n_params > len(sampled_state)  # momentum for every parameter, sampled or not
    assert all(s["momentum_buffer"] is not None for s in optimizer_state.values())


def test_a_run_that_failed_before_its_first_epoch_starts_again(tiny, tmp_path, capsys):
    args = ["train", "supernet", "--dataset", "cifar10-valid", "--splits", tiny.splits_dir, "--channels", "8",
            "--cells", "1", "--resolution", "16", "--samples", "0.02", "--epochs", "1", "--out", str(tmp_path / "r"),
            "--quiet"]
    assert main([*args, "--data-root", str(tmp_path / "no-images")]) == 2  # fails after the run directory exists
    assert "no-images does not exist" in capsys.readouterr().err and (tmp_path / "r" / "config.json").exists()
    assert main([*args, "--data-root", tiny.data_root, "--batch-size", "32"]) == 0  # no --resume, other settings
    out = capsys.readouterr().out
    assert "finished no epoch; starting it again" in out and "epoch 1, train loss" in out
    assert json.loads((tmp_path / "r" / "config.json").read_text())["batch_size"] == 32
    assert main([*args, "--data-root", tiny.data_root, "--batch-size", "32"]) == 2  # a finished epoch is kept
    assert "pass --resume" in capsys.readouterr().err


def test_device_cuda_without_a_gpu_is_refused_before_anything_runs(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # as on this machine; on a GPU one too
    with pytest.raises(SystemExit) as exit_:  # refused by argparse
        main(["train", "supernet", "--out", str(tmp_path / "r"), "--device", "cuda"])
    assert exit_.value.code == 2
    refused = [capsys.readouterr().err]
    # scoring may run elsewhere (--executor ray): the local executor refuses it before scoring
    assert main(["score", "rebn", "--out", str(tmp_path / "s.csv"), "--device", "cuda"]) == 2
    refused.append(capsys.readouterr().err)
    for err in refused:
        assert "'cuda': torch" in err and "sees 0 CUDA GPU(s); use --device cpu" in err
    assert not (tmp_path / "r").exists() and not (tmp_path / "s.csv").exists()
    with pytest.raises(SystemExit):
        main(["train", "supernet", "--out", str(tmp_path / "r"), "--device", "gpu"])
    assert "'gpu' is not a device: expected cpu, cuda, cuda:N or mps" in capsys.readouterr().err
