"""EPS and AutoSpace on real CIFAR-10 at tiny settings against the real table: the populations' invariants (size,
FIFO aging, EPS's parents and children, AutoSpace's Hamming ball), EPS's op-wise mutation, its scoring and pick
checked against independent computations, exact checks with a known scorer, seeded reproducibility, resume after an
interruption, the command line, and settings refused."""
import json
import math
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from harness.analysis.metrics import kendall_tau
from harness.analysis.shrunk_space import in_space, space_quality
from harness.cli.main import main
from harness.cli.shrink_cmd import EPS_CHOICES
from harness.data import load_split
from harness.errors import HarnessError
from harness.nets import Supernet
from harness.shrink import (AutoSpaceSettings, EpsSettings, eps_top20, fitness_objective, load_eps_model,
                            run_autospace, run_eps)
from harness.shrink.eps import CHOICES, FIRST_SCORE_OFFSET, _Reshuffled, _Stream, mutate_ops, pick, supernet_config_of
from harness.space import NUM_CELLS, decode, encode, parse_arch, parse_archs
from harness.train import supernet_config

pytestmark = pytest.mark.usefixtures("one_torch_thread")

EPS = EpsSettings(population=8, sample=4, parents=2, iterations=12, generation_iterations=2, pick_window=6,
                  valid_images=32, batch_size=32)
#: one generation: its scores are of the trained supernet as it ends
ONE = EpsSettings(population=4, sample=3, parents=1, iterations=2, generation_iterations=2, pick_window=2,
                  valid_images=16, batch_size=16)
AUTO = AutoSpaceSettings(population=6, generations=4, epochs_per_generation=1, tournament=3, hamming=1, top_k=3)


@pytest.fixture(scope="module")
def space(table_oracle):
    return (table_oracle.cells(), table_oracle.accuracy(dataset="cifar10", split="ori-test"),
            table_oracle.cost("params", dataset="cifar10"))


@pytest.fixture(scope="module")
def tiny(cifar10_root, nb201_dir):
    return supernet_config(channels=4, cells=1, resolution=8, samples=0.02, batch_size=64, valid_cells=1,
                           valid_batches=1, data_root=str(cifar10_root), splits_dir=str(nb201_dir / "splits"),
                           progress=False)


def eps(settings, out, space, tiny, **kwargs):
    cells, truth, params = space
    return run_eps(settings, out, cells=cells, truth=truth, params=params, train_config=tiny, progress=False,
                   **kwargs)


