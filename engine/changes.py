"""What changed since the baseline: per (control, resource) fingerprint, across runs in the ledger.

The baseline is the last finished run in the ledger over the same targets, found through
the ledger's run index and read by its own records (`ledger_baseline`), or a results
document from an earlier run. Each result record carries when its fingerprint was first
seen and since when it has failed (`Since`), so no run needs the history before its
baseline.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from assay.errors import ConfigError
from assay.evidence import Ledger, LedgerError, Pseudonymizer, redact_url
from assay.evidence.backends.dbapi import SqlLedger
from assay.evidence.backends.run_index import RunEntry

# How many runs a prefix that matches several is shown with.
_SHOWN = 10

RESULTS_SCHEMA = "assay.results/v1"


class Change(StrEnum):
    NEW_FAILURE = "new_failure"  # failing now; passing, or not seen, in the baseline
    FIXED = "fixed"  # failing in the baseline, not failing now
    STILL_FAILING = "still_failing"
    UNCHANGED = "unchanged"  # not failing, then or now
    NEW_RESOURCE = "new_resource"  # not in the baseline, and not failing
    GONE = "resource_gone"  # in the baseline, not in this run


def fingerprint(key: Pseudonymizer, control_id: str, resource_id: str) -> str:
    """Stable across runs: the same control on the same resource has the same fingerprint.

    Keyed (the pseudonym key), because a resource id can name a person (an IAM user
    called after an e-mail address): without the key, nobody can test a guess against
    the fingerprints in the ledger or in reports.
    """
    return key.keyed_hex("fingerprint", f"{control_id}\x00{resource_id}")[:32]


@dataclass(frozen=True)
class Seen:
    status: str
    control: str
    resource: dict[str, Any]


@dataclass
class Baseline:
    run_id: str | None = None
    at: str | None = None
    results: dict[str, Seen] = field(default_factory=dict)
    first_seen: dict[str, str] = field(default_factory=dict)
    fail_since: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Since:
    """When a fingerprint was first seen, and, failing, since when it has failed without
    a break: what each result record carries forward for the runs after it."""

    first_seen: str
    fail_since: str | None  # None unless failing


@dataclass(frozen=True)
class ChangeInfo:
    change: Change
    previous: str | None  # the status in the baseline
    first_seen: str  # when this fingerprint first appeared (or, failing, when it began failing)
    last_seen: str


@dataclass(frozen=True)
class Gone:
    fingerprint: str
    seen: Seen
    last_seen: str


@dataclass(frozen=True)
class RunPoint:
    """One completed run, for trends: when, and the per-criterion counts it recorded."""

    run_id: str
    at: str
    counts: dict[str, Any]  # the run_finished record's counts: by_status, waived, criteria


def record_fingerprint(rec: dict[str, Any]) -> str:
    """A result record's fingerprint, stored with it (the record's resource id may be a
    pseudonym, and the key is not the ledger's to know)."""
    return str(rec["fingerprint"])


def run_index(ledger: Ledger) -> SqlLedger[Any]:
    """`ledger` as the keeper of a run index (every SQL ledger is one)."""
    if not isinstance(ledger, SqlLedger):
        raise LedgerError(f"ledger {redact_url(ledger.url)} keeps no run index")
    return ledger


