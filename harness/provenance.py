"""Where a result came from: the code version that made it and the digest of the files it read."""
from __future__ import annotations

import hashlib
import subprocess
from functools import cache
from pathlib import Path

from harness import __version__


@cache
def code_version() -> str:
    """The package version, plus the git commit and `.dirty` when the package's own files differ from it, when
    running from a checkout (results the harness writes into the checkout, such as reports/, do not count)."""
    here = Path(__file__).resolve().parent

    def git(*args: str) -> str:
        out = subprocess.run(["git", "-C", str(here), *args], capture_output=True, text=True, timeout=5)
        return out.stdout.strip() if out.returncode == 0 else ""

    try:
        commit = git("rev-parse", "--short=12", "HEAD")
        changed = commit and git("status", "--porcelain", "--", ".")
    except (OSError, subprocess.TimeoutExpired):
        return __version__
    return f"{__version__}+g{commit}{'.dirty' if changed else ''}" if commit else __version__


def sha256_of(path: str | Path, chunk: int = 1 << 22) -> str:
    """sha256 of a file; of a directory, over its files' relative names and contents in sorted order."""
    path = Path(path)
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode() + b"\0")
        with open(file, "rb") as fh:
            while block := fh.read(chunk):
                digest.update(block)
    return digest.hexdigest()
