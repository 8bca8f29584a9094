"""EPS and AutoSpace on real CIFAR-10 at tiny settings against the real table: the populations' invariants (size,
aging, R_EA children new to the population, AutoSpace's Hamming ball), exact checks with a known scorer, seeded
reproducibility, resume after an interruption, the command line, and settings refused."""
import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from harness.analysis.metrics import kendall_tau
from harness.analysis.shrunk_space import in_space, space_quality
from harness.cli.main import main
from harness.errors import HarnessError
from harness.nets import Supernet
from harness.shrink import AutoSpaceSettings, EpsSettings, eps_top20, fitness_objective, run_autospace, run_eps
from harness.space import encode, parse_arch, parse_archs
from harness.train import supernet_config
from harness.train.loop import load_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")

EPS = EpsSettings(population=8, generations=3, epochs_per_generation=2, first_epochs=1, n_children=3,
                  valid_batches=1)
AUTO = AutoSpaceSettings(population=6, generations=4, epochs_per_generation=1, tournament=3, hamming=1, top_k=3)


@pytest.fixture(scope="module")
def space(table_oracle):
    return table_oracle.cells(), table_oracle.accuracy(dataset="cifar10", split="ori-test")


@pytest.fixture(scope="module")
def tiny(cifar10_root, nb201_dir):
    return supernet_config(channels=4, cells=1, resolution=8, samples=0.02, batch_size=64, valid_cells=1,
                           valid_batches=1, data_root=str(cifar10_root), splits_dir=str(nb201_dir / "splits"),
                           progress=False)


