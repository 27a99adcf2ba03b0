"""The data map merged with the live schema, and every way the two disagree (`assay dsr lint`).

Relations come from the databases' foreign keys and from the map's `relations`, merged.
Errors (unknown tables or columns, strategies the column cannot take) stop every request
before it runs; warnings (missing indexes, unmapped columns) say where a DSR will be slow
or blind.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal

from assay.gdpr.datamap import (
    UPDATE_STRATEGIES,
    MaskPattern,
    StoreKind,
    Strategy,
    TableSpec,
    parse_duration,
    parse_mask,
    split_ref,
)
from assay.gdpr.identity import Normalisation
from assay.gdpr.introspect import LiveSchema, TableInfo
from assay.gdpr.mapfile import LoadedMap
from assay.gdpr.model import Anchor, Column, Finding, Hold, Party, Relation, Resolved, Table

_Add = Callable[..., None]  # (level, where, message, *location in the map file)
HASH_LENGTH = 69  # "hmac:" and 64 hex digits
TOMBSTONE_MIN = 24


def resolve(
    loaded: LoadedMap, schemas: Mapping[str, LiveSchema], kinds: Mapping[str, StoreKind]
) -> tuple[Resolved | None, list[Finding]]:
    """The merged map and all findings; the map is None when any finding is an error.
    `kinds` gives each store's kind (the map's, or the one its connection string names)."""
    dm = loaded.datamap
    findings: list[Finding] = []

    def add(level: Literal["error", "warning"], where: str, msg: str, *loc: str | int) -> None:
        findings.append(Finding(level, where, msg, loaded.where(loc) if loc else ""))

    tables: dict[str, Table] = {}
    lives: dict[str, TableInfo] = {}
    for tname, spec in dm.tables.items():
        store = spec.store or next(iter(dm.stores))
        live = schemas[store].get(tname)
        if live is None:
            add("error", tname, f"no such table in store {store!r}", "tables", tname)
            continue
        lives[tname] = live
        table = _table(tname, store, spec, live, add)
        if table is not None:
            table.namespace = _namespace(loaded, kinds, store)
            tables[tname] = table
    relations = _relations(loaded, schemas, kinds, lives, add)
    norms = {k: v.normalize for k, v in dm.identities.items()}
    for tname, table in tables.items():
        _check_columns(table, lives[tname], relations, norms, add)
        table.holds = _holds(table, lives[tname], lives, relations, add)
        _check_unmapped(table, lives[tname], relations, add)
    for table in tables.values():
        if not table.key:
            _address(table, relations, add)
        table.parties = _parties(table, tables, relations, add)
    resolved = Resolved(loaded, tables, relations, norms)
    if any(f.level == "error" for f in findings) or len(tables) != len(dm.tables):
        return None, findings
    return resolved, findings


def _namespace(loaded: LoadedMap, kinds: Mapping[str, StoreKind], store: str) -> str | None:
    return loaded.datamap.stores[store].pg_schema if kinds[store] == "postgresql" else None


def _table(tname: str, store: str, spec: TableSpec, live: TableInfo, add: _Add) -> Table | None:
    ok = True
    for cname in spec.columns:
        if cname not in live.columns:
            add("error", f"{tname}.{cname}", "no such column", "tables", tname, "columns", cname)
            ok = False
    key: tuple[str, ...] = (
        (spec.key,) if isinstance(spec.key, str) else tuple(spec.key or live.primary_key)
    )
    missing = [c for c in key if c not in live.columns]
    if missing:
        add("error", tname, f"key column {missing[0]!r} does not exist", "tables", tname, "key")
        return None
    unique = not key or any(u <= set(key) for u in live.unique_sets)
    if not unique:
        add(
            "warning",
            f"{tname}.{_names(key)}",
            "the key is not declared unique; rows are told apart by it (checked in the data)",
            "tables",
            tname,
            "key",
        )
    if not ok:
        return None
    columns: dict[str, Column] = {}
    default: Strategy = (
        "keep" if spec.role == "reference" or spec.erase == "update" else ("delete_row")
    )
    for cname, info in live.columns.items():
        cspec = spec.columns.get(cname)
        if cspec is None:
            columns[cname] = Column(cname, info, None, default, unique=cname in live.unique)
            continue
        strategy = cspec.erase or default
        mask = parse_mask(cspec.mask) if cspec.mask else None
        pattern = mask if isinstance(mask, MaskPattern) else None
        columns[cname] = Column(cname, info, cspec, strategy, pattern, cname in live.unique)
    identity_columns: dict[str, list[str]] = {}
    for cname, cspec in spec.columns.items():
        if cspec.identity:
            identity_columns.setdefault(cspec.identity, []).append(cname)
    return Table(tname, store, spec.role, key, spec, columns, identity_columns, unique_key=unique)


def _names(columns: tuple[str, ...]) -> str:
    return columns[0] if len(columns) == 1 else f"({', '.join(columns)})"


def _address(table: Table, relations: list[Relation], add: _Add) -> None:
    """A table with no key is addressed by the one column that finds its rows: its identity
    column, or its relation to the subject's rows."""
    at = ("tables", table.name)
    why = "no primary key and no `key:`"
    if table.role != "owned":
        add("error", table.name, f"{why}: declare `key:` (a unique column or columns)", *at)
        return
    if any(r.parent == table.name for r in relations):
        add("error", table.name, f"{why}, but other tables reference it: declare `key:`", *at)
        return
    idents = [c for cols in table.identity_columns.values() for c in cols]
    down = [r for r in relations if r.child == table.name]
    if len(idents) + len(down) != 1:
        add(
            "error",
            table.name,
            f"{why}: such a table is addressed by the one column that finds its rows, and "
            f"this one has {len(idents)} identity columns and {len(down)} relations; "
            "declare `key:`",
            *at,
        )
        return
    table.key = (idents[0],) if idents else down[0].child_columns
    table.keyed = table.unique_key = False
    for cname, col in table.columns.items():
        if col.strategy == "tombstone":
            add(
                "error",
                f"{table.name}.{cname}",
                "tombstone writes the row's key, and this table has none: use null, mask or hash",
                *at,
                "columns",
                cname,
            )
        spec = table.spec.columns.get(cname)
        if spec is not None and spec.rectifiable:
            # Not an error: the map stays usable, and a rectification refuses the column.
            add(
                "warning",
                f"{table.name}.{cname}",
                "rectifiable, but this table has no key: its rows cannot be told apart to "
                f"correct one of them; declare `key:` for {table.name}",
                *at,
                "columns",
                cname,
            )


