"""Importers for the benchmark's official files: NB201 `.pth` (v1_0, v1_1) and the NATS-Bench tss archive.

Both formats are pickles, and reading them runs their unpickling: import only files you trust.
"""
from __future__ import annotations

import re
from pathlib import Path

from tqdm import tqdm

from harness.errors import SourceError
from harness.oracle.cache import GroundTruthBuilder
from harness.oracle.importers.records import add_arch_results
from harness.space import NUM_CELLS, IndexOrder

NATS_META = "meta.pickle.pbz2"
_RECORD_RE = re.compile(r"^(\d{6})\.pickle\.pbz2$")
_PTH_HPS = (("less", 12), ("full", 200))  # as nas_201_api maps them


def _order(meta_archs, where: str) -> IndexOrder:
    if not isinstance(meta_archs, (list, tuple)) or len(meta_archs) != NUM_CELLS:
        raise SourceError(f"{where}: 'meta_archs' must list all {NUM_CELLS} architectures, "
                          f"got {type(meta_archs).__name__} of length {len(meta_archs) if hasattr(meta_archs, '__len__') else '?'}")
    try:
        return IndexOrder.from_archs(meta_archs)
    except ValueError as exc:
        raise SourceError(f"{where}: 'meta_archs' is not the NB201 list of architectures: {exc}") from None


def _check_dict(data, where: str) -> None:
    missing = [k for k in ("meta_archs", "arch2infos", "evaluated_indexes") if not isinstance(data, dict) or k not in data]
    if missing:
        raise SourceError(f"{where} is not a NAS-Bench-201/NATS-Bench benchmark file: it lacks {', '.join(missing)}")


def read_nb201_pth(path: Path, progress: bool = True) -> GroundTruthBuilder:
    """The official `NAS-Bench-201-v1_[01]-*.pth`, read through nas_201_api's `ArchResults`.

    The file is loaded once with `torch.load` and each record handed to `ArchResults.create_from_state_dict`,
    which is what `NASBench201API` does, minus its deep copy of the multi-GB dict.
    """
    import torch
    from nas_201_api.api_utils import ArchResults

    where = str(path)
    try:
        data = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises many types for truncated or foreign files
        raise SourceError(f"{where} could not be read as a NAS-Bench-201 .pth file ({type(exc).__name__}: {exc}); "
                          f"it looks truncated or corrupt: download it again and check its md5 (the file name's "
                          f"suffix)") from None
    _check_dict(data, where)
    builder = GroundTruthBuilder(_order(data["meta_archs"], where))
    evaluated = set(data["evaluated_indexes"])
    missing = sorted(evaluated - set(data["arch2infos"]))
    if missing:
        raise SourceError(f"{where}: {len(missing)} evaluated indexes have no results (first: {missing[0]}); "
                          f"the file looks truncated")
    for index in tqdm(sorted(data["arch2infos"]), desc="import .pth", unit="arch", disable=not progress):
        info = data["arch2infos"][index]
        for name, hp in _PTH_HPS:
            if name not in info:
                raise SourceError(f"{where}: index {index} has no '{name}' ({hp}-epoch) results; it has {sorted(info)}")
            try:
                results = ArchResults.create_from_state_dict(info[name])
            except Exception as exc:
                raise SourceError(f"{where}: index {index} '{name}' is not an ArchResults state ({exc})") from None
            add_arch_results(builder, int(index), hp, results, f"{where} index {index}")
    return builder


def read_nats_tss(path: Path, progress: bool = True) -> GroundTruthBuilder:
    """The NATS-Bench topology archive, read through nats_bench: a fast-mode directory or the single file."""
    import nats_bench

    where = str(path)
    if path.is_dir():
        if not (path / NATS_META).is_file():
            raise SourceError(f"{where} is a directory without {NATS_META}; a NATS-Bench fast-mode directory "
                              f"(NATS-tss-v1_0-3ffb9-simple) holds {NATS_META} and one 000000.pickle.pbz2 per cell")
        api = _nats_call(lambda: nats_bench.create(str(path), "tss", fast_mode=True, verbose=False), path / NATS_META)
        indexes = sorted(int(m[1]) for p in path.iterdir() if (m := _RECORD_RE.match(p.name)))
    else:
        api = _nats_call(lambda: nats_bench.create(str(path), "tss", fast_mode=False, verbose=False), path)
        indexes = sorted(api.evaluated_indexes)
    builder = GroundTruthBuilder(_order(api.meta_archs, where))
    for index in tqdm(indexes, desc="import NATS", unit="arch", disable=not progress):
        if path.is_dir():
            record = path / f"{index:06d}.pickle.pbz2"
            _nats_call(lambda: api.reload(str(path), index), record)
        else:
            record = path
        for hp, results in api.arch2infos_dict.pop(index).items():
            add_arch_results(builder, index, int(hp), results, f"{record} (index {index})")
    return builder


def _nats_call(fn, file: Path):
    try:
        return fn()
    except Exception as exc:  # bz2, pickle and nats_bench's own assertions
        raise SourceError(f"{file} could not be read as a NATS-Bench file ({type(exc).__name__}: {exc}); it looks "
                          f"truncated or corrupt: download it again") from None
