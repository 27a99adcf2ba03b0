"""A run: evaluate a snapshot, summarise, gate, and append the whole run to the evidence ledger."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

from assay import __version__
from assay.engine.changes import (
    Baseline,
    Change,
    ChangeInfo,
    Gone,
    RunPoint,
    Since,
    baseline_from_file,
    compare,
    fingerprint,
    ledger_baseline,
    run_index,
    since,
)
from assay.engine.collect import CollectionFailure, Snapshot, now_rfc3339
from assay.engine.evaluate import Finding, Summary, evaluate, exit_code, summarise
from assay.engine.planner import Plan
from assay.engine.report import RunReport
from assay.engine.severity import Severity
from assay.evidence import (
    Ledger,
    Pseudonymizer,
    SigningKey,
    check_signing_key,
    load_key,
    open_ledger,
    redact_url,
    to_record_value,
)
from assay.evidence.pseudonym import DEFAULT_KEY_PATH, pseudonymise_emails
from assay.evidence.signing import DEFAULT_SIGNER, Signer


def execute(
    plan: Plan,
    snap: Snapshot,
    *,
    ledger_url: str | None,
    fail_on: Severity,
    profile: str,
    baseline_file: Path | None = None,
    only_new: bool = False,
    trend_runs: int = 10,
    signer: Signer = DEFAULT_SIGNER,
    pseudonym_key: Path = DEFAULT_KEY_PATH,
) -> RunReport:
    """Evaluate, compare with the baseline, then append the run to the ledger in one batch.

    One batch means one transaction: a run is in the ledger whole or not at all; with a
    signing key configured it then ends with a signed checkpoint (`record_run`). The
    baseline is the ledger's last finished run over the same targets (found through its
    run index, `ledger_baseline`) unless `baseline_file` names a results document; with
    `only_new`, only failures new since the baseline gate. Each result record carries its
    first_seen / fail_since dates forward from the baseline (`changes.since`).
    """
    started = now_rfc3339()
    findings = evaluate(plan, snap)
    finished = now_rfc3339()
    # One key for pseudonyms and fingerprints, kept outside the ledger.
    key = Pseudonymizer(load_key(pseudonym_key))
    base: Baseline = Baseline()
    trend: list[RunPoint] = []
    if ledger_url is not None:
        with open_ledger(ledger_url) as ledger:
            base, trend = ledger_baseline(
                run_index(ledger), {str(t.get("name")) for t in snap.targets}, trend_runs
            )
    if baseline_file is not None:
        base = baseline_from_file(baseline_file, key)
    report = build_report(
        plan,
        findings,
        RunFrame(str(uuid.uuid4()), started, finished, profile, snap.targets, snap.failures),
        key=key,
        base=base,
        trend=trend,
        fail_on=fail_on,
        only_new=only_new,
    )
    if ledger_url is not None:
        # The profile's evidence settings: a TSA and witnesses asked for each checkpoint.
        signer = signer.with_attestation(plan.profile.evidence.attestation(plan.profile_path))
        records = run_records(report, plan, snap, fail_on)
        report.ledger = record_run(ledger_url, records, key, signer)
    return report


@dataclass(frozen=True)
class RunFrame:
    """What a report says of its run besides the findings."""

    run_id: str
    started_at: str
    finished_at: str
    profile: str
    targets: list[dict[str, Any]]
    failures: list[CollectionFailure]


def build_report(
    plan: Plan,
    findings: list[Finding],
    frame: RunFrame,
    *,
    key: Pseudonymizer,
    base: Baseline,
    trend: list[RunPoint],
    fail_on: Severity,
    only_new: bool = False,
) -> RunReport:
    """The report of a run's findings: summary, changes against `base` (gone only where
    the run looked: the control ran and the target answered), and the gate's exit code."""
    finished = frame.finished_at
    changes: dict[str, ChangeInfo] = {}
    gone: list[Gone] = []

    def fp(f: Finding) -> str:
        return fingerprint(key, f.control.control.id, f.resource["id"])

    if base.run_id is not None:
        changes, all_gone = compare(((fp(f), f.status.value) for f in findings), base, finished)
        planned = {c.control.id for c in plan.controls}
        unreachable = {fl.target for fl in frame.failures}
        gone = [
            g
            for g in all_gone
            if g.seen.control in planned
            and g.seen.resource.get("scope", {}).get("target") not in unreachable
        ]

    def is_new(f: Finding) -> bool:
        change = changes.get(fp(f))
        return change is not None and change.change is Change.NEW_FAILURE

    code = exit_code(findings, fail_on, is_new if only_new else None)
    return RunReport(
        run_id=frame.run_id,
        started_at=frame.started_at,
        finished_at=finished,
        profile=frame.profile,
        targets=frame.targets,
        failures=frame.failures,
        findings=findings,
        summary=summarise(plan, findings),
        exit_code=int(code),
        fingerprint_key=key,
        baseline=(f"run {base.run_id} ({base.at})" if base.run_id else None),
        changes=changes,
        gone=gone,
        trend=trend,
        since={fp(f): since(base, fp(f), f.status.value, finished) for f in findings},
    )


