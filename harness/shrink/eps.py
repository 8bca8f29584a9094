"""EPS (Evolving the Proxy Search Space, an anonymous ICLR 2021 submission, openreview qk0FE399OJ) as its released
code runs it on NAS-Bench-201: one supernet trained by iterations inside an aging population of cells.

The algorithm. A population of `population` random cells, oldest first. Each generation (`generation_iterations`
SGD steps) trains the supernet on cells drawn uniformly, one per step, from the generation's `sample` members
drawn from the population; then scores each sampled member by its loss on one `valid_images`-image batch of the
validation split; the `parents` best become parents of one op-wise mutant each, the children join at the young end
and as many of the oldest leave. The pick: over the snapshots of the last `pick_window` iterations, each snapshot's
best-loss member, scored `loss + prior_weight * exp(-prior_decay * params_mb / prior_params_mb)`; the minimum.

Read from the released code, github IcLr2020SuBmIsSiOn/EPS (read only, nothing copied):
- `search_cnn_nasbench/run.sh`: `--max-population=256 --select-number=64 --mutation-len=4 --mutation-number=1
  --val-interval=50 --evo-momentum=0.`, seeds 111..555.
- `search_cnn_nasbench/searcher.py`: 80,000 iterations of batch 128; SGD lr 0.1, momentum 0.9 (no Nesterov), weight
  decay 4e-5 on conv and linear weights only (`utils.get_parameters`); `CosineAnnealingLR(T_max=80000)` stepped
  before each step (step i runs at 0.05 (1 + cos(pi i / 80000))); label smoothing 0.1 (`CrossEntropyLabelSmooth`,
  the fitness loss too); C=16, N=17//3=5, the stem, cell and head BNs `affine=False, track_running_stats=False`
  and the model never in eval mode: batch statistics everywhere. Training images: the search-train half
  (`cifar-split.txt` train), augmented; validation: the search-valid half, unaugmented, batches of 250 through a `SubsetRandomSampler`.
  Every 50 iterations the population is written to `%06d-ep.txt` (each member's structure, latest loss and times
  scored) and evolved; each generation trains on `trained_group`, the 64 sampled members (`random.choice` per
  step), then `validate` scores them in turn, EACH ON THE NEXT BATCH of the reshuffled validation stream. A
  member's first score gets +1e-4; with evo-momentum 0 a later score replaces the loss.
- `search_cnn_nasbench/evo_controller.py`: the initial 256 are drawn op by op (repeats possible); the sample is
  `random.sample` (without replacement); `select()` sorts the sample by loss, a member scored only once counting as
  100 (so the parents are the best of those scored at least twice), mutates the 4 first: each op, with
  p_opwise = 0.5, redrawn by `random.choice` over all 5 ops (it may stay: it changes with p 0.4); no check that a
  child is new (it may even equal its parent); children appended, the population trimmed from the front (FIFO).
- `search_cnn_nasbench/InstructionForSelection.ipynb`: the snapshot files of iterations 70,050..80,000 (200);
  each one's best member (lowest loss among those scored at least once); per cell the loss of its latest snapshot as
  the best; + 1.4 exp(-5.2 params / 1.531546), params from `all_structure_params.json`, CIFAR-10's count in MB
  (1.531546 is its largest cell); the minimum wins, ties to the most parameters. Published pick: 94.36, 94.29,
  94.37, 94.29, 94.37 (CIFAR-10 test).

Where that differs from the paper's description (REFERENCE.md), the released reading is the default and the other a
named setting: `train_from` ("sample" | "population": every step draws from the whole population), `scoring`
("stream" | "fixed": one batch for every member), `parent_min_scores` (2 | 1: any scored member may be a parent),
`mutation` ("redraw" | "change": an op mutated always becomes one of the other 4), `distinct` (False | True: 256
distinct cells, children new to the population), `snapshot` ("population" | "sample": a snapshot holds only the
generation's scored sample). The harness's Supernet keeps its stem and head BN affine (released: not).
`batch_cells` K > 1 scores K members in one pass of `harness.nets.batched` (each on its batch, with its own batch
statistics: the same losses to float rounding); the default, 1, is the faster on a CPU.

`params` (passed in) is the cells' parameter count in MB, for every dataset CIFAR-10's (`params_mb@cifar10`, the
oracle's `cost("params")`), the count the prior's constants were fitted to.

Resumable: `state.pt` (weights, optimiser, population with losses and ages, the sample, every random state and
the history) is written atomically every `checkpoint_every` generations and at the end, with `history.json` (one
record per generation; cells as rows of `cells`, NB201's indices for the oracle's cells); a rerun of the same
settings, supernet and code resumes, any other is refused.
"""
from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from harness.analysis.metrics import kendall_tau
from harness.atomic import atomic_write
from harness.errors import HarnessError
from harness.shrink.history import check_identity, check_positive, identity_of, load_history, save_history
from harness.shrink.population import SpaceIndex
from harness.space import NUM_EDGES, NUM_OPS, encode, format_arch

