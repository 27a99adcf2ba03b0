"""Registration of check functions, collectors and providers.

Built-in providers live in this package; third-party checks register the same way
from a module named by an entry point in the group ``assay.checks``. Nothing is
imported until `load()` is called, so importing the API stays cheap.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

from assay.checks.result import Result
from assay.errors import AssayError

BUILTIN_MODULES = ("assay.checks.aws", "assay.checks.k8s", "assay.checks.postgres")
ENTRY_POINT_GROUP = "assay.checks"


class NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegistryError(AssayError):
    """A check, collector or plugin could not be registered or found."""


CheckFunc = Callable[[dict[str, Any], Any], Result]
CollectorFunc = Callable[[Any], Iterable[dict[str, Any]]]
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class CheckSpec:
    name: str
    resource: str
    func: CheckFunc
    params: type[BaseModel]
    permissions: tuple[str, ...]


@dataclass(frozen=True)
class CollectorSpec:
    resource: str
    provider: str
    func: CollectorFunc
    permissions: tuple[str, ...]


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
_loaded = False


def check(
    name: str,
    *,
    resource: str,
    permissions: Iterable[str],
    params: type[BaseModel] = NoParams,
) -> Callable[[F], F]:
    """Register a pure function `(resource, params) -> Result` as the check `name`."""
    perms = tuple(permissions)

    def register(func: F) -> F:
        if name in _checks and _checks[name].func is not func:
            raise RegistryError(f"check {name!r} is registered twice")
        if not perms:
            raise RegistryError(f"check {name!r} declares no permissions")
        _checks[name] = CheckSpec(name, resource, func, params, perms)
        return func

    return register


def collector(resource: str, *, permissions: Iterable[str]) -> Callable[[F], F]:
    """Register a function `(connection) -> iterable of resource snapshots` for `resource`."""
    perms = tuple(permissions)

    def register(func: F) -> F:
        if resource in _collectors and _collectors[resource].func is not func:
            raise RegistryError(f"resource type {resource!r} has two collectors")
        _collectors[resource] = CollectorSpec(resource, resource.split(".")[0], func, perms)
        return func

    return register


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


def load() -> None:
    """Import the built-in providers and every installed plugin, once.

    A plugin that fails to import is an error naming it: skipping it would silently
    drop its controls from a compliance run.
    """
    global _loaded
    if _loaded:
        return
    for module in BUILTIN_MODULES:
        importlib.import_module(module)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            ep.load()
        except Exception as exc:
            raise RegistryError(
                f"check plugin {ep.name!r} ({ep.value}) failed to import: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
    _loaded = True


@contextmanager
def isolated() -> Iterator[None]:
    """Inside the block, registrations and plugin loads happen on a copy of the registry,
    which is loaded afresh (so newly installed plugins are found) and dropped on exit.

    For tests that register checks or install plugins: nothing leaks into other tests.
    """
    global _checks, _collectors, _providers, _loaded
    saved = (_checks, _collectors, _providers, _loaded)
    _checks, _collectors, _providers = dict(_checks), dict(_collectors), dict(_providers)
    _loaded = False
    try:
        yield
    finally:
        _checks, _collectors, _providers, _loaded = saved


def checks() -> Mapping[str, CheckSpec]:
    load()
    return _checks


def collectors() -> Mapping[str, CollectorSpec]:
    load()
    return _collectors


def providers() -> Mapping[str, ProviderSpec]:
    load()
    return _providers


def get_check(name: str) -> CheckSpec:
    try:
        return checks()[name]
    except KeyError:
        raise RegistryError(f"no check named {name!r} is registered") from None
