"""Registration of check functions, collectors and providers.

Built-in providers live in this package; third-party checks register the same way
from a module named by an entry point in the group ``assay.checks``. Nothing is
imported until asked for, so importing the API stays cheap: `checks()`, `collectors()`
and `providers()` load every provider and plugin (the whole catalog), while a lookup by
name (`get_check`, `get_collector`, `get_provider`) loads the plugins and only the
built-in provider the name belongs to (``aws.s3.bucket``: ``aws``), so a run over AWS
alone never imports the PostgreSQL driver.

Collection can be planned per attribute: a collector may declare, for each attribute
that costs API calls of its own, the permissions of those calls (`attributes`), and a
check the attributes it reads (`reads`; a rule's are found in its paths). For the
controls of a run, `attributes_needed` and `plan_attributes` give the attributes each
resource type must carry, `CollectorSpec.run(conn, wanted)` collects only those (the
others hold a `not_collected` marker, so a control that reads one anyway is an `error`,
never a verdict on missing data), and `CollectorSpec.permissions_for(wanted)` is the
least privilege that collection needs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, TypeVar

import jmespath
from pydantic import BaseModel, ConfigDict

from assay.checks.result import ERROR_KEY, Result
from assay.errors import AssayError

# Each built-in provider's module, by the provider's name: the first part of the names
# of its checks and resource types.
BUILTIN_MODULES = {
    "aws": "assay.checks.aws",
    "k8s": "assay.checks.k8s",
    "postgres": "assay.checks.postgres",
}
ENTRY_POINT_GROUP = "assay.checks"


class NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegistryError(AssayError):
    """A check, collector or plugin could not be registered or found."""


CheckFunc = Callable[[dict[str, Any], Any], Result]
CollectorFunc = Callable[[Any], Iterable[dict[str, Any]]]
F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


@dataclass(frozen=True)
class CheckSpec:
    name: str
    resource: str
    func: CheckFunc
    params: type[BaseModel]
    permissions: tuple[str, ...]
    # The attributes the check reads; None: not declared, so every attribute.
    reads: frozenset[str] | None = None


@dataclass(frozen=True)
class CollectorSpec:
    """A collector: `permissions` is everything it may call; `attributes` maps each
    attribute that needs calls of its own to their permissions. A collector with
    `attributes` takes the attributes wanted as a second argument (None: all)."""

    resource: str
    provider: str
    func: CollectorFunc
    permissions: tuple[str, ...]
    attributes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def run(self, conn: Any, wanted: Collection[str] | None = None) -> Iterable[dict[str, Any]]:
        """The collector's resources, carrying `wanted` attributes (None: all of them)."""
        if not self.attributes:
            return self.func(conn)
        return self.func(conn, None if wanted is None else frozenset(wanted))  # type: ignore[call-arg]

    def permissions_for(self, wanted: Collection[str] | None) -> tuple[str, ...]:
        """What collecting only `wanted` attributes needs: the listing permissions and
        those of the wanted attributes' own calls (None: every permission)."""
        if wanted is None or not self.attributes:
            return self.permissions
        own = {p for perms in self.attributes.values() for p in perms}
        needed = {p for name in wanted for p in self.attributes.get(name, ())}
        return tuple(p for p in self.permissions if p not in own or p in needed)


@dataclass(frozen=True)
class ProviderSpec:
    """How to reach one kind of target.

    `connect(options, timeout)` turns the target's validated options into the
    connection object collectors receive; `identity(connection)` says who we are
    connected as (recorded in the run, shown by `assay doctor`).
    """

    name: str
    options: type[BaseModel]
    connect: Callable[[Any, float], Any]
    identity: Callable[[Any], dict[str, Any]]


_checks: dict[str, CheckSpec] = {}
_collectors: dict[str, CollectorSpec] = {}
_providers: dict[str, ProviderSpec] = {}
# What has been imported: built-in provider names, and PLUGINS once the plugins are.
_loaded: set[str] = set()
PLUGINS = "plugins"


