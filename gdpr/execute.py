"""Carrying out an erasure plan, and proving afterwards that nothing erasable is left.

Per datastore: ONE transaction with a statement timeout and a lock timeout; in the
plan's order (referencing tables first); one DELETE per table and one UPDATE per group of
columns, each over the planned keys (chunked, never per row). Every statement must
affect exactly the rows the plan counted; any difference (someone changed the data since
planning) rolls the whole store back. A process killed mid-way leaves an open
transaction the database rolls back: nothing half-erased, and the plan can run again.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, Literal

from assay.gdpr.errors import ConflictError, GdprError
from assay.gdpr.identity import Identity
from assay.gdpr.model import Resolved
from assay.gdpr.plan import ErasurePlan, TablePlan, plan_erasure
from assay.gdpr.sqltext import Sql, chunks
from assay.gdpr.stores import Store
from assay.gdpr.strategies import delete_statement, update_statement
from assay.gdpr.traverse import CHUNK, find_subject, reading
from assay.words import counted


@dataclass(frozen=True)
class Statement:
    """One executed statement: what it did, to how many rows, and the SHA-256 of its SQL text
    (placeholders, not values), so the evidence shows which statement ran."""

    store: str
    table: str
    action: Literal["delete", "update"]
    columns: tuple[str, ...]
    rows: int
    fingerprint: str


@dataclass
class ErasureResult:
    statements: list[Statement] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return sum(s.rows for s in self.statements)


@dataclass
class Residual:
    """What a fresh read still finds erasable after an erasure (all zero when it worked)."""

    counts: dict[str, int]
    plan: ErasurePlan

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def execute_erasure(
    plan: ErasurePlan,
    stores: Mapping[str, Store],
    *,
    hash_key: bytes,
    statement_timeout: float = 30.0,
    lock_timeout: float = 5.0,
    on_commit: Callable[[str, list[Statement]], None] | None = None,
) -> ErasureResult:
    """Run `plan`, one transaction per store; ConflictError (rolled back) on a count mismatch.
    `on_commit(store, statements)` runs as each store's transaction commits."""
    started = time.perf_counter()
    result = ErasureResult()
    order = list(dict.fromkeys(tp.table.store for tp in plan.tables))
    committed: list[str] = []
    for store_name in order:
        store = stores[store_name]
        mine = [tp for tp in plan.tables if tp.table.store == store_name and tp.erasable]
        if not mine:
            continue
        try:
            with store.write(statement_timeout, lock_timeout):
                done = [s for tp in mine for s in _run_table(store, tp, hash_key)]
        except GdprError as exc:
            if committed:
                exc.message += (
                    f" (stores already erased and committed: {', '.join(committed)}; "
                    "run the erasure again to finish)"
                )
            raise
        committed.append(store_name)
        result.statements += done
        if on_commit is not None:
            on_commit(store_name, done)
    result.seconds = time.perf_counter() - started
    return result


def _run_table(store: Store, tp: TablePlan, hash_key: bytes) -> list[Statement]:
    table = tp.table
    out = []
    if tp.delete:
        n, fp = _run(store, tp.delete, partial(delete_statement, store, table))
        _expect(store, table.name, "delete", tp.delete_rows, n)
        out.append(Statement(store.name, table.name, "delete", (), n, fp))
    for g in tp.updates:
        if not g.rows:
            continue
        n, fp = _run(
            store, g.keys, partial(update_statement, store, table, g.columns, hash_key=hash_key)
        )
        _expect(store, table.name, f"update ({', '.join(g.columns)})", g.rows, n)
        out.append(Statement(store.name, table.name, "update", g.columns, n, fp))
    return out


def _run(
    store: Store, keys: Sequence[Any], build: Callable[[Sequence[Any]], Sql]
) -> tuple[int, str]:
    affected = 0
    fingerprint = ""
    for part in chunks(keys, CHUNK):
        q: Sql = build(part)
        if not fingerprint:
            text = q.text.as_string(None)
            fingerprint = "sha256:" + hashlib.sha256(text.encode()).hexdigest()
        affected += store.execute(q)
    return affected, fingerprint


def _expect(store: Store, table: str, action: str, planned: int, affected: int) -> None:
    if affected != planned:
        raise ConflictError(
            f"store {store.name!r}: {table}: {action} affected {counted(affected, 'row')}, the "
            f"plan counted {planned}; the data changed since planning. Rolled back: this store "
            "is exactly as it was",
            remediation="plan again (assay dsr erase --dry-run) and re-run the erasure",
        )


def verify_erasure(
    resolved: Resolved,
    stores: Mapping[str, Store],
    plan: ErasurePlan,
    identities: Sequence[Identity],
    now: datetime,
) -> Residual:
    """Find the subject again, from the identities and from every key and value the plan
    saw, and plan once more: whatever that plan would still erase is residual."""
    with reading(stores):
        snap = find_subject(resolved, stores, identities, prior=plan.snapshot)
        again = plan_erasure(resolved, stores, snap, now)
    return Residual({tp.table.name: tp.erasable for tp in again.tables}, again)
