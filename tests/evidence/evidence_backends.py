"""Ledger backends for log-level tests: a ledger to open, and a tamperer's view of it.

A backend gives a URL to open (and reopen) a ledger, and a raw connection a tamperer
would use, with the append-only guards removed. Tamper SQL uses ``?`` placeholders and
the shared schema (records, tree_nodes, checkpoints, pii_vault); a backend whose
driver wants another placeholder converts them. To add a backend, subclass `Backend`
and list it in `BACKENDS`: every test using the `backend` fixture then runs on it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assay.evidence import Ledger, open_ledger


class Backend:
    """One ledger of one backend, with a tamperer's view of it."""

    name = "abstract"
    url: str

    def open(self) -> Ledger:
        return open_ledger(self.url)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run `sql` behind the ledger's back (guards off); returns any rows."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class SQLiteBackend(Backend):
    name = "sqlite"

    def __init__(self, tmp_path: Path) -> None:
        self.path = tmp_path / "ledger.db"
        self.url = f"sqlite:///{self.path}"
        self._raw: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._raw is None:
            self.open().close()  # create and migrate before dropping guards
            self._raw = sqlite3.connect(self.path, isolation_level=None)
            triggers = self._raw.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger'"
            ).fetchall()
            for (name,) in triggers:
                self._raw.execute(f"DROP TRIGGER {name}")
        return self._raw

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._connection().execute(sql, params).fetchall()

    def close(self) -> None:
        if self._raw is not None:
            self._raw.close()


BACKENDS = {"sqlite": SQLiteBackend}