def check(
    name: str,
    *,
    resource: str,
    permissions: Iterable[str],
    params: type[BaseModel] = NoParams,
    reads: Iterable[str] | None = None,
) -> Callable[[F], F]:
    """Register a pure function `(resource, params) -> Result` as the check `name`;
    `reads` names the attributes it reads (undeclared: all of them)."""
    perms = tuple(permissions)
    read = None if reads is None else frozenset(reads)

    def register(func: F) -> F:
        if name in _checks and _checks[name].func is not func:
            raise RegistryError(f"check {name!r} is registered twice")
        if not perms:
            raise RegistryError(f"check {name!r} declares no permissions")
        _checks[name] = CheckSpec(name, resource, func, params, perms, read)
        return func

    return register


def collector(
    resource: str,
    *,
    permissions: Iterable[str],
    attributes: Mapping[str, Iterable[str]] | None = None,
) -> Callable[[F], F]:
    """Register a function `(connection) -> iterable of resource snapshots` for `resource`.

    With `attributes` (attribute -> permissions of the calls only it needs), the function
    is `(connection, wanted)` and reads only the `wanted` attributes (None: all);
    `permissions` are then the ones every collection needs (listing).
    """
    own = {name: tuple(perms) for name, perms in (attributes or {}).items()}
    perms = tuple(dict.fromkeys([*permissions, *(p for ps in own.values() for p in ps)]))

    def register(func: F) -> F:
        if resource in _collectors and _collectors[resource].func is not func:
            raise RegistryError(f"resource type {resource!r} has two collectors")
        _collectors[resource] = CollectorSpec(resource, resource.split(".")[0], func, perms, own)
        return func

    return register


NOT_COLLECTED = "NotCollected"


def not_collected(name: str) -> dict[str, Any]:
    """The marker an attribute holds when the run's plan did not read it."""
    return {
        ERROR_KEY: {
            "code": NOT_COLLECTED,
            "message": f"{name} was not collected: no control of the run reads it",
        }
    }


def read_if_wanted(wanted: frozenset[str] | None, name: str, read: Callable[[], Any]) -> Any:
    """`read()` when the run's plan wants attribute `name` (`wanted` None: it wants every
    one), else the `not_collected` marker, without reading."""
    return read() if wanted is None or name in wanted else not_collected(name)


def attributes_needed(
    check_name: str | None = None, rule: Mapping[str, Any] | None = None
) -> frozenset[str] | None:
    """The attributes a control reads, from its check's `reads` or its rule's paths;
    None when that cannot be known (every attribute is then needed)."""
    if check_name is not None:
        return get_check(check_name).reads
    if rule is None:
        return None
    roots: set[str] = set()
    for path in _rule_paths(rule):
        found = _roots(dict(jmespath.compile(path).parsed))
        if found is None:
            return None
        roots |= found
    return frozenset(roots)


def plan_attributes(needs: Iterable[frozenset[str] | None]) -> frozenset[str] | None:
    """The attributes to collect for controls needing `needs` (None if any needs all)."""
    wanted: set[str] = set()
    for need in needs:
        if need is None:
            return None
        wanted |= need
    return frozenset(wanted)


def _rule_paths(node: Any) -> Iterator[str]:
    if isinstance(node, Mapping):
        if isinstance(node.get("path"), str):
            yield node["path"]
        for key, value in node.items():
            if key in ("all", "any", "not"):
                yield from _rule_paths(value)
    elif isinstance(node, list):
        for item in node:
            yield from _rule_paths(item)


# JMESPath nodes whose first child is the value the rest applies to.
_LEFT = frozenset(
    {
        "subexpression",
        "index_expression",
        "projection",
        "value_projection",
        "filter_projection",
        "flatten",
        "pipe",
    }
)
# Nodes all of whose children are read from the current value.
_ALL = frozenset(
    {
        "function_expression",
        "and_expression",
        "or_expression",
        "not_expression",
        "comparator",
        "multi_select_list",
        "multi_select_dict",
        "key_val_pair",
    }
)