#: scores the (n, 6) cells with the supernet; lower is better (it replaces the loss on a validation batch)
Scorer = Callable[[object, np.ndarray], np.ndarray]

#: the readings of the settings where the released code and the paper's text differ; the first is the released
CHOICES = {"mutation": ("redraw", "change"), "train_from": ("sample", "population"),
           "scoring": ("stream", "fixed"), "snapshot": ("population", "sample")}
#: added to a member's first score by the released `validate`
FIRST_SCORE_OFFSET = 1e-4
#: mutants drawn for one child before giving up (only a tiny joinable space runs out)
MUTATION_TRIES = 1000


@dataclass(frozen=True)
class EpsSettings:
    """EPS on NB201; the defaults are the released code's (see the module docstring)."""

    population: int = 256
    sample: int = 64
    parents: int = 4
    iterations: int = 80_000
    generation_iterations: int = 50
    pick_window: int = 10_000
    mutation_p: float = 0.5
    prior_weight: float = 1.4
    prior_decay: float = 5.2
    prior_params_mb: float = 1.531546
    valid_images: int = 250
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 4e-5
    label_smoothing: float = 0.1
    seed: int = 0
    mutation: str = "redraw"
    distinct: bool = False
    train_from: str = "sample"
    scoring: str = "stream"
    parent_min_scores: int = 2
    snapshot: str = "population"
    batch_cells: int = 1

    def __post_init__(self):
        check_positive(self, ("population", "sample", "parents", "iterations", "generation_iterations",
                              "pick_window", "valid_images", "batch_size", "parent_min_scores", "batch_cells"))
        _check_order(self, ("parents", "sample", "population"), "the parents come from the sample, the sample "
                                                                 "from the population")
        for name in ("iterations", "pick_window"):
            if getattr(self, name) % self.generation_iterations:
                raise HarnessError(f"{name}={getattr(self, name)} is not a whole number of generations of "
                                   f"generation_iterations={self.generation_iterations}; pass a multiple of it "
                                   f"(released: 80,000 and 10,000 of 50)")
        _check_order(self, ("pick_window", "iterations"), "the pick's window lies inside the run")
        _check_number(self, "mutation_p", 0, 1, low_open=True)
        _check_number(self, "lr", 0, math.inf, low_open=True, high_open=True)
        _check_number(self, "prior_params_mb", 0, math.inf, low_open=True, high_open=True)
        for name in ("prior_weight", "prior_decay", "weight_decay"):
            _check_number(self, name, 0, math.inf, high_open=True)
        for name in ("momentum", "label_smoothing"):
            _check_number(self, name, 0, 1, high_open=True)
        for name, allowed in CHOICES.items():
            if getattr(self, name) not in allowed:
                raise HarnessError(f"{name}={getattr(self, name)!r} is not one of {', '.join(allowed)}; pass one "
                                   f"of them ({allowed[0]!r} as released)")
        if not isinstance(self.distinct, bool):
            raise HarnessError(f"distinct={self.distinct!r} must be True or False (False as released)")

    @property
    def generations(self) -> int:
        return self.iterations // self.generation_iterations

    def lr_at(self, iteration: int) -> float:
        """The learning rate of step `iteration` (1-based): cosine from `lr` to 0 at the last step, the released
        scheduler stepped before each step."""
        return 0.5 * self.lr * (1 + math.cos(math.pi * iteration / self.iterations))