@pytest.fixture(scope="module")
def eps_run(space, tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("eps")
    return out, eps(EPS, out, space, tiny, checkpoint_every=2)


@pytest.fixture(scope="module")
def autospace_run(space, tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("autospace")
    return out, run_autospace(AUTO, out, cells=space[0], truth=space[1], train_config=tiny, progress=False)


def truth_lookup(space):
    cells, truth = space[:2]
    position = {code: i for i, code in enumerate(encode(cells))}
    return lambda model, some: truth[[position[code] for code in encode(some)]]


def without_seconds(history: list[dict]) -> str:
    """A history as JSON without the seconds spent, so that equal runs compare equal (NaN too)."""
    return json.dumps([{k: v for k, v in record.items() if k != "seconds"} for record in history])


def same(a: list[dict], b: list[dict]) -> bool:
    return without_seconds(a) == without_seconds(b)


def one_edge_apart(a: str, b: str) -> bool:
    return int((parse_arch(a) != parse_arch(b)).sum()) == 1


def members_in_order(history: list[dict]) -> list[int]:
    """Every member's cell (row) by birth number: the initial population oldest first, then each generation's
    children in order."""
    return history[0]["initial_population"] + [c for r in history for c in r.get("children", [])]


def replay(history: list[dict], settings: EpsSettings):
    """Per generation, what the released rules make of the recorded scores, recomputed from the history alone:
    (alive birth numbers, each member's fitness and times scored after the generation's scoring)."""
    fitness, scored = {}, {}
    for g, record in enumerate(history):
        for member, loss in zip(record["members"], record["losses"]):
            fitness[member] = loss + (FIRST_SCORE_OFFSET if scored.get(member, 0) == 0 else 0.0)
            scored[member] = scored.get(member, 0) + 1
        yield range(g * settings.parents, g * settings.parents + settings.population), dict(fitness), dict(scored)


def check_released_rules(history: list[dict], settings: EpsSettings, truth) -> None:
    """FIFO aging, the sample, the parents (the best-loss members of the sample scored at least twice), the
    snapshot's best (the lowest latest loss over the population) and the children, against the history alone."""
    cells_by_birth = members_in_order(history)
    assert len(cells_by_birth) == settings.population + settings.parents * (len(history) - 1)
    for record, (alive, fitness, scored) in zip(history, replay(history, settings)):
        assert len(set(record["members"])) == settings.sample and set(record["members"]) <= set(alive)
        assert record["sample"] == [cells_by_birth[m] for m in record["members"]]
        assert record["scored"] == [scored[m] for m in record["members"]]
        assert record["kendall_tau"] == pytest.approx(kendall_tau(truth[record["sample"]], -np.array(record["losses"])),
                                                      nan_ok=True)
        ranked = [m for m in alive if m in scored]  # oldest first: ties go to the oldest
        best = min(ranked, key=lambda m: fitness[m])
        assert record["pick"]["index"] == cells_by_birth[best] and record["pick"]["value"] == fitness[best]
        assert record["pick"]["global_rank"] == int((truth > truth[cells_by_birth[best]]).sum()) + 1
        if "children" not in record:
            assert record["population"] == [cells_by_birth[m] for m in alive]  # the last, oldest first
            continue
        key = [fitness[m] if scored[m] >= settings.parent_min_scores else math.inf for m in record["members"]]
        assert record["parents"] == list(np.argsort(key, kind="stable")[:settings.parents])
        assert record["dropped"] == [cells_by_birth[m] for m in alive[:settings.parents]]  # the oldest leave
        born = alive[-1] + 1
        assert record["children"] == cells_by_birth[born:born + settings.parents]  # they join at the young end


def test_eps_population_ages_parents_and_children(eps_run, space):
    out, history = eps_run
    assert [r["generation"] for r in history] == list(range(1, 7))
    assert [r["iteration"] for r in history] == list(range(2, 13, 2))
    assert history[0]["scored"] == [1] * EPS.sample and history[0]["parents"] == [0, 1]  # none scored twice yet
    assert any(s >= 2 for r in history for s in r["scored"])  # later, parents by loss
    check_released_rules(history, EPS, space[1])
    assert len(history[-1]["population"]) == EPS.population
    assert history[-1]["lr"] == pytest.approx(0.0, abs=1e-12) and history[0]["lr"] == pytest.approx(EPS.lr_at(2))
    assert same(json.loads((out / "history.json").read_text())["generations"], history)


def test_eps_with_a_known_scorer_evolves_exactly(space, tiny, tmp_path):
    """The loss 100 - truth: the parents are the sample's best cells by ground truth, the no-prior pick is the best
    cell among the window's snapshot bests; distinct cells and children new to the population on request."""
    lookup = truth_lookup(space)
    settings = replace(EPS, distinct=True, mutation="change", parent_min_scores=1)
    history = eps(settings, tmp_path, space, tiny, scorer=lambda model, cells: 100 - lookup(model, cells))
    truth = space[1]
    check_released_rules(history, settings, truth)
    cells_by_birth = members_in_order(history)
    assert len(set(history[0]["initial_population"])) == settings.population
    for g, record in enumerate(history[:-1]):
        np.testing.assert_allclose(record["losses"], 100 - truth[record["sample"]])
        alive = cells_by_birth[g * settings.parents:g * settings.parents + settings.population]
        assert len(set(record["children"])) == settings.parents and not set(record["children"]) & set(alive)
        parents = [record["sample"][i] for i in record["parents"]]
        best = sorted(truth[record["sample"]], reverse=True)[:settings.parents]
        np.testing.assert_allclose(sorted(truth[parents], reverse=True), best)
    window = [r for r in history if r["iteration"] > settings.iterations - settings.pick_window]
    assert history[-1]["picks"]["no_prior"]["truth"] == max(truth[r["pick"]["index"]] for r in window)


def test_mutation_redraws_each_op_with_probability_one_half():
    rng = np.random.default_rng(7)
    parents = decode(rng.integers(0, NUM_CELLS, 20_000))
    for mutation, changed in (("redraw", 0.5 * 4 / 5), ("change", 0.5)):  # redrawn from 5 ops, it stays w.p. 1/5
        children = np.array([mutate_ops(p, rng, 0.5, mutation) for p in parents])
        moved = children != parents
        assert abs(moved.mean() - changed) < 0.006, mutation  # 120,000 ops: std 0.0014
        assert np.abs(moved.mean(axis=0) - changed).max() < 0.015, mutation  # each edge alike
        counts = np.bincount(moved.sum(axis=1), minlength=7) / len(parents)
        binomial = [math.comb(6, k) * changed ** k * (1 - changed) ** (6 - k) for k in range(7)]
        assert np.abs(counts - binomial).max() < 0.015, mutation  # the ops independently
        shift = (children - parents)[moved] % 5  # which other op: uniform over the 4
        assert np.abs(np.bincount(shift, minlength=5)[1:] / moved.sum() - 0.25).max() < 0.01, mutation
    assert (mutate_ops(parents[0], rng, 1.0, "change") != parents[0]).all()


def test_pick_prior_latest_loss_and_ties():
    cells = decode(np.arange(4))
    params = np.array([0.1, 1.5, 1.5, 0.1])
    prior = [v + 1.4 * math.exp(-5.2 * p / 1.531546) for v, p in zip((1.0, 1.5), (0.1, 1.5))]  # rows 0 and 1
    snapshots = [(0, 0.5), (1, 1.5), (0, 1.0)]  # row 0's latest snapshot as the best says 1.0
    assert pick(snapshots, params, cells, 0.0, 5.2, 1.531546) == (0, 1.0, 1.0)
    assert pick(snapshots, params, cells, 1.4, 5.2, 1.531546) == (1, 1.5, pytest.approx(prior[1]))
    assert prior[0] > prior[1]  # the prior turns the pick to the larger cell
    assert pick([(3, 1.0), (2, 1.0)], np.array([0, 0, 0.2, 0.2]), cells, 0.0, 5.2, 1.5)[0] == 3  # same params
    assert pick([(0, 1.0), (2, 1.0)], params, cells, 0.0, 5.2, 1.5)[0] == 2  # a tie goes to the most parameters


def test_eps_picks_over_the_window_with_and_without_the_prior(space, tiny, tmp_path):
    """Snapshots before the window score far better, so a pick over all of them would differ; the prior's pick is
    the independent formula's over the window's snapshot bests, each with its latest loss."""
    lookup, generation = truth_lookup(space), []

    def scorer(model, cells):
        generation.append(1)
        return (100 - lookup(model, cells)) / 100 + (0.0 if len(generation) <= 3 else 5.0)
    settings = replace(EPS, snapshot="sample")
    history = eps(settings, tmp_path, space, tiny, scorer=scorer)
    cells, truth, params = space
    window = [(r["pick"]["index"], r["pick"]["value"]) for r in history[3:]]
    for r in history:  # each snapshot's best: the sample's lowest loss (a first score + FIRST_SCORE_OFFSET)
        fitness = np.array(r["losses"]) + FIRST_SCORE_OFFSET * (np.array(r["scored"]) == 1)
        assert r["pick"]["index"] == r["sample"][int(np.argmin(fitness))]
    latest = dict(window)
    scores = {row: loss + 1.4 * np.exp(-5.2 * params[row] / 1.531546) for row, loss in latest.items()}
    picks = history[-1]["picks"]
    assert picks["prior"]["index"] == min(scores, key=scores.get) and picks["prior"]["score"] == \
        pytest.approx(min(scores.values()))
    assert picks["no_prior"]["index"] == min(latest, key=latest.get) and picks["no_prior"]["loss"] >= 5
    assert picks["prior"]["window"] == 3 and picks["prior"]["truth"] == truth[picks["prior"]["index"]]
    assert picks["prior"]["global_rank"] == int((truth > picks["prior"]["truth"]).sum()) + 1
    assert picks["prior"]["params_mb"] == params[picks["prior"]["index"]]


@pytest.mark.parametrize("scoring", ["stream", "fixed"])
def test_eps_scores_by_the_loss_with_batch_statistics(space, tiny, tmp_path, scoring):
    """The losses recorded are the label-smoothed losses of the trained supernet on the validation batches: the
    next batch of the reshuffled stream for each member, or the first for all; every BN on batch statistics."""
    settings = replace(ONE, scoring=scoring)
    record = eps(settings, tmp_path, space, tiny)[0]
    model = load_eps_model(tmp_path, settings, tiny)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    assert norms and all(m.running_mean is None and not m.track_running_stats for m in norms)
    assert not [k for k in torch.load(tmp_path / "state.pt", weights_only=False)["model"] if "running" in k]
    config = supernet_config_of(settings, tiny)
    valid = load_split(config.dataset, config.valid_split, config.data_root, config.splits_dir)
    batches = list(_Reshuffled(valid, 16, "cpu", config.seed + 1, config.resolution))[:settings.sample]
    cells = space[0][record["sample"]]
    with torch.no_grad():
        for i, cell in enumerate(cells):
            x, y = batches[i if scoring == "stream" else 0]
            expected = [F.cross_entropy(model.train(mode)(x, cell), y, label_smoothing=0.1).item()
                        for mode in (True, False)]
            assert expected[0] == expected[1] and record["losses"][i] == pytest.approx(expected[0], rel=1e-6)


#: a cell with no path to the output, all `none` but one dead conv, all pooling, all convs, and random ones
ENGINE_CELLS = np.vstack([[[0, 0, 0, 0, 0, 0], [3, 1, 0, 0, 0, 2], [4, 4, 4, 4, 4, 4], [3, 3, 3, 3, 3, 3],
                           [0, 3, 2, 1, 3, 0]], decode(np.random.default_rng(3).choice(NUM_CELLS, 4, replace=False))])


@pytest.mark.parametrize("scoring", ["stream", "fixed"])
def test_eps_scores_many_members_in_one_pass_as_one_at_a_time(space, tiny, eps_run, scoring):
    """batch_cells K: the members' losses (each on its own stream batch, or all on one) and the top-20 check's
    accuracies equal one member at a time, for K that splits the cells unevenly and for all in one pass, and do
    not depend on which members share a pass."""
    from harness.shrink.eps import _Run
    from harness.shrink.population import SpaceIndex
    from harness.shrink.top20 import batch_stat_scorer

    model = load_eps_model(eps_run[0], EPS, tiny)

    def losses(K, cells):
        settings = replace(EPS, scoring=scoring, batch_cells=K)
        run = _Run(settings, supernet_config_of(settings, tiny), SpaceIndex(*space[:2]))
        return run.validation_loss(model, cells)
    one = losses(1, ENGINE_CELLS)
    for K in (4, len(ENGINE_CELLS)):
        np.testing.assert_allclose(losses(K, ENGINE_CELLS), one, rtol=1e-5)
    if scoring == "fixed":  # the same batch for all: the order of the members is free
        order = np.random.default_rng(4).permutation(len(ENGINE_CELLS))
        np.testing.assert_allclose(losses(4, ENGINE_CELLS[order]), one[order], rtol=1e-5)
        config = supernet_config_of(EPS, tiny)
        accuracy = {K: batch_stat_scorer(config, 2, batch_cells=K)(model, ENGINE_CELLS) for K in (1, 4)}
        np.testing.assert_allclose(accuracy[4], accuracy[1], atol=100 / 64 + 1e-9)  # a near-tie: one image
        with pytest.raises(HarnessError, match="batch_cells=0: expected a positive int"):
            batch_stat_scorer(config, 2, batch_cells=0)


def test_eps_resumes_after_an_interruption_and_is_seeded(eps_run, space, tiny, tmp_path, monkeypatch):
    _, whole = eps_run
    import harness.shrink.eps as module

    original, calls = module._Run.evolve, []

    def stop_in_generation_5(run):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return original(run)
    monkeypatch.setattr(module._Run, "evolve", stop_in_generation_5)
    with pytest.raises(KeyboardInterrupt):
        eps(EPS, tmp_path / "cut", space, tiny, checkpoint_every=2)
    assert len(json.loads((tmp_path / "cut" / "history.json").read_text())["generations"]) == 4
    monkeypatch.setattr(module._Run, "evolve", original)
    resumed = eps(EPS, tmp_path / "cut", space, tiny, checkpoint_every=2)
    assert same(resumed, whole)
    other = eps(replace(EPS, seed=1), tmp_path / "seed1", space, tiny)
    assert other[0]["initial_population"] != whole[0]["initial_population"]
    for changed in (replace(EPS, parents=1), replace(EPS, scoring="fixed")):
        with pytest.raises(HarnessError, match="other settings"):
            eps(changed, tmp_path / "cut", space, tiny)
    with pytest.raises(HarnessError, match="other settings"):
        eps(EPS, tmp_path / "cut", space, replace(tiny, channels=8))


def test_top20_kendall_on_known_scores(space, eps_run, tiny):
    cells, truth, _ = space
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
    trained = eps_top20(load_eps_model(eps_run[0], EPS, tiny), cells, truth, sample=40, valid_batches=1,
                        train_config=supernet_config_of(EPS, tiny), progress=False)
    assert trained["cells"] == 40 and trained["top20_cells"] == 8 and -1 <= trained["kendall_tau"] <= 1
    with pytest.raises(HarnessError, match="train_config"):
        eps_top20(Supernet(4, 1), cells, truth, sample=10, progress=False)


def test_autospace_population_hamming_ball_and_tournaments(autospace_run, space):
    out, history = autospace_run
    cells, truth = space[:2]
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
    common = ["--channels", "4", "--cells", "1", "--resolution", "8", "--samples", "0.02", "--data-root",
              tiny.data_root, "--splits", tiny.splits_dir, "--cache", str(table_oracle.path), "--quiet"]
    assert main(["shrink", "eps", "--population", "6", "--sample", "3", "--parents", "2", "--iterations", "4",
                 "--generation-iterations", "2", "--pick-window", "2", "--valid-images", "16", "--batch-size", "16",
                 "--top20-sample", "30", "--out", str(tmp_path / "eps"), *common]) == 0
    auto = ["--generations", "2", "--epochs-per-generation", "1", *common]
    assert main(["shrink", "autospace", "--population", "5", "--tournament", "2", "--top-k", "3",
                 "--out", str(tmp_path / "auto"), *auto]) == 0
    printed = capsys.readouterr().out
    assert printed.count("final pick") == 3 and "final pick with the prior" in printed
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
    assert "Final pick without the prior" in (tmp_path / "eps" / "report.md").read_text()
    assert json.loads((tmp_path / "eps" / "top20.json").read_text())["top20_cells"] == 6
    assert json.loads((tmp_path / "eps" / "provenance.json").read_text())["settings"]["population"] == 6
    assert main(["shrink", "autospace", "--hamming", "7", "--out", str(tmp_path / "x"), *auto]) == 2
    assert "hamming must be an integer in 0..6" in capsys.readouterr().err
    assert main(["shrink", "eps", "--iterations", "75", "--out", str(tmp_path / "y"), *common]) == 2
    assert "iterations=75 is not a whole number of generations" in capsys.readouterr().err
    assert {name: choices for name, (choices, _) in EPS_CHOICES.items()} == CHOICES


@pytest.mark.parametrize("bad, match", [
    (lambda: EpsSettings(population=0), "population must be a positive integer, got 0"),
    (lambda: EpsSettings(sample=300), "sample=300 <= population=256 does not hold"),
    (lambda: EpsSettings(parents=65), "parents=65 <= sample=64"),
    (lambda: EpsSettings(iterations=80_010), "iterations=80010 is not a whole number of generations"),
    (lambda: EpsSettings(pick_window=90_000, iterations=80_000), "pick_window=90000 <= iterations=80000"),
    (lambda: EpsSettings(mutation_p=0), r"mutation_p=0 is not a number in \(0, 1\]"),
    (lambda: EpsSettings(label_smoothing=1.0), r"label_smoothing=1.0 is not a number in \[0, 1\)"),
    (lambda: EpsSettings(lr="0.1"), "lr='0.1' is not a number"),
    (lambda: EpsSettings(mutation="swap"), "mutation='swap' is not one of redraw, change"),
    (lambda: EpsSettings(distinct="yes"), "distinct='yes' must be True or False"),
    (lambda: EpsSettings(seed=-1), "seed must be an integer >= 0"),
    (lambda: AutoSpaceSettings(tournament=21), "tournament=21 exceeds the population of 20"),
    (lambda: AutoSpaceSettings(reference="|nor_conv_3x3~0|"), "node group"),
    (lambda: AutoSpaceSettings(population=30, hamming=1), "does not fit within Hamming distance 1"),
    (lambda: AutoSpaceSettings(fitness_lr=0), "fitness_lr must be a positive number"),
    (lambda: run_eps(EpsSettings(), "x", cells=np.zeros((1, 6), int), truth=[1.0], params=[1.0], train_config=None),
     "trains"),
    (lambda: run_eps(EpsSettings(), "x", cells=np.zeros((1, 6), int), truth=[1.0], params=[1.0, 2.0],
                     train_config=supernet_config()), "params must hold one"),
])
def test_bad_settings_are_refused(bad, match):
    with pytest.raises(HarnessError, match=match):
        bad()


def test_the_validation_stream_is_unaugmented_and_reshuffled_every_epoch():
    """EPS scores each member on the next batch of a reshuffled validation stream: every epoch all images (the
    ragged rest dropped), unchanged, in an order drawn from (seed, epoch); the same seed gives the same stream."""
    from harness.data import MEAN_STD, ImageSet

    images = torch.randint(0, 256, (40, 3, 8, 8), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    data = ImageSet(images, torch.arange(40), 40, *MEAN_STD["cifar10"], "random")
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in MEAN_STD["cifar10"])
    stream = _Stream(_Reshuffled(data, 16, "cpu", seed=5, resolution=None))
    epochs = [[stream.next() for _ in range(2)] for _ in range(2)]  # 2 batches of 16 per epoch
    for epoch in epochs:
        x, y = torch.cat([b[0] for b in epoch]), torch.cat([b[1] for b in epoch])
        assert len(y) == 32 and torch.unique(y).numel() == 32
        assert torch.equal((x * std + mean).round().to(torch.uint8), images[y])  # not augmented
    assert not torch.equal(epochs[0][0][1], epochs[1][0][1])
    again = _Stream(_Reshuffled(data, 16, "cpu", seed=5, resolution=None))
    again.seek(2)  # a resumed stream continues where the interrupted one was
    assert torch.equal(again.next()[1], epochs[1][0][1])
