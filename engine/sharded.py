"""One shard of a sharded run: its share of the work, appended unit by unit to the
ledger every shard of the run shares.

A shard writes a ``run_started`` (with ``shard: {index, count, plan}``), then, for each
work unit it owns, the unit's ``result`` records and a ``unit_finished`` record in one
batch, then a ``run_finished`` with its ``shard``. It never writes the run's closing
record: that is `complete.complete_run`'s, once every shard of the N has finished.

Memory stays flat in the organisation's size: a shard holds one work unit's resources
and findings at a time, and of the baseline only the results of its own share.

Re-running a shard (same run id, same index) skips the units the ledger already holds,
each having been appended whole or not at all, so no result is recorded twice; a shard
that already finished does nothing.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from assay import __version__
from assay.engine.changes import Baseline, fingerprint, ledger_baseline, run_index, since
from assay.engine.collect import (
    CollectionFailure,
    RegionSplit,
    Snapshot,
    collect_types,
    connect,
    describe,
    members_of,
    now_rfc3339,
    unreachable,
)
from assay.engine.evaluate import evaluate
from assay.engine.planner import Plan, PlannedTarget
from assay.engine.run import append_records, finding_record
from assay.engine.shard import Shard, assign, group_of, plan_digest, unit_key
from assay.errors import AssayError
from assay.evidence import (
    Ledger,
    Pseudonymizer,
    SigningKey,
    load_key,
    open_ledger,
    to_record_value,
)
from assay.evidence.backends.dbapi import SqlLedger
from assay.evidence.pseudonym import DEFAULT_KEY_PATH
from assay.evidence.signing import DEFAULT_SIGNER, Signer

UNIT_FINISHED = "unit_finished"


class ShardError(AssayError):
    """A shard cannot take part in its run as asked."""


@dataclass(frozen=True)
class UnitDone:
    """A unit as its first ``unit_finished`` record has it: the attempt (shard process)
    whose results count, and what the unit cost and found."""

    unit: str
    group: str
    shard: int
    attempt: str
    ms: int
    target: dict[str, Any] | None
    failures: tuple[dict[str, Any], ...]


@dataclass
class RunState:
    """What the ledger holds of a sharded run so far."""

    run: str
    plans: dict[int, set[tuple[int, str]]] = field(default_factory=dict)
    """Shard index -> the (count, plan digest) each of its ``run_started`` records gave."""
    started_at: str | None = None
    finished: set[int] = field(default_factory=set)
    units: dict[str, UnitDone] = field(default_factory=dict)
    closed: bool = False
    """Its closing record is in: the run is complete."""

    def missing(self, count: int) -> list[int]:
        """The shards of `count` that have not finished."""
        return [i for i in range(count) if i not in self.finished]


def run_state(ledger: SqlLedger[Any], run: str) -> RunState:
    """Read the run's records (through the run index) into a `RunState`; results are
    skipped, so memory grows with the run's units, not its results."""
    state = RunState(run)
    for stored in ledger.run_records(run):
        rec = stored.record
        kind, shard = rec.get("kind"), rec.get("shard")
        if kind == "run_started" and isinstance(shard, dict):
            index = int(shard.get("index", -1))
            state.plans.setdefault(index, set()).add(
                (int(shard.get("count", 0)), str(shard.get("plan")))
            )
            state.started_at = state.started_at or rec.get("at")
        elif kind == "run_finished":
            if isinstance(shard, dict):
                state.finished.add(int(shard.get("index", -1)))
            else:
                state.closed = True
        elif kind == UNIT_FINISHED and rec.get("unit") not in state.units:
            state.units[str(rec["unit"])] = UnitDone(
                unit=str(rec["unit"]),
                group=str(rec.get("group")),
                shard=int(rec.get("shard", -1)),
                attempt=str(rec.get("attempt")),
                ms=int(rec.get("ms", 0)),
                target=rec.get("target"),
                failures=tuple(rec.get("collection_failures") or ()),
            )
    return state


@dataclass(frozen=True)
class WorkPlan:
    """The run's groups (one per target, an organisation's accounts each one) and the
    share of each shard, as every shard computes it."""

    groups: list[PlannedTarget]
    broken: dict[str, str]
    """Group name -> why its members could not be listed (it fails whole)."""
    weights: dict[str, float]
    assignment: dict[str, int]
    digest: str

    def share(self, shard: Shard) -> list[PlannedTarget]:
        return [g for g in self.groups if self.assignment[g.target.name] == shard.index]

    @property
    def target_names(self) -> list[str]:
        return [g.target.name for g in self.groups]


def work_plan(plan: Plan, ledger: SqlLedger[Any], count: int, timeout: float) -> WorkPlan:
    """Expand the plan's targets into groups and assign them to `count` shards, weighted
    by what each cost in the last complete run over the same targets."""
    groups: list[PlannedTarget] = []
    broken: dict[str, str] = {}
    for pt in plan.targets:
        try:
            groups += members_of(pt, timeout)
        except Exception as exc:
            groups.append(pt)
            broken[pt.target.name] = (
                f"cannot list the members of target {pt.target.name!r}: {describe(exc)}"
            )
    groups.sort(key=lambda g: g.target.name)
    names = [g.target.name for g in groups]
    weights = last_costs(ledger, names)
    return WorkPlan(
        groups, broken, weights, assign(names, weights, count), plan_digest(names, count, weights)
    )


