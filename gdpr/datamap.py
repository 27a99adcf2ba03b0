"""The data map: which datastores hold personal data, how to find a subject, how to erase it.

The YAML file is validated against a JSON Schema generated from these models (printed by
`assay dsr schema`), then cross-checked; every problem names its file, line and field.
Checks against the live database come later (`assay.gdpr.resolve`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from assay.gdpr.identity import Normalisation

Category = Literal[
    "identity",
    "contact",
    "location",
    "financial",
    "behavioural",
    "credentials",
    "demographic",
    "communication",
    "technical",
    "health",
]
Strategy = Literal["delete_row", "null", "mask", "hash", "tombstone", "keep"]
UPDATE_STRATEGIES = frozenset({"null", "mask", "hash", "tombstone"})
Role = Literal["subject", "owned", "shared", "reference"]
Name = Annotated[str, StringConstraints(min_length=1, pattern=r"^[^\x00]+$")]
HoldId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]*$")]
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
DURATION = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?$")
MASK_PART = re.compile(r"\{(first|last):(\d+)\}")


class _Model(BaseModel):
    # Strict: YAML already gives native types, so nothing is coerced that the schema rejects.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, strict=True)


StoreKind = Literal["postgresql", "sqlite"]


class StoreSpec(_Model):
    """A datastore; the connection string (or SQLite file path) comes from an env var."""

    kind: StoreKind | None = Field(
        None,
        description="Default: from the connection string (postgresql:// or key=value is "
        "PostgreSQL, anything else a SQLite file path), so one map serves both.",
    )
    dsn_env: EnvName = Field(
        description="Environment variable holding the DSN (PostgreSQL) or file path (SQLite)."
    )
    pg_schema: Name = Field("public", alias="schema", description="PostgreSQL schema.")


class IdentitySpec(_Model):
    normalize: Normalisation = "text"
    description: str | None = None


class PurposeSpec(_Model):
    description: str
    basis: str = Field(description="Lawful basis, e.g. 'Art. 6(1)(b) contract'.")


class ColumnSpec(_Model):
    category: Category | None = Field(None, description="Personal-data category.")
    erase: Strategy | None = Field(None, description="Default: the table's `erase`.")
    mask: str | None = Field(None, description="Pattern for `mask`: '{first:1}***'.")
    identity: Name | None = Field(None, description="The identity type this column holds.")
    rectifiable: bool = False
    export: bool = Field(True, description="False keeps the column out of access packages.")
    about: Name | None = Field(
        None,
        description="In a table whose rows can name several people: the identity or relation "
        "column of the person this column describes (e.g. cc_name about cc_email). It is "
        "erased only when that person is the subject.",
    )


class RowCondition(_Model):
    """A row condition: exactly one of `equals`, `in`, `is_null`."""

    column: Name
    equals: str | int | bool | None = None
    in_: list[str | int] | None = Field(None, alias="in", min_length=1)
    is_null: bool | None = None


class HoldSpec(_Model):
    id: HoldId
    basis: str = Field(min_length=1, description="The legal basis, told to the subject.")
    duration: str | None = Field(None, description="ISO 8601 (P7Y, P18M, P30D) from `anchor`.")
    anchor: Name | None = Field(None, description="Column (or parent.column) the time runs from.")
    where: RowCondition | None = None
    columns: list[Name] | None = Field(None, min_length=1, description="Held columns; default all.")
    meanwhile: Literal["keep", "minimise"] = "keep"


class TableSpec(_Model):
    store: Name | None = None
    role: Role
    key: Name | Annotated[list[Name], Field(min_length=1)] | None = Field(
        None,
        description="Column, or list of columns, telling rows apart (unique in the data); "
        "default the primary key. A table with neither is addressed by its identity columns.",
    )
    erase: Literal["delete_row", "update"] = "delete_row"
    purposes: list[Name] = []
    retention: str | None = None
    columns: dict[Name, ColumnSpec] = {}
    holds: list[HoldSpec] = []


Ref = Annotated[str, StringConstraints(pattern=r"^[^.\x00]+\..+$")]


class RelationSpec(_Model):
    """A relation the database does not declare: `from` (child.column) references `to`
    (parent.column); a composite one lists its columns in order, one table per side:
    ``{from: [lines.order_id, lines.line_no], to: [order_lines.order_id, order_lines.no]}``."""

    from_: Ref | Annotated[list[Ref], Field(min_length=1)] = Field(alias="from")
    to: Ref | Annotated[list[Ref], Field(min_length=1)]

    @property
    def froms(self) -> list[str]:
        return [self.from_] if isinstance(self.from_, str) else list(self.from_)

    @property
    def tos(self) -> list[str]:
        return [self.to] if isinstance(self.to, str) else list(self.to)


class DataMap(_Model):
    """One data map file (`datamap: 1`)."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        strict=True,
        json_schema_extra={
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "urn:assay:datamap:v1",
        },
    )
    datamap: Literal[1]
    stores: dict[Name, StoreSpec] = Field(min_length=1)
    identities: dict[Name, IdentitySpec] = Field(min_length=1)
    purposes: dict[Name, PurposeSpec] = {}
    tables: dict[Name, TableSpec] = Field(min_length=1)
    relations: list[RelationSpec] = []


@cache
def datamap_schema() -> dict[str, Any]:
    """The JSON Schema of a data map file, generated from the model."""
    return DataMap.model_json_schema(by_alias=True)


@dataclass(frozen=True)
class Duration:
    years: int = 0
    months: int = 0
    days: int = 0

    def __str__(self) -> str:
        units = ((self.years, "Y"), (self.months, "M"), (self.days, "D"))
        return "P" + ("".join(f"{n}{u}" for n, u in units if n) or "0D")


def parse_duration(text: str) -> Duration | None:
    """An ISO 8601 duration of years, months and days; None if `text` is not one."""
    m = DURATION.match(text)
    if not m or not any(m.groups()):
        return None
    years, months, days = (int(g or 0) for g in m.groups())
    return Duration(years, months, days)


@dataclass(frozen=True)
class MaskPattern:
    """``{first:N}`` at the start, literal text, ``{last:N}`` at the end; literal text required.

    The literal marks a value as masked, so masking twice changes nothing.
    """

    first: int
    literal: str
    last: int


def parse_mask(text: str) -> MaskPattern | str:
    """The pattern, or a message saying what is wrong with `text`."""
    first = last = 0
    rest = text
    m = MASK_PART.match(rest)
    if m and m.group(1) == "first":
        first, rest = int(m.group(2)), rest[m.end() :]
    m = re.search(r"\{last:(\d+)\}$", rest)
    if m:
        last, rest = int(m.group(1)), rest[: m.start()]
    if MASK_PART.search(rest) or "{" in rest or "}" in rest:
        return "{first:N} may only open the pattern and {last:N} only close it"
    if not rest:
        return "needs literal text between the kept parts (e.g. '***'), to mark masked values"
    return MaskPattern(first, rest, last)


def split_ref(ref: str, tables: Iterable[str]) -> tuple[str, str] | None:
    """``table.column`` split where the table part names one of `tables` (names may hold dots)."""
    known = set(tables)
    for i, ch in enumerate(ref):
        if ch == "." and ref[:i] in known and ref[i + 1 :]:
            return ref[:i], ref[i + 1 :]
    return None


def datamap_digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()
