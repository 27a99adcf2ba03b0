"""Reading a data map file: YAML with line numbers, JSON Schema, then cross-references.

All problems of a file are collected and raised together as one DataMapError, each as
``file:line: field: message``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from assay.errors import ConfigError
from assay.gdpr.datamap import (
    UPDATE_STRATEGIES,
    DataMap,
    datamap_digest,
    datamap_schema,
    parse_duration,
    parse_mask,
    split_ref,
)
from assay.gdpr.errors import DataMapError
from assay.yamlsource import (
    Location,
    YamlDocument,
    parse_yaml,
    schema_problems,
)


@dataclass(frozen=True)
class LoadedMap:
    """A validated data map and where it came from (for messages and the evidence)."""

    datamap: DataMap
    source: str
    digest: str
    lines: dict[Location, int]

    def where(self, location: Sequence[str | int]) -> str:
        """``source:line`` of a location in the file (of its deepest part that exists)."""
        return f"{self.source}:{YamlDocument(self.source, None, self.lines).line(location)}"


def load_datamap(path: Path) -> LoadedMap:
    """Read and validate the data map at `path`; DataMapError lists every problem found."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataMapError([f"{path}: cannot read the data map: {exc}"]) from None
    return parse_datamap(text, str(path))


def parse_datamap(text: str, source: str) -> LoadedMap:
    """Validate data map `text`; `source` names it in messages."""
    try:
        doc = parse_yaml(text, source)
    except ConfigError as exc:
        raise DataMapError([exc.message]) from None
    lines = doc.lines
    try:
        dm = DataMap.model_validate(doc.data)
    except ValidationError as exc:
        # The JSON Schema (generated from the same model) words the problems better.
        raise DataMapError(
            [_at(lines, source, loc, msg) for loc, msg in schema_problems(datamap_schema(), doc)]
            or [_at(lines, source, e["loc"], e["msg"]) for e in exc.errors(include_url=False)]
        ) from None
    loaded = LoadedMap(dm, source, datamap_digest(text), lines)
    problems = cross_check(loaded)
    if problems:
        raise DataMapError(problems)
    return loaded


def _at(lines: dict[Location, int], source: str, loc: Sequence[str | int], msg: str) -> str:
    return YamlDocument(source, None, lines).error(msg, loc).message


def cross_check(m: LoadedMap) -> list[str]:
    """Problems a schema cannot see: names that must refer to something defined in the map."""
    dm = m.datamap
    out: list[str] = []

    def problem(loc: Sequence[str | int], msg: str) -> None:
        out.append(_at(m.lines, m.source, loc, msg))

    subject_identity = False
    for tname, t in dm.tables.items():
        at: Location = ("tables", tname)
        if t.store is None and len(dm.stores) > 1:
            problem((*at, "store"), "several stores are defined: name this table's store")
        elif t.store is not None and t.store not in dm.stores:
            problem((*at, "store"), f"unknown store; defined: {', '.join(sorted(dm.stores))}")
        for i, purpose in enumerate(t.purposes):
            if purpose not in dm.purposes:
                problem((*at, "purposes", i), f"unknown purpose {purpose!r}")
        if t.role == "reference" and (t.holds or any(c.identity for c in t.columns.values())):
            problem(at, "a reference table is never erased: no holds or identity columns")
        for cname, c in t.columns.items():
            cat: Location = (*at, "columns", cname)
            strategy = c.erase or ("keep" if t.role == "reference" else t.erase)
            if c.identity is not None:
                if c.identity not in dm.identities:
                    problem((*cat, "identity"), f"unknown identity type {c.identity!r}")
                if t.role == "shared":
                    problem((*cat, "identity"), "a shared table is found through relations only")
                subject_identity = subject_identity or t.role == "subject"
            if "erase" in c.model_fields_set and c.erase is None:
                problem((*cat, "erase"), "YAML reads a bare null as 'no value': write \"null\"")
            if t.role == "reference" and strategy != "keep":
                problem((*cat, "erase"), "a reference table is never erased: use keep")
            if strategy == "delete_row" and t.erase == "update":
                problem(
                    (*cat, "erase"),
                    "delete_row in a table whose rows are updated, not deleted "
                    "(erase: update); choose null, mask, hash, tombstone or keep",
                )
            if (strategy == "mask") != (c.mask is not None):
                problem((*cat, "mask"), "`mask` goes with erase: mask, and only with it")
            if c.mask is not None:
                parsed = parse_mask(c.mask)
                if isinstance(parsed, str):
                    problem((*cat, "mask"), parsed)
        seen: set[str] = set()
        for i, h in enumerate(t.holds):
            hat: Location = (*at, "holds", i)
            if h.id in seen:
                problem((*hat, "id"), f"hold {h.id!r} is defined twice in this table")
            seen.add(h.id)
            if h.duration is not None and parse_duration(h.duration) is None:
                problem((*hat, "duration"), "expected an ISO 8601 duration such as P7Y or P18M")
            if (h.duration is None) != (h.anchor is None):
                problem(hat, "`duration` and `anchor` go together (or neither: an open hold)")
            w = h.where
            if w is not None and sum(x is not None for x in (w.equals, w.in_, w.is_null)) != 1:
                problem((*hat, "where"), "give exactly one of equals, in, is_null")
            if h.meanwhile == "minimise" and not any(
                (c.erase or t.erase) in UPDATE_STRATEGIES for c in t.columns.values()
            ):
                problem((*hat, "meanwhile"), "minimise, but no column has null/mask/hash/tombstone")
    if not subject_identity:
        problem(("tables",), "no subject table has an identity column: nobody can be found")
    for i, r in enumerate(dm.relations):
        for end, values in (("from", r.froms), ("to", r.tos)):
            refs = [split_ref(v, dm.tables) for v in values]
            for j, (value, ref) in enumerate(zip(values, refs, strict=True)):
                if ref is None:
                    loc = ("relations", i, end) + ((j,) if len(values) > 1 else ())
                    problem(loc, f"table of {value!r} is not in the data map")
            if len({ref[0] for ref in refs if ref is not None}) > 1:
                problem(("relations", i, end), "the columns of one side belong to one table")
        if len(r.froms) != len(r.tos):
            problem(
                ("relations", i),
                f"from names {len(r.froms)} columns and to names {len(r.tos)}: pair them",
            )
    for tname, t in dm.tables.items():
        if isinstance(t.key, list) and len(set(t.key)) != len(t.key):
            problem(("tables", tname, "key"), "a column is named twice")
    return out
