"""One registry of proxies, filled by a decorator (timm-style) and by other packages' entry points.

    @register_proxy("myproxy", needs=("images",), version="2", description="...",
                    settings={"batch_size": Setting(int, 64, "images per batch")})
    def myproxy(cells, context):  # (n, 6) op ids -> (n,) scores, higher = predicted better
        ...                       # context.settings holds every declared setting, defaults filled in

A proxy declares its settings (type, default, help): a setting it does not declare, or a value of the wrong type,
is an error that lists the declared ones, and the resolved settings (defaults included) are what a score file
records, so a typo can never run the default unnoticed. Third-party packages register through the entry-point
group `nb201_harness.proxies`: each entry point names a module (or an object in it) whose import runs its
`@register_proxy` decorators. The built-in proxies load by module name, so that the registry's own code (and
the code hash of a result that uses it) does not include every proxy.
"""
from __future__ import annotations

import importlib
import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
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
#: the modules whose import registers the built-in proxies
BUILTIN_MODULES = ("harness.proxies.angle", "harness.proxies.costs", "harness.proxies.econas",
                   "harness.proxies.magnitude", "harness.proxies.supernet_accuracy", "harness.proxies.zero_cost")

_TYPE_NAMES = {int: "int", float: "float", str: "str", bool: "bool", list: "list"}


@dataclass(frozen=True)
class Setting:
    """One declared setting of a proxy: its type (int, float, str, bool or list), default, and what it does.
    `optional`: None is a valid value (the default may be None); `choices`: the values allowed."""

    type: type
    default: object
    help: str = ""
    optional: bool = False
    choices: tuple = ()

    def __post_init__(self):
        if self.type not in _TYPE_NAMES:
            raise HarnessError(f"a setting's type is one of {', '.join(_TYPE_NAMES)}; got {self.type!r}")

    def describe(self) -> str:
        kind = _TYPE_NAMES[self.type] + (" or null" if self.optional else "")
        allowed = f", one of {', '.join(map(json.dumps, self.choices))}" if self.choices else ""
        return f"{kind}, default {json.dumps(self.default)}{allowed}" + (f": {self.help}" if self.help else "")

    def accepts(self, value) -> bool:
        if value is None:
            return self.optional
        if self.type is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        elif self.type is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = isinstance(value, self.type)
        return ok and (not self.choices or value in self.choices)


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
    #: name -> Setting: the settings the proxy takes, with their types and defaults
    settings: dict = field(default_factory=dict)

    @property
    def module(self) -> str:
        """The module that defines the proxy: what its scores' code hash starts from."""
        return self.fn.__module__

    def describe_settings(self) -> str:
        if not self.settings:
            return f"proxy {self.name!r} takes no settings"
        return f"the settings of {self.name!r} are " + "; ".join(f"{name} ({s.describe()})"
                                                                 for name, s in self.settings.items())

    def resolve_settings(self, given: dict | None) -> dict:
        """Every declared setting, the given values checked against their types and the rest at their defaults;
        an undeclared key or a wrongly typed value is an error listing the declared settings."""
        if given is not None and not isinstance(given, dict):
            raise HarnessError(f"settings of {self.name!r} must be a JSON object, got {given!r}")
        given = dict(given or {})
        unknown = sorted(set(given) - set(self.settings))
        if unknown:
            raise HarnessError(f"unknown setting(s) {', '.join(map(repr, unknown))} for proxy {self.name!r}; "
                               f"{self.describe_settings()}")
        for key, value in given.items():
            if not self.settings[key].accepts(value):
                raise HarnessError(f"setting {key!r} of proxy {self.name!r} is {value!r}; expected "
                                   f"{self.settings[key].describe()}")
        return {name: given.get(name, setting.default) for name, setting in self.settings.items()}

    def __call__(self, cells: np.ndarray, context: ProxyContext) -> np.ndarray:
        missing = [need for need in self.needs if need not in context.provided()]
        if missing:
            raise HarnessError(f"proxy {self.name!r} needs {'; '.join(NEEDS[m] for m in missing)}")
        resolved = self.resolve_settings(context.settings)
        if resolved != context.settings:
            context = replace(context, settings=resolved)
        scores = np.asarray(self.fn(cells, context), dtype=np.float64)
        if scores.shape != (len(cells),):
            raise HarnessError(f"proxy {self.name!r} returned shape {scores.shape} for {len(cells)} cells; a proxy "
                               f"returns one score per cell")
        return scores


_REGISTRY: dict[str, Proxy] = {}
_loaded_plugins = False
#: entry point name -> why it failed to load (disabled alone; `get_proxy` says why)
_BROKEN_PLUGINS: dict[str, str] = {}


def register_proxy(name: str, needs: tuple[str, ...] = (), version: str = "1", description: str = "",
                   joint: bool = False, settings: dict[str, Setting] | None = None):
    """Decorator: register `fn(cells, context) -> scores` under `name`; `joint` when a cell's score depends on
    which other cells are scored with it; `settings` declares what `context.settings` may hold."""
    unknown = [n for n in needs if n not in NEEDS]
    if unknown:
        raise HarnessError(f"proxy {name!r} declares unknown needs {unknown}; needs are {', '.join(NEEDS)}")
    settings = dict(settings or {})
    for key, setting in settings.items():
        if not isinstance(setting, Setting) or not setting.accepts(setting.default):
            raise HarnessError(f"proxy {name!r} declares setting {key!r} as {setting!r}; expected a Setting whose "
                               f"default has its type")

    def decorate(fn):
        if name in _REGISTRY and _REGISTRY[name].fn is not fn:
            raise HarnessError(f"a proxy named {name!r} is already registered ({_REGISTRY[name].fn.__module__}); "
                               f"choose another name")
        _REGISTRY[name] = Proxy(name, fn, tuple(needs), str(version), description or (fn.__doc__ or "").strip(),
                                joint, settings)
        return fn

    return decorate


def _load_plugins() -> None:
    """Register the built-in proxies, then every plug-in's. A plug-in that fails to load is disabled alone, with a
    warning naming its entry point; asking for it by name then says why it is missing."""
    global _loaded_plugins
    if _loaded_plugins:
        return
    _loaded_plugins = True
    for module in BUILTIN_MODULES:  # the built-in proxies register on import
        importlib.import_module(module)
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            entry.load()
        except Exception as exc:  # a broken plug-in must not hide the others
            _BROKEN_PLUGINS[entry.name] = (f"the proxy plug-in {entry.name!r} (entry point {entry.value!r} in group "
                                           f"{ENTRY_POINT_GROUP!r}) failed to load: {type(exc).__name__}: {exc}")
            warnings.warn(f"{_BROKEN_PLUGINS[entry.name]}; it is disabled, the other proxies are not", stacklevel=2)


def get_proxy(name: str) -> Proxy:
    _load_plugins()
    if name not in _REGISTRY and name in _BROKEN_PLUGINS:
        raise HarnessError(f"{_BROKEN_PLUGINS[name]}; fix or reinstall the package that provides it")
    if name not in _REGISTRY:
        raise HarnessError(f"unknown proxy {name!r}; known proxies: {', '.join(sorted(_REGISTRY))} "
                           f"(`harness proxies list` says what each needs)")
    return _REGISTRY[name]


def list_proxies() -> list[Proxy]:
    _load_plugins()
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]
