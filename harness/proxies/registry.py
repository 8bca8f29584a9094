"""One registry of proxies, filled by a decorator (timm-style) and by other packages' entry points.

    @register_proxy("myproxy", needs=("images",), version="2", description="...")
    def myproxy(cells, context):  # (n, 6) op ids -> (n,) scores, higher = predicted better
        ...

Third-party packages register through the entry-point group `nb201_harness.proxies`: each entry point names a
module (or an object in it) whose import runs its `@register_proxy` decorators.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points

import numpy as np

from harness.errors import HarnessError

ENTRY_POINT_GROUP = "nb201_harness.proxies"
#: what a proxy may need, and how a user provides it
NEEDS = {
    "images": "a dataset's images: --data-root DIR (and --splits DIR)",
    "supernet": "a trained supernet run: --run RUN_DIR from `harness train supernet`",
    "arch_parameters": "a DARTS supernet run: --run RUN_DIR from `harness train supernet --mode darts`",
    "training": "a training budget: it trains every cell itself (see its settings)",
}


@dataclass(frozen=True)
class ProxyContext:
    """Everything a proxy may use besides the cells; `settings` holds proxy-specific options."""

    dataset: str = "cifar10"
    data_root: str | None = None
    splits_dir: str | None = None
    run_dir: str | None = None
    device: str = "cpu"
    seed: int = 0
    settings: dict = field(default_factory=dict)
    #: where a proxy may keep intermediate results (e.g. training runs) so an interrupted job resumes them
    work_dir: str | None = None
    #: what a proxy reports about its work (e.g. the budget it spent); goes into the score file's provenance
    notes: dict = field(default_factory=dict)

    def provided(self) -> set[str]:
        have = set()
        if self.data_root:
            have.add("images")
        if self.run_dir:
            have |= {"supernet", "arch_parameters"}
        return have | {"training"}


@dataclass(frozen=True)
class Proxy:
    name: str
    fn: Callable[[np.ndarray, ProxyContext], np.ndarray]
    needs: tuple[str, ...]
    version: str
    description: str
    #: scores depend on the other cells scored (e.g. a hierarchical proxy): all cells in one call, no shards
    joint: bool = False

    def __call__(self, cells: np.ndarray, context: ProxyContext) -> np.ndarray:
        missing = [need for need in self.needs if need not in context.provided()]
        if missing:
            raise HarnessError(f"proxy {self.name!r} needs {'; '.join(NEEDS[m] for m in missing)}")
        scores = np.asarray(self.fn(cells, context), dtype=np.float64)
        if scores.shape != (len(cells),):
            raise HarnessError(f"proxy {self.name!r} returned shape {scores.shape} for {len(cells)} cells; a proxy "
                               f"returns one score per cell")
        return scores


_REGISTRY: dict[str, Proxy] = {}
_loaded_plugins = False


def register_proxy(name: str, needs: tuple[str, ...] = (), version: str = "1", description: str = "",
                   joint: bool = False):
    """Decorator: register `fn(cells, context) -> scores` under `name`; `joint` when a cell's score depends on
    which other cells are scored with it."""
    unknown = [n for n in needs if n not in NEEDS]
    if unknown:
        raise HarnessError(f"proxy {name!r} declares unknown needs {unknown}; needs are {', '.join(NEEDS)}")

    def decorate(fn):
        if name in _REGISTRY and _REGISTRY[name].fn is not fn:
            raise HarnessError(f"a proxy named {name!r} is already registered ({_REGISTRY[name].fn.__module__}); "
                               f"choose another name")
        _REGISTRY[name] = Proxy(name, fn, tuple(needs), str(version), description or (fn.__doc__ or "").strip(),
                                joint)
        return fn

    return decorate


def _load_plugins() -> None:
    global _loaded_plugins
    if _loaded_plugins:
        return
    _loaded_plugins = True
    import harness.proxies.angle  # noqa: F401  the built-in proxies register on import
    import harness.proxies.costs  # noqa: F401
    import harness.proxies.econas  # noqa: F401
    import harness.proxies.magnitude  # noqa: F401
    import harness.proxies.supernet_accuracy  # noqa: F401
    import harness.proxies.zero_cost  # noqa: F401
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            entry.load()
        except Exception as exc:  # a broken plugin must not hide the others
            raise HarnessError(f"the proxy plugin {entry.name!r} ({entry.value}) failed to load: "
                               f"{type(exc).__name__}: {exc}") from None


def get_proxy(name: str) -> Proxy:
    _load_plugins()
    if name not in _REGISTRY:
        raise HarnessError(f"unknown proxy {name!r}; known proxies: {', '.join(sorted(_REGISTRY))} "
                           f"(`harness proxies list` says what each needs)")
    return _REGISTRY[name]


def list_proxies() -> list[Proxy]:
    _load_plugins()
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]
