"""AutoSpace (Zhou et al. 2021) on NB201 cells: a population whose fitness is learned with the supernet's weights.

Each of the `population` members carries a fitness logit. Every training step draws a member uniformly (so every
member's path gets the same training, and a member does not win by being trained more), trains its child's
weights on the batch (SGD as the config says), and moves the logits with Adam along the gradient of
`fitness_objective`: P * softmax(fitness)[i] * (L_i - b), i.e. the gate g = softmax(fitness)_i / q_i (q_i = 1/P,
the sampling probability) times the child's loss L_i against a running loss b. It estimates, without bias, the
gradient of sum_j softmax(fitness)_j * L_j: a member whose child's loss is below the running loss gains fitness,
one above it loses some. The gate acts on the detached loss, so the weights see the plain loss.

Every `epochs_per_generation` epochs (except after the last generation) the population evolves: a tournament of
`tournament` members picks the fittest as parent, R_EA's mutation makes a child new to the population, and the
child replaces the least fit member, with the mean fitness of the others (its Adam moments reset). During the
first half of the generations (generation <= generations // 2) every member stays within Hamming distance
`hamming` of the `reference` cell: the initial population is drawn inside that ball and mutants must stay in it.
The default reference is the all-`nor_conv_3x3` cell, the cell with the most conv ops and weights (the prior a
designer would pick; it ranks in the top 1.1% on CIFAR-10); pass another arch string, e.g. a cell of your own.
The searched space is the top `top_k` members by final fitness.

The supernet's schedule spans all generations (one cosine schedule of generations x epochs_per_generation epochs;
the config's `epochs` is replaced). Resumable by generation: `state.pt` (weights, both optimisers, the schedule,
fitness, population, running loss and every random state) and `history.json` are written after each generation;
an interrupted run restarts the generation in progress.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from harness.analysis.metrics import kendall_tau
from harness.atomic import atomic_write
from harness.errors import HarnessError
from harness.shrink.history import check_identity, check_positive, identity_of, save_history
from harness.shrink.population import SpaceIndex, outside, within_hamming
from harness.space import NUM_EDGES, NUM_OPS, OPS, format_arch, format_archs, parse_arch
from harness.train.loop import autocast, clear_gradients, prepare_batch, training_setup

#: the default reference cell: nor_conv_3x3 on every edge
DEFAULT_REFERENCE = format_arch([OPS.index("nor_conv_3x3")] * NUM_EDGES)
#: momentum of the running loss b that each step's loss is compared with
BASELINE_MOMENTUM = 0.9


@dataclass(frozen=True)
class AutoSpaceSettings:
    """Population, evolution and the fitness logits' learning rate; `reference` is an arch string."""

    population: int = 20
    generations: int = 10
    epochs_per_generation: int = 2
    tournament: int = 5
    hamming: int = 2
    reference: str = DEFAULT_REFERENCE
    top_k: int = 10
    fitness_lr: float = 0.01
    seed: int = 0

    def __post_init__(self):
        check_positive(self, ("population", "generations", "epochs_per_generation", "tournament", "top_k"))
        object.__setattr__(self, "reference", format_arch(parse_arch(self.reference)))
        if isinstance(self.hamming, bool) or not isinstance(self.hamming, int) or not 0 <= self.hamming <= NUM_EDGES:
            raise HarnessError(f"hamming must be an integer in 0..{NUM_EDGES} (edges that may differ from the "
                               f"reference), got {self.hamming!r}")
        for name in ("tournament", "top_k"):
            if getattr(self, name) > self.population:
                raise HarnessError(f"{name}={getattr(self, name)} exceeds the population of {self.population}")
        ball = sum(math.comb(NUM_EDGES, d) * (NUM_OPS - 1) ** d for d in range(self.hamming + 1))
        if self.population > ball:
            raise HarnessError(f"a population of {self.population} does not fit within Hamming distance "
                               f"{self.hamming} of the reference ({ball} cells); raise hamming or shrink population")
        if isinstance(self.fitness_lr, bool) or not isinstance(self.fitness_lr, (int, float)) or \
                not 0 < self.fitness_lr < math.inf:
            raise HarnessError(f"fitness_lr must be a positive number, got {self.fitness_lr!r}")


