"""Where a result came from: the code that made it and the digest of the files it read.

`code_hash(module, ...)` is what a result's identity records of its code: a sha256 over the source files of the
modules named and every `harness` module they import, directly or not (read from their `import` statements,
lazy ones inside functions included, together with the packages' `__init__` files). A finished result is reused
only while that hash is unchanged, so editing a proxy recomputes its scores, while an edit to the README, or to
a module the result does not import, changes nothing. Any edit of a file in the closure counts, comments
included. `code_version()` (the git commit) is for people to read; identities never use it.
"""
from __future__ import annotations

import ast
import hashlib
import subprocess
import sys
from functools import cache
from pathlib import Path

from harness import __version__

PACKAGE = "harness"
_PACKAGE_ROOT = Path(__file__).resolve().parent


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


def _module_file(name: str) -> Path | None:
    """The source file of module `name`: inside the harness package by its dotted path, elsewhere (a plug-in)
    from the loaded module's `__file__`; None for what has no source file here (the standard library's C parts)."""
    parts = name.split(".")
    if parts[0] == PACKAGE:
        base = _PACKAGE_ROOT.joinpath(*parts[1:])
        for candidate in (base / "__init__.py", base.with_suffix(".py")):
            if candidate.is_file():
                return candidate
        return None
    module = sys.modules.get(name)
    file = getattr(module, "__file__", None)
    return Path(file).resolve() if file and file.endswith(".py") else None


def _imported_modules(file: Path, name: str) -> set[str]:
    """The harness modules `file` (module `name`) imports anywhere in its body, and its parent packages."""
    tree = ast.parse(file.read_bytes(), filename=str(file))
    package = name if file.name == "__init__.py" else name.rpartition(".")[0]
    found = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}  # parent packages
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # a relative import: resolve against this module's package
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # names that are modules themselves
    return {m for m in found if m.split(".")[0] == PACKAGE and _module_file(m) is not None}


@cache
def code_files(*modules: str) -> tuple[Path, ...]:
    """The source files of `modules` and of every harness module they import, directly or not; sorted."""
    todo, seen = list(modules), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        file = _module_file(name)
        if file is None:
            continue
        todo.extend(_imported_modules(file, name) - seen)
    return tuple(sorted({f for f in map(_module_file, seen) if f is not None}))


@cache
def code_hash(*modules: str) -> str:
    """sha256 (16 hex digits) of the source of `modules` and of every harness module they import; see above."""
    digest = hashlib.sha256()
    for file in code_files(*sorted(set(modules))):
        label = file.relative_to(_PACKAGE_ROOT.parent) if file.is_relative_to(_PACKAGE_ROOT.parent) else file.name
        digest.update(str(label).encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()[:16]