def ledger_baseline(
    ledger: SqlLedger[Any],
    targets: Collection[str],
    keep_runs: int = 30,
    *,
    keep: Callable[[dict[str, Any]], bool] | None = None,
    exclude: str | None = None,
) -> tuple[Baseline, list[RunPoint]]:
    """The baseline and the last `keep_runs` finished runs over exactly the target names
    `targets` (oldest first, for the trend), from the run index; of the records, only
    the baseline's own are read.

    A run counts once it is finished (`RunEntry.finished`): an interrupted run never
    becomes a baseline. A Kubernetes run is never compared with, or plotted against, an
    AWS one. first_seen / fail_since are those the baseline's result records carry
    (`Since`): history runs from baseline to baseline, so a fingerprint missing from a
    run starts afresh when it comes back, as its change (new) already says.

    A baseline written before result records carried them gets them from one streamed
    pass over the ledger (`ledger_history`), exactly as before the index: the cost is
    paid once per set of targets, since the run written next carries them.

    With `keep`, only the baseline's result records it accepts are kept (a shard keeps
    those of its own share); run `exclude` never counts (a run being completed).
    """
    entries = ledger.runs(targets=targets, finished=True, limit=max(keep_runs, 1) + 1)
    entries = [e for e in entries if e.run != exclude][: max(keep_runs, 1)]
    if not entries:
        return Baseline(), []
    last = entries[0]
    base = Baseline(run_id=last.run, at=_run_at(last))
    carried = True
    for stored in ledger.run_records(last.run):
        rec = stored.record
        if rec.get("kind") != "result" or (keep is not None and not keep(rec)):
            continue
        fp = record_fingerprint(rec)
        base.results[fp] = Seen(rec["status"], rec["control"]["id"], rec["resource"])
        if not isinstance(rec.get("first_seen"), str):
            carried = False
            continue
        base.first_seen[fp] = rec["first_seen"]
        if rec["status"] == "fail" and isinstance(rec.get("fail_since"), str):
            base.fail_since[fp] = rec["fail_since"]
    if not carried:
        base = ledger_history((r.record for r in ledger.records()), 1, targets)[0]
    trend = [RunPoint(e.run, _run_at(e), run_counts(e.counts)) for e in entries[:keep_runs]]
    return base, trend[::-1]


def _run_at(entry: RunEntry) -> str:
    return entry.finished_at or entry.started_at or ""


