"""Collection: live targets -> resource snapshots, on a bounded thread pool.

A target that cannot be reached, or a collector that fails, becomes a recorded failure
(its controls get `error` results); the rest of the collection goes on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel

from assay.checks import registry
from assay.engine.models import Target
from assay.engine.planner import Plan, PlannedTarget
from assay.errors import ConfigError
from assay.files import atomic_write
from assay.words import counted

SNAPSHOT_SCHEMA = "assay.snapshot/v1"


@dataclass(frozen=True)
class CollectionFailure:
    target: str
    provider: str
    resource_type: str
    reason: str


def failure_lines(failures: Sequence[CollectionFailure]) -> list[str]:
    """What could not be collected, in words: one line for a target that failed whole (the
    same reason for every type, as when it cannot be reached), one per type otherwise."""
    by_target: dict[str, list[CollectionFailure]] = {}
    for f in failures:
        by_target.setdefault(f.target, []).append(f)
    lines: list[str] = []
    for target, found in by_target.items():
        reasons = {f.reason for f in found}
        if len(found) > 1 and len(reasons) == 1:
            lines.append(f"{reasons.pop()} ({counted(len(found), 'resource type')} not collected)")
        else:
            lines += [
                f"could not collect {f.resource_type} from {target}: {f.reason}" for f in found
            ]
    return lines


@dataclass
class Snapshot:
    created_at: str
    targets: list[dict[str, Any]] = field(default_factory=list)
    failures: list[CollectionFailure] = field(default_factory=list)
    resources: list[dict[str, Any]] = field(default_factory=list)


Progress = Callable[[str, int], None]  # (what finished, resources it yielded)


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@runtime_checkable
class Members(Protocol):
    """Target options that may stand for several targets (an AWS organisation's accounts)."""

    def members(self, timeout: float) -> list[tuple[str, BaseModel]] | None:
        """``(suffix, options)`` of each member, or None: the target stands for itself."""
        ...


@runtime_checkable
class RegionSplit(Protocol):
    """Target options whose collection splits into one work unit per region, and the rest."""

    def split_regions(
        self, resource_types: Sequence[str]
    ) -> list[tuple[str | None, BaseModel, tuple[str, ...]]]:
        """``(region or None for the rest, options, resource types)`` per work unit."""
        ...


@runtime_checkable
class Collecting(Protocol):
    """A connection that holds, for its collectors, what it can let go of once none that
    runs needs it any more (an AWS connection: clients and their service models)."""

    def collecting(self) -> AbstractContextManager[None]:
        """The context one collector runs in, from its start to its last resource."""
        ...


def members_of(pt: PlannedTarget, timeout: float) -> list[PlannedTarget]:
    """The targets `pt` stands for: itself, or each of its members, named
    ``<name>-<suffix>`` (an organisation's accounts: ``org-111111111111``). Raises what
    listing the members raises."""
    found = pt.options.members(timeout) if isinstance(pt.options, Members) else None
    if found is None:
        return [pt]
    return [
        replace(
            pt,
            target=Target(name=f"{pt.target.name}-{suffix}", provider=pt.target.provider),
            options=options,
        )
        for suffix, options in found
    ]


def unreachable(pt: PlannedTarget, reason: str) -> tuple[dict[str, Any], list[CollectionFailure]]:
    """The snapshot entry and failures of a target that could not be reached: every
    resource type it was to give fails with `reason`."""
    entry = {"name": pt.target.name, "provider": pt.target.provider, "error": reason}
    return entry, [
        CollectionFailure(pt.target.name, pt.target.provider, t, reason) for t in pt.resource_types
    ]


def collect(
    plan: Plan, *, workers: int = 8, timeout: float = 300.0, progress: Progress | None = None
) -> Snapshot:
    """Collect every resource type the plan needs from every target, each type once per
    target; a target that stands for several (an organisation) is collected member by
    member, and one whose members cannot be listed fails whole."""
    snap = Snapshot(created_at=now_rfc3339())
    targets: list[PlannedTarget] = []
    for pt in plan.targets:
        try:
            targets += members_of(pt, timeout)
        except Exception as exc:
            entry, failures = unreachable(
                pt, f"cannot list the members of target {pt.target.name!r}: {describe(exc)}"
            )
            snap.targets.append(entry)
            snap.failures += failures
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="collect") as pool:
        connected = {pt.target.name: pool.submit(connect, pt, timeout) for pt in targets}
        jobs: dict[Future[list[dict[str, Any]]], tuple[PlannedTarget, str]] = {}
        for pt in targets:
            try:
                conn, identity = connected[pt.target.name].result(timeout=timeout)
            except Exception as exc:
                entry, failures = unreachable(
                    pt, f"cannot reach target {pt.target.name!r}: {describe(exc)}"
                )
                snap.targets.append(entry)
                snap.failures += failures
                continue
            snap.targets.append(
                {"name": pt.target.name, "provider": pt.target.provider, "identity": identity}
            )
            for rtype in pt.resource_types:
                jobs[pool.submit(_run_collector, pt, rtype, conn)] = (pt, rtype)
        done, pending = wait(jobs, timeout=timeout)
        for fut in pending:
            fut.cancel()
            pt, rtype = jobs[fut]
            snap.failures.append(
                CollectionFailure(
                    pt.target.name,
                    pt.target.provider,
                    rtype,
                    f"collection timed out after {timeout:g}s",
                )
            )
        for fut in done:
            pt, rtype = jobs[fut]
            try:
                found = fut.result()
            except Exception as exc:
                snap.failures.append(
                    CollectionFailure(
                        pt.target.name,
                        pt.target.provider,
                        rtype,
                        f"collecting {rtype} failed: {describe(exc)}",
                    )
                )
                continue
            snap.resources += found
            if progress:
                progress(f"{pt.target.name}: {rtype}", len(found))
    snap.resources.sort(key=lambda r: (r["type"], r["scope"].get("target", ""), r["id"]))
    return snap