def record_run(
    ledger_url: str,
    records: Sequence[dict[str, Any]],
    pseudonymizer: Pseudonymizer,
    signer: Signer = DEFAULT_SIGNER,
) -> dict[str, Any]:
    """Append a run's records in one batch, signed in the same transaction when `signer`
    finds a key (the checkpoint then also goes to its checkpoint log).

    A bad key (SigningKeyError), or one that cannot sign this ledger, an unsigned tail
    included (LedgerError), stops it before anything is written; a damaged ledger raises
    LedgerDamagedError. Returns the run's `report.ledger`.
    """
    key, log = signer.resolve()
    with open_ledger(ledger_url, checkpoint_log=log) as ledger:
        return append_records(ledger, records, pseudonymizer, key)


def append_records(
    ledger: Ledger,
    records: Sequence[dict[str, Any]],
    pseudonymizer: Pseudonymizer,
    key: SigningKey | None,
) -> dict[str, Any]:
    """Append `records` to an open ledger in one batch, signed in the same transaction
    with `key` (checked first: a key that cannot sign writes nothing); returns the
    batch's `report.ledger`. `records` may build each record when it is read
    (`Records`)."""
    # Records never carry an address in the clear: a keyed pseudonym goes in the hashed
    # log, the address into the vault, whose rows can be erased without breaking the log.
    vault: dict[str, str] = {}
    if key is not None:
        check_signing_key(ledger, key)
    # With a key, the checkpoint is stored in the append's own transaction.
    stored = ledger.append(
        Records(len(records), lambda i: pseudonymise_emails(records[i], pseudonymizer, vault)),
        key=key,
    )
    checkpoint = stored.checkpoint
    # After the records, so a refused append leaves no address behind in the vault.
    for pseudonym, raw in vault.items():
        ledger.vault_put(pseudonym, raw)
    return {
        "url": redact_url(ledger.url),
        "records": stored.count,
        "first_seq": stored.first,
        "head": stored.head,
        "checkpoint": None if checkpoint is None else checkpoint.brief(),
    }


class Records(Sequence[dict[str, Any]]):
    """`size` ledger records, the i-th built by `build(i)` whenever it is read and kept
    nowhere: the ledger seals and stores them as it reads them, so a batch of any size
    never holds all its records at once."""

    def __init__(self, size: int, build: Callable[[int], dict[str, Any]]) -> None:
        self.size, self.build = size, build

    def __len__(self) -> int:
        return self.size

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            return [self.build(i) for i in range(*index.indices(self.size))]
        if not -self.size <= index < self.size:
            raise IndexError(f"record {index} of a batch of {self.size}")
        return self.build(index % self.size)


def run_records(report: RunReport, plan: Plan, snap: Snapshot, fail_on: Severity) -> Records:
    """A run's records: ``run_started``, a ``result`` per finding, ``run_finished``."""
    started = {
        "kind": "run_started",
        "at": report.started_at,
        "run": report.run_id,
        "assay_version": __version__,
        "profile": report.profile,
        "snapshot_created_at": snap.created_at,
        "targets": to_record_value(snap.targets),
        "controls": [c.control.id for c in plan.controls],
    }
    finished = {
        "kind": "run_finished",
        "at": report.finished_at,
        "run": report.run_id,
        "fail_on": fail_on.value,
        "exit_code": report.exit_code,
        "counts": summary_counts(report.summary),
        "collection_failures": to_record_value([vars(f) for f in snap.failures]),
    }
    last = len(report.findings) + 1

    def build(i: int) -> dict[str, Any]:
        if i == 0:
            return started
        return finished if i == last else result_record(report, report.findings[i - 1])

    return Records(last + 1, build)


def result_record(report: RunReport, f: Finding) -> dict[str, Any]:
    fp = report.fingerprint(f)
    return finding_record(
        f, run=report.run_id, at=report.finished_at, fp=fp, dates=report.since[fp]
    )


def finding_record(
    f: Finding, *, run: str, at: str, fp: str, dates: Since, **extra: Any
) -> dict[str, Any]:
    """The ``result`` record of one finding, with `extra` fields (a shard's unit)."""
    c = f.control.control
    return {
        "kind": "result",
        "at": at,
        "run": run,
        "control": {
            "id": c.id,
            "severity": c.severity.value,
            "frameworks": c.frameworks,
            "check": c.check,
            "params": to_record_value(f.control.params),
        },
        "resource": to_record_value(f.resource),
        "status": f.status.value,
        "reason": f.result.reason,
        "observed": to_record_value(f.result.observed),
        "waiver": f.waiver.id if f.waiver else None,
        # Taken before addresses are pseudonymised, so runs compare on the same key.
        "fingerprint": fp,
        # Carried forward, so the next run's baseline needs no earlier history.
        "first_seen": dates.first_seen,
        "fail_since": dates.fail_since,
        **extra,
    }


def summary_counts(s: Summary) -> dict[str, Any]:
    # Scores stay integer counts: records carry no floats, and passed/(passed+failed) is derivable.
    return {
        "by_status": dict(s.counts),
        "waived": s.waived,
        "expired_waivers": [w.id for w in s.expired_waivers],
        "criteria": [
            {
                "framework": score.framework,
                "criterion": score.criterion,
                "passed": score.passed,
                "failed": score.failed,
                "waived": score.waived,
                "errors": score.errors,
            }
            for score in s.scores
        ],
    }
