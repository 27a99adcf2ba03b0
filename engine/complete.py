"""Completing a sharded run: every shard of the N must have finished; then the run's
closing record and its signed checkpoint, the changes against the previous complete
run, and one report for the whole run.

The closing record is the run's ``run_finished`` without a ``shard``: with it, the run
index counts the run finished (a baseline for the next one). Its ``costs`` (milliseconds
per group) weigh the next run's assignment. Completing a run that is already complete
writes nothing and reports it again.

A unit's results count once: those of the attempt whose ``unit_finished`` came first,
so a shard run twice at once cannot double them. The completing process holds the
run's findings (its reports list them all); the shards never do.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assay.checks import Result, Status
from assay.engine.catalog import LoadedControl
from assay.engine.changes import ledger_baseline, run_index
from assay.engine.collect import CollectionFailure, now_rfc3339
from assay.engine.evaluate import Finding
from assay.engine.planner import Plan
from assay.engine.report import RunReport
from assay.engine.run import RunFrame, append_records, build_report, summary_counts
from assay.engine.severity import Severity
from assay.engine.sharded import RunState, ShardError, run_state
from assay.errors import AssayError, ConfigError, ExitCode
from assay.evidence import Pseudonymizer, load_key, open_ledger, to_record_value
from assay.evidence.backends.dbapi import SqlLedger
from assay.evidence.pseudonym import DEFAULT_KEY_PATH, PREFIX
from assay.evidence.signing import DEFAULT_SIGNER, Signer
from assay.words import counted


class RunIncomplete(AssayError):
    """Some shards of the run have not finished: it cannot be completed yet."""

    exit_code = ExitCode.ERRORS


def complete_run(
    plan: Plan,
    run_prefix: str,
    shards: int,
    *,
    ledger_url: str,
    fail_on: Severity,
    profile: str,
    wait: float | None = None,
    poll: float = 5.0,
    only_new: bool = False,
    trend_runs: int = 10,
    signer: Signer = DEFAULT_SIGNER,
    pseudonym_key: Path = DEFAULT_KEY_PATH,
    sleep: Callable[[float], None] = time.sleep,
) -> RunReport:
    """Complete run `run_prefix` (an id or unique prefix) of `shards` shards.

    With `wait` (seconds), wait that long for missing shards, polling every `poll`;
    raises RunIncomplete naming the shards still missing, ShardError when the shards
    disagree on the plan or the shard count.
    """
    key = Pseudonymizer(load_key(pseudonym_key, create=False))
    signer = signer.with_attestation(plan.profile.evidence.attestation(plan.profile_path))
    signing_key, log = signer.resolve()
    deadline = None if wait is None else time.monotonic() + wait
    with open_ledger(ledger_url, create=False, checkpoint_log=log) as ledger:
        index = run_index(ledger)
        while True:
            run = find_run(index, run_prefix)
            state = run_state(index, run) if run is not None else RunState(run_prefix)
            missing = state.missing(shards)
            if state.closed or not missing:
                break
            if deadline is None or time.monotonic() >= deadline:
                raise RunIncomplete(
                    incomplete_message(state, shards),
                    remediation="run the missing shards again with the same run id "
                    "(finished work units are not repeated), then complete the run",
                )
            sleep(poll)
        check_shards(state, shards)
        findings = run_findings(index, state, plan)
        failures = [CollectionFailure(**f) for u in state.units.values() for f in u.failures]
        targets = sorted(
            (u.target for u in state.units.values() if u.target), key=lambda t: str(t["name"])
        )
        entry = index.runs_with_prefix(state.run, 1)[0]
        base, trend = ledger_baseline(index, entry.targets, trend_runs, exclude=state.run)
        finished = now_rfc3339()
        frame = RunFrame(
            state.run, state.started_at or finished, finished, profile, targets, failures
        )
        report = build_report(
            plan,
            findings,
            frame,
            key=key,
            base=base,
            trend=trend,
            fail_on=fail_on,
            only_new=only_new,
        )
        if state.closed:
            return report
        costs: dict[str, int] = {}
        for unit in state.units.values():
            costs[unit.group] = costs.get(unit.group, 0) + unit.ms
        closing = {
            "kind": "run_finished",
            "at": finished,
            "run": state.run,
            "fail_on": fail_on.value,
            "exit_code": report.exit_code,
            "counts": summary_counts(report.summary),
            "collection_failures": to_record_value([vars(f) for f in failures]),
            "shards": shards,
            "units": len(state.units),
            "costs": dict(sorted(costs.items())),
        }
        report.ledger = append_records(ledger, [closing], key, signing_key)
    return report


def find_run(ledger: SqlLedger[Any], prefix: str) -> str | None:
    """The run whose id is `prefix`, else the one id that starts with it; None when
    there is none yet."""
    matches = ledger.runs_with_prefix(prefix, 10)
    if any(m.run == prefix for m in matches):
        return prefix
    if len(matches) > 1:
        ids = ", ".join(m.run for m in matches)
        raise ConfigError(f"{len(matches)} runs match {prefix!r} ({ids})", field="RUN")
    return matches[0].run if matches else None


def incomplete_message(state: RunState, shards: int) -> str:
    """Which shards the run still lacks, told apart: never started, or started and not
    finished (died, or still running)."""
    missing = state.missing(shards)
    never = [i for i in missing if i not in state.plans]
    stopped = [i for i in missing if i in state.plans]
    parts = []
    if stopped:
        parts.append(f"{_shards(stopped)} started but not finished")
    if never:
        parts.append(f"{_shards(never)} never started")
    done = shards - len(missing)
    return (
        f"run {state.run} is incomplete: {done} of {counted(shards, 'shard')} finished; "
        + "; ".join(parts)
    )


def _shards(indexes: list[int]) -> str:
    word = "shard" if len(indexes) == 1 else "shards"
    return f"{word} {', '.join(map(str, indexes))}"


def check_shards(state: RunState, shards: int) -> None:
    """Every shard ran with `shards` as its count and on the same plan."""
    plans = {plan for found in state.plans.values() for plan in found}
    counts = sorted({count for count, _ in plans})
    if counts != [shards]:
        raise ShardError(
            f"run {state.run} was sharded {' and '.join(map(str, counts))} ways, not {shards}; "
            "complete it with the --shards its shards ran with"
        )
    digests = {digest for _, digest in plans}
    if len(digests) > 1:
        by = {index: sorted(d for _, d in found) for index, found in sorted(state.plans.items())}
        raise ShardError(
            f"the shards of run {state.run} planned different work ({by}): their shares "
            "do not fit together",
            remediation="start the run again under a new run id",
        )


def run_findings(ledger: SqlLedger[Any], state: RunState, plan: Plan) -> list[Finding]:
    """The run's findings from its result records, each unit's counted once (its first
    finished attempt's), in the order an unsharded run reports them."""
    controls: dict[str, LoadedControl] = {c.control.id: c for c in plan.controls}
    order = {cid: i for i, cid in enumerate(controls)}
    waivers = {w.id: w for w in plan.profile.waivers}
    findings = []
    for stored in ledger.run_records(state.run):
        rec = stored.record
        if rec.get("kind") != "result":
            continue
        done = state.units.get(str(rec.get("unit")))
        if done is None or done.attempt != rec.get("attempt"):
            continue
        cid = rec["control"]["id"]
        loaded = controls.get(cid)
        if loaded is None:
            raise ConfigError(
                f"the run's results include control {cid!r}, which this profile does not "
                "select; complete the run with the profile and filters its shards ran with",
                field="--profile",
            )
        # As the shard saw them: fingerprints and waivers match on the addresses, which
        # the records carry as pseudonyms and the vault keeps (unless erased since).
        rec = restore(rec, ledger.vault_get)
        result = Result(
            status=Status(rec["status"]), reason=rec["reason"], observed=rec.get("observed") or {}
        )
        findings.append(
            Finding(loaded, rec["resource"], result, waiver=waivers.get(rec.get("waiver") or ""))
        )
    findings.sort(
        key=lambda f: (
            order[f.control.control.id],
            f.resource["type"],
            str(f.resource.get("scope", {}).get("target", "")),
            f.resource["id"],
        )
    )
    return findings


_PSEUDONYM = re.compile(re.escape(PREFIX) + "[0-9a-f]{64}")


def restore(value: Any, vault_get: Callable[[str], str | None]) -> Any:
    """`value` with each pseudonym in its strings (dict keys too) replaced by the value
    the vault holds for it; a pseudonym the vault no longer holds stays."""
    if isinstance(value, str):
        return _PSEUDONYM.sub(lambda m: vault_get(m.group(0)) or m.group(0), value)
    if isinstance(value, dict):
        return {restore(k, vault_get): restore(v, vault_get) for k, v in value.items()}
    if isinstance(value, list):
        return [restore(v, vault_get) for v in value]
    return value