def _relations(
    loaded: LoadedMap,
    schemas: Mapping[str, LiveSchema],
    kinds: Mapping[str, StoreKind],
    lives: Mapping[str, TableInfo],
    add: _Add,
) -> list[Relation]:
    dm = loaded.datamap
    out: list[Relation] = []
    mapped_store = {n: t.store or next(iter(dm.stores)) for n, t in dm.tables.items()}
    for store, schema in schemas.items():
        for info in schema.values():
            if info.name in dm.tables and mapped_store[info.name] != store:
                continue
            for fk in info.foreign_keys:
                if fk.parent not in lives or mapped_store[fk.parent] != store:
                    continue
                out.append(
                    Relation(
                        info.name,
                        fk.columns,
                        fk.parent,
                        fk.parent_columns,
                        "foreign key",
                        store,
                        _namespace(loaded, kinds, store),
                    )
                )
    for i, r in enumerate(dm.relations):
        starts = [split_ref(v, dm.tables) for v in r.froms]
        ends = [split_ref(v, dm.tables) for v in r.tos]
        if None in starts or None in ends or len(starts) != len(ends):
            continue  # reported by the map's own checks
        pairs = [(a, b) for a, b in zip(starts, ends, strict=True) if a and b]
        child, parent = pairs[0][0][0], pairs[0][1][0]
        if child not in lives or parent not in lives:
            continue
        bad = [f"{t}.{c}" for pair in pairs for t, c in pair if c not in lives[t].columns]
        if bad:
            add("error", f"relations[{i}]", f"no such column {bad[0]}", "relations", i)
            continue
        mismatched = [
            f"{child}.{cc} is {lives[child].columns[cc].kind} but {parent}.{pc} is "
            f"{lives[parent].columns[pc].kind}"
            for (_, cc), (_, pc) in pairs
            if lives[child].columns[cc].kind != lives[parent].columns[pc].kind
        ]
        if mismatched:
            add("error", f"relations[{i}]", mismatched[0], "relations", i)
            continue
        rel = Relation(
            child,
            tuple(cc for (_, cc), _ in pairs),
            parent,
            tuple(pc for _, (_, pc) in pairs),
            "data map",
            mapped_store[child],
            _namespace(loaded, kinds, mapped_store[child]),
        )
        if not any(
            (o.child, o.child_columns, o.parent, o.parent_columns)
            == (rel.child, rel.child_columns, rel.parent, rel.parent_columns)
            for o in out
        ):
            out.append(rel)
    for rel in out:
        child_info = (lives.get(rel.child) if rel.child in dm.tables else None) or schemas[
            rel.child_store
        ].get(rel.child)
        lead = rel.child_columns[0]
        if child_info is not None and ("column", lead) not in child_info.index_leads:
            cols = ", ".join(rel.child_columns)
            add(
                "warning",
                f"{rel.child}.{_names(rel.child_columns)}",
                f"no index on this column (references {rel.parent}): every DSR scans "
                f"{rel.child}; CREATE INDEX ON {rel.child} ({cols})",
            )
        if rel.child not in dm.tables:
            add(
                "warning",
                rel.child,
                f"not in the data map, but references {rel.parent}: its rows keep "
                f"{rel.parent} rows from being deleted (they are counted, never read)",
            )
    return out


