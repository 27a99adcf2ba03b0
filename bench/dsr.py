"""Data-subject requests on a throwaway PostgreSQL (or SQLite): erasure, access, lookup, planning.

    python bench/dsr.py [--customers 1000000] [--tables 20] [--rows 10000] [--wide 200]
                        [--store postgresql|sqlite] [--keys composite|single]
    python bench/dsr.py --status [--status-records 1000000] [--requests 200]
                        [--status-pg-records 200000]

Measures, against the targets of the GDPR issues:
- erasure of one subject owning --rows rows across --tables tables (one subject table and
  owned tables, some deleted, some erased in place with mask/hash/null), set-based in one
  transaction: >= 30,000 rows/s on PostgreSQL with the owned tables keyed by two columns
  (customer_id, n), the default; --keys single keys them by one id column;
- access (the export package) for that subject, 10,000 rows over 20 tables: <= 2 s;
- an identity lookup in a --customers-row customer table with an index on lower(email):
  milliseconds;
- planning over a --wide-table data map: <= 200 ms;
- memory of access and erasure as the subject's data grows fourfold: bounded by the batch.

With --status, only the request queue: a SQLite ledger of about --status-records run
records (the runs of bench/runs_index.py) holding --requests requests of five steps each,
half written before the runs and half after; `assay dsr status` lists them. Printed
side by side: folding the requests from one streamed pass over every record (what every
`assay dsr` command did before the request index), from the index (what they do now),
the whole `assay dsr status --all` process, and one request by id. The same on a
throwaway PostgreSQL ledger of --status-pg-records records (0 to skip).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from runs_index import build as build_runs  # a sibling script: bench/ is on the path
from runs_index import timed

from assay.demo.local_postgres import find_bindir, local_postgres
from assay.evidence import Pseudonymizer, load_key, open_ledger
from assay.gdpr import State, open_session, parse_datamap
from assay.gdpr.identity import Identity
from assay.gdpr.plan import plan_erasure
from assay.gdpr.requests import RequestBook, fold
from assay.gdpr.sqltext import fmt
from assay.gdpr.traverse import find_subject, reading

SUBJECT = "subject@example.com"
KEYS = {"composite": "(customer_id, n)", "single": "id"}
UPDATE_STRATEGIES = ["mask", "hash", "null"]  # every fifth owned table is erased in place


def owned_names(tables: int) -> list[str]:
    return [f"t{i:03d}" for i in range(1, tables)]


def schema_sql(tables: int, keys: str) -> list[str]:
    out = [
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, "
        "name TEXT NOT NULL, phone TEXT)",
        "CREATE INDEX customers_email_lower ON customers (lower(email))",
    ]
    for t in owned_names(tables):
        if keys == "composite":  # the key's leading column serves the relation too
            out.append(
                f"CREATE TABLE {t} (customer_id INTEGER NOT NULL REFERENCES customers (id), "
                f"n INTEGER NOT NULL, payload TEXT, note TEXT, PRIMARY KEY (customer_id, n))"
            )
            continue
        out += [
            f"CREATE TABLE {t} (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL "
            f"REFERENCES customers (id), payload TEXT, note TEXT)",
            f"CREATE INDEX {t}_customer ON {t} (customer_id)",
        ]
    return out


def datamap_text(tables: int) -> str:
    lines = [
        "datamap: 1",
        "stores: {db: {dsn_env: BENCH_DSN}}",
        "identities: {email: {normalize: email}}",
        "tables:",
        "  customers:",
        "    role: subject",
        "    columns:",
        "      email: {category: contact, identity: email, erase: tombstone}",
        "      name: {category: identity, erase: mask, mask: '{first:1}***'}",
        "      phone: {category: contact, erase: 'null'}",
    ]
    for i, t in enumerate(owned_names(tables)):
        lines += [f"  {t}:", "    role: owned"]
        if i % 5 == 4:
            strategy = UPDATE_STRATEGIES[(i // 5) % len(UPDATE_STRATEGIES)]
            mask = ", mask: '***'" if strategy == "mask" else ""
            lines += [
                "    erase: update",
                "    columns:",
                f"      payload: {{category: behavioural, erase: '{strategy}'{mask}}}",
                "      note: {category: communication, erase: 'null'}",
            ]
        else:
            lines += [
                "    columns:",
                "      payload: {category: behavioural}",
                "      note: {category: communication}",
            ]
    return "\n".join(lines) + "\n"


def populate(
    execute: Callable[[str], Any],
    kind: str,
    tables: int,
    customers: int,
    rows: int,
    background: int,
    payload: int,
    keys: str,
) -> int:
    """Customers 1..N (the subject is customer 1); `rows` owned rows for the subject spread
    over the owned tables, `background` rows per owned table for other customers."""
    series = (
        "generate_series(1, {n}) AS g(x)"
        if kind == "postgresql"
        else "(WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {n}) "
        "SELECT x FROM c) AS g"
    )
    pad = f"substr(lower(hex(randomblob({payload}))), 1, {payload})"
    if kind == "postgresql":
        pad = f"repeat(md5(g.x::text), {max(payload // 32, 1)})"
    execute(
        "INSERT INTO customers SELECT g.x, CASE WHEN g.x = 1 THEN 'Subject@Example.com' "
        "ELSE 'user' || g.x || '@example.com' END, 'Name ' || g.x, '+44 ' || g.x FROM "
        + series.format(n=customers)
    )
    owned = owned_names(tables)
    per_table = [
        rows // len(owned) + (1 if i < rows % len(owned) else 0) for i in range(len(owned))
    ]
    for t, mine in zip(owned, per_table, strict=True):
        execute(
            f"INSERT INTO {t} SELECT "
            + ("" if keys == "composite" else "g.x, ")
            + f"CASE WHEN g.x <= {mine} THEN 1 ELSE 2 + (g.x % {max(customers - 1, 1)}) END, "
            + ("g.x, " if keys == "composite" else "")
            + f"{pad}, 'note ' || g.x FROM "
            + series.format(n=mine + background)
        )
    return 1 + rows


@contextmanager
def database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as d:
            yield str(Path(d) / "bench.db")
        return
    with local_postgres({"shared_buffers": "'256MB'", "fsync": "on"}) as server:
        yield server.dsn


def build(
    kind: str,
    dsn: str,
    tables: int,
    customers: int,
    rows: int,
    background: int,
    payload: int,
    keys: str,
) -> float:
    started = time.perf_counter()
    if kind == "sqlite":
        con = sqlite3.connect(dsn)
        for statement in schema_sql(tables, keys):
            con.execute(statement)
        populate(con.execute, kind, tables, customers, rows, background, payload, keys)
        con.commit()
        con.execute("ANALYZE")
        con.close()
    else:
        with psycopg.connect(dsn, autocommit=True) as con:
            for statement in schema_sql(tables, keys):
                con.execute(statement.encode())
            populate(
                lambda q: con.execute(q.encode()),
                kind,
                tables,
                customers,
                rows,
                background,
                payload,
                keys,
            )
            con.execute("VACUUM ANALYZE")
    return time.perf_counter() - started


@contextmanager
def peak_memory() -> Iterator[list[int]]:
    out: list[int] = []
    tracemalloc.start()
    try:
        yield out
    finally:
        out.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()


def run_subject(dsn: str, tables: int, work: Path, label: str) -> dict[str, float]:
    loaded = parse_datamap(datamap_text(tables), "bench-datamap.yaml")
    out: dict[str, float] = {}
    with open_session(
        loaded,
        ledger_url=f"sqlite:///{work / (label + '-ledger.db')}",
        key_path=work / "key",
        connections={"db": dsn},
    ) as s:
        ids = s.identities([("email", SUBJECT)])
        store = s.stores["db"]
        lookup = fmt(
            "SELECT id FROM customers WHERE {}", store.key_in(fmt("lower(email)"), [SUBJECT])
        )
        with reading(s.stores):
            store.query(lookup)  # warm the connection and the plan cache
            t = time.perf_counter()
            one = store.query(lookup)
        out["lookup_ms"] = (time.perf_counter() - t) * 1000
        assert one == [(1,)], one
        t = time.perf_counter()
        access = s.access(ids, work / f"{label}.zip")
        out["access_s"] = time.perf_counter() - t
        out["access_rows"] = sum(access.result.rows.values())
        with peak_memory() as mem:  # traced apart: tracing slows Python several times over
            s.access(ids, work / f"{label}-traced.zip")
        out["access_peak_mb"] = mem[0] / 2**20
        request = s.book.open_request("erasure", ids)
        s.book.advance(request, State.VERIFIED, method="bench")
        t = time.perf_counter()
        with reading(s.stores):
            snap = find_subject(s.resolved, s.stores, ids)
            plan = plan_erasure(s.resolved, s.stores, snap, s.clock())
        out["plan_s"] = time.perf_counter() - t
        with peak_memory() as mem, reading(s.stores):
            plan_erasure(s.resolved, s.stores, find_subject(s.resolved, s.stores, ids), s.clock())
        out["plan_peak_mb"] = mem[0] / 2**20
        t = time.perf_counter()
        outcome = s.erase(ids, request_id=request.id)
        out["erase_total_s"] = time.perf_counter() - t
        assert outcome.result is not None and outcome.residual is not None
        assert outcome.residual.total == 0
        out["erased_rows"] = outcome.result.rows
        out["execute_s"] = outcome.result.seconds
        out["planned_rows"] = plan.erasable
    return out


def run_wide(dsn: str, wide: int, work: Path) -> dict[str, float]:
    """Planning over a `wide`-table map: map load, schema check, and the plan itself."""
    text = datamap_text(wide)
    out: dict[str, float] = {}
    t = time.perf_counter()
    loaded = parse_datamap(text, "wide.yaml")
    out["load_ms"] = (time.perf_counter() - t) * 1000
    t = time.perf_counter()
    with open_session(
        loaded,
        ledger_url=f"sqlite:///{work / 'wide-ledger.db'}",
        key_path=work / "key",
        connections={"db": dsn},
    ) as s:
        out["check_ms"] = (time.perf_counter() - t) * 1000
        ids = s.identities([("email", SUBJECT)])
        best = float("inf")
        for _ in range(5):
            t = time.perf_counter()
            with reading(s.stores):
                snap = find_subject(s.resolved, s.stores, ids)
                plan = plan_erasure(s.resolved, s.stores, snap, s.clock())
            best = min(best, time.perf_counter() - t)
        out["plan_ms"] = best * 1000
        out["plan_rows"] = plan.snapshot.rows
        out["plan_queries"] = plan.snapshot.queries
    return out


def request_steps(book: RequestBook, n: int, offset: int) -> None:
    """`n` access requests, each received, verified, planned, executed and completed."""
    for i in range(offset, offset + n):
        request = book.open_request("access", [Identity("customer_id", i)])
        request = book.advance(request, State.VERIFIED, method="bench")
        request = book.advance(request, State.PLANNED, rows={"customers": 1})
        request = book.advance(request, State.EXECUTED, rows=1)
        book.advance(request, State.COMPLETED, on_time=True)


def status_ledger(url: str, records: int, requests: int, key: Path) -> RequestBook:
    """A ledger of about `records` run records with `requests` requests among them."""
    book = RequestBook(url, Pseudonymizer(load_key(key, create=True)))
    request_steps(book, requests // 2, 0)
    build_runs(url, records, 5000, 5000)
    request_steps(book, requests - requests // 2, requests // 2)
    return book


def run_status(label: str, url: str, records: int, requests: int, work: Path) -> None:
    key = work / f"{label}.key"
    started = time.perf_counter()
    book = status_ledger(url, records, requests, key)
    built = time.perf_counter() - started

    def streamed() -> int:
        with open_ledger(url, create=False) as ledger:
            return len(fold(s.record for s in ledger.records()))

    def indexed() -> int:
        return len(book.listing(include_closed=True))

    with open_ledger(url, create=False) as ledger:
        stored = ledger.count()
    before, found = timed(streamed)
    after, listed = timed(indexed, 5)
    assert found == listed == requests, (found, listed)
    some = book.listing(include_closed=True)[requests // 2].id
    one, _ = timed(lambda: book.get(some), 5)
    command = [sys.executable, "-m", "assay", "dsr", "status", "--all", "-f", "json",
               "--ledger", url, "--pseudonym-key", str(key)]  # fmt: skip
    whole, out = timed(lambda: subprocess.run(command, check=True, capture_output=True), 3)
    assert len(json.loads(out.stdout)) == requests
    print(
        f"\n[status] {label} ledger of {stored:,} records (built in {built:.0f} s), "
        f"{requests} requests of 5 steps"
    )
    print(f"  fold every record (before the index):  {before * 1e3:10.1f} ms")
    print(
        f"  fold the indexed steps (now):          {after * 1e3:10.1f} ms   {before / after:,.0f}x"
    )
    print(f"  assay dsr status --all, whole process: {whole * 1e3:10.1f} ms")
    print(f"  one request by id:                     {one * 1e3:10.2f} ms")


def status_main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        url = f"sqlite:///{work / 'ledger.db'}"
        run_status("SQLite", url, args.status_records, args.requests, work)
        if not args.status_pg_records:
            return
        if find_bindir() is None:
            print("PostgreSQL: server binaries not found (set PG_BIN); skipped")
            return
        with local_postgres() as server:
            run_status("PostgreSQL", server.dsn, args.status_pg_records, args.requests, work)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--status", action="store_true", help="only the request queue's figures")
    ap.add_argument("--status-records", type=int, default=1_000_000)
    ap.add_argument("--status-pg-records", type=int, default=200_000)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--store", choices=["postgresql", "sqlite"], default="postgresql")
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--tables", type=int, default=20)
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument(
        "--background", type=int, default=20_000, help="other customers' rows per table"
    )
    ap.add_argument("--payload", type=int, default=256, help="bytes of text per owned row")
    ap.add_argument("--wide", type=int, default=200)
    ap.add_argument(
        "--keys",
        choices=["composite", "single"],
        default="composite",
        help="owned tables keyed by (customer_id, n) or by one id column",
    )
    args = ap.parse_args()
    if args.status:
        status_main(args)
        return
    kind = args.store
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        print(f"store: {kind}; owned tables keyed by {KEYS[args.keys]}")
        runs = [
            ("base", args.customers, args.rows, args.payload),
            ("4x rows", min(args.customers, 100_000), args.rows * 4, args.payload),
            ("16x payload", min(args.customers, 100_000), args.rows, args.payload * 16),
        ]
        for label, customers, rows, payload in runs:
            with database(kind) as dsn:
                built = build(
                    kind, dsn, args.tables, customers, rows, args.background, payload, args.keys
                )
                r = run_subject(dsn, args.tables, work, label.replace(" ", "-"))
            print(
                f"\n[{label}] {customers:,} customers; the subject owns {rows + 1:,} rows "
                f"({payload} B of text each) in {args.tables} tables; "
                f"{args.background:,} other rows per table (built in {built:.1f} s)"
            )
            print(f"  identity lookup, lower(email) index:   {r['lookup_ms']:8.2f} ms")
            print(
                f"  access, {r['access_rows']:,.0f} rows to a zip:      {r['access_s']:8.3f} s"
                f"   peak Python memory {r['access_peak_mb']:5.1f} MiB"
            )
            print(
                f"  erasure plan (find + decide):          {r['plan_s']:8.3f} s"
                f"   peak Python memory {r['plan_peak_mb']:5.1f} MiB"
            )
            print(
                f"  erasure, {r['erased_rows']:,.0f} rows in one transaction: "
                f"{r['execute_s']:8.3f} s = {r['erased_rows'] / r['execute_s']:,.0f} rows/s"
            )
            print(
                f"  erasure end to end (plan, execute, verify, ledger): {r['erase_total_s']:.3f} s"
                f" = {r['erased_rows'] / r['erase_total_s']:,.0f} rows/s"
            )
        with database(kind) as dsn:
            build(kind, dsn, args.wide, 1000, args.wide * 2, 10, 16, args.keys)
            w = run_wide(dsn, args.wide, work)
        print(f"\n[wide] {args.wide}-table data map")
        print(f"  load + validate the map:                {w['load_ms']:8.1f} ms")
        print(f"  check it against the live schema:       {w['check_ms']:8.1f} ms")
        print(
            f"  plan an erasure ({w['plan_rows']:.0f} rows, {w['plan_queries']:.0f} queries):"
            f"  {w['plan_ms']:8.1f} ms"
        )


if __name__ == "__main__":
    main()
