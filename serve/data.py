"""What the console shows, read from the ledger through its run index, never a full scan.

Every page and API answer is built here from three reads the index makes cheap: the
runs (`SqlLedger.runs`, O(runs)), one run's records (`SqlLedger.run_records`, by the
seq ranges the index holds) and single records (`Ledger.record`). Bodies are parsed
with orjson for display; verification is the evidence module's (`prove`, `verify`).
"""

from __future__ import annotations

import bisect
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import orjson

from assay.engine.changes import Change, classify, run_counts
from assay.engine.evaluate import CriterionScore, FrameworkScore
from assay.engine.formats.html import overall_score
from assay.engine.report import where
from assay.evidence import Checkpoint
from assay.evidence.backends.dbapi import SqlLedger
from assay.evidence.backends.run_index import RunEntry

SEVERITIES = ("critical", "high", "medium", "low", "info")
STATUSES = ("fail", "waived", "error", "pass", "not_applicable")
CHANGES = tuple(c.value for c in Change if c is not Change.GONE)
SORTS = ("severity", "status", "control", "resource", "change")
TREND_RUNS = 12


class NotFound(LookupError):
    """No run, record or finding answers to what was asked."""


@dataclass(frozen=True)
class Titles:
    """Titles of frameworks and criteria, by id, from the catalog (records carry ids)."""

    frameworks: dict[str, str] = field(default_factory=dict)
    criteria: dict[tuple[str, str], str] = field(default_factory=dict)


@dataclass(frozen=True)
class ControlText:
    """What the catalog says of a control, for people (records carry ids only)."""

    title: str
    remediation: str


@dataclass(frozen=True)
class Run:
    """One run in the runs list (and the API's answer for a run)."""

    run: str
    profile: str | None
    targets: tuple[str, ...]
    started_at: str | None
    finished_at: str | None
    complete: bool
    results: int
    by_status: dict[str, int]
    waived: int
    score: float | None
    """passed / (passed + unwaived failures); None for an incomplete run."""
    first_seq: int
    last_seq: int
    checkpoint: str | None
    """The label of the first signed checkpoint covering all its records, if any."""

    @property
    def failed(self) -> int:
        """Failures no waiver accepts."""
        return int(self.by_status.get("fail", 0)) - self.waived


@dataclass(slots=True)
class Finding:
    """One result record of a run, as the findings table (and the API) shows it."""

    seq: int
    hash: str
    control: str
    severity: str
    frameworks: dict[str, list[str]]
    resource_id: str
    resource_name: str
    where: str
    status: str
    """The record's status, or ``waived`` for a failure a waiver accepts."""
    waiver: str | None
    reason: str
    fingerprint: str
    change: str | None
    """`Change` from the baseline run, None when the run has no baseline."""

    def matches(self, text: str) -> bool:
        hay = f"{self.control}\n{self.resource_id}\n{self.resource_name}\n{self.reason}"
        return text.casefold() in hay.casefold()


@dataclass(frozen=True)
class FindingQuery:
    """The findings table's filter, search, sort and page (all optional)."""

    status: str = ""
    severity: str = ""
    change: str = ""
    q: str = ""
    sort: str = "severity"
    page: int = 1
    per_page: int = 100

    def apply(self, rows: Sequence[Finding]) -> list[Finding]:
        picked = [
            r
            for r in rows
            if (not self.status or r.status == self.status)
            and (not self.severity or r.severity == self.severity)
            and (not self.change or r.change == self.change)
            and (not self.q or r.matches(self.q))
        ]
        picked.sort(key=_SORT_KEYS.get(self.sort, _SORT_KEYS["severity"]))
        return picked


def _rank(values: Sequence[str], value: str | None) -> int:
    return values.index(value) if value in values else len(values)


_SORT_KEYS = {
    "severity": lambda r: (_rank(SEVERITIES, r.severity), _rank(STATUSES, r.status), r.control),
    "status": lambda r: (_rank(STATUSES, r.status), _rank(SEVERITIES, r.severity), r.control),
    "control": lambda r: (r.control, r.resource_id),
    "resource": lambda r: (r.resource_name, r.resource_id, r.control),
    "change": lambda r: (_rank(CHANGES, r.change), _rank(SEVERITIES, r.severity), r.control),
}


@dataclass
class RunView:
    """A run's page: its row, its scores per criterion, its trend, its findings."""

    row: Run
    frameworks: list[FrameworkScore]
    """Each finding counted once per framework its control maps to."""
    scores: list[CriterionScore]
    trend: list[tuple[str, float | None]]
    """(label, overall score) of the finished runs of its profile up to it, oldest first."""
    findings: list[Finding]
    baseline: str | None
    """The finished run over the same targets before it, changes are relative to."""
    gone: int = 0
    """Results of the baseline this run no longer has."""
    changes: Counter[str] = field(default_factory=Counter)


