"""The zoo: the built-in training-free proxies scored once on every cell, kept as score files to compare against.

A zoo is a directory, `reports/zoo/` in the repository (committed), holding `DATASET/PROXY.parquet`: ordinary score
files with their full provenance, written by `harness.proxies.scoring.score_cells` (so a build is resumable,
shardable and reuses a finished file of the same job and code). `build` scores what is missing; `entries` lists
what is there; `load` reads the score sets of one dataset for `harness evaluate --against zoo`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from harness.analysis.score_sets import ScoreSet, read_scores
from harness.errors import HarnessError
from harness.proxies.registry import ProxyContext, get_proxy
from harness.proxies.scoring import score_cells

#: the training-free built-in proxies a zoo holds, cheapest first
ZOO_PROXIES = ("params", "flops", "synflow", "jacob_cov", "snip", "grad_norm", "fisher", "naswot", "grasp")
ZOO_DATASETS = ("cifar10", "cifar100", "ImageNet16-120")
#: the zoo dataset whose scores judge a ground-truth dataset: cifar10-valid's cells were scored on CIFAR-10 too
ZOO_OF = {"cifar10": "cifar10", "cifar10-valid": "cifar10", "cifar100": "cifar100", "ImageNet16-120": "ImageNet16-120"}


@dataclass(frozen=True)
class ZooEntry:
    dataset: str
    proxy: str
    path: Path


def entries(zoo: str | Path) -> list[ZooEntry]:
    """The finished score files of the zoo, by dataset then proxy (journals of unfinished builds are not)."""
    root = Path(zoo)
    return [ZooEntry(d.name, f.stem, f) for d in sorted(p for p in root.iterdir() if p.is_dir())
            for f in sorted(d.glob("*.parquet"))] if root.is_dir() else []


def load(zoo: str | Path, dataset: str, order=None, names=None) -> list[ScoreSet]:
    """The zoo's score sets for ground-truth `dataset` (all, or those named in `names`; a name the zoo lacks is an
    error listing what it has)."""
    if dataset not in ZOO_OF:
        raise HarnessError(f"the zoo holds no scores for dataset {dataset!r}; it has {', '.join(ZOO_OF)}")
    found = {e.proxy: e for e in entries(zoo) if e.dataset == ZOO_OF[dataset]}
    missing = sorted(set(names or ()) - set(found))
    if missing:
        raise HarnessError(f"the zoo at {zoo} has no {', '.join(missing)} for {ZOO_OF[dataset]}; it has "
                           f"{', '.join(sorted(found)) or 'nothing'} (`harness zoo list`; `harness zoo build` scores more)")
    return [read_scores(found[name].path, order, name=name) for name in (names or sorted(found))]


def add(zoo: str | Path, path: str | Path, name: str, *, dataset: str | None = None, force: bool = False) -> Path:
    """Put a score file made elsewhere (a supernet proxy of the main job, from the store) into the zoo as
    `DATASET/NAME.parquet`, its provenance kept; another file already there under that name is replaced only with
    `force`."""
    import re

    from harness.analysis.score_sets import write_scores

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise HarnessError(f"zoo name {name!r}: use letters, digits, '_', '.' and '-' (it becomes a file name)")
    scores = read_scores(path)
    dataset = dataset or ZOO_OF.get(scores.provenance.get("dataset", ""))
    if dataset not in ZOO_DATASETS:
        raise HarnessError(f"{path} does not say which dataset's images it was scored on; pass --dataset "
                           f"({', '.join(ZOO_DATASETS)})")
    out = Path(zoo) / dataset / f"{name}.parquet"
    provenance = {**scores.provenance, "zoo_source": Path(path).name}
    if out.exists() and not force and read_scores(out).provenance != provenance:
        raise HarnessError(f"{out} holds other scores; choose another name, or pass --force to replace them")
    write_scores(out, ScoreSet(name, scores.cells, scores.scores, provenance))
    return out


def build(zoo: str | Path, dataset: str, proxies=ZOO_PROXIES, *, cells: str = "all", data_root: str | None = None,
          splits_dir: str | None = None, device: str = "cpu", shard=None, order=None, table_hash=None,
          progress: bool = True, force: bool = False, report=print, executor=None, shards: int | None = None
          ) -> list[Path]:
    """Score every proxy of `proxies` on `cells` into `zoo/dataset/PROXY.parquet` (`.shard-I-of-N.parquet` with
    `shard`), resuming or reusing what is there. A proxy that needs images is skipped, saying so, without a
    `data_root`. A finished file of another job (a sample, to be replaced by all cells) is refused unless `force`.
    With a `RayExecutor`, each proxy's cells are scored in `shards` Ray tasks (`harness.proxies.on_ray`).
    Returns the files finished."""
    if dataset not in ZOO_DATASETS:
        raise HarnessError(f"zoo dataset {dataset!r}: expected one of {', '.join(ZOO_DATASETS)}")
    unknown = sorted(set(proxies) - set(ZOO_PROXIES))
    if unknown:
        raise HarnessError(f"{', '.join(unknown)} not in the zoo; its proxies are {', '.join(ZOO_PROXIES)} (score "
                           f"any other with `harness score` and pass the file to `harness evaluate`)")
    done = []
    for name in proxies:
        proxy = get_proxy(name)
        if "images" in proxy.needs and not data_root:
            report(f"zoo {dataset}/{name}: skipped, it needs images (--data-root DIR holding {dataset}'s)")
            continue
        suffix = f".shard-{shard[0]}-of-{shard[1]}" if shard else ""
        out = Path(zoo) / dataset / f"{name}{suffix}.parquet"
        context = ProxyContext(dataset=dataset, data_root=data_root, splits_dir=splits_dir, device=device)
        common = {"order": order, "table_hash": table_hash, "progress": progress, "force": force}
        if executor is None:
            result = score_cells(proxy, cells, context, out, shard=shard, **common)
        else:
            from harness.proxies.on_ray import score_on_ray

            result = score_on_ray(proxy, cells, context, out, executor, shards=shards, **common)
        report(f"zoo {dataset}/{name}: {len(result.scores)} cells, {result.provenance['seconds_per_cell'] * 1e3:.1f} "
               f"ms/cell -> {out}")
        done.append(out)
    return done


def compare(scores, *, dataset: str, split: str | None = None, hp: int = 200, against="zoo",
            zoo: str | Path = "reports/zoo", oracle=None, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """A proxy's paired differences to the zoo's (or to the named zoo proxies') on the cells both scored:
    the rows `harness evaluate` writes to comparison.csv (`harness.analysis.paired.COLUMNS`). `scores` is a score
    file's path or a `ScoreSet`; `split` defaults to the test split papers report (ori-test, x-test)."""
    from harness.analysis.paired import compare_scores
    from harness.oracle import Oracle

    oracle = oracle or Oracle()
    split = split or ("ori-test" if dataset in ("cifar10", "cifar10-valid") else "x-test")
    mine = scores if isinstance(scores, ScoreSet) else read_scores(scores, oracle.order)
    names = None if against == "zoo" else list(against)
    others = load(zoo, dataset, oracle.order, names)
    truth = oracle.accuracy(dataset=dataset, split=split, hp=hp)
    return compare_scores(mine.name, truth, oracle.indices(mine.cells), mine.scores,
                          {z.name: (oracle.indices(z.cells), z.scores) for z in others}, n_boot=n_boot, seed=seed)