def fitness_objective(fitness: torch.Tensor, member: int, loss, baseline: float) -> torch.Tensor:
    """The fitness logits' term of one step that trained `member`'s child: P * softmax(fitness)[member] *
    (loss - baseline), with `loss` detached. Descending it raises the member's logit when its loss is below the
    baseline and lowers it when above."""
    return len(fitness) * torch.softmax(fitness, dim=0)[member] * (loss - baseline)


def supernet_config_of(settings: AutoSpaceSettings, train_config):
    """The supernet configuration a run trains with: SPOS over the whole space (the population is sampled by the
    run itself), one schedule over every generation's epochs."""
    return replace(train_config, mode="spos", allowed=None, checkpoint_epochs=(),
                   epochs=settings.generations * settings.epochs_per_generation)


def run_autospace(settings: AutoSpaceSettings, out: str | Path, *, cells: np.ndarray, truth: np.ndarray,
                  train_config, progress: bool = True) -> list[dict]:
    """Run (or resume) AutoSpace into `out`; returns one record per generation. `cells` (n, 6) and `truth` (n,)
    are the whole space and its ground truth; `train_config` the supernet's `TrainConfig`."""
    if train_config is None:
        raise HarnessError("AutoSpace trains a supernet: pass train_config (data, channels, ...)")
    out = Path(out)
    space = SpaceIndex(cells, truth)
    config = supernet_config_of(settings, train_config)
    identity = identity_of(settings, config, __name__)
    reference = parse_arch(settings.reference)
    near_reference = within_hamming(reference, settings.hamming)
    run = _Run(settings, config, space.random_cells(settings.population, np.random.default_rng([settings.seed, 0]),
                                                    near_reference))
    history = run.resume(out / "state.pt", identity)
    for generation in tqdm(range(len(history) + 1, settings.generations + 1), desc="AutoSpace generations",
                           initial=len(history), total=settings.generations, disable=not progress):
        began = time.perf_counter()
        losses = [run.train_epoch() for _ in range(settings.epochs_per_generation)]
        record = _record(space, settings, generation, run, reference)
        record["train_loss"] = float(np.mean(losses))
        if generation < settings.generations:
            constrained = generation <= settings.generations // 2
            allowed = outside(run.population)
            if constrained:
                allowed &= near_reference
            record.update(_evolve(space, settings, generation, run, allowed), constrained=constrained)
        record["seconds"] = time.perf_counter() - began
        history.append(record)
        run.save(out / "state.pt", identity, history)
        save_history(out, identity, history)
    return history


def _record(space: SpaceIndex, settings: AutoSpaceSettings, generation: int, run: _Run, reference) -> dict:
    population = run.population
    fitness = run.fitness.detach().cpu().double().numpy()
    truth = space.truth_of(population)
    top = population[np.argsort(-fitness, kind="stable")[:settings.top_k]]
    return {"generation": generation, "population": format_archs(population), "fitness": fitness.tolist(),
            "truth": truth.tolist(), "distance_to_reference": (population != reference).sum(axis=1).tolist(),
            "kendall_tau": kendall_tau(truth, fitness), "mean_truth": float(truth.mean()),
            "best_truth": float(truth.max()), "pick": space.pick(population, fitness),
            "top_k": format_archs(top), "quality": space.quality(top)}


def _evolve(space: SpaceIndex, settings: AutoSpaceSettings, generation: int, run: _Run, allowed) -> dict:
    """Tournament, mutation inside `allowed` (by code), and the least fit member replaced by the child."""
    rng = np.random.default_rng([settings.seed, generation])
    fitness = run.fitness.detach().cpu().numpy()
    contenders = rng.choice(len(fitness), size=settings.tournament, replace=False)
    parent = int(contenders[np.argmax(fitness[contenders])])
    child = space.mutant(run.population[parent], rng, allowed)
    record = {"tournament": format_archs(run.population[contenders]),
              "parent": format_archs(run.population[parent:parent + 1])[0], "child": None, "replaced": None}
    if child is not None:
        worst = int(np.argmin(fitness))
        record.update(child=format_archs(child[None])[0], replaced=format_archs(run.population[worst:worst + 1])[0])
        run.replace_member(worst, child)
    return record


