"""Rows that name more than one person: whose columns are whose.

A row of an owned table can name several people (a ticket's requester and its CC, a
transfer's payer and payee, a referral's two customers): each identity column and each
relation to a subject's table is one person, a `Party` (`about:` in the map joins columns
that name the same person, and binds describing columns to the person they describe).

For one subject, each party of a found row is the subject's (its identity value is one
the search used, or its relation leads to a row found for the subject), someone else's,
or empty (NULL, or already erased). A row with any party that is someone else's is
*shared*: it is never deleted, only the columns bound to the subject's parties are
erased, and an access package withholds the other people's columns (Art. 15(4) GDPR).

A row reached only through a shared row (a message of a shared ticket) belongs to that
row's people too: its relation to the shared row counts as someone else's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from assay.gdpr.errors import IdentityError
from assay.gdpr.identity import normalise
from assay.gdpr.model import Party, Resolved
from assay.gdpr.strategies import erased_in_python
from assay.gdpr.traverse import Found, Snapshot

Status = Literal["subject", "other", "empty"]


@dataclass(frozen=True)
class Sharing:
    """A found row that names someone besides the subject."""

    others: tuple[str, ...]  # the columns that name the other people
    mine: frozenset[str]  # columns bound to the subject: the only ones erasure may change
    theirs: frozenset[str]  # columns bound to the others: never changed, never exported

    @property
    def why(self) -> str:
        return f"also names another person ({'; '.join(self.others)})"


SharedRows = dict[str, dict[Any, Sharing]]


def shared_rows(resolved: Resolved, snap: Snapshot) -> SharedRows:
    """Per table, the found rows shared with someone else; a fixpoint over relations, since
    a row reached through a shared row is shared too."""
    return _Sorting(resolved, snap).run()


class _Sorting:
    def __init__(self, resolved: Resolved, snap: Snapshot) -> None:
        self.resolved = resolved
        self.snap = snap
        self.shared: SharedRows = {}
        self._indexes: dict[tuple[str, tuple[str, ...]], dict[Any, list[Any]]] = {}

    def run(self) -> SharedRows:
        found = self.snap.found
        pending = {t for t, f in found.items() if len(f.table.parties) > 1}
        while pending:
            tname = pending.pop()
            rows = found[tname]
            now = {k: s for k in rows.rows if (s := self._sharing(rows, k))}
            if now == self.shared.get(tname, {}):
                continue
            self.shared[tname] = now
            # Rows whose relation leads here may now be reached through a shared row.
            pending |= {
                t
                for t, f in found.items()
                if any(r.parent == tname for p in f.table.parties for r in p.relations)
            }
        return {t: rows for t, rows in self.shared.items() if rows}

    def _sharing(self, found: Found, key: Any) -> Sharing | None:
        statuses = [(p, self._status(found, key, p)) for p in found.table.parties]
        if not any(s == "other" for _, s in statuses):
            return None
        return Sharing(
            tuple(p.label for p, s in statuses if s == "other"),
            frozenset().union(*(p.columns for p, s in statuses if s == "subject")),
            frozenset().union(*(p.columns for p, s in statuses if s == "other")),
        )

    def _status(self, found: Found, key: Any, party: Party) -> Status:
        """The subject's if any of the party's columns says so (the map declared them one
        person); someone else's if a column names anyone else; empty otherwise."""
        status: Status = "empty"
        for column, kind in party.identities:
            value = found.value(key, (column,))
            if erased_in_python(found.table.columns[column], value):
                continue
            try:
                norm = normalise(self.resolved.identities[kind], value, label=kind)
            except IdentityError:
                norm = None  # malformed: not the subject's, and maybe someone's
            if norm in self.snap.identities.get(kind, ()):
                return "subject"
            status = "other"
        for rel in party.relations:
            value = found.value(key, rel.child_columns)
            if value is None:
                continue
            if self._subject_parent(rel.parent, rel.parent_columns, value):
                return "subject"
            status = "other"
        return status

    def _subject_parent(self, parent: str, columns: tuple[str, ...], value: Any) -> bool:
        """Whether a row found for the subject, and not shared itself, holds `value`."""
        found = self.snap.found.get(parent)
        if found is None:
            return False
        index = self._indexes.get((parent, columns))
        if index is None:
            index = {}
            for k in found.rows:
                index.setdefault(found.value(k, columns), []).append(k)
            self._indexes[(parent, columns)] = index
        mixed: Mapping[Any, Sharing] = self.shared.get(parent, {})
        return any(k not in mixed for k in index.get(value, ()))