def _check_order(settings, names, why: str) -> None:
    values = [getattr(settings, n) for n in names]
    if any(a > b for a, b in zip(values, values[1:])):
        raise HarnessError(f"{' <= '.join(f'{n}={v}' for n, v in zip(names, values))} does not hold: {why}; "
                           f"lower the first or raise the last")


def _check_number(settings, name: str, low: float, high: float, low_open=False, high_open=False) -> None:
    value = getattr(settings, name)
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and \
        (low < value if low_open else low <= value) and (value < high if high_open else value <= high)
    if not ok:
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise HarnessError(f"{name}={value!r} is not a number in {interval}; pass one "
                           f"(released: {getattr(EpsSettings, name)})")


def supernet_config_of(settings: EpsSettings, train_config):
    """The supernet configuration EPS trains: the caller's network and data, EPS's optimiser (its `epochs`,
    `valid_cells` and `valid_batches` unused: EPS trains by iterations and scores by its own rule)."""
    return replace(train_config, kind="supernet", mode="spos", sampling="spos", allowed=None,
                   batch_size=settings.batch_size, lr=settings.lr, lr_min=0.0, momentum=settings.momentum,
                   nesterov=False, weight_decay=settings.weight_decay, grad_clip=None, affine=False,
                   track_running_stats=False, checkpoint_epochs=(), seed=settings.seed)


def run_eps(settings: EpsSettings, out: str | Path, *, cells: np.ndarray, truth: np.ndarray, params: np.ndarray,
            train_config, scorer: Scorer | None = None, checkpoint_every: int = 20,
            progress: bool = True) -> list[dict]:
    """Run (or resume) EPS into `out`; returns one record per generation, the last holding the final
    `population`, its `quality` and the `picks` (with the prior and without). `cells` (n, 6), `truth` (n,) and
    `params` (n,) are the whole space, its ground truth and its parameter counts in MB; `train_config` the supernet's
    network and data (`supernet_config_of`); `scorer(model, cells) -> losses` replaces the validation-batch loss."""
    if train_config is None:
        raise HarnessError("EPS trains a supernet: pass train_config (data, channels, ...)")
    if isinstance(checkpoint_every, bool) or not isinstance(checkpoint_every, int) or checkpoint_every < 1:
        raise HarnessError(f"checkpoint_every={checkpoint_every!r} must be a positive number of generations")
    out = Path(out)
    space = SpaceIndex(cells, truth)
    params = np.asarray(params, dtype=np.float64)
    if params.shape != (len(space.cells),) or not np.isfinite(params[np.isfinite(space.truth)]).all():
        raise HarnessError(f"params must hold one finite parameter count (MB) per cell ({len(space.cells)}), got "
                           f"shape {params.shape}; pass the oracle's cost('params', dataset='cifar10')")
    config = supernet_config_of(settings, train_config)
    identity = identity_of(settings, config, __name__)
    run = _Run(settings, config, space)
    history = run.resume(out / "state.pt", identity)
    if not history:
        load_history(out, identity)  # refuses a history of other settings or code in `out`
    score = scorer or run.validation_loss
    bar = tqdm(total=settings.iterations, initial=run.iteration, desc="EPS iterations", unit="it",
               disable=not progress)
    with bar:
        for generation in range(len(history) + 1, settings.generations + 1):
            began = time.perf_counter()
            train_loss = run.train_generation()
            sampled = run.population[run.sample]
            losses = np.asarray(score(run.model, sampled), dtype=np.float64)
            if losses.shape != (len(sampled),):
                raise HarnessError(f"the scorer returned shape {losses.shape} for {len(sampled)} cells")
            run.record_scores(losses)
            record = _record(run, space, generation, losses, train_loss)
            if generation < settings.generations:
                record.update(run.evolve())
            else:
                record.update(population=space.positions(run.population).tolist(),
                              quality=space.quality(run.population), picks=picks(history + [record], settings,
                                                                                 space, params))
            if generation == 1:
                record["initial_population"] = run.initial_rows
            record["seconds"] = time.perf_counter() - began
            history.append(record)
            if generation % checkpoint_every == 0 or generation == settings.generations:
                run.save(out / "state.pt", identity, history)
                save_history(out, identity, history)
            bar.update(settings.generation_iterations)
            bar.set_postfix(loss=f"{train_loss:.3f}", best=f"{record['pick']['value']:.3f}")
    return history


