"""A report directory written whole or not at all: into a temporary sibling, moved into place once complete.

A full disk (or any other failure) halfway through a report leaves neither a partial report nor a damaged
earlier one. A new directory is renamed into place in one step. An existing one may hold what the report was
computed from (tools/extra-reports writes a report beside its score files): there each of the new report's
entries is renamed onto the old one's, which needs no space and cannot fail halfway for want of it, and the
directory's other entries stay.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def staged_directory(out: str | Path, owned: tuple[str, ...] = ()) -> Iterator[Path]:
    """Yield an empty temporary directory beside `out` to write the report into; when the block ends without an
    error, its entries replace those of the same names in `out` (or it becomes `out`), and the `owned` entries of an
    earlier report that the new one lacks (a comparison it no longer makes) are removed. On an error nothing of it
    remains and `out` is as it was."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        yield staging
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(staging, 0o777 & ~umask)  # mkdtemp makes it private; give it the user's usual mode
        if out.exists():
            stale = [out / name for name in owned if (out / name).exists() and not (staging / name).exists()]
            _move_entries(staging, out)
            for path in stale:
                os.rename(path, staging / f".stale-{path.name}")  # removed with the staging directory
        else:
            os.rename(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _move_entries(staging: Path, out: Path) -> None:
    """Rename every entry of `staging` onto `out`: files replace files at once, a directory (figures/) replaces
    the old one after that is renamed aside into `staging`, which is removed afterwards."""
    for entry in sorted(staging.iterdir()):  # listed before any old entry is moved in
        target = out / entry.name
        if target.is_dir() and not target.is_symlink():
            os.rename(target, staging / f".old-{entry.name}")
        os.replace(entry, target)
