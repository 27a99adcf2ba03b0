"""A ledger set back to before a migration, as an older assay left it, to test that the
migration brings it forward on open."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from evidence_backends import Backend

from assay.evidence.backends import postgres_schema, sqlite_schema


def version_before(backend: Backend, sqlite_step: Callable[..., Any], postgres_step: object) -> int:
    """The schema version before the migration that is `sqlite_step` (SQLite), or that
    holds `postgres_step` (PostgreSQL), on `backend`'s kind."""
    if backend.name == "sqlite":
        return sqlite_schema.MIGRATIONS.index(sqlite_step)
    return next(
        version
        for version, migration in enumerate(postgres_schema.MIGRATIONS)
        if postgres_step in migration
    )


def set_back(backend: Backend, version: int, dropped: tuple[str, ...]) -> None:
    """Drop the tables `dropped` (in order) and record the schema as at `version`."""
    for table in dropped:
        backend.execute(f"DROP TABLE {table}")
    backend.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(version),))