def last_costs(ledger: SqlLedger[Any], names: list[str]) -> dict[str, float]:
    """Milliseconds per group in the last complete run over these targets, from its
    closing record (empty when there is none, or it was not sharded)."""
    entries = ledger.runs(targets=names, finished=True, limit=1)
    if not entries:
        return {}
    closing = ledger.record(entries[0].last_seq)
    costs = closing.record.get("costs") if closing is not None else None
    if not isinstance(costs, dict):
        return {}
    return {str(g): float(ms) for g, ms in costs.items() if isinstance(ms, int)}


@dataclass
class ShardOutcome:
    """What one shard process did: its groups, the units it recorded and those the
    ledger already held, its results and collection failures."""

    run_id: str
    shard: Shard
    groups: int = 0
    units: int = 0
    skipped: int = 0
    results: int = 0
    failures: list[CollectionFailure] = field(default_factory=list)
    already_finished: bool = False


Progress = Callable[[str, int], None]  # (unit finished, results it recorded)


def run_shard(
    plan: Plan,
    shard: Shard,
    run_id: str,
    *,
    ledger_url: str,
    profile: str,
    workers: int = 8,
    timeout: float = 300.0,
    signer: Signer = DEFAULT_SIGNER,
    pseudonym_key: Path = DEFAULT_KEY_PATH,
    progress: Progress | None = None,
) -> ShardOutcome:
    """Run shard `shard` of run `run_id`: its share of the work units, each appended to
    the ledger as soon as it is evaluated (signed, with a signing key)."""
    # Every shard must fingerprint alike: the key is shared, never made up here.
    key = Pseudonymizer(load_key(pseudonym_key, create=False))
    signer = signer.with_attestation(plan.profile.evidence.attestation(plan.profile_path))
    signing_key, log = signer.resolve()
    outcome = ShardOutcome(run_id, shard)
    with open_ledger(ledger_url, checkpoint_log=log) as ledger:
        index = run_index(ledger)
        state = run_state(index, run_id)
        if state.closed:
            raise ShardError(
                f"run {run_id} is already complete; a new run needs a new run id",
                remediation="give --run-id a new value, or let the next Job derive one",
            )
        if shard.index in state.finished:
            outcome.already_finished = True
            return outcome
        work = work_plan(plan, index, shard.count, timeout)
        _check_agreement(state, shard, work.digest)
        mine = work.share(shard)
        names = {g.target.name for g in mine}
        base, _ = ledger_baseline(
            index,
            work.target_names,
            1,
            keep=lambda rec: group_of(str(rec["resource"].get("scope", {}).get("target"))) in names,
        )
        writer = _Writer(ledger, key, signing_key, run_id, shard)
        writer.append(
            [
                {
                    "kind": "run_started",
                    "at": now_rfc3339(),
                    "run": run_id,
                    "assay_version": __version__,
                    "profile": profile,
                    "targets": [
                        {"name": g.target.name, "provider": g.target.provider} for g in work.groups
                    ],
                    "controls": [c.control.id for c in plan.controls],
                    "shard": {**shard.as_record(), "plan": work.digest, "groups": len(mine)},
                }
            ]
        )
        outcome.groups = len(mine)
        outcome.skipped = sum(1 for done in state.units.values() if done.group in names)
        with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="collect") as pool:
            for group in mine:
                broken = work.broken.get(group.target.name)
                for unit in _group_units(group, broken, state, pool, timeout):
                    written = writer.unit(plan, unit, base)
                    outcome.units += 1
                    outcome.results += written
                    outcome.failures += unit.failures
                    if progress:
                        progress(unit.key, written)
        writer.append(
            [
                {
                    "kind": "run_finished",
                    "at": now_rfc3339(),
                    "run": run_id,
                    "shard": shard.as_record(),
                    "units": outcome.units,
                    "skipped_units": outcome.skipped,
                }
            ]
        )
    return outcome


def _check_agreement(state: RunState, shard: Shard, digest: str) -> None:
    """Refuse to work on a plan other shards of the run did not make: their shares would
    overlap or leave work out (the organisation changed between their starts)."""
    for index, plans in sorted(state.plans.items()):
        for count, other in plans:
            if count != shard.count:
                raise ShardError(
                    f"shard {index} of run {state.run} runs with {count} shards, this one "
                    f"with {shard.count}; every shard of a run needs the same --shards"
                )
            if other != digest:
                raise ShardError(
                    f"shard {index} of run {state.run} planned other work (plan {other}, "
                    f"this shard's {digest}): the targets or their accounts changed since "
                    "it started, so the shards' shares no longer fit together",
                    remediation="start the run again under a new run id",
                )