class _Run:
    """The supernet, its optimiser and schedule, the fitness logits and their optimiser, the population, the
    running loss and the random states: everything a generation's checkpoint holds."""

    def __init__(self, settings: AutoSpaceSettings, config, population: np.ndarray):
        self.config = config
        self.device = torch.device(config.device)
        _, self.model, self.optimizer, self.scheduler, self.batches = training_setup(config)
        self.fitness = torch.zeros(len(population), device=self.device, requires_grad=True)
        self.fitness_optimizer = torch.optim.Adam([self.fitness], lr=settings.fitness_lr)
        self.sampler = np.random.default_rng([settings.seed, 1])
        self.population = population
        self.baseline: float | None = None

    def train_epoch(self) -> float:
        """One epoch, each step training a uniformly drawn member; returns the mean training loss."""
        self.model.train()
        total, steps = 0.0, 0
        for x, y in tqdm(self.batches, desc="steps", leave=False, disable=not self.config.progress):
            member = int(self.sampler.integers(len(self.population)))
            with autocast(self.device):
                loss = F.cross_entropy(self.model(prepare_batch(x, self.device), self.population[member]), y)
            value = float(loss.detach())
            baseline = value if self.baseline is None else self.baseline
            clear_gradients(self.optimizer, self.config.decay)
            self.fitness_optimizer.zero_grad(set_to_none=True)
            (loss + fitness_objective(self.fitness, member, loss.detach().float(), baseline)).backward()
            if self.config.grad_clip:
                torch.nn.utils.clip_grad_norm_(self.optimizer.param_groups[0]["params"], self.config.grad_clip)
            self.optimizer.step()
            self.fitness_optimizer.step()
            self.baseline = BASELINE_MOMENTUM * baseline + (1 - BASELINE_MOMENTUM) * value
            total, steps = total + value, steps + 1
        self.scheduler.step()
        return total / max(steps, 1)

    def replace_member(self, position: int, cell: np.ndarray) -> None:
        """`cell` takes `position`, with the mean fitness of the other members and fresh Adam moments."""
        self.population = self.population.copy()
        self.population[position] = cell
        with torch.no_grad():
            others = torch.ones_like(self.fitness, dtype=torch.bool)
            others[position] = False
            self.fitness[position] = self.fitness[others].mean() if others.any() else 0.0
        for moment in ("exp_avg", "exp_avg_sq"):
            state = self.fitness_optimizer.state.get(self.fitness, {})
            if moment in state:
                state[moment][position] = 0.0

    def save(self, path: Path, identity: dict, history: list[dict]) -> None:
        state = {"identity": identity, "generations": history, "model": self.model.state_dict(),
                 "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                 "fitness": self.fitness.detach().cpu(), "fitness_optimizer": self.fitness_optimizer.state_dict(),
                 "population": self.population.tolist(), "baseline": self.baseline,
                 "batches": self.batches.state_dict(), "sampler": self.sampler.bit_generator.state,
                 "torch_rng": torch.get_rng_state()}
        atomic_write(path, lambda tmp: torch.save(state, tmp))

    def resume(self, path: Path, identity: dict) -> list[dict]:
        """Load `path` if it exists (the finished generations), else keep the fresh start (none finished)."""
        if not path.exists():
            return []
        state = torch.load(path, map_location="cpu", weights_only=False)
        check_identity(path.parent, state["identity"], identity)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        with torch.no_grad():
            self.fitness.copy_(state["fitness"])
        self.fitness_optimizer.load_state_dict(state["fitness_optimizer"])
        self.population = np.array(state["population"], dtype=np.int8)
        self.baseline = state["baseline"]
        self.batches.load_state_dict(state["batches"])
        self.sampler.bit_generator.state = state["sampler"]
        torch.set_rng_state(state["torch_rng"])
        return state["generations"]
