"""What every table measures from: the ground truth, the images, the seed, where supernets are kept, and the store
of score files and histories behind the tables' rows.

The store (`scores/`, committed beside the tables) holds every score file a table's rows are computed from (parquet,
with its provenance) and the histories of the methods that evolve or shrink (JSON). A file's name is its label and a
digest of its job (proxy, settings, dataset, seed, cells and supernet settings; not the code), so that a rerun finds
it, another preset or seed writes another, and `from_scores` (`harness reproduce TABLE --from-scores`) re-derives a
table from the files alone, without training or scoring anything. Run directories (`runs/`) are named with the code
hash of the training code, so a change of that code trains anew instead of resuming or reusing weights of other code.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

from harness.atomic import atomic_write
from harness.errors import HarnessError


def digest(value) -> str:
    """8 hex digits of sha256 over `value` as sorted JSON: the job part of a file or run name."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:8]


def slug(label: str) -> str:
    """A file-name-safe form of a row or proxy label."""
    keep = "".join(c if c.isalnum() or c in "-_." else "-" for c in label)
    return "-".join(part for part in keep.split("-") if part)


@dataclass(frozen=True)
class Inputs:
    """`runs` holds the supernets the tables train (one directory per dataset, seed, settings and training code),
    shared so that tables measuring the same supernet (abs-correlation, eps-top20) train it once; `scores` the store
    of score files and histories (see the module docstring), shared the same way."""

    oracle: object
    runs: Path
    scores: Path
    data_root: str | None = None
    splits_dir: str | None = None
    seed: int = 0
    progress: bool = True
    #: re-derive from the store only: nothing is trained or scored, a missing file is an error
    from_scores: bool = False
    #: with `from_scores`: the datasets whose images the measuring run had, and whether it was given a data root
    measured_images: tuple[str, ...] = ()
    measured_with_root: bool = False

    def missing_images(self, dataset: str) -> str:
        """Why `dataset`'s rows cannot be measured ('' when they can): its images are not in the data root; with
        `from_scores`, they were not in the measuring run's (that run's reason again, so the table is the same)."""
        from harness.data import missing_images
        from harness.oracle.keys import IMAGES

        if not self.from_scores:
            return missing_images(dataset, self.data_root)
        if IMAGES[dataset] in {IMAGES[d] for d in self.measured_images}:
            return ""
        return missing_images(dataset, os.devnull if self.measured_with_root else None)  # a root holding nothing

    def sample(self, count: int) -> str:
        """The cells spec (`harness.proxies.scoring.select_cells`) of `count` cells drawn with the run's seed, so
        that another seed measures other cells; all cells when `count` covers the space."""
        return f"sample:{count}:{self.seed}" if count < len(self.oracle.cells()) else "all"

    def train(self, config, run_dir: Path) -> None:
        """Train (or finish) the supernet `config` in `run_dir`; one that finished is reused as it is."""
        from harness.train.loop import train

        train(config, run_dir, resume=(Path(run_dir) / "config.json").exists())

    def score(self, label: str, proxy_name: str, cells: str, context, run_key: str | None = None):
        """The `ScoreSet` of `proxy_name` on the `cells` spec with `context`, kept in the store as
        `LABEL-DIGEST.parquet`: scored (or reused: the same job by the same code) into it, or with `from_scores`
        read from it and checked to be the same job. `run_key` names the supernet the context's run is."""
        from harness.analysis.score_sets import read_scores
        from harness.proxies.scoring import differences, score_cells

        proxy, context, job, path = self.score_job(label, proxy_name, cells, context, run_key)
        if not self.from_scores:  # the name pins the job but code and supernet: a file it names otherwise is stale
            scored = score_cells(proxy, cells, context, path, order=self.oracle.order,
                                 table_hash=self.oracle.table_hash, progress=self.progress, force=True)
            return replace(scored, source=str(path))
        if not path.is_file():
            raise HarnessError(f"--from-scores: no score file {path.name} in {self.scores} (the {label} scores of "
                               f"this preset and seed); run the table without --from-scores to compute it")
        scored = read_scores(path, self.oracle.order)
        changed = differences(scored.provenance, job)
        if changed:
            raise HarnessError(f"--from-scores: {path.name} holds another job ({'; '.join(changed)}); run the table "
                               f"without --from-scores")
        return scored

    def score_job(self, label: str, proxy_name: str, cells: str, context, run_key: str | None = None):
        """What `score` scores: the proxy, the context with its settings resolved, the job (without code and
        supernet) and the store's file of it."""
        from harness.proxies import get_proxy
        from harness.proxies.scoring import job_identity

        proxy = get_proxy(proxy_name)
        context = replace(context, settings=proxy.resolve_settings(context.settings))
        if self.from_scores:
            context = replace(context, run_dir=None)  # no supernet is needed (nor trained) to re-derive
        job = {k: v for k, v in job_identity(proxy, context, cells).items()
               if k not in ("code_hash", "checkpoint_sha256")}
        return proxy, context, job, self.scores / f"{slug(label)}-{digest({**job, 'run': run_key})}.parquet"

    def method_run(self, prefix: str, job: dict, *modules: str) -> Path:
        """Where a method's run (EPS, shrinking) of `job` lives: `runs/PREFIX-DIGEST-CODE`, CODE the hash of the
        method's `modules` (the code its history's identity names), so a run by other code is never resumed into."""
        from harness.provenance import code_hash

        return self.runs / f"{prefix}-{digest(job)}-{code_hash(*modules)[:8]}"

    def history(self, label: str, job: dict, run_dir: Path, compute) -> tuple[list[dict], str, str]:
        """A method's history (EPS generations, shrinking stages), its code hash and its file name in the store
        (`LABEL-DIGEST.json`, DIGEST of `job`): `compute()` runs (or resumes) the method in `run_dir`, whose
        `history.json` is then copied into the store; with `from_scores` the stored copy is read."""
        path = self._stored(label, job, "history", "run")
        if self.from_scores:
            saved = json.loads(path.read_text())
        else:
            compute()
            saved = {"label": label, "job": job, **json.loads((Path(run_dir) / "history.json").read_text())}
            text = json.dumps(saved, indent=1, allow_nan=True) + "\n"
            atomic_write(path, lambda tmp: Path(tmp).write_text(text))
        steps = next(saved[key] for key in ("stages", "generations") if key in saved)
        return steps, saved["identity"]["code_hash"], path.name

    def _stored(self, label: str, job: dict, what: str, of: str = "") -> Path:
        """The store's `LABEL-DIGEST.json` of `job`; with `from_scores` it must exist."""
        path = self.scores / f"{slug(label)}-{digest(job)}.json"
        if self.from_scores and not path.is_file():
            of = f" {of}" if of else ""
            raise HarnessError(f"--from-scores: no {what} {path.name} in {self.scores} (the {label}{of} of this "
                               f"preset and seed); run the table without --from-scores to compute it")
        return path

    def record(self, label: str, job: dict, code_hash: str, compute, checkpoint: str | None = None):
        """A small measurement a table derives from what is not in the store (e.g. a supernet's checkpoints), kept
        in it as `LABEL-DIGEST.json` (DIGEST of `job`): reused while `code_hash` and the `checkpoint` sha256 it was
        computed from are the same, else `compute()` again; with `from_scores` read as it is. Returns the value,
        its code hash and its file name."""
        path = self._stored(label, job, "measurement")
        if self.from_scores:
            saved = json.loads(path.read_text())
            return saved["value"], saved["code_hash"], path.name
        saved = json.loads(path.read_text()) if path.is_file() else {}
        if saved.get("code_hash") != code_hash or saved.get("checkpoint_sha256") != checkpoint:
            saved = {"label": label, "job": job, "code_hash": code_hash, "checkpoint_sha256": checkpoint,
                     "value": compute()}
            text = json.dumps(saved, indent=1, allow_nan=True) + "\n"
            atomic_write(path, lambda tmp: Path(tmp).write_text(text))
        return saved["value"], code_hash, path.name