def _record(run: _Run, space: SpaceIndex, generation: int, losses: np.ndarray, train_loss: float) -> dict:
    """What a generation leaves: the sampled members (their cells as rows of the space, and their birth numbers:
    the initial population is 0..P-1 oldest first, children are numbered on), their losses and times scored, and
    its snapshot's best member (`pick`)."""
    sampled = run.population[run.sample]
    truth = space.truth_of(sampled)
    return {"generation": generation, "iteration": run.iteration, "lr": run.settings.lr_at(run.iteration),
            "train_loss": train_loss, "sample": space.positions(sampled).tolist(),
            "members": ((generation - 1) * run.settings.parents + run.sample).tolist(),
            "losses": losses.tolist(), "scored": run.count[run.sample].tolist(),
            "kendall_tau": kendall_tau(truth, -losses), "mean_truth": float(truth.mean()),
            "best_truth": float(truth.max()), "pick": run.snapshot_best(space)}


def picks(history: list[dict], settings: EpsSettings, space: SpaceIndex, params: np.ndarray) -> dict:
    """EPS's pick over the snapshots of the last `pick_window` iterations, with the prior ("prior") and without it
    ("no_prior": the lowest loss), each with its loss, parameters, score, ground truth and global rank."""
    start = settings.iterations - settings.pick_window
    window = [(r["pick"]["index"], r["pick"]["value"]) for r in history if r["iteration"] > start]
    found = {}
    for label, weight in (("prior", settings.prior_weight), ("no_prior", 0.0)):
        row, loss, score = pick(window, params, space.cells, weight, settings.prior_decay, settings.prior_params_mb)
        truth = float(space.truth[row])
        found[label] = {"arch": format_arch(space.cells[row]), "index": row, "loss": loss,
                        "params_mb": float(params[row]), "score": score, "truth": truth,
                        "global_rank": space.global_rank(truth),
                        "snapshots": sum(1 for r, _ in window if r == row), "window": len(window)}
    return found


def pick(snapshots, params: np.ndarray, cells: np.ndarray, weight: float, decay: float,
         scale: float) -> tuple[int, float, float]:
    """(row, loss, score) of the pick among the snapshots' best members `(row, loss)`, in order: each cell with the
    loss of its latest snapshot as the best, scored `loss + weight * exp(-decay * params / scale)`; the lowest
    score, ties to the most parameters (the released notebook scans by parameters and keeps the last minimum)."""
    latest = dict(snapshots)  # later snapshots overwrite earlier ones
    if not latest:
        raise HarnessError("the pick's window holds no snapshot; raise pick_window")
    scored = sorted((float(params[row]), loss + weight * math.exp(-decay * float(params[row]) / scale),
                     tuple(cells[row]), row, loss) for row, loss in latest.items())
    lowest = min(s[1] for s in scored)
    _, score, _, row, loss = [s for s in scored if s[1] == lowest][-1]
    return int(row), float(loss), float(score)


def mutate_ops(parent, rng: np.random.Generator, p: float, mutation: str = "redraw") -> np.ndarray:
    """EPS's op-wise mutation: each of the 6 ops, with probability `p`, is redrawn uniformly from the 5 ops
    ("redraw", as released: it keeps its op with p/5) or replaced by one of the 4 others ("change")."""
    parent = np.asarray(parent)
    hit = rng.random(NUM_EDGES) < p
    if mutation == "redraw":
        new = rng.integers(0, NUM_OPS, NUM_EDGES)
    else:
        new = (parent + rng.integers(1, NUM_OPS, NUM_EDGES)) % NUM_OPS
    return np.where(hit, new, parent).astype(parent.dtype)


