"""The request index: which records are data-subject request steps, by request id, so
that the request queue is folded from those records alone, not from every record.

A step of a request is a record of kind ``dsr`` whose ``request`` field holds the
request's id (`assay.gdpr.requests`). The index (table ``dsr_records``) holds one row
per such record, its seq and request id; the records themselves are read back by seq.

The index is a cache outside the hash chain, as the run index is: `index_requests`
keeps it in the append's own transaction; `rebuild` makes it anew from the records,
page by page (a migration, or the table found missing). Verification never reads it.
A reader keeps only records of kind ``dsr``, so a tampered index can hide a step from
the queue, never put a record that is not one in it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from assay.evidence.backends.run_index import Execute, rebuild_index

KIND = "dsr"
TABLES = ("dsr_records",)
"""The index's tables; derived, so one missing is rebuilt, not damage."""

_STEP = b'"' + KIND.encode() + b'"'  # in every body of the kind: read no other as JSON


@dataclass(frozen=True)
class RequestSql:
    """The index's statements with one DB-API parameter marker (build with `request_sql`)."""

    put: str
    steps_from: str
    """Indexed records with seq >= the first parameter, in seq order, a page (second)."""
    request_steps_from: str
    """The same for one request (first parameter), from the second, a page (third)."""
    mark: str


@cache
def request_sql(mark: str) -> RequestSql:
    """The index's statements with `mark` as the parameter marker (``?``, ``%s``)."""
    m = mark
    read = "SELECT r.seq, r.hash, r.body FROM dsr_records d JOIN records r ON r.seq = d.seq"
    return RequestSql(
        put=f"INSERT INTO dsr_records (seq, request) VALUES ({m}, {m})",
        steps_from=f"{read} WHERE d.seq >= {m} ORDER BY d.seq LIMIT {m}",
        request_steps_from=f"{read} WHERE d.request = {m} AND d.seq >= {m}"
        f" ORDER BY d.seq LIMIT {m}",
        mark=m,
    )


def index_requests(
    execute: Execute, mark: str, records: Iterable[tuple[int, Mapping[str, Any]]]
) -> None:
    """Add the request steps among `records` (``(seq, record)``) to the index, in the
    caller's transaction; other records cost a dictionary lookup."""
    put = request_sql(mark).put
    for seq, rec in records:
        request = rec.get("request")
        if rec.get("kind") == KIND and isinstance(request, str):
            execute(put, (seq, request))


def rebuild(execute: Execute, mark: str, page: int) -> None:
    """Empty the index and make it anew from every stored record, `page` records at a
    time. Only a body that names the kind is decoded."""
    rebuild_index(execute, mark, page, TABLES, index_requests, needle=_STEP)
