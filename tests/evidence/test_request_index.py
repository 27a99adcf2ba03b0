"""The request index agrees with a full scan of the records, on every backend: after
request steps among runs and other records, appended one by one and in batches, a
migration of a ledger written before the index, and a dropped or tampered index. It
is never evidence: verification ignores it, and a tampered index can hide a step from
the queue but never put another record in it."""

from __future__ import annotations

from typing import Any

from evidence_backends import Backend
from schema_versions import set_back, version_before

from assay.evidence import Ledger, SigningKey, sign_checkpoint, verify_ledger
from assay.evidence.backends import postgres_schema, sqlite_schema
from assay.evidence.backends.dbapi import SqlLedger
from assay.evidence.backends.request_index import KIND


def step(request: str, event: str, **fields: Any) -> dict[str, Any]:
    return {"kind": KIND, "event": event, "at": "2024-05-01T00:00:00Z", "request": request,
            **fields}  # fmt: skip


def requests_among_runs(ledger: Ledger) -> None:
    """Steps of three requests between runs' records, alone and inside batches; and
    records that look like steps but are not: another kind carrying a request field,
    a step without a request id, a step nested in another record."""
    ledger.append([step("DSR-a", "received", type="access")])
    ledger.append([{"kind": "run_started", "run": "r-1", "targets": []}])
    ledger.append(
        [
            {"kind": "result", "run": "r-1", "request": "DSR-a"},
            step("DSR-b", "received", type="erasure"),
            {"kind": "note", "body": step("DSR-a", "rejected")},
            step("DSR-a", "verified", method="reply"),
        ]
    )
    ledger.append([{"kind": KIND, "event": "received"}, {"kind": KIND, "request": 7}])
    ledger.append([step("DSR-c", "received", type="access")] * 3)
    ledger.append([{"kind": "run_finished", "run": "r-1", "counts": {}}])
    ledger.append([step("DSR-b", "verified"), step("DSR-a", "planned")])


def scan(ledger: Ledger, request: str | None = None) -> list[int]:
    """The seqs the index should hold, as a full scan of the records says."""
    return [
        s.seq
        for s in ledger.records()
        if s.record.get("kind") == KIND
        and isinstance(s.record.get("request"), str)
        and request in (None, s.record["request"])
    ]


def indexed(ledger: Ledger, request: str | None = None) -> list[int]:
    assert isinstance(ledger, SqlLedger)
    return [s.seq for s in ledger.request_records(request)]


def agrees_with_a_scan(ledger: Ledger) -> None:
    assert indexed(ledger) == scan(ledger)
    for request in ("DSR-a", "DSR-b", "DSR-c", "DSR-none"):
        assert indexed(ledger, request) == scan(ledger, request)
    assert isinstance(ledger, SqlLedger)
    stored = {s.seq: s for s in ledger.records()}
    assert all(stored[s.seq] == s for s in ledger.request_records())  # the stored bytes


def test_the_index_holds_exactly_the_request_steps(backend: Backend) -> None:
    with backend.open() as ledger:
        requests_among_runs(ledger)
        agrees_with_a_scan(ledger)
        assert len(indexed(ledger, "DSR-a")) == 3 and len(indexed(ledger, "DSR-c")) == 3


def test_steps_are_read_a_page_at_a_time_past_a_page(backend: Backend) -> None:
    with backend.open() as ledger:
        assert isinstance(ledger, SqlLedger)
        page = ledger.dialect.page
        for start in range(0, page + 3, 1000):
            ledger.append(
                [
                    step(f"DSR-{i % 3}", "received")
                    for i in range(start, min(start + 1000, page + 3))
                ]
            )
        ledger.append([{"kind": "note"}])
        assert indexed(ledger) == scan(ledger) and len(scan(ledger)) == page + 3
        assert indexed(ledger, "DSR-1") == scan(ledger, "DSR-1")


def previous_version(backend: Backend) -> int:
    """The schema version before the request index's migration."""
    return version_before(
        backend, sqlite_schema.create_request_index, postgres_schema.fill_request_index
    )


def test_a_ledger_written_before_the_index_gains_it_on_open(backend: Backend) -> None:
    with backend.open() as ledger:
        # More records than a page of either backend's backfill, steps on both sides.
        requests_among_runs(ledger)
        for start in range(0, 6000, 1000):
            ledger.append(
                [{"kind": "result", "run": "big", "n": i} for i in range(start, start + 1000)]
            )
        ledger.append([step("DSR-c", "verified"), step("DSR-d", "received")])
        expected = scan(ledger)
    # What an older assay left: the same tables and records, no index, the version before.
    set_back(backend, previous_version(backend), ("dsr_records",))
    with backend.open() as ledger:
        assert indexed(ledger) == expected
        agrees_with_a_scan(ledger)
        ledger.append([step("DSR-d", "verified")])  # and appends keep it from there
        agrees_with_a_scan(ledger)
    version = backend.execute("SELECT value FROM meta WHERE key = 'schema_version'")
    assert version == [(str(previous_version(backend) + 1),)]


def test_a_dropped_index_is_rebuilt_on_open(backend: Backend) -> None:
    with backend.open() as ledger:
        requests_among_runs(ledger)
    backend.execute("DROP TABLE dsr_records")
    with backend.open() as ledger:
        agrees_with_a_scan(ledger)


def tamper_with_the_index(backend: Backend) -> None:
    """Hide one step of DSR-a, and point DSR-b at a run's record."""
    hidden = backend.execute("SELECT min(seq) FROM dsr_records WHERE request = 'DSR-a'")[0][0]
    backend.execute("DELETE FROM dsr_records WHERE seq = ?", (hidden,))
    backend.execute("INSERT INTO dsr_records (seq, request) VALUES (1, 'DSR-b')")


def test_a_tampered_index_is_rebuilt_from_the_records(backend: Backend) -> None:
    with backend.open() as ledger:
        requests_among_runs(ledger)
    tamper_with_the_index(backend)
    with backend.open() as ledger:
        assert indexed(ledger, "DSR-a") != scan(ledger, "DSR-a")
        assert isinstance(ledger, SqlLedger)
        ledger.rebuild_request_index()
        agrees_with_a_scan(ledger)


def test_a_tampered_index_neither_passes_nor_fails_verification(
    backend: Backend, log_key: SigningKey
) -> None:
    keys = [log_key.verifier]
    with backend.open() as ledger:
        requests_among_runs(ledger)
        sign_checkpoint(ledger, log_key, adopt_tail=True, at="2024-06-01T00:00:00Z")
        honest = verify_ledger(ledger, keys)
    assert honest.ok
    tamper_with_the_index(backend)
    with backend.open() as ledger:
        assert verify_ledger(ledger, keys) == honest