def run_counts(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A run's counts from its run_finished records' (one per shard): statuses, waived
    results and per-criterion counts added up, expired waivers listed once."""
    if len(parts) == 1:
        return parts[0]
    by_status: dict[str, int] = {}
    criteria: dict[tuple[str, str], dict[str, Any]] = {}
    expired: set[str] = set()
    for part in parts:
        for status, n in part.get("by_status", {}).items():
            by_status[status] = by_status.get(status, 0) + n
        expired.update(part.get("expired_waivers", []))
        for score in part.get("criteria", []):
            key = (score["framework"], score["criterion"])
            total = criteria.setdefault(key, {"framework": key[0], "criterion": key[1]})
            for name in ("passed", "failed", "waived", "errors"):
                total[name] = total.get(name, 0) + score.get(name, 0)
    return {
        "by_status": by_status,
        "waived": sum(part.get("waived", 0) for part in parts),
        "expired_waivers": sorted(expired),
        "criteria": list(criteria.values()),
    }


def ledger_history(
    records: Iterable[dict[str, Any]], keep_runs: int = 30, targets: Collection[str] | None = None
) -> tuple[Baseline, list[RunPoint]]:
    """The streamed way to `ledger_baseline`: the baseline (last completed run) and the
    last `keep_runs` completed runs, in one pass over every record, with first_seen and
    fail_since over all of history. For baselines written before result records carried
    those dates.

    A run counts once its `run_finished` record is in: an interrupted run never becomes a
    baseline. With `targets`, only runs over exactly those targets (by name) count.
    """
    base = Baseline()
    points: list[RunPoint] = []
    pending: dict[str, dict[str, Seen]] = {}
    pending_at: dict[str, str] = {}
    for rec in records:
        kind, run = rec.get("kind"), rec.get("run")
        if not isinstance(run, str):
            continue
        if kind == "run_started":
            if targets is not None and _target_names(rec) != set(targets):
                continue
            pending[run] = {}
            pending_at[run] = rec.get("at", "")
        elif kind == "result" and run in pending:
            fp = record_fingerprint(rec)
            pending[run][fp] = Seen(rec["status"], rec["control"]["id"], rec["resource"])
        elif kind == "run_finished" and run in pending:
            at = rec.get("at") or pending_at[run]
            results = pending.pop(run)
            for fp, seen in results.items():
                base.first_seen.setdefault(fp, at)
                if seen.status == "fail":
                    base.fail_since.setdefault(fp, at)
                else:
                    base.fail_since.pop(fp, None)
            base.results, base.run_id, base.at = results, run, at
            points.append(RunPoint(run, at, rec.get("counts", {})))
            del points[:-keep_runs]
    return base, points


def _target_names(run_started: dict[str, Any]) -> set[str]:
    return {str(t.get("name")) for t in run_started.get("targets") or () if isinstance(t, dict)}


def baseline_from_file(path: Path, key: Pseudonymizer) -> Baseline:
    """A baseline from a results document (`--format json`) written by an earlier run.

    Fingerprints are made anew from its control and resource ids with `key`, so a
    document from a machine with another pseudonym key still compares.
    """
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read baseline: {exc}", file=path) from None
    if not isinstance(doc, dict) or doc.get("schema") != RESULTS_SCHEMA:
        got = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
        raise ConfigError(f"expected a {RESULTS_SCHEMA} document; got {got!r}", file=path)
    at = doc.get("run", {}).get("finished_at", "")
    base = Baseline(run_id=doc.get("run", {}).get("id"), at=at)
    for i, r in enumerate(doc.get("results", [])):
        try:
            fp = fingerprint(key, r["control"], r["resource"]["id"])
            base.results[fp] = Seen(r["status"], r["control"], r["resource"])
        except (KeyError, TypeError):
            raise ConfigError(
                f"results[{i}]: expected control, status and resource.id", file=path
            ) from None
        base.first_seen[fp] = r.get("first_seen") or at
        if r["status"] == "fail":
            base.fail_since[fp] = r.get("first_seen") or at
    return base


def run_results(ledger: SqlLedger[Any], run_prefix: str) -> tuple[str, str, dict[str, Seen]]:
    """The one run whose id starts with `run_prefix`: (run id, finished at, results),
    found in the run index and read by its own records."""
    matches = ledger.runs_with_prefix(run_prefix, _SHOWN)
    if len(matches) != 1:
        ids = ", ".join(m.run for m in matches)
        many = f"{len(matches)}{' or more' if len(matches) == _SHOWN else ''}"
        what = "no run" if not matches else f"{many} runs ({ids})"
        raise ConfigError(f"{what} in the ledger match {run_prefix!r}", field="RUN")
    [entry] = matches
    results: dict[str, Seen] = {}
    for stored in ledger.run_records(entry.run):
        rec = stored.record
        if rec.get("kind") == "result":
            fp = record_fingerprint(rec)
            results[fp] = Seen(rec["status"], rec["control"]["id"], rec["resource"])
    return entry.run, entry.finished_at or "", results


def classify(previous: str | None, current: str) -> Change:
    if previous is None:
        return Change.NEW_FAILURE if current == "fail" else Change.NEW_RESOURCE
    if current == "fail":
        return Change.STILL_FAILING if previous == "fail" else Change.NEW_FAILURE
    return Change.FIXED if previous == "fail" else Change.UNCHANGED


def since(base: Baseline, fp: str, status: str, now: str) -> Since:
    """The dates a result of `fp` with `status` at `now` carries, given the baseline: first
    seen when the baseline first saw it (else now); failing since the baseline's date if
    it failed there too (else now)."""
    first_seen = base.first_seen.get(fp, now)
    if status != "fail":
        return Since(first_seen, None)
    seen = base.results.get(fp)
    still = seen is not None and seen.status == "fail"
    return Since(first_seen, base.fail_since.get(fp, now) if still else now)


def compare(
    current: Iterable[tuple[str, str]], base: Baseline, now: str
) -> tuple[dict[str, ChangeInfo], list[Gone]]:
    """The change of each current (fingerprint, status), and what the baseline had that is gone."""
    changes: dict[str, ChangeInfo] = {}
    for fp, status in current:
        seen = base.results.get(fp)
        change = classify(seen.status if seen else None, status)
        dates = since(base, fp, status, now)
        first = dates.first_seen if dates.fail_since is None else dates.fail_since
        changes[fp] = ChangeInfo(change, seen.status if seen else None, first, now)
    gone = [Gone(fp, seen, base.at or "") for fp, seen in base.results.items() if fp not in changes]
    return changes, gone


def diff_runs(a: dict[str, Seen], b: dict[str, Seen]) -> Iterator[tuple[Change, Seen]]:
    """Changes from run A to run B, for `assay diff`; UNCHANGED pairs are left out."""
    for fp, seen in b.items():
        prev = a.get(fp)
        change = classify(prev.status if prev else None, seen.status)
        if change is not Change.UNCHANGED:
            yield change, seen
    for fp, seen in a.items():
        if fp not in b:
            yield Change.GONE, seen