def _roots(node: dict[str, Any]) -> set[str] | None:
    """The top-level attribute names a JMESPath tree reads; None when it reads the whole
    value (``@``) or a node is not understood."""
    kind = node["type"]
    if kind == "field":
        return {node["value"]}
    if kind in ("literal", "index", "slice", "identity_projection"):
        return set()
    if kind == "expref":
        return set()
    if kind in _LEFT:
        return _roots(node["children"][0])
    if kind in _ALL:
        found: set[str] = set()
        for child in node["children"]:
            sub = _roots(child)
            if sub is None:
                return None
            found |= sub
        return found
    return None


def provider(
    name: str, *, options: type[BaseModel], identity: Callable[[Any], dict[str, Any]]
) -> Callable[[F], F]:
    """Register the connect function of provider `name`."""

    def register(func: F) -> F:
        if name in _providers and _providers[name].connect is not func:
            raise RegistryError(f"provider {name!r} is registered twice")
        _providers[name] = ProviderSpec(name, options, func, identity)
        return func

    return register


def load(provider: str | None = None) -> None:
    """Import every installed plugin and the built-in provider named `provider` (None:
    every built-in provider), each once.

    A plugin that fails to import is an error naming it: skipping it would silently
    drop its controls from a compliance run.
    """
    if PLUGINS not in _loaded:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                ep.load()
            except Exception as exc:
                raise RegistryError(
                    f"check plugin {ep.name!r} ({ep.value}) failed to import: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
        _loaded.add(PLUGINS)
    for name in BUILTIN_MODULES if provider is None else [provider]:
        if name in BUILTIN_MODULES and name not in _loaded:
            importlib.import_module(BUILTIN_MODULES[name])
            _loaded.add(name)


@contextmanager
def isolated() -> Iterator[None]:
    """Inside the block, registrations and plugin loads happen on a copy of the registry,
    whose plugins are loaded afresh (so newly installed ones are found) and which is
    dropped on exit.

    For tests that register checks or install plugins: nothing leaks into other tests.
    """
    global _checks, _collectors, _providers, _loaded
    # The built-ins first, into the registry kept: their modules register when imported,
    # which happens once per process, so a first import inside the block would be lost.
    load()
    saved = (_checks, _collectors, _providers, _loaded)
    _checks, _collectors, _providers = dict(_checks), dict(_collectors), dict(_providers)
    _loaded = _loaded - {PLUGINS}
    try:
        yield
    finally:
        _checks, _collectors, _providers, _loaded = saved


def checks() -> Mapping[str, CheckSpec]:
    """Every check: of every built-in provider and plugin."""
    load()
    return _checks


def collectors() -> Mapping[str, CollectorSpec]:
    """Every collector: of every built-in provider and plugin."""
    load()
    return _collectors


def providers() -> Mapping[str, ProviderSpec]:
    """Every provider: the built-in ones and the plugins'."""
    load()
    return _providers


def get_check(name: str) -> CheckSpec:
    """The check `name`, loading only the provider it belongs to; RegistryError if none
    registers it."""
    found = _lookup(_checks, name)
    if found is None:
        raise RegistryError(f"no check named {name!r} is registered") from None
    return found


def get_collector(resource: str) -> CollectorSpec | None:
    """The collector of resource type `resource`, loading only the provider it belongs to."""
    return _lookup(_collectors, resource)


def get_provider(name: str) -> ProviderSpec | None:
    """The provider `name`, loading only that provider (and the plugins)."""
    return _lookup(_providers, name)


def _lookup(registered: Mapping[str, T], name: str) -> T | None:
    load(name.split(".", 1)[0])
    if name not in registered:
        # Nothing keeps a plugin or another provider from using the name: look everywhere.
        load()
    return registered.get(name)