class Checkpoints:
    """The ledger's signed checkpoints by size: which one first covers a record."""

    def __init__(self, checkpoints: Iterable[Checkpoint]) -> None:
        self.all = sorted(checkpoints, key=lambda c: c.size)
        self._sizes = [c.size for c in self.all]

    def covering(self, seq: int) -> Checkpoint | None:
        """The smallest checkpoint whose tree holds record `seq`."""
        at = bisect.bisect_right(self._sizes, seq)
        return self.all[at] if at < len(self.all) else None


def run_row(entry: RunEntry, checkpoints: Checkpoints) -> Run:
    counts = run_counts(entry.counts) if entry.counts else {}
    by_status = {str(k): int(v) for k, v in counts.get("by_status", {}).items()}
    waived = int(counts.get("waived", 0))
    covering = checkpoints.covering(entry.last_seq)
    return Run(
        run=entry.run,
        profile=entry.profile,
        targets=entry.targets,
        started_at=entry.started_at,
        finished_at=entry.finished_at,
        complete=entry.finished,
        results=entry.results,
        by_status=by_status,
        waived=waived,
        score=overall_score(by_status, waived) if entry.finished else None,
        first_seq=entry.first_seq,
        last_seq=entry.last_seq,
        checkpoint=None if covering is None else covering.label,
    )


def list_runs(ledger: SqlLedger[Any], *, limit: int = 200) -> list[Run]:
    """The last `limit` runs, newest first, from the index alone."""
    checkpoints = Checkpoints(ledger.checkpoints())
    return [run_row(e, checkpoints) for e in ledger.runs(limit=limit)]


def find_run(ledger: SqlLedger[Any], run: str) -> RunEntry:
    """The run whose id is `run`; NotFound if the index has none."""
    matches = ledger.runs_with_prefix(run, 1)
    if not matches or matches[0].run != run:
        raise NotFound(f"no run {run!r} in the ledger")
    return matches[0]


def _results(ledger: SqlLedger[Any], run: str) -> Iterable[tuple[int, str, dict[str, Any]]]:
    """The ``result`` records of `run`, parsed: ``(seq, hash, record)`` in seq order."""
    for stored in ledger.run_records(run):
        rec = orjson.loads(stored.body)
        if rec.get("kind") == "result":
            yield stored.seq, stored.hash, rec


def baseline_of(ledger: SqlLedger[Any], entry: RunEntry) -> RunEntry | None:
    """The last finished run over the same targets that ended before `entry` began."""
    for other in ledger.runs(targets=entry.targets, finished=True):
        if other.last_seq < entry.first_seq:
            return other
    return None


def finding_row(seq: int, digest: str, rec: dict[str, Any], change: str | None) -> Finding:
    control = rec.get("control") or {}
    resource = rec.get("resource") or {}
    waiver = rec.get("waiver")
    status = str(rec.get("status"))
    return Finding(
        seq=seq,
        hash=digest,
        control=str(control.get("id")),
        severity=str(control.get("severity")),
        frameworks=control.get("frameworks") or {},
        resource_id=str(resource.get("id")),
        resource_name=str(resource.get("name") or resource.get("id")),
        where=where(resource),
        status="waived" if status == "fail" and waiver else status,
        waiver=waiver if isinstance(waiver, str) else None,
        reason=str(rec.get("reason") or ""),
        fingerprint=str(rec.get("fingerprint")),
        change=change,
    )


def framework_scores(findings: Iterable[Finding], titles: dict[str, str]) -> list[FrameworkScore]:
    """Per framework, its findings' statuses, each finding once however many of the
    framework's criteria its control maps to."""
    tallies: dict[str, FrameworkScore] = {}
    criteria: dict[str, set[str]] = {}
    for f in findings:
        for fw, crits in f.frameworks.items():
            tally = tallies.setdefault(fw, FrameworkScore(framework=fw, title=titles.get(fw, "")))
            criteria.setdefault(fw, set()).update(crits)
            if f.status == "pass":
                tally.passed += 1
            elif f.status == "fail":
                tally.failed += 1
            elif f.status == "waived":
                tally.waived += 1
            elif f.status == "error":
                tally.errors += 1
            else:
                tally.not_applicable += 1
    for fw, tally in tallies.items():
        tally.criteria = len(criteria[fw])
    return [tallies[fw] for fw in sorted(tallies)]


@cache
def _change(previous: str | None, current: str) -> str:
    return classify(previous, current).value


class FindingsCache:
    """The findings of the runs opened last, compared with their baselines: a run's
    records never change once written, so its id, last seq and record count (and its
    baseline's) name them exactly, and paging, filtering or sorting a run reads nothing."""

    def __init__(self, keep: int = 4) -> None:
        self.keep = keep
        self._kept: OrderedDict[tuple[Any, ...], tuple[list[Finding], int]] = OrderedDict()
        self._lock = threading.Lock()

    def of(
        self, ledger: SqlLedger[Any], entry: RunEntry, base: RunEntry | None
    ) -> tuple[list[Finding], int]:
        """The findings of `entry` with their change since `base`, and how many of the
        baseline's results it no longer has."""
        key = (ledger.url, _version(entry), None if base is None else _version(base))
        with self._lock:
            if key in self._kept:
                self._kept.move_to_end(key)
                return self._kept[key]
        found = compared(ledger, entry, base)
        with self._lock:
            self._kept[key] = found
            while len(self._kept) > self.keep:
                self._kept.popitem(last=False)
        return found