def without_running_statistics(model: torch.nn.Module) -> torch.nn.Module:
    """Every BN normalises with its batch's statistics, in train and eval mode alike: no running buffers at all."""
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.track_running_stats = False
            module.running_mean = module.running_var = module.num_batches_tracked = None
    return model


def decay_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on conv and linear weights only, none on BN parameters and biases (the released
    `utils.get_parameters`)."""
    named = list(model.named_parameters())
    decayed = [p for name, p in named if "weight" in name and p.ndim > 1]
    plain = [p for name, p in named if not ("weight" in name and p.ndim > 1)]
    return [{"params": decayed, "weight_decay": weight_decay}, {"params": plain, "weight_decay": 0.0}]


class _Stream:
    """Batches without end, epoch after epoch of a `DeviceBatches`; the number taken is its whole state."""

    def __init__(self, batches):
        self.batches, self.taken, self._iterator = batches, 0, None

    def next(self):
        if self._iterator is None:  # (re)start where `taken` says
            self.batches.epoch = self.taken // len(self.batches)
            self._iterator = itertools.islice(iter(self.batches), self.taken % len(self.batches), None)
        batch = next(self._iterator, None)
        if batch is None:
            self._iterator = iter(self.batches)
            batch = next(self._iterator)
        self.taken += 1
        return batch

    def seek(self, taken: int) -> None:
        self.taken, self._iterator = taken, None


class _Reshuffled:
    """Unaugmented batches of `data` (the ragged rest dropped) in a new order every epoch, drawn from (seed, epoch):
    the reshuffled validation stream EPS scores its members on. Has what `_Stream` needs: `len`, `epoch`, `iter`."""

    def __init__(self, data, batch_size: int, device, seed: int, resolution: int | None):
        from harness.data import DeviceBatches

        self.data, self.seed, self.epoch = data, seed, 0
        self.batches = lambda d: DeviceBatches(d, batch_size, device, train=False, drop_last=True,
                                               resolution=resolution)
        self.length = len(self.batches(data))

    def __len__(self) -> int:
        return self.length

    def __iter__(self):
        seed = int(np.random.SeedSequence([self.seed, self.epoch]).generate_state(1, np.uint64)[0])
        order = torch.randperm(len(self.data), generator=torch.Generator().manual_seed(seed))
        self.epoch += 1
        return iter(self.batches(replace(self.data, images=self.data.images[order], labels=self.data.labels[order])))


class _Run:
    """The supernet, its optimiser, the data streams, the population (oldest first: a member's age is its place,
    with its latest loss and times scored), the generation's sample and the random state: what a checkpoint
    holds."""

    def __init__(self, settings: EpsSettings, config, space: SpaceIndex):
        from harness.data import DeviceBatches, load_split, subsample
        from harness.train.loop import build_model, default_splits_dir

        self.settings, self.config, self.space = settings, config, space
        self.device = torch.device(config.device)
        splits = config.splits_dir or default_splits_dir()
        train_set = load_split(config.dataset, config.train_split, config.data_root, splits)
        if config.samples < 1:
            train_set = subsample(train_set, config.samples, config.seed)
        valid_set = load_split(config.dataset, config.valid_split, config.data_root, splits)
        torch.manual_seed(config.seed)
        self.num_classes = train_set.num_classes
        self.model = without_running_statistics(build_model(config, self.num_classes)).to(self.device)
        if self.device.type == "cuda":
            self.model = self.model.to(memory_format=torch.channels_last)
        self.model.train()
        self.optimizer = torch.optim.SGD(decay_groups(self.model, settings.weight_decay), lr=settings.lr,
                                         momentum=settings.momentum)
        self.train_batches = _Stream(DeviceBatches(train_set, settings.batch_size, self.device, train=True,
                                                   seed=config.seed, resolution=config.resolution))
        if len(valid_set) < settings.valid_images:
            raise HarnessError(f"valid_images={settings.valid_images} exceeds the {len(valid_set)} images of "
                               f"{config.dataset} {config.valid_split}; pass fewer")
        self.valid_batches = _Stream(_Reshuffled(valid_set, settings.valid_images, self.device, config.seed + 1,
                                                 config.resolution))
        self.fixed_batch = None
        self.rng = np.random.default_rng([settings.seed, 0])
        if settings.distinct:
            self.population = space.random_cells(settings.population, self.rng)
        else:
            joinable = np.flatnonzero(space.joinable)
            self.population = space.cells[space.position[self.rng.choice(joinable, size=settings.population)]]
        self.initial_rows = space.positions(self.population).tolist()
        self.loss = np.full(settings.population, math.inf)
        self.count = np.zeros(settings.population, dtype=np.int64)
        self.iteration = 0
        self.sample = self._draw_sample()

    def _draw_sample(self) -> np.ndarray:
        return self.rng.choice(len(self.population), size=self.settings.sample, replace=False)

    def train_generation(self) -> float:
        """`generation_iterations` steps, each on a member drawn uniformly from the sample (or the population);
        returns their mean training loss."""
        from harness.train.loop import autocast, clear_gradients, prepare_batch

        s = self.settings
        pool = self.sample if s.train_from == "sample" else np.arange(len(self.population))
        total = torch.zeros((), device=self.device)
        for _ in range(s.generation_iterations):
            self.iteration += 1
            member = pool[self.rng.integers(len(pool))]
            x, y = self.train_batches.next()
            for group in self.optimizer.param_groups:
                group["lr"] = s.lr_at(self.iteration)
            clear_gradients(self.optimizer, self.config.decay)
            with autocast(self.device):
                logits = self.model(prepare_batch(x, self.device), self.population[member])
            loss = F.cross_entropy(logits.float(), y, label_smoothing=s.label_smoothing)
            loss.backward()
            self.optimizer.step()
            total += loss.detach()
        return float(total) / s.generation_iterations

    def validation_loss(self, model, cells: np.ndarray) -> np.ndarray:
        """Each cell's label-smoothed loss on a batch of `valid_images` validation images: the next batch of the
        reshuffled stream for each cell ("stream", as released) or one batch for all ("fixed"); `batch_cells` cells
        at a time in one pass of `harness.nets.batched` (each with its own batch statistics: the same losses)."""
        from harness.nets.batched import children_logits
        from harness.train.loop import autocast, prepare_batch

        if self.settings.scoring == "stream":
            batches = [self.valid_batches.next() for _ in cells]
        else:
            if self.fixed_batch is None:
                self.valid_batches.seek(0)
                self.fixed_batch = self.valid_batches.next()
            batches = [self.fixed_batch] * len(cells)
        K, losses = self.settings.batch_cells, []
        with torch.no_grad():
            for start in range(0, len(cells), K):
                part, pairs = cells[start:start + K], batches[start:start + K]
                with autocast(self.device):
                    if K == 1:
                        logits = model(prepare_batch(pairs[0][0], self.device), part[0])[None]
                    else:
                        x = pairs[0][0] if self.settings.scoring == "fixed" else torch.stack([x for x, _ in pairs])
                        logits = children_logits(model, x, part, training=model.training)
                losses.extend(float(F.cross_entropy(child.float(), y, label_smoothing=self.settings.label_smoothing))
                              for child, (_, y) in zip(logits, pairs))
        return np.array(losses)

    def record_scores(self, losses: np.ndarray) -> None:
        """The sampled members' latest loss (their first with FIRST_SCORE_OFFSET, as released) and times scored."""
        first = self.count[self.sample] == 0
        self.loss[self.sample] = losses + np.where(first, FIRST_SCORE_OFFSET, 0.0)
        self.count[self.sample] += 1

    def snapshot_best(self, space: SpaceIndex) -> dict:
        """The snapshot's best member: the lowest latest loss among the scored members of the population (the
        oldest of ties), or of the sample (the first of ties)."""
        members = np.flatnonzero(self.count > 0) if self.settings.snapshot == "population" else self.sample
        best = int(members[np.argmin(self.loss[members])])
        row = int(space.positions(self.population[best:best + 1])[0])
        truth = float(space.truth[row])
        return {"arch": format_arch(self.population[best]), "index": row, "value": float(self.loss[best]),
                "scored": int(self.count[best]), "truth": truth, "global_rank": space.global_rank(truth)}

    def evolve(self) -> dict:
        """The sample's `parents` best (a member scored fewer than `parent_min_scores` times ranks last, the
        sample's order breaking ties) each get one mutant; the children join at the young end, the oldest leave,
        and the next generation's sample is drawn."""
        s = self.settings
        key = np.where(self.count[self.sample] >= s.parent_min_scores, self.loss[self.sample], math.inf)
        parents = np.argsort(key, kind="stable")[:s.parents]
        taken = set(encode(self.population).tolist()) if s.distinct else None
        children = []
        for position in parents:
            child = self._mutant(self.population[self.sample[position]], taken)
            if taken is not None:
                taken.add(int(encode(child[None])[0]))
            children.append(child)
        leaving = len(children)
        dropped = self.space.positions(self.population[:leaving]).tolist()
        self.population = np.concatenate([self.population[leaving:], np.array(children, dtype=self.population.dtype)])
        self.loss = np.concatenate([self.loss[leaving:], np.full(leaving, math.inf)])
        self.count = np.concatenate([self.count[leaving:], np.zeros(leaving, dtype=np.int64)])
        self.sample = self._draw_sample()
        return {"parents": parents.tolist(), "children": self.space.positions(np.array(children)).tolist(),
                "dropped": dropped}

    def _mutant(self, parent: np.ndarray, taken: set | None) -> np.ndarray:
        """An op-wise mutant of `parent` that may join: a cell of the space with a ground truth, and none of `taken`
        (the population and this generation's children, with `distinct`)."""
        for _ in range(MUTATION_TRIES):
            child = mutate_ops(parent, self.rng, self.settings.mutation_p, self.settings.mutation)
            code = int(encode(child[None])[0])
            if self.space.joinable[code] and (taken is None or code not in taken):
                return child
        raise HarnessError(f"no mutant of {format_arch(parent)} in {MUTATION_TRIES} draws could join the "
                           f"population; pass the whole space as cells (or distinct=False)")

    def save(self, path: Path, identity: dict, history: list[dict]) -> None:
        state = {"identity": identity, "generations": history, "model": self.model.state_dict(),
                 "optimizer": self.optimizer.state_dict(), "iteration": self.iteration,
                 "num_classes": self.num_classes, "population": self.population, "loss": self.loss,
                 "count": self.count,
                 "sample": self.sample, "rng": self.rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
                 "valid_taken": self.valid_batches.taken}
        atomic_write(path, lambda tmp: torch.save(state, tmp))

    def resume(self, path: Path, identity: dict) -> list[dict]:
        """Load `path` if it exists and holds the same run (the finished generations), else keep the fresh start."""
        if not path.exists():
            return []
        state = torch.load(path, map_location=self.device, weights_only=False)
        check_identity(path.parent, state["identity"], identity)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.iteration = state["iteration"]
        self.train_batches.seek(self.iteration)
        self.valid_batches.seek(state["valid_taken"])
        for name in ("population", "loss", "count", "sample"):
            setattr(self, name, state[name])
        self.rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        return state["generations"]


def load_eps_model(out: str | Path, settings: EpsSettings, train_config) -> torch.nn.Module:
    """The supernet of the EPS run in `out` as its last checkpoint holds it (batch statistics only)."""
    from harness.train.loop import build_model

    path = Path(out) / "state.pt"
    if not path.is_file():
        raise HarnessError(f"{out} holds no EPS checkpoint state.pt; run EPS into it first")
    config = supernet_config_of(settings, train_config)
    state = torch.load(path, map_location=config.device, weights_only=False)
    model = without_running_statistics(build_model(config, state["num_classes"])).to(config.device)
    model.load_state_dict(state["model"])
    return model.train()