def _check_columns(
    table: Table,
    live: TableInfo,
    relations: list[Relation],
    norms: Mapping[str, Normalisation],
    add: _Add,
) -> None:
    linked = {c for r in relations if r.child == table.name for c in r.child_columns} | {
        c for r in relations if r.parent == table.name for c in r.parent_columns
    }
    for cname, cspec in table.spec.columns.items():
        col = table.columns[cname]
        info = col.info
        where = f"{table.name}.{cname}"
        loc = ("tables", table.name, "columns", cname)
        s = col.strategy
        if (cname in table.key or cname in linked) and s not in ("keep", "delete_row"):
            what = "key" if cname in table.key else "relation"
            add("error", where, f"{s} on a {what} column: delete the row or keep it", *loc)
        elif s == "null" and not info.nullable:
            add("error", where, "null on a NOT NULL column: use mask or tombstone", *loc)
        elif s in ("mask", "hash", "tombstone") and info.kind != "text":
            add("error", where, f"{s} needs a text column; this one is {info.declared}", *loc)
        elif s == "hash" and info.length is not None and info.length < HASH_LENGTH:
            add(
                "error",
                where,
                f"hash writes {HASH_LENGTH} characters; column holds {info.length}",
                *loc,
            )
        elif (
            s == "mask"
            and col.mask
            and info.length is not None
            and (len(col.mask.literal) + col.mask.first + col.mask.last > info.length)
        ):
            add("error", where, f"the mask is longer than the column ({info.length})", *loc)
        elif s == "tombstone" and info.length is not None and info.length < TOMBSTONE_MIN:
            add("warning", where, f"tombstones need about {TOMBSTONE_MIN} characters", *loc)
        if cspec.rectifiable and (cname in table.key or cname in linked):
            add("error", where, "a key or relation column cannot be rectifiable", *loc)
        if cspec.identity:
            norm = norms.get(cspec.identity, "text")
            want = "integer" if norm == "integer" else "text"
            if info.kind != want:
                add(
                    "error",
                    where,
                    f"identity {cspec.identity} ({norm}) needs a {want} "
                    f"column; this one is {info.declared}",
                    *loc,
                )
            lead = ("lower", cname) if norm == "email" else ("column", cname)
            if lead not in live.index_leads:
                expr = f"lower({cname})" if norm == "email" else cname
                add(
                    "warning",
                    where,
                    f"identity lookups compare {expr} and no index serves "
                    f"it: every DSR scans {table.name}; CREATE INDEX ON {table.name} "
                    f"({expr})",
                    *loc,
                )


def _holds(
    table: Table,
    live: TableInfo,
    lives: Mapping[str, TableInfo],
    relations: list[Relation],
    add: _Add,
) -> list[Hold]:
    out = []
    for i, h in enumerate(table.spec.holds):
        loc = ("tables", table.name, "holds", i)
        where = f"{table.name} hold {h.id}"
        anchor: Anchor | None = None
        if h.anchor is not None:
            found = _anchor(table, h.anchor, live, lives, relations)
            if isinstance(found, str):
                add("error", where, found, *loc, "anchor")
            else:
                anchor = found
        for c in [*(h.columns or ()), *([h.where.column] if h.where else [])]:
            if c not in live.columns:
                add("error", where, f"no such column {c!r}", *loc)
        out.append(
            Hold(
                h.id,
                h.basis,
                parse_duration(h.duration) if h.duration else None,
                anchor,
                h.where,
                frozenset(h.columns) if h.columns else None,
                h.meanwhile,
            )
        )
    return out


