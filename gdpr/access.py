"""Access and portability: read every row found for the subject into an export package.

Each table is read with one set-based SELECT per chunk of keys (never a query per row),
streamed a batch at a time into the package writer. Only the key and the columns the map
exports are read; columns marked ``export: false`` (password hashes) are listed as
withheld, with the reason, in the manifest.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from assay.gdpr.model import Resolved, Table
from assay.gdpr.package import PackageWriter
from assay.gdpr.parties import Sharing, shared_rows
from assay.gdpr.sqltext import chunks, fmt, join, name
from assay.gdpr.stores import Store
from assay.gdpr.traverse import CHUNK, Snapshot


@dataclass(frozen=True)
class AccessResult:
    path: Path
    manifest: dict[str, Any]

    @property
    def rows(self) -> dict[str, int]:
        return {t["table"]: t["rows"] for t in self.manifest["tables"]}


def table_rows(
    store: Store, table: Table, keys: list[Any], shared: Mapping[Any, Sharing] | None = None
) -> Iterator[tuple[Any, ...]]:
    """The exported columns of the rows of `keys`, in key order within each chunk; in a
    row `shared` with other people, their columns are None (withheld)."""
    exported = table.exported_columns
    cols = join((name(c) for c in exported), ", ")
    order = join((name(c) for c in table.key), ", ")
    width = len(table.key)
    for part in chunks(sorted(keys, key=str), CHUNK):
        rows = store.stream(
            fmt(
                "SELECT {} FROM {} WHERE {} ORDER BY {}",
                cols,
                table.sql,
                table.key_in(store, part),
                order,
            )
        )
        if not shared:
            yield from rows
            continue
        for row in rows:
            share = shared.get(row[0] if width == 1 else tuple(row[:width]))
            if share is None:
                yield row
            else:
                yield tuple(
                    None if c in share.theirs else v for c, v in zip(exported, row, strict=True)
                )


def others_withheld(table: Table, shared: Mapping[Any, Sharing]) -> list[dict[str, Any]]:
    """What the subject is told about other people's columns left out of shared rows."""
    rows: dict[str, int] = {}
    for share in shared.values():
        for c in share.theirs:
            if c in table.exported_columns:
                rows[c] = rows.get(c, 0) + 1
    return [
        {
            "column": f"{table.name}.{c}",
            "rows": n,
            "reason": "identifies or describes another person named in the same row: "
            "withheld under Art. 15(4) GDPR (the rights and freedoms of others)",
        }
        for c, n in sorted(rows.items())
    ]


def about_table(resolved: Resolved, table: Table) -> dict[str, Any]:
    """What the subject is told about a table: purposes, retention, categories, holds."""
    dm = resolved.loaded.datamap
    return {
        "purposes": [
            {"id": p, "description": dm.purposes[p].description, "basis": dm.purposes[p].basis}
            for p in table.spec.purposes
        ],
        "retention": table.spec.retention,
        "categories": {c: table.columns[c].category for c in table.exported_columns},
        "legal_holds": [
            {"id": h.id, "basis": h.basis, "duration": str(h.duration) if h.duration else None}
            for h in table.holds
        ],
    }


def write_access_package(
    resolved: Resolved,
    stores: Mapping[str, Store],
    snap: Snapshot,
    path: Path,
    *,
    meta: Mapping[str, Any],
    passphrase: str | None = None,
    now: datetime,
    expires_in: timedelta = timedelta(hours=72),
) -> AccessResult:
    """Write the subject's data to `path`; call inside `reading(stores)` with the snapshot.

    Columns marked ``export: false`` are withheld, and so, in rows that also name other
    people, are those people's columns; the manifest's `withheld` lists both.
    """
    withheld = [
        {"column": f"{t.name}.{c}", "reason": f"{spec.category or 'internal'} data not exported"}
        for t in resolved.tables.values()
        if t.name in snap.found and t.role != "reference"
        for c, spec in t.spec.columns.items()
        if not spec.export
    ]
    shared = shared_rows(resolved, snap)
    for tname in sorted(shared):
        withheld += others_withheld(resolved.tables[tname], shared[tname])
    writer = PackageWriter(
        path,
        {
            **meta,
            "created_at": now.isoformat(timespec="seconds"),
            "expires_at": (now + expires_in).isoformat(timespec="seconds"),
            "withheld": withheld,
        },
        passphrase,
    )
    try:
        for tname in sorted(snap.found):
            found = snap.found[tname]
            table = found.table
            if table.role == "reference" or not found.rows:
                continue
            writer.add_table(
                tname,
                table.exported_columns,
                {c: table.columns[c].category for c in table.exported_columns},
                table_rows(stores[table.store], table, list(found.rows), shared.get(tname)),
                about_table(resolved, table),
            )
    except BaseException:
        writer.abort()
        raise
    return AccessResult(path, writer.finish())