def _version(entry: RunEntry) -> tuple[str, int, int]:
    return entry.run, entry.last_seq, entry.records


def compared(
    ledger: SqlLedger[Any], entry: RunEntry, base: RunEntry | None
) -> tuple[list[Finding], int]:
    """`FindingsCache.of`, read from the ledger."""
    before: dict[str, str] | None = None
    if base is not None:
        before = {
            str(rec.get("fingerprint")): str(rec.get("status"))
            for _, _, rec in _results(ledger, base.run)
        }
    findings = []
    for seq, digest, rec in _results(ledger, entry.run):
        change = None
        if before is not None:
            change = _change(before.pop(str(rec.get("fingerprint")), None), str(rec.get("status")))
        findings.append(finding_row(seq, digest, rec, change))
    return findings, len(before or {})


def run_view(
    ledger: SqlLedger[Any],
    run: str,
    titles: Titles,
    cache: FindingsCache,
) -> RunView:
    """Everything the run page shows; NotFound for an unknown run."""
    entry = find_run(ledger, run)
    row = run_row(entry, Checkpoints(ledger.checkpoints()))
    base = baseline_of(ledger, entry)
    findings, gone = cache.of(ledger, entry, base)
    counts = run_counts(entry.counts) if entry.counts else {}
    scores = [
        CriterionScore(
            framework=str(c["framework"]),
            criterion=str(c["criterion"]),
            title=titles.criteria.get((str(c["framework"]), str(c["criterion"])), ""),
            controls=[],
            passed=int(c.get("passed", 0)),
            failed=int(c.get("failed", 0)),
            waived=int(c.get("waived", 0)),
            errors=int(c.get("errors", 0)),
        )
        for c in counts.get("criteria", [])
    ]
    return RunView(
        row=row,
        frameworks=framework_scores(findings, titles.frameworks),
        scores=scores,
        trend=trend_of(ledger, entry),
        findings=findings,
        baseline=None if base is None else base.run,
        gone=gone,
        changes=Counter(f.change for f in findings if f.change),
    )


def trend_of(ledger: SqlLedger[Any], entry: RunEntry) -> list[tuple[str, float | None]]:
    """The overall score of the last finished runs of the profile of `entry`, up to it."""
    points = []
    for other in ledger.runs(profile=entry.profile, finished=True, limit=TREND_RUNS * 4):
        if other.last_seq > entry.last_seq:
            continue
        counts = run_counts(other.counts)
        score = overall_score(counts.get("by_status", {}), int(counts.get("waived", 0)))
        points.append((other.finished_at or other.run, score))
        if len(points) == TREND_RUNS:
            break
    return points[::-1]


@dataclass(frozen=True)
class Record:
    """One result record, whole, with its finding."""

    row: Finding
    record: dict[str, Any]
    body: bytes


def finding(ledger: SqlLedger[Any], seq: int) -> Record:
    """The result record at `seq`; NotFound if there is none or it is not a result."""
    stored = ledger.record(seq)
    if stored is None:
        raise NotFound(f"no record {seq} in the ledger")
    rec = orjson.loads(stored.body)
    if not isinstance(rec, dict) or rec.get("kind") != "result":
        raise NotFound(f"record {seq} is not a result")
    return Record(finding_row(seq, stored.hash, rec, None), rec, stored.body)


@dataclass(frozen=True)
class DiffRow:
    change: str
    control: str
    resource_id: str
    resource_name: str
    status: str | None


def diff(ledger: SqlLedger[Any], run_a: str, run_b: str) -> list[DiffRow]:
    """What changed from run A to run B (unchanged results left out), by change kind."""
    a, b = find_run(ledger, run_a), find_run(ledger, run_b)
    before: dict[str, dict[str, Any]] = {
        str(rec["fingerprint"]): rec for _, _, rec in _results(ledger, a.run)
    }
    rows = []
    for _, _, rec in _results(ledger, b.run):
        prev = before.pop(str(rec["fingerprint"]), None)
        change = classify(None if prev is None else str(prev["status"]), str(rec["status"]))
        if change is not Change.UNCHANGED:
            rows.append(_diff_row(change, rec, str(rec["status"])))
    rows += [_diff_row(Change.GONE, rec, None) for rec in before.values()]
    order = list(Change)
    rows.sort(key=lambda r: (order.index(Change(r.change)), r.control, r.resource_id))
    return rows


def _diff_row(change: Change, rec: dict[str, Any], status: str | None) -> DiffRow:
    resource = rec.get("resource") or {}
    return DiffRow(
        change=change.value,
        control=str((rec.get("control") or {}).get("id")),
        resource_id=str(resource.get("id")),
        resource_name=str(resource.get("name") or resource.get("id")),
        status=status,
    )
