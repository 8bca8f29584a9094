"""Scoring cells with a proxy into a score file: resumable, shardable, with provenance.

Scores are journalled to `OUT.partial` (one `arch,score` line per cell, appended chunk by chunk; chunks start at
one cell and double while they take under FLUSH_SECONDS, so a slow proxy loses little to an interruption) beside a
`OUT.partial.json` that pins the proxy and its settings; an interrupted run keeps them, and rerunning the same
command scores only the cells not yet in the journal (and a finished file of the same job is reused as it is).
The score file itself is written once, at the end, through a temporary name. Proxies that train keep their runs in `OUT.work/` until the score file is written,
so an interruption loses at most the epoch in progress. `--shard i/n` scores every n-th cell from the i-th;
`merge_shards` joins the shard files and checks that no cell is missing or doubled. A `joint` proxy (scores
that depend on the other cells) gets all cells in one call and no shards.

A job is the proxy, its version and resolved settings, the dataset, seed, cells, shard, the supernet checkpoint's
sha256 (not its path) and the code hash of the proxy's module and of this one (`harness.provenance.code_hash`).
A finished file is reused only for the very same job. One of the same job under other code is stale: it is scored
again and replaced. One of another job is refused unless `force`, and so is a journal of another job or of other
code (it is never mixed with new scores, nor thrown away unasked).
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import time
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from harness.analysis.score_sets import ScoreSet, frame_cells, read_scores, write_scores
from harness.atomic import atomic_write
from harness.errors import HarnessError
from harness.proxies.registry import Proxy, ProxyContext
from harness.provenance import code_hash, code_version, sha256_of
from harness.space import NUM_CELLS, IndexOrder, all_cells, encode, format_archs, parse_archs


#: a chunk that took less than this doubles the next one (up to `chunk` cells)
FLUSH_SECONDS = 2.0


def select_cells(spec: str, order: IndexOrder | None = None) -> np.ndarray:
    """`all`, `sample:N[:SEED]` (a seeded sample without replacement), or a file with `arch` or `index` cells."""
    if spec == "all":
        return all_cells()
    if spec.startswith("sample:"):
        parts = spec.split(":")
        try:
            n, seed = int(parts[1]), int(parts[2]) if len(parts) > 2 else 0
        except (ValueError, IndexError):
            raise HarnessError(f"cells spec {spec!r}: expected sample:N or sample:N:SEED with integers") from None
        if not 1 <= n <= NUM_CELLS or len(parts) > 3:
            raise HarnessError(f"cells spec {spec!r}: N must be in 1..{NUM_CELLS}")
        return all_cells()[np.sort(np.random.default_rng(seed).choice(NUM_CELLS, n, replace=False))]
    path = Path(spec)
    if not path.is_file():
        raise HarnessError(f"cells spec {spec!r} is not 'all', 'sample:N[:SEED]' or an existing file of cells")
    frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    return frame_cells(frame, path, order)


def parse_shard(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise HarnessError(f"--shard {text!r}: expected i/n, e.g. 0/4") from None
    if not (n >= 1 and 0 <= i < n):
        raise HarnessError(f"--shard {text!r}: i must be in 0..n-1")
    return i, n


def job_identity(proxy: Proxy, context: ProxyContext, spec: str, shard=None) -> dict:
    """What makes two scoring jobs the same (see the module docstring); `context.settings` resolved."""
    return {"proxy": proxy.name, "version": proxy.version, "dataset": context.dataset,
            "settings": proxy.resolve_settings(context.settings), "seed": context.seed, "cells": spec,
            "shard": f"{shard[0]}/{shard[1]}" if shard else None,
            "checkpoint_sha256": checkpoint_hash(context.run_dir),
            "code_hash": code_hash(proxy.module, __name__)}


def differences(saved: dict, meta: dict) -> list[str]:
    """The identity keys on which a saved job differs from `meta`, as 'key: saved -> now'."""
    return [f"{k}: {saved.get(k)!r} -> {v!r}" for k, v in meta.items() if saved.get(k) != v]


def score_cells(proxy: Proxy, spec: str, context: ProxyContext, out: str | Path, *, shard=None,
                order: IndexOrder | None = None, table_hash: str | None = None, chunk: int = 256,
                progress: bool = True, force: bool = False) -> ScoreSet:
    """Score the cells `spec` selects (this shard of them) into the score file `out`, resuming its journal.
    With the ground truth's `order` the file also gets official indices, and its `table_hash` is recorded.
    A finished `out` of the same job is returned as it is; `force` replaces one of another job."""
    out = Path(out)
    if shard and proxy.joint:
        raise HarnessError(f"proxy {proxy.name!r} scores cells jointly (a cell's score depends on the others), so its "
                           f"cells cannot be split into shards; run it without --shard")
    selected = select_cells(spec, order)
    cells = selected[shard[0]::shard[1]] if shard else selected
    work_dir = Path(context.work_dir or f"{out}.work")
    context = replace(context, work_dir=str(work_dir), notes=dict(context.notes),
                      settings=proxy.resolve_settings(context.settings))
    journal, journal_meta = Path(f"{out}.partial"), Path(f"{out}.partial.json")
    meta = job_identity(proxy, context, spec, shard)
    out.parent.mkdir(parents=True, exist_ok=True)
    with journal_lock(out):
        if out.exists():
            existing = read_scores(out, order)
            changed = differences(existing.provenance, meta)
            if not changed:
                return existing  # this exact job already finished: nothing to score again
            if not force and any(not c.startswith("code_hash:") for c in changed):
                raise HarnessError(f"{out} holds the scores of another job ({'; '.join(changed)}); choose "
                                   f"another --out, or pass --force to replace it")
        return _score_journalled(proxy, context, meta, cells, selected, out, journal, journal_meta, work_dir,
                                 table_hash=table_hash, order=order, chunk=chunk, progress=progress)


@contextmanager
def journal_lock(out: Path):
    """Hold `OUT.partial.lock` while scoring into `out`: a second process scoring the same file would redo all the
    work and race the first to write it, so it is refused with the holder named."""
    lock = Path(f"{out}.partial.lock")
    while True:
        fh = open(lock, "a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise HarnessError(f"{out} is being scored by {holder}; wait for it to finish, or score into another "
                               f"--out") from None
        if lock.exists() and os.stat(lock).st_ino == os.fstat(fh.fileno()).st_ino:
            break
        fh.close()  # the holder removed the file we locked as it finished: lock the current one
    with fh:
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} on {socket.gethostname()} since "
                 f"{datetime.now(timezone.utc).isoformat(timespec='seconds')}\n")
        fh.flush()
        try:
            yield
        finally:
            lock.unlink(missing_ok=True)


def _score_journalled(proxy: Proxy, context: ProxyContext, meta: dict, cells: np.ndarray, selected: np.ndarray,
                      out: Path, journal: Path, journal_meta: Path, work_dir: Path, *, table_hash, order, chunk,
                      progress) -> ScoreSet:
    """Score the cells the journal does not hold yet, then write `out` and drop the journal."""
    done: dict[int, float] = {}
    seconds = 0.0
    if journal_meta.exists():
        saved = _read_journal_meta(journal_meta)
        changed = differences(saved["job"], meta)
        if changed:
            raise HarnessError(f"{journal} holds scores of another job or code ({'; '.join(changed)}); remove it "
                               f"(and {journal_meta.name}) to score again, or rerun the job that wrote it")
        seconds = saved["seconds"]
        context.notes.update(saved.get("notes", {}))
        done = _read_journal(journal)
    todo = cells[~np.isin(encode(cells), list(done))] if done else cells
    bar = tqdm(total=len(cells), initial=len(cells) - len(todo), desc=f"score {proxy.name}", unit="cell",
               disable=not progress)
    with open(journal, "a") as fh:
        step, start = (max(len(todo), 1), 0) if proxy.joint else (1, 0)
        while start < len(todo):
            part = todo[start:start + step]
            start += len(part)
            began = time.perf_counter()
            scores = proxy(part, context)
            took = time.perf_counter() - began
            seconds += took
            if took < FLUSH_SECONDS:  # chunks grow while they are quick: fast proxies batch, slow ones flush often
                step = min(2 * step, chunk)
            fh.write("".join(f"{a},{s!r}\n" for a, s in zip(format_archs(part), scores.tolist())))
            fh.flush()
            done.update(zip(encode(part).tolist(), scores.tolist()))
            atomic_write(journal_meta, lambda tmp: Path(tmp).write_text(json.dumps({"job": meta, "seconds": seconds,
                                                                                   "notes": context.notes})))
            bar.update(len(part))
    bar.close()
    scores = np.array([done[c] for c in encode(cells).tolist()])
    provenance = {**meta, "description": proxy.description, "n_cells": len(cells), "cells_total": len(selected),
                  "seconds": seconds, "seconds_per_cell": seconds / max(len(cells), 1), **_run_facts(context.run_dir),
                  "table_hash": table_hash, "harness_version": code_version(), **context.notes,
                  "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    score_set = ScoreSet(proxy.name, cells, scores, provenance)
    write_scores(out, score_set, order)
    journal.unlink(missing_ok=True)
    journal_meta.unlink(missing_ok=True)
    shutil.rmtree(work_dir, ignore_errors=True)
    return score_set


def _read_journal(path: Path) -> dict[int, float]:
    """Cells already scored; a last line cut by an interruption is ignored (it is scored again). A line that is not
    `arch,score` with a number is an error naming it: a journal is never half-read."""
    if not path.exists():
        return {}
    lines = path.read_text().split("\n")
    complete = [(n, line) for n, line in enumerate(lines[:-1], 1) if line]  # text after the last newline is cut
    archs, scores = [], []
    for n, line in complete:
        arch, _, score = line.rpartition(",")
        try:
            scores.append(float(score))
        except ValueError:
            raise _bad_journal(path, f"line {n} is {line[:120]!r}, not 'arch,score' with a number") from None
        archs.append(arch)
    try:
        codes = encode(parse_archs(archs, what=f"lines of {path}"))
    except HarnessError as exc:
        raise _bad_journal(path, " ".join(str(exc).split())) from None
    return dict(zip(codes.tolist(), scores))


def _read_journal_meta(path: Path) -> dict:
    try:
        saved = json.loads(path.read_text())
        if not (isinstance(saved, dict) and isinstance(saved.get("job"), dict)
                and isinstance(saved.get("seconds"), (int, float))):
            raise ValueError("expected an object with 'job' and 'seconds'")
    except ValueError as exc:
        raise _bad_journal(path, f"it is not the journal's JSON record ({exc})") from None
    return saved


def _bad_journal(path: Path, what: str) -> HarnessError:
    stem = str(path).removesuffix(".json").removesuffix(".partial")
    return HarnessError(f"the scoring journal {path} is damaged: {what}. Remove {stem}.partial and "
                        f"{stem}.partial.json to score those cells again")


def checkpoint_hash(run_dir: str | None) -> str | None:
    """sha256 of a run's last checkpoint: what identifies the supernet behind scores (not its directory's path)."""
    if not run_dir:
        return None
    last = Path(run_dir) / "checkpoints" / "last.pt"
    return sha256_of(last) if last.exists() else None


def _run_facts(run_dir: str | None) -> dict:
    """The supernet run behind the scores: its directory's name (not its path) and the seconds its training took."""
    if not run_dir:
        return {}
    log = Path(run_dir) / "log.jsonl"
    lines = log.read_text().splitlines() if log.exists() else []
    return {"run": Path(run_dir).name, "run_seconds": sum(json.loads(line)["seconds"] for line in lines)}