@pytest.fixture(scope="module")
def eps_run(space, tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("eps")
    return out, run_eps(EPS, out, cells=space[0], truth=space[1], train_config=tiny, progress=False)


@pytest.fixture(scope="module")
def autospace_run(space, tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("autospace")
    return out, run_autospace(AUTO, out, cells=space[0], truth=space[1], train_config=tiny, progress=False)


def truth_lookup(space):
    cells, truth = space
    position = {code: i for i, code in enumerate(encode(cells))}
    return lambda model, some: truth[[position[code] for code in encode(some)]]


def without_seconds(history: list[dict]) -> str:
    """A history as JSON without the seconds spent, so that equal runs compare equal (NaN too)."""
    return json.dumps([{k: v for k, v in record.items() if k != "seconds"} for record in history])


def same(a: list[dict], b: list[dict]) -> bool:
    return without_seconds(a) == without_seconds(b)


def one_edge_apart(a: str, b: str) -> bool:
    return int((parse_arch(a) != parse_arch(b)).sum()) == 1


def test_eps_population_ages_and_children(eps_run, space):
    out, history = eps_run
    lookup = truth_lookup(space)
    assert [r["generation"] for r in history] == [1, 2, 3]
    assert history[0]["ages"] == [1] * EPS.population
    for record in history:
        population = record["population"]
        assert len(population) == len(set(population)) == EPS.population
        assert record["ages"] == sorted(record["ages"], reverse=True)  # kept oldest first
        truth = lookup(None, parse_archs(population))
        np.testing.assert_allclose(record["truth"], truth)
        assert record["kendall_tau"] == pytest.approx(kendall_tau(truth, record["scores"]), nan_ok=True)
        best = int(np.argsort(-np.array(record["scores"]), kind="stable")[0])
        assert record["pick"]["arch"] == population[best]
        assert record["pick"]["global_rank"] == int((space[1] > truth[best]).sum()) + 1
    for before, after in zip(history, history[1:]):
        k = len(before["children"])
        assert k == EPS.n_children and before["dropped"] == before["population"][:k]
        assert min(before["ages"][:k]) >= max(before["ages"][k:])  # the oldest go
        assert after["population"] == before["population"][k:] + before["children"]
        assert after["ages"] == [a + 1 for a in before["ages"][k:]] + [1] * k
        ranked = np.argsort(-np.array(before["scores"]), kind="stable")[:EPS.n_children]
        assert before["parents"] == [before["population"][i] for i in ranked]
        assert len(set(before["children"])) == k and not set(before["children"]) & set(before["population"])
        assert all(one_edge_apart(p, c) for p, c in zip(before["parents"], before["children"]))
    assert history[-1]["children"] == history[-1]["dropped"] == []
    config, _ = load_model(out / "gen-2", epoch=0)
    assert config.allowed == history[1]["population"] and config.epochs == EPS.epochs_per_generation
    _, end_of_1 = load_model(out / "gen-1")
    _, start_of_2 = load_model(out / "gen-2", epoch=0)
    assert all(torch.equal(t, start_of_2.state_dict()[n]) for n, t in end_of_1.state_dict().items())


def test_eps_with_the_ground_truth_as_scorer_evolves_exactly(space, tiny, tmp_path):
    history = run_eps(replace(EPS, epochs_per_generation=1), tmp_path, cells=space[0], truth=space[1],
                      train_config=tiny, scorer=truth_lookup(space), progress=False)
    for record in history:
        assert record["scores"] == record["truth"] and record["kendall_tau"] == pytest.approx(1.0)
        assert record["pick"]["truth"] == record["best_truth"] == record["quality"]["best"]
    best = sorted(history[0]["truth"], reverse=True)[:EPS.n_children]
    assert truth_lookup(space)(None, parse_archs(history[0]["parents"])).tolist() == best


def test_eps_resumes_and_is_seeded(eps_run, space, tiny, tmp_path, monkeypatch):
    _, whole = eps_run
    import harness.train.loop as loop

    original, calls = loop._train_epoch, []

    def stop_in_generation_2(*args):
        calls.append(1)
        if len(calls) == 3:  # generation 1 trains one epoch, generation 2 two: stop in its second
            raise KeyboardInterrupt
        return original(*args)
    monkeypatch.setattr(loop, "_train_epoch", stop_in_generation_2)
    with pytest.raises(KeyboardInterrupt):
        run_eps(EPS, tmp_path / "cut", cells=space[0], truth=space[1], train_config=tiny, progress=False)
    assert len(json.loads((tmp_path / "cut" / "history.json").read_text())["generations"]) == 1
    assert len((tmp_path / "cut" / "gen-2" / "log.jsonl").read_text().splitlines()) == 1  # stopped in epoch 2
    monkeypatch.setattr(loop, "_train_epoch", original)
    resumed = run_eps(EPS, tmp_path / "cut", cells=space[0], truth=space[1], train_config=tiny, progress=False)
    assert same(resumed, whole)
    other = run_eps(replace(EPS, seed=1), tmp_path / "seed1", cells=space[0], truth=space[1], train_config=tiny,
                    progress=False)
    assert other[0]["population"] != whole[0]["population"]
    with pytest.raises(HarnessError, match="other settings"):
        run_eps(replace(EPS, n_children=2), tmp_path / "cut", cells=space[0], truth=space[1], train_config=tiny,
                progress=False)


def test_top20_kendall_on_known_scores(space, eps_run, tiny):
    cells, truth = space
    exact = eps_top20(Supernet(4, 1), cells, truth, sample=500, scorer=truth_lookup(space), progress=False)
    assert exact == {"cells": 500, "top20_cells": 100, "seed": 0, "kendall_tau": pytest.approx(1.0),
                     "top20_kendall_tau": pytest.approx(1.0)}
    lookup = truth_lookup(space)

    def reversed_at_the_top(model, some):  # ranks the top 20% of the sample backwards, the rest right
        t = lookup(model, some)
        top = t >= np.sort(t)[-100]
        return np.where(top, 200 - t, t - 100)
    turned = eps_top20(None, cells, truth, sample=500, scorer=reversed_at_the_top, progress=False)
    assert turned["top20_kendall_tau"] == pytest.approx(-1.0) and turned["kendall_tau"] > 0.5
    trained = eps_top20(eps_run[0] / "gen-3", cells, truth, sample=40, valid_batches=1, progress=False)
    assert trained["cells"] == 40 and trained["top20_cells"] == 8 and -1 <= trained["kendall_tau"] <= 1
    with pytest.raises(HarnessError, match="train_config"):
        eps_top20(Supernet(4, 1), cells, truth, sample=10, progress=False)


def test_autospace_population_hamming_ball_and_tournaments(autospace_run, space):
    out, history = autospace_run
    cells, truth = space
    reference = parse_arch(AUTO.reference)
    assert [r.get("constrained") for r in history] == [True, True, False, None]
    for record in history:
        population = record["population"]
        assert len(population) == len(set(population)) == AUTO.population
        np.testing.assert_allclose(record["truth"], truth_lookup(space)(None, parse_archs(population)))
        assert record["kendall_tau"] == pytest.approx(kendall_tau(record["truth"], record["fitness"]), nan_ok=True)
        order = np.argsort(-np.array(record["fitness"]), kind="stable")
        assert record["top_k"] == [population[i] for i in order[:AUTO.top_k]]
        assert record["quality"] == space_quality(truth, in_space(cells, record["top_k"]))
        assert record["distance_to_reference"] == (parse_archs(population) != reference).sum(axis=1).tolist()
    assert any(f != 0 for f in history[-1]["fitness"])  # the logits learned
    for before, after in zip(history, history[1:]):
        if before["constrained"]:  # the first half keeps every member inside the ball
            assert max(after["distance_to_reference"]) <= AUTO.hamming
        fitness = dict(zip(before["population"], before["fitness"]))
        assert before["parent"] == max(before["tournament"], key=fitness.get)
        assert len(set(before["tournament"])) == AUTO.tournament
        assert one_edge_apart(before["parent"], before["child"]) and before["child"] not in before["population"]
        assert before["replaced"] == min(before["population"], key=fitness.get)
        assert after["population"] == [before["child"] if p == before["replaced"] else p
                                       for p in before["population"]]
    assert max(history[0]["distance_to_reference"]) <= AUTO.hamming


def test_autospace_resumes_and_is_seeded(autospace_run, space, tiny, tmp_path, monkeypatch):
    _, whole = autospace_run
    import harness.shrink.autospace as module

    original, calls = module._Run.train_epoch, []

    def stop_in_generation_2(run):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(run)
    monkeypatch.setattr(module._Run, "train_epoch", stop_in_generation_2)
    with pytest.raises(KeyboardInterrupt):
        run_autospace(AUTO, tmp_path / "cut", cells=space[0], truth=space[1], train_config=tiny, progress=False)
    assert len(json.loads((tmp_path / "cut" / "history.json").read_text())["generations"]) == 1
    monkeypatch.setattr(module._Run, "train_epoch", original)
    resumed = run_autospace(AUTO, tmp_path / "cut", cells=space[0], truth=space[1], train_config=tiny,
                            progress=False)
    assert same(resumed, whole)
    other = run_autospace(replace(AUTO, seed=1), tmp_path / "seed1", cells=space[0], truth=space[1],
                          train_config=tiny, progress=False)
    assert not same(other, whole)


def test_fitness_rises_for_a_loss_below_the_running_loss():
    for loss, direction in ((1.0, 1), (3.0, -1)):
        fitness = torch.zeros(4, requires_grad=True)
        fitness_objective(fitness, 1, torch.tensor(loss), baseline=2.0).backward()
        step = -fitness.grad  # gradient descent
        assert np.sign(step[1].item()) == direction and (np.sign(step[[0, 2, 3]].numpy()) == -direction).all()


def test_commands_write_history_report_space_and_provenance(table_oracle, tiny, tmp_path, capsys):
    common = ["--generations", "2", "--epochs-per-generation", "1", "--channels", "4", "--cells", "1",
              "--resolution", "8", "--samples", "0.02", "--data-root", tiny.data_root, "--splits", tiny.splits_dir,
              "--cache", str(table_oracle.path), "--quiet"]
    assert main(["shrink", "eps", "--population", "6", "--first-epochs", "1", "--children", "2",
                 "--valid-batches", "1", "--top20-sample", "30", "--out", str(tmp_path / "eps"), *common]) == 0
    assert main(["shrink", "autospace", "--population", "5", "--tournament", "2", "--top-k", "3",
                 "--out", str(tmp_path / "auto"), *common]) == 0
    assert capsys.readouterr().out.count("final pick") == 2
    for name, size in (("eps", 6), ("auto", 3)):
        out = tmp_path / name
        for file in ("history.json", "report.md", "space.json", "provenance.json", "generations.csv"):
            assert (out / file).is_file(), (name, file)
        archs = json.loads((out / "space.json").read_text())["archs"]
        assert len(parse_archs(archs)) == size
        provenance = json.loads((out / "provenance.json").read_text())
        assert provenance["ground_truth"] == table_oracle.provenance and provenance["harness_version"]
        assert provenance["supernet"]["channels"] == 4
        assert "Final pick" in (out / "report.md").read_text()
    assert json.loads((tmp_path / "eps" / "top20.json").read_text())["top20_cells"] == 6
    assert main(["shrink", "autospace", "--hamming", "7", "--out", str(tmp_path / "x"), *common]) == 2
    assert "hamming must be an integer in 0..6" in capsys.readouterr().err


@pytest.mark.parametrize("bad, match", [
    (lambda: EpsSettings(population=0), "population must be a positive integer, got 0"),
    (lambda: EpsSettings(population=4, n_children=5), "n_children=5"),
    (lambda: EpsSettings(seed=-1), "seed must be an integer >= 0"),
    (lambda: AutoSpaceSettings(tournament=21), "tournament=21 exceeds the population of 20"),
    (lambda: AutoSpaceSettings(reference="|nor_conv_3x3~0|"), "node group"),
    (lambda: AutoSpaceSettings(population=30, hamming=1), "does not fit within Hamming distance 1"),
    (lambda: AutoSpaceSettings(fitness_lr=0), "fitness_lr must be a positive number"),
    (lambda: run_eps(EpsSettings(), "x", cells=np.zeros((1, 6), int), truth=[1.0], train_config=None), "trains"),
])
def test_bad_settings_are_refused(bad, match):
    with pytest.raises(HarnessError, match=match):
        bad()
