"""A shrinking run's history on disk: the finished stages or generations of `history.json`, which a rerun of the
same settings (and supernet configuration) resumes after."""
from __future__ import annotations

import json
from pathlib import Path

from harness.atomic import atomic_write
from harness.errors import HarnessError


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
    if saved["identity"] != identity:
        raise HarnessError(f"{out} holds a run with other settings ({saved['identity']}); rerun with the same "
                           f"settings to resume it, or choose another --out")
    return saved[key]


def save_history(out: Path, identity: dict, steps: list[dict], key: str = "generations") -> None:
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"identity": identity, key: steps}, indent=1, allow_nan=True)
    atomic_write(out / "history.json", lambda tmp: Path(tmp).write_text(text + "\n"))


def identity_of(settings, train_config) -> dict:
    """What a resumed run must share with the interrupted one: the settings and the supernet's configuration."""
    supernet = train_config.identity() if train_config is not None else None
    return json.loads(json.dumps({"settings": settings.__dict__, "supernet": supernet}))