def merge_shards(paths: list[str | Path], out: str | Path, order: IndexOrder | None = None, *,
                 force: bool = False) -> ScoreSet:
    """Join shard files of one job; refuses shards of different jobs, a missing or doubled shard, or a cell twice,
    and an `out` that names one of the shards (it would be overwritten) unless `force`."""
    inputs = [p for p in paths if Path(p).resolve() == Path(out).resolve()]
    if inputs and not force:
        raise HarnessError(f"--out {out} is one of the shards to merge; name another file (or pass --force to "
                           f"replace that shard with the merged scores)")
    sets = [read_scores(p, order) for p in paths]
    jobs = {json.dumps({k: v for k, v in s.provenance.items() if k in ("proxy", "version", "dataset", "settings",
                                                                      "seed", "cells", "checkpoint_sha256",
                                                                      "code_hash")}, sort_keys=True)
            for s in sets}
    if len(jobs) > 1:
        raise HarnessError(f"the shards come from {len(jobs)} different jobs (proxy, settings, cells, supernet or code "
                           f"differ)")
    shards = [s.provenance.get("shard") for s in sets]
    if None in shards:
        raise HarnessError("every file to merge must be a shard written with --shard i/n")
    n = int(shards[0].split("/")[1])
    seen = sorted(int(s.split("/")[0]) for s in shards)
    if seen != list(range(n)):
        missing = sorted(set(range(n)) - set(seen))
        doubled = sorted({i for i in seen if seen.count(i) > 1})
        raise HarnessError(f"shards of {n}: missing {missing or 'none'}, given twice {doubled or 'none'}")
    cells = np.concatenate([s.cells for s in sets])
    codes = encode(cells)
    if len(np.unique(codes)) != len(codes):
        raise HarnessError("a cell appears in more than one shard")
    total = sets[0].provenance.get("cells_total")
    if total is not None and len(cells) != total:
        raise HarnessError(f"the shards hold {len(cells)} cells, the job selected {total}")
    provenance = {**sets[0].provenance, "shard": None, "n_cells": len(cells),
                  "seconds": sum(s.provenance.get("seconds", 0.0) for s in sets),
                  "merged_from": [Path(p).name for p in paths]}
    provenance["seconds_per_cell"] = provenance["seconds"] / len(cells)
    merged = ScoreSet(sets[0].name, cells, np.concatenate([s.scores for s in sets]), provenance)
    write_scores(out, merged, order)
    return merged
