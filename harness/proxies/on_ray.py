"""One scoring job as shards that run as Ray tasks (`harness score --executor ray`), merged into the file a local
run writes.

The selected cells are split as `--shard i/n` splits them, and shard i is scored by `score_cells` into
`OUT.shards/shard-I-of-N.parquet` with its own journal and lock, exactly as a local shard: a task whose worker died
resumes from its journal when Ray retries it, and a rerun after an interrupted driver scores only what no journal
holds (a rerun keeps the number of shards it finds there). `merge_shards` joins the shards with its checks (one job,
every cell once), the cells are put back in the order of the selection, and OUT is written with the same cells,
scores and job as a local run's file (a CSV's bytes are the same), its provenance adding `executor`; the shards are
then removed. A joint proxy (no shards) runs as one task.
"""
from __future__ import annotations

import re
import shutil
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from harness.analysis.score_sets import ScoreSet, read_scores, write_scores
from harness.errors import HarnessError
from harness.executor import Progress, RayExecutor, Task
from harness.proxies.registry import Proxy, ProxyContext
from harness.proxies.scoring import differences, job_identity, merge_shards, score_cells, select_cells
from harness.space import encode

_SHARD_NAME = re.compile(r"shard-(\d+)-of-(\d+)\.parquet")


def score_on_ray(proxy: Proxy, spec: str, context: ProxyContext, out: str | Path, executor: RayExecutor, *,
                 shards: int | None = None, order=None, table_hash: str | None = None, progress: bool = True,
                 force: bool = False) -> ScoreSet:
    """`score_cells` of the whole job, its cells in `shards` Ray tasks (default: one per CPU, or per GPU when the
    context's device is CUDA; or as many as an interrupted run left). A finished `out` of the same job is returned
    as it is; `force` replaces one of another job."""
    out = Path(out).absolute()
    context = replace(context, settings=proxy.resolve_settings(context.settings), work_dir=None,
                      **{k: str(Path(getattr(context, k)).absolute()) for k in ("data_root", "splits_dir", "run_dir")
                         if getattr(context, k)})
    finished = _finished(proxy, context, spec, out, order, force)
    if finished is not None:
        return finished
    gpus = 1 if str(context.device).startswith("cuda") else 0
    desc = f"score {proxy.name} on ray"
    if proxy.joint:
        executor.run([Task(_score, (proxy, spec, context, str(out), None, order, table_hash, force), proxy.name,
                           gpus=gpus)], Progress(1, desc, enabled=progress))
        return read_scores(out, order)
    selected = select_cells(spec, order)
    shard_dir = Path(f"{out}.shards")
    n = _shard_count(shard_dir, shards, executor.slots(gpu=bool(gpus)), len(selected))
    paths = [shard_dir / f"shard-{i}-of-{n}.parquet" for i in range(n)]
    sizes = [len(selected[i::n]) for i in range(n)]
    shard_dir.mkdir(parents=True, exist_ok=True)
    executor.run([Task(_score, (proxy, spec, context, str(path), (i, n), order, table_hash, force),
                       f"{proxy.name} {path.name}", gpus=gpus) for i, path in enumerate(paths)],
                 Progress(len(selected), desc, "cell", lambda: _scored(paths, sizes), enabled=progress))
    merged = merge_shards(paths, shard_dir / "merged.parquet", order)
    score_of = dict(zip(encode(merged.cells).tolist(), merged.scores.tolist()))
    provenance = {k: v for k, v in merged.provenance.items() if k != "merged_from"}
    provenance.update(executor={"name": "ray", "shards": n},
                      created_utc=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    result = ScoreSet(proxy.name, selected, np.array([score_of[c] for c in encode(selected).tolist()]), provenance)
    write_scores(out, result, order)
    shutil.rmtree(shard_dir)
    return result


def _score(proxy, spec, context, out, shard, order, table_hash, force) -> None:
    """One Ray task: `score_cells` of one shard (or of a joint proxy's whole job) into `out`."""
    score_cells(proxy, spec, context, out, shard=shard, order=order, table_hash=table_hash, progress=False,
                force=force)


def _finished(proxy: Proxy, context: ProxyContext, spec: str, out: Path, order, force: bool) -> ScoreSet | None:
    """A finished `out` of this job (None: score it); one of another job is refused unless `force`, as
    `score_cells` refuses it."""
    if not out.exists():
        return None
    existing = read_scores(out, order)
    changed = differences(existing.provenance, job_identity(proxy, context, spec))
    if not changed:
        return existing
    if not force and any(not c.startswith("code_hash:") for c in changed):
        raise HarnessError(f"{out} holds the scores of another job ({'; '.join(changed)}); choose another --out, or "
                           f"pass --force to replace it")
    return None


def _shard_count(shard_dir: Path, asked: int | None, slots: int, cells: int) -> int:
    """The shards an interrupted run left in `shard_dir` keep their number; else `asked`, else `slots`."""
    names = (p.name.split(".partial")[0] for p in shard_dir.glob("shard-*"))  # a shard, its journal or lock
    found = {int(m.group(2)) for name in names if (m := _SHARD_NAME.match(name))}
    if len(found) > 1 or (found and asked and found != {asked}):
        raise HarnessError(f"{shard_dir} holds shards of an interrupted run split {sorted(found)} ways; rerun with "
                           f"--shards {min(found)} to resume them, or remove {shard_dir} to start again")
    if found:
        return found.pop()
    return max(1, min(asked or slots, cells))


def _scored(paths: list[Path], sizes: list[int]) -> int:
    """Cells the shards have scored so far: a finished shard's size, else the complete lines of its journal."""
    done = 0
    for path, size in zip(paths, sizes):
        if path.exists():
            done += size
            continue
        try:
            done += Path(f"{path}.partial").read_bytes().count(b"\n")
        except FileNotFoundError:
            pass
    return done