def collect_types(
    conn: Any,
    pt: PlannedTarget,
    types: Sequence[str],
    *,
    pool: Executor,
    timeout: float,
    failing_as: str | None = None,
) -> tuple[list[dict[str, Any]], list[CollectionFailure]]:
    """Resources of `types` from one connected target, each type on `pool`, and what
    failed (scoped to `failing_as`, default the target's name). For a work unit of a
    target: the same collectors and failures as `collect`, for some of its types."""
    jobs = {pool.submit(_run_collector, pt, t, conn): t for t in types}
    done, pending = wait(jobs, timeout=timeout)
    where = failing_as or pt.target.name
    failures = []
    for fut in pending:
        fut.cancel()
        failures.append(
            CollectionFailure(
                where, pt.target.provider, jobs[fut], f"collection timed out after {timeout:g}s"
            )
        )
    resources: list[dict[str, Any]] = []
    for fut in done:
        rtype = jobs[fut]
        try:
            resources += fut.result()
        except Exception as exc:
            failures.append(
                CollectionFailure(
                    where, pt.target.provider, rtype, f"collecting {rtype} failed: {describe(exc)}"
                )
            )
    resources.sort(key=lambda r: (r["type"], r["id"]))
    failures.sort(key=lambda f: f.resource_type)
    return resources, failures


def connect(pt: PlannedTarget, timeout: float) -> tuple[Any, dict[str, Any]]:
    """The target's connection and who it acts as (the provider's first call)."""
    spec = registry.get_provider(pt.target.provider)
    if spec is None:
        raise LookupError(f"no provider named {pt.target.provider!r} is registered")
    conn = spec.connect(pt.options, timeout)
    return conn, spec.identity(conn)


def _run_collector(pt: PlannedTarget, rtype: str, conn: Any) -> list[dict[str, Any]]:
    spec = registry.get_collector(rtype)
    if spec is None:
        raise LookupError(f"no collector is registered for resource type {rtype!r}")
    stamp = now_rfc3339()
    out = []
    with conn.collecting() if isinstance(conn, Collecting) else nullcontext():
        for resource in spec.run(conn, pt.attributes.get(rtype)):
            resource["scope"] = {**resource.get("scope", {}), "target": pt.target.name}
            resource["collected_at"] = stamp
            out.append(resource)
    return out


def describe(exc: BaseException) -> str:
    """An exception in one line, its type named once."""
    text = str(exc) or type(exc).__name__
    return text if type(exc).__name__ in text else f"{type(exc).__name__}: {text}"


def write_snapshot(snap: Snapshot, path: Path) -> None:
    """JSON lines: a header with targets and failures, then one resource per line."""
    header = {
        "schema": SNAPSHOT_SCHEMA,
        "created_at": snap.created_at,
        "targets": snap.targets,
        "failures": [asdict(f) for f in snap.failures],
    }
    with atomic_write(path) as out:
        out.write(json.dumps(header, sort_keys=True) + "\n")
        for r in snap.resources:
            out.write(json.dumps(r, sort_keys=True) + "\n")


def read_snapshot(path: Path) -> Snapshot:
    lines = _lines(path)
    try:
        lineno, header = next(lines)
    except StopIteration:
        raise ConfigError("empty snapshot; expected a header line", file=path, line=1) from None
    if header.get("schema") != SNAPSHOT_SCHEMA:
        raise ConfigError(
            f"expected a header with schema {SNAPSHOT_SCHEMA!r}; got {header.get('schema')!r}",
            file=path,
            line=lineno,
        )
    try:
        failures = [CollectionFailure(**f) for f in header.get("failures", [])]
    except TypeError as exc:
        raise ConfigError(f"bad failure entry: {exc}", file=path, line=lineno) from None
    snap = Snapshot(header.get("created_at", ""), header.get("targets", []), failures)
    for lineno, obj in lines:
        for key, kind in (("type", str), ("id", str), ("scope", dict), ("attributes", dict)):
            if not isinstance(obj.get(key), kind):
                raise ConfigError(
                    f"resource needs {key!r} ({kind.__name__}); got {obj.get(key)!r}",
                    file=path,
                    line=lineno,
                )
        snap.resources.append(obj)
    return snap


def _lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read snapshot: {exc.strerror}", file=path) from None
    with handle:
        for lineno, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"invalid JSON: {exc.msg}", file=path, line=lineno) from None
            if not isinstance(obj, dict):
                raise ConfigError("expected a JSON object", file=path, line=lineno)
            yield lineno, obj
