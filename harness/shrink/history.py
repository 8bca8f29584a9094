"""A shrinking run's history on disk: the finished stages or generations of `history.json`, which a rerun of the
same settings, supernet configuration and code resumes after. A history of other settings or other code is never
resumed nor replaced: the error names what differs."""
from __future__ import annotations

import json
from pathlib import Path

from harness.atomic import atomic_write
from harness.errors import HarnessError
from harness.provenance import code_hash


def check_positive(settings, names) -> None:
    for name in names:
        value = getattr(settings, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise HarnessError(f"{name} must be a positive integer, got {value!r}")
    if isinstance(settings.seed, bool) or not isinstance(settings.seed, int) or settings.seed < 0:
        raise HarnessError(f"seed must be an integer >= 0, got {settings.seed!r}")


def load_history(out: Path, identity: dict, key: str = "generations") -> list[dict]:
    """The finished steps (`key`: generations or stages) in `out/history.json`, if it holds a run of the same
    settings and supernet."""
    path = out / "history.json"
    if not path.exists():
        return []
    saved = json.loads(path.read_text())
    check_identity(out, saved["identity"], identity)
    return saved[key]


def check_identity(out: Path, saved: dict, identity: dict) -> None:
    """Refuse to resume the run in `out` when its identity differs, naming what differs."""
    changed = [f"{k}: {saved.get(k)!r} -> {v!r}" for k, v in identity.items() if saved.get(k) != v]
    if changed:
        raise HarnessError(f"{out} holds a run of other settings or code ({'; '.join(changed)}); rerun with the same "
                           f"settings and code to resume it, or choose another --out")


def save_history(out: Path, identity: dict, steps: list[dict], key: str = "generations") -> None:
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"identity": identity, key: steps}, indent=1, allow_nan=True)
    atomic_write(out / "history.json", lambda tmp: Path(tmp).write_text(text + "\n"))


def identity_of(settings, train_config, *modules: str) -> dict:
    """What a resumed run must share with the interrupted one: the settings, the supernet's configuration and the
    code hash of `modules` (the method's module and any proxy it scores with)."""
    supernet = train_config.identity() if train_config is not None else None
    return json.loads(json.dumps({"settings": settings.__dict__, "supernet": supernet,
                                  "code_hash": code_hash(*modules)}))
