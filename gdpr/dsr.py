"""Running requests end to end: map + databases + ledger, one call per request type.

A `Session` loads and checks the data map against the live schemas (any error stops it
before a single row is read), connects the stores, and records every step of a request
in the ledger. The command line and `assay demo` are thin layers over it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from assay.evidence import Pseudonymizer, load_key
from assay.evidence.signing import DEFAULT_SIGNER, Signer
from assay.gdpr.access import AccessResult, write_access_package
from assay.gdpr.errors import GdprError, RequestError, ResidualDataError, SchemaMismatchError
from assay.gdpr.execute import (
    ErasureResult,
    Residual,
    Statement,
    execute_erasure,
    verify_erasure,
)
from assay.gdpr.identity import Identity, make_identities
from assay.gdpr.introspect import introspect
from assay.gdpr.keycheck import key_problems
from assay.gdpr.mapfile import LoadedMap, load_datamap
from assay.gdpr.model import Finding, Resolved
from assay.gdpr.plan import ErasurePlan, plan_erasure
from assay.gdpr.pointers import open_pointer, pointer_key, seal_pointer
from assay.gdpr.rectify import (
    Assignment,
    TableChange,
    apply_rectification,
    change_digests,
    plan_rectification,
)
from assay.gdpr.requests import (
    HELD_ERASED,
    RESIDUAL,
    STORE_ERASED,
    Request,
    RequestBook,
    State,
    now_utc,
)
from assay.gdpr.resolve import resolve
from assay.gdpr.stores import Store, open_stores
from assay.gdpr.traverse import Snapshot, find_subject, reading
from assay.words import counted


@dataclass
class ErasureOutcome:
    plan: ErasurePlan
    request: Request | None = None
    result: ErasureResult | None = None
    residual: Residual | None = None
    note: str = ""

    def stores(self) -> dict[str, str]:
        """Per store of the plan: erased earlier (a rerun leaves it be), to erase, or nothing."""
        done = self.request.stores_done if self.request is not None else {}
        out: dict[str, str] = {}
        for tp in self.plan.tables:
            name = tp.table.store
            if tp.erasable:
                out[name] = "to erase"
            elif out.get(name) != "to erase":
                out[name] = f"erased earlier ({done[name]})" if name in done else "nothing to erase"
        return out


@dataclass
class AccessOutcome:
    result: AccessResult
    snapshot: Snapshot
    request: Request | None = None


@dataclass
class RectifyOutcome:
    changes: list[TableChange]
    applied: dict[str, int] = field(default_factory=dict)
    request: Request | None = None


def lint_datamap(
    datamap: Path | LoadedMap, connections: Mapping[str, str] | None = None
) -> list[Finding]:
    """Every way the map and its live databases disagree (errors first)."""
    loaded = load_datamap(datamap) if isinstance(datamap, Path) else datamap
    with open_stores(loaded, connections) as stores:
        resolved, findings = _resolve(loaded, stores)
        if resolved is not None:
            with reading(stores):
                for table in resolved.tables.values():
                    findings += key_problems(table, stores[table.store])
    return sorted(findings, key=lambda f: f.level != "error")


def _resolve(
    loaded: LoadedMap, stores: Mapping[str, Store]
) -> tuple[Resolved | None, list[Finding]]:
    schemas = {n: introspect(s, loaded.datamap.stores[n].pg_schema) for n, s in stores.items()}
    return resolve(loaded, schemas, {n: s.kind for n, s in stores.items()})


@contextmanager
def open_session(
    datamap: Path | LoadedMap,
    *,
    ledger_url: str,
    key_path: Path,
    connections: Mapping[str, str] | None = None,
    clock: Callable[[], datetime] = now_utc,
    signer: Signer = DEFAULT_SIGNER,
    create_key: bool = True,
) -> Iterator[Session]:
    """A session over the map's stores; SchemaMismatchError if the map does not fit them.

    Without `create_key`, a missing pseudonym key is a PseudonymKeyError naming the file.
    """
    loaded = load_datamap(datamap) if isinstance(datamap, Path) else datamap
    with open_stores(loaded, connections) as stores:
        resolved, findings = _resolve(loaded, stores)
        if resolved is None:
            raise SchemaMismatchError(list(findings))
        # After the map is known to fit: the first problem reported is the first to fix.
        key = load_key(key_path, create=create_key)
        book = RequestBook(ledger_url, Pseudonymizer(key), clock, signer)
        yield Session(resolved, findings, stores, book, key)


class Session:
    def __init__(
        self,
        resolved: Resolved,
        findings: list[Finding],
        stores: dict[str, Store],
        book: RequestBook,
        key: bytes,
    ) -> None:
        self.resolved = resolved
        self.findings = findings
        self.stores = stores
        self.book = book
        self.clock = book.clock
        # Hashed columns get their own key, derived so it never equals the pseudonym key.
        self.hash_key = hmac.new(key, b"assay-gdpr column hash", hashlib.sha256).digest()
        self.pointer_key = pointer_key(key)

    @property
    def datamap_digest(self) -> str:
        return self.resolved.loaded.digest

    def identities(self, given: Sequence[tuple[str, str | int]]) -> list[Identity]:
        return make_identities(given, self.resolved.identities)

    def find(self, identities: Sequence[Identity]) -> Snapshot:
        with reading(self.stores):
            return find_subject(self.resolved, self.stores, identities)

    def request(
        self, request_id: str, kinds: Sequence[str], identities: Sequence[Identity]
    ) -> Request:
        """The request, checked: of one of `kinds`, for the subject of `identities`, verified."""
        request = self.book.get(request_id)
        if request.type not in kinds:
            raise RequestError(
                f"request {request.id} is a {request.type} request, not {' or '.join(kinds)}"
            )
        self.book.check_subject(request, identities)
        if request.state == State.RECEIVED:
            raise RequestError(
                f"request {request.id}: the subject's identity is not verified yet",
                remediation=f"verify it out of band, then: assay dsr verify {request.id} "
                "--method HOW",
            )
        if request.state == State.REJECTED:
            raise RequestError(f"request {request.id} was rejected: {request.reason}")
        return request

    # -- access and portability ------------------------------------------------------
    def access(
        self,
        identities: Sequence[Identity],
        out: Path,
        *,
        request_id: str | None = None,
        passphrase: str | None = None,
        expires_in: timedelta = timedelta(hours=72),
    ) -> AccessOutcome:
        request = None
        if request_id is not None:
            request = self.request(request_id, ("access", "portability"), identities)
            if request.state == State.COMPLETED:
                raise RequestError(f"request {request.id} is already completed")
        now = self.clock()
        meta = {"request": request_id, "type": request.type if request else "access"}
        with reading(self.stores):
            snap = find_subject(self.resolved, self.stores, identities)
            rows = {t: f.count() for t, f in snap.found.items() if f.table.role != "reference"}
            if request is not None:
                request = self.book.advance(
                    request, State.PLANNED, rows=rows, datamap=self.datamap_digest
                )
            result = write_access_package(
                self.resolved,
                self.stores,
                snap,
                out,
                meta=meta,
                passphrase=passphrase,
                now=now,
                expires_in=expires_in,
            )
        if request is not None:
            package = {
                "sha256": _file_sha256(out),
                "sealed": passphrase is not None,
                "expires_at": result.manifest["expires_at"],
                "files": [
                    {"name": f["name"], "sha256": f["sha256"]} for f in result.manifest["files"]
                ],
            }
            request = self.book.advance(request, State.EXECUTED, rows=result.rows, package=package)
            request = self.book.advance(
                request, State.COMPLETED, on_time=self.clock().date() <= request.due
            )
        return AccessOutcome(result, snap, request)

    # -- erasure -----------------------------------------------------------------------
    def erase(
        self,
        identities: Sequence[Identity],
        *,
        request_id: str | None = None,
        dry_run: bool = False,
        statement_timeout: float = 30.0,
        lock_timeout: float = 5.0,
    ) -> ErasureOutcome:
        request = None
        if request_id is not None:
            request = self.request(request_id, ("erasure",), identities)
        elif not dry_run:
            raise RequestError("an erasure runs for a verified request: give --request ID")
        with reading(self.stores):
            snap = find_subject(self.resolved, self.stores, identities)
            plan = plan_erasure(self.resolved, self.stores, snap, self.clock())
        if request is not None and request.state == State.COMPLETED:
            note = f"request {request.id} was completed already ({request.updated_at}); "
            return ErasureOutcome(plan, request, note=note + "nothing was changed")
        recovered = 0
        if request is not None:
            request, recovered = self._confirm_interrupted(request, plan)
            request = self.book.advance(
                request,
                State.PLANNED,
                dry_run=dry_run,
                plan=plan.summary(),
                plan_digest=plan.digest(),
                datamap=self.datamap_digest,
            )
        if dry_run or request is None:
            return ErasureOutcome(plan, request, note="dry run: nothing was written")
        held = sorted({f"{h.hold} ({h.basis})" for tp in plan.tables for h in tp.held})
        if plan.erasable == 0 and held:
            reason = "legal hold on the whole request: " + ", ".join(held)
            request = self.book.advance(
                request, State.REJECTED, reason=reason, **self._held(plan, request.id)
            )
            return ErasureOutcome(plan, request, note=reason)
        outcome = self._execute(plan, request, identities, statement_timeout, lock_timeout)
        if recovered and not plan.erasable:
            outcome.note = (
                f"an earlier run erased {counted(recovered, 'row')} but died before recording it: "
                "recorded now, found by reading the stores again"
            )
        return outcome

    def _confirm_interrupted(self, request: Request, plan: ErasurePlan) -> tuple[Request, int]:
        """Record what an erasure that died between its stores' commit and its ledger record
        did: the rows of its recorded plan that a fresh read (`plan`) no longer finds.

        Each store erases in one transaction, so a store either committed its part of the
        plan or rolled it back; a row the application deleted meanwhile is counted too, and
        the record says how the count was made.
        """
        if request.unconfirmed_plan is None:
            return request, 0
        now = {(tp.table.store, tp.table.name): tp.erasable for tp in plan.tables}
        gone: dict[str, int] = {}
        for t in request.unconfirmed_plan["plan"]["tables"]:
            before = int(t["delete"]) + int(t["update"]["rows"])
            n = before - now.get((t["store"], t["table"]), 0)
            if n > 0:
                gone[t["table"]] = n
        # Nothing gone: nothing had committed, and the plan runs again.
        return self._record_recovered(request, gone, "planned rows a fresh read no longer finds")

    def _confirm_interrupted_rectification(
        self, request: Request, changes: Sequence[TableChange]
    ) -> tuple[Request, int]:
        """As `_confirm_interrupted`, for a rectification: rows that already hold the values
        a real run planned to write were written by that run before it died."""
        if request.unconfirmed_plan is None:
            return request, 0
        planned = {t["table"] for t in request.unconfirmed_plan.get("changes", [])}
        done: dict[str, int] = {}
        for c in changes:
            if c.table.name in planned and (n := _already_set(c)):
                done[c.table.name] = done.get(c.table.name, 0) + n
        return self._record_recovered(
            request, done, "rows holding the planned values on a fresh read"
        )

    def _record_recovered(
        self, request: Request, tables: dict[str, int], how: str
    ) -> tuple[Request, int]:
        """Record `tables`' rows as executed by a run that died before it could say so."""
        if not tables:
            return request, 0
        rows = sum(tables.values())
        request = self.book.advance(
            request,
            State.EXECUTED,
            rows=rows,
            recovered={
                "tables": tables,
                "how": f"{how}, after a run that died before recording its execution",
            },
        )
        return request, rows

    def _execute(
        self,
        plan: ErasurePlan,
        request: Request,
        identities: Sequence[Identity],
        statement_timeout: float,
        lock_timeout: float,
    ) -> ErasureOutcome:
        """Execute, verify; what the verification still finds (rows written meanwhile, say by
        an application) is erased once more from its own plan, then verified again."""
        for attempt in (1, 2):
            result = self._run_plan(plan, request, statement_timeout, lock_timeout)
            request = self.book.advance(
                request,
                State.EXECUTED,
                rows=result.rows,
                milliseconds=int(result.seconds * 1000),
                statements=[_statement_record(s) for s in result.statements],
            )
            residual = verify_erasure(self.resolved, self.stores, plan, identities, self.clock())
            if not residual.total:
                break
            self.book.annotate(request, "residual", residual=residual.counts)
            if attempt == 2:
                left = {t: n for t, n in residual.counts.items() if n}
                raise ResidualDataError(
                    f"request {request.id}: the erasure committed, but a fresh read still "
                    f"finds erasable rows: {left}",
                    remediation="something writes the subject's data back: stop it, then run "
                    "the erasure again (with an identity that still exists, e.g. a customer id)",
                )
            plan = residual.plan
        request = self.book.advance(
            request,
            State.COMPLETED,
            residual=residual.counts,
            on_time=self.clock().date() <= request.due,
            **self._held(plan, request.id),
        )
        note = "nothing erasable was found: completed without changes" if not plan.erasable else ""
        return ErasureOutcome(plan, request, result, residual, note)

    def _run_plan(
        self, plan: ErasurePlan, request: Request, statement_timeout: float, lock_timeout: float
    ) -> ErasureResult:
        """Execute `plan`; with several stores, each store's commit gets its own record, so
        a run that fails in a later store shows which are done, and a rerun only the rest."""
        several = len({tp.table.store for tp in plan.tables}) > 1

        def committed(store: str, statements: list[Statement]) -> None:
            if several:
                self.book.annotate(
                    request,
                    STORE_ERASED,
                    store=store,
                    rows=sum(s.rows for s in statements),
                    statements=[_statement_record(s) for s in statements],
                )

        return execute_erasure(
            plan,
            self.stores,
            hash_key=self.hash_key,
            statement_timeout=statement_timeout,
            lock_timeout=lock_timeout,
            on_commit=committed,
        )

    def _held(
        self, plan: ErasurePlan, request_id: str, residual: Residual | None = None
    ) -> dict[str, Any]:
        """For the record that closes a request: the held data left and a sealed pointer to
        its rows, for `erase_expired`. Rows a fresh read found again after erasing them
        (`residual`, `plan` being its plan) are listed too, due at once, and sealed with
        the held ones, so the next night's run erases them or says they came back."""
        deferred = _deferred(plan)
        if residual is not None:
            today = self.clock().date().isoformat()
            deferred += [
                {"table": table, "hold": RESIDUAL, "basis": "found again after its erasure",
                 "rows": rows, "expires": today, "first_expires": today}
                for table, rows in residual.counts.items() if rows
            ]  # fmt: skip
        pointer = (
            seal_pointer(self.pointer_key, plan, request_id, erasable=residual is not None)
            if deferred
            else None
        )
        return {"deferred": deferred, "held_pointer": pointer}

    # -- held data whose hold ran out ------------------------------------------------------
    def erase_expired(
        self, request: Request, *, statement_timeout: float = 30.0, lock_timeout: float = 5.0
    ) -> ErasureOutcome:
        """Erase the held rows `request` left, now that (some of) their holds ran out: found
        again from its sealed pointer, planned at today's date (rows still held stay),
        executed, verified, and recorded as one `held_erased` record of the request."""
        if request.held_pointer is None:
            raise RequestError(f"request {request.id} left no held data to erase")
        seeds = open_pointer(self.pointer_key, request.held_pointer, request.id)
        now = self.clock()
        with reading(self.stores):
            snap = find_subject(self.resolved, self.stores, [], seeds=seeds)
            plan = plan_erasure(self.resolved, self.stores, snap, now)
        if not plan.erasable:
            return ErasureOutcome(plan, request, note="nothing erasable yet: the holds still run")
        result = self._run_plan(plan, request, statement_timeout, lock_timeout)
        residual = verify_erasure(self.resolved, self.stores, plan, [], self.clock())
        left = residual if residual.total else None  # written back? listed again, due now
        self.book.annotate(
            request,
            HELD_ERASED,
            rows=result.rows,
            statements=[_statement_record(s) for s in result.statements],
            residual=residual.counts,
            **self._held(residual.plan if left else plan, request.id, left),
        )
        return ErasureOutcome(plan, self.book.get(request.id), result, residual)

    # -- rectification -----------------------------------------------------------------
    def rectify(
        self,
        identities: Sequence[Identity],
        assignments: Sequence[Assignment],
        *,
        request_id: str | None = None,
        dry_run: bool = False,
        statement_timeout: float = 30.0,
        lock_timeout: float = 5.0,
    ) -> RectifyOutcome:
        if not assignments:
            raise GdprError("nothing to rectify: give --set TABLE.COLUMN=VALUE")
        request = None
        if request_id is not None:
            request = self.request(request_id, ("rectification",), identities)
            if request.state == State.COMPLETED:
                raise RequestError(f"request {request.id} is already completed")
        elif not dry_run:
            raise RequestError("a rectification runs for a verified request: give --request ID")
        with reading(self.stores):
            snap = find_subject(self.resolved, self.stores, identities)
            changes = plan_rectification(self.resolved, self.stores, snap, assignments)
        outcome = RectifyOutcome(changes, request=request)
        summary = [
            {"table": c.table.name, "columns": c.columns, "rows": len(c.observed)} for c in changes
        ]
        if request is not None:
            request, recovered = self._confirm_interrupted_rectification(request, changes)
            if recovered == sum(len(c.observed) for c in changes) and not dry_run:
                outcome.request = self.book.advance(
                    request, State.COMPLETED, on_time=self.clock().date() <= request.due
                )
                return outcome
            request = self.book.advance(request, State.PLANNED, dry_run=dry_run, changes=summary)
        if dry_run or request is None:
            outcome.request = request
            return outcome
        outcome.applied = apply_rectification(
            changes, self.stores, statement_timeout=statement_timeout, lock_timeout=lock_timeout
        )
        request = self.book.advance(
            request, State.EXECUTED, changes=change_digests(changes, self.book.pseudonymizer)
        )
        outcome.request = self.book.advance(
            request, State.COMPLETED, on_time=self.clock().date() <= request.due
        )
        return outcome


def _already_set(change: TableChange) -> int:
    """Rows of `change` that hold every assigned value already."""
    wanted = [a.value for a in change.assignments]
    return sum(
        all(v == w or (v is not None and w is not None and str(v) == str(w))
            for v, w in zip(values, wanted, strict=True))
        for values in change.observed.values()
    )  # fmt: skip


def _statement_record(s: Statement) -> dict[str, Any]:
    return {
        "store": s.store,
        "table": s.table,
        "action": s.action,
        "columns": list(s.columns),
        "rows": s.rows,
        "sql_sha256": s.fingerprint,
    }


def _deferred(plan: ErasurePlan) -> list[dict[str, Any]]:
    """Held rows, listed for erasure once their hold expires."""
    return [
        {
            "table": tp.table.name,
            "hold": h.hold,
            "basis": h.basis,
            "rows": h.rows,
            "expires": h.expires.isoformat() if h.expires else None,
            "first_expires": h.first_expires.isoformat() if h.first_expires else None,
        }
        for tp in plan.tables
        for h in tp.held
    ]


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()