def _anchor(
    table: Table,
    text: str,
    live: TableInfo,
    lives: Mapping[str, TableInfo],
    relations: list[Relation],
) -> Anchor | str:
    if text in live.columns:
        anchor, info = Anchor(text), live.columns[text]
    else:
        ref = split_ref(text, lives)
        if ref is None or ref[1] not in lives[ref[0]].columns:
            return f"no column {text!r} here or in a parent table"
        via = [r for r in relations if r.child == table.name and r.parent == ref[0]]
        if len(via) != 1:
            return f"{table.name} must have exactly one relation to {ref[0]} (has {len(via)})"
        anchor, info = Anchor(ref[1], via[0]), lives[ref[0]].columns[ref[1]]
    # Text holding ISO 8601 dates counts as a date on every engine (SQLite has no other).
    if info.kind not in ("date", "timestamp", "text"):
        return (
            f"anchor {text!r} must be a date, timestamp or text (ISO 8601) column; "
            f"it is {info.declared}"
        )
    return anchor


def _parties(
    table: Table, tables: Mapping[str, Table], relations: list[Relation], add: _Add
) -> list[Party]:
    """The people a row of `table` can name: each identity column, and each relation to a
    subject or owned table, is one person, unless `about:` says two of them are the same;
    other columns with `about:` describe the person they name."""
    bound = {c: s.about for c, s in table.spec.columns.items() if s.about is not None}
    if table.role != "owned":
        for c in bound:
            add(
                "error",
                f"{table.name}.{c}",
                "`about` belongs in owned tables, whose rows can name several people",
                "tables",
                table.name,
                "columns",
                c,
                "about",
            )
        return []
    idents = {c: k for k, cols in table.identity_columns.items() for c in cols}
    rels: dict[str, list[Relation]] = {}  # by the relation's first column
    for r in relations:
        parent = tables.get(r.parent)
        if r.child == table.name and parent is not None and parent.role in ("subject", "owned"):
            rels.setdefault(r.child_columns[0], []).append(r)
    rel_columns = {c for rs in rels.values() for r in rs for c in r.child_columns}
    leads = list(dict.fromkeys([*idents, *rel_columns]))
    group = {c: c for c in leads}  # union-find over the columns that name a person

    def root(c: str) -> str:
        while group[c] != c:
            c = group[c]
        return c

    for rs in rels.values():
        for r in rs:  # the columns of one composite relation name one person
            for c in r.child_columns[1:]:
                group[root(c)] = root(r.child_columns[0])
    members: dict[str, str] = {}
    for c, target in bound.items():
        if target not in group or target == c:
            add(
                "error",
                f"{table.name}.{c}",
                f"about {target!r}: expected an identity column of this table or a relation "
                f"column to the subject's tables ({', '.join(leads) or 'none here'})",
                "tables",
                table.name,
                "columns",
                c,
                "about",
            )
        elif c in group:
            group[root(c)] = root(target)
        else:
            members[c] = target
    parties: dict[str, set[str]] = {}
    for c in leads:
        parties.setdefault(root(c), set()).add(c)
    for c, target in members.items():
        parties[root(target)].add(c)
    out = [
        Party(
            tuple((c, idents[c]) for c in cols if c in idents),
            tuple(r for c in cols if c in rels for r in rels[c]),
            frozenset(cols),
        )
        for cols in (sorted(v) for v in parties.values())
    ]
    if len(out) > 1:
        for party in out:
            for c in sorted(party.columns - rel_columns):
                spec = table.spec.columns.get(c)
                if spec is None or not (spec.category or spec.identity):
                    continue
                if table.columns[c].strategy not in UPDATE_STRATEGIES:
                    add(
                        "warning",
                        f"{table.name}.{c}",
                        "a row here can name several people, and one shared with another "
                        "person stays: this column keeps the subject's data there unless it "
                        "is erased in place (erase: null, mask, hash or tombstone)",
                        "tables",
                        table.name,
                        "columns",
                        c,
                    )
    return out


def _check_unmapped(table: Table, live: TableInfo, relations: list[Relation], add: _Add) -> None:
    linked = {c for r in relations if r.child == table.name for c in r.child_columns}
    for cname in live.columns:
        if cname in table.spec.columns or cname in table.key or cname in linked:
            continue
        if table.role != "reference":
            add(
                "warning",
                f"{table.name}.{cname}",
                "not in the data map: never exported, erased only with its row",
            )