@dataclass
class _Unit:
    """One work unit, collected: what it found and what failed."""

    key: str
    group: str
    region: str | None
    target: dict[str, Any] | None  # the group's snapshot entry, on its `*` unit
    resources: list[dict[str, Any]]
    failures: list[CollectionFailure]
    ms: int


def _group_units(
    group: PlannedTarget,
    broken: str | None,
    state: RunState,
    pool: ThreadPoolExecutor,
    timeout: float,
) -> Iterator[_Unit]:
    """The group's units, collected one at a time (each yielded before the next is
    collected). A group that cannot be reached fails whole in its ``*`` unit; its
    region units are then recorded empty, so a re-run does not try them again."""
    name = group.target.name
    splits = (
        group.options.split_regions(group.resource_types)
        if isinstance(group.options, RegionSplit)
        else [(None, group.options, group.resource_types)]
    )
    pending = [s for s in splits if unit_key(name, s[0]) not in state.units]
    if not pending:
        return
    begun = time.monotonic()
    reason = broken
    conn: Any = None
    entry: dict[str, Any] | None = None
    if reason is None:
        try:
            conn, identity = connect(group, timeout)
            entry = {"name": name, "provider": group.target.provider, "identity": identity}
        except Exception as exc:
            reason = f"cannot reach target {name!r}: {describe(exc)}"
    if reason is not None:
        entry, failures = unreachable(group, reason)
        for region, _, _ in pending:
            yield _Unit(
                unit_key(name, region),
                name,
                region,
                entry if region is None else None,
                [],
                failures if region is None else [],
                _ms(begun),
            )
        return
    for region, options, types in pending:
        if region is None:
            found, failures = collect_types(conn, group, types, pool=pool, timeout=timeout)
            yield _Unit(unit_key(name, None), name, None, entry, found, failures, _ms(begun))
        else:
            yield _region_unit(replace(group, options=options), region, types, pool, timeout)
        begun = time.monotonic()


def _region_unit(
    pt: PlannedTarget, region: str, types: tuple[str, ...], pool: ThreadPoolExecutor, timeout: float
) -> _Unit:
    name = pt.target.name
    where = f"{name}/{region}"
    begun = time.monotonic()
    try:
        conn, _ = connect(pt, timeout)
    except Exception as exc:
        failures = [
            CollectionFailure(
                where, pt.target.provider, t, f"cannot reach {where}: {describe(exc)}"
            )
            for t in types
        ]
        return _Unit(unit_key(name, region), name, region, None, [], failures, _ms(begun))
    found, failures = collect_types(conn, pt, types, pool=pool, timeout=timeout, failing_as=where)
    # A collector that answers for other regions (or the account) in a region's unit
    # would be counted once per region: say so rather than record it N times.
    strays = sorted({r["type"] for r in found if r["scope"].get("region") != region})
    for rtype in strays:
        failures.append(
            CollectionFailure(
                where,
                pt.target.provider,
                rtype,
                f"the {rtype} collector returned resources outside region {region}; "
                "its type must be collected with the account, not per region",
            )
        )
    found = [r for r in found if r["type"] not in strays]
    return _Unit(unit_key(name, region), name, region, None, found, failures, _ms(begun))


def _ms(since_monotonic: float) -> int:
    return int((time.monotonic() - since_monotonic) * 1000)


class _Writer:
    """Appends one shard's batches to the open ledger, signed when there is a key."""

    def __init__(
        self,
        ledger: Ledger,
        key: Pseudonymizer,
        signing_key: SigningKey | None,
        run_id: str,
        shard: Shard,
    ) -> None:
        self.ledger = ledger
        self.key = key
        self.signing_key = signing_key
        self.run_id = run_id
        self.shard = shard
        # One attempt per process: a unit's results count only with its own unit_finished.
        self.attempt = str(uuid.uuid4())

    def append(self, records: list[dict[str, Any]]) -> None:
        append_records(self.ledger, records, self.key, self.signing_key)

    def unit(self, plan: Plan, unit: _Unit, base: Baseline) -> int:
        """Evaluate one unit and append its results and its ``unit_finished`` in one batch;
        returns how many results it recorded."""
        snap = Snapshot(
            created_at=now_rfc3339(),
            targets=[unit.target] if unit.target else [],
            failures=unit.failures,
            resources=unit.resources,
        )
        findings = evaluate(plan, snap)
        at = now_rfc3339()
        tags = {"unit": unit.key, "shard": self.shard.index, "attempt": self.attempt}
        records = []
        for f in findings:
            fp = fingerprint(self.key, f.control.control.id, f.resource["id"])
            dates = since(base, fp, f.status.value, at)
            records.append(finding_record(f, run=self.run_id, at=at, fp=fp, dates=dates, **tags))
        records.append(
            {
                "kind": UNIT_FINISHED,
                "at": at,
                "run": self.run_id,
                **tags,
                "group": unit.group,
                "region": unit.region,
                "target": to_record_value(unit.target),
                "results": len(findings),
                "ms": unit.ms,
                "collection_failures": [vars(f) for f in unit.failures],
            }
        )
        self.append(records)
        return len(findings)
