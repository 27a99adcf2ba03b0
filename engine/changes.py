"""What changed since the baseline: per (control, resource) fingerprint, across runs in the ledger.

The baseline is the last completed run in the ledger (one streamed pass, memory bounded by
the number of fingerprints, not of runs), or a results document from an earlier run.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from assay.errors import ConfigError
from assay.evidence import Pseudonymizer

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


def ledger_history(
    records: Iterable[dict[str, Any]], keep_runs: int = 30, targets: Collection[str] | None = None
) -> tuple[Baseline, list[RunPoint]]:
    """The baseline (last completed run) and the last `keep_runs` completed runs, in one pass.

    A run counts once its `run_finished` record is in: an interrupted run never becomes a
    baseline. With `targets`, only runs over exactly those targets (by name) count, so a
    Kubernetes run is never compared with, or plotted against, an AWS one.
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


def run_results(
    records: Iterable[dict[str, Any]], run_prefix: str
) -> tuple[str, str, dict[str, Seen]]:
    """The one run whose id starts with `run_prefix`: (run id, finished at, results)."""
    matches: dict[str, dict[str, Seen]] = {}
    finished: dict[str, str] = {}
    for rec in records:
        run = rec.get("run")
        if not isinstance(run, str) or not run.startswith(run_prefix):
            continue
        if rec.get("kind") == "result":
            fp = record_fingerprint(rec)
            matches.setdefault(run, {})[fp] = Seen(
                rec["status"], rec["control"]["id"], rec["resource"]
            )
        elif rec.get("kind") == "run_finished":
            finished[run] = rec.get("at", "")
            matches.setdefault(run, {})
    if len(matches) != 1:
        what = "no run" if not matches else f"{len(matches)} runs ({', '.join(sorted(matches))})"
        raise ConfigError(f"{what} in the ledger match {run_prefix!r}", field="RUN")
    [(run, results)] = matches.items()
    return run, finished.get(run, ""), results


def classify(previous: str | None, current: str) -> Change:
    if previous is None:
        return Change.NEW_FAILURE if current == "fail" else Change.NEW_RESOURCE
    if current == "fail":
        return Change.STILL_FAILING if previous == "fail" else Change.NEW_FAILURE
    return Change.FIXED if previous == "fail" else Change.UNCHANGED


def compare(
    current: Iterable[tuple[str, str]], base: Baseline, now: str
) -> tuple[dict[str, ChangeInfo], list[Gone]]:
    """The change of each current (fingerprint, status), and what the baseline had that is gone."""
    changes: dict[str, ChangeInfo] = {}
    for fp, status in current:
        seen = base.results.get(fp)
        change = classify(seen.status if seen else None, status)
        if status == "fail":
            first = base.fail_since.get(fp, now) if change is Change.STILL_FAILING else now
        else:
            first = base.first_seen.get(fp, now)
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
