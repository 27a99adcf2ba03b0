"""The PostgreSQL provider: importing this package registers its provider, collectors and checks.

Resource types, each judged by pure functions of one resource:
- `postgres.server` (`server`): settings, pg_hba rules, extensions, the WAL archiver;
  judged by `settings` (TLS, connection logging, pgAudit, archiving) and `hba`
  (encrypted remote access, SCRAM authentication);
- `postgres.role` (`roles`): each role's attributes and the roles it can become;
  judged by the superuser and BYPASSRLS/CREATEROLE allow-lists;
- `postgres.table` (`tables`): each user table's columns, RLS flags, policies and who
  can bypass them; judged by the tenant-isolation checks (`tenancy`).
"""

from assay.checks.postgres import hba, roles, settings, tables, tenancy
from assay.checks.postgres.provider import (
    PostgresConnectError,
    PostgresConnection,
    PostgresTarget,
    connect,
    identity,
    redact_dsn,
)
from assay.checks.postgres.server import setting

__all__ = [
    "PostgresConnectError",
    "PostgresConnection",
    "PostgresTarget",
    "connect",
    "hba",
    "identity",
    "redact_dsn",
    "roles",
    "setting",
    "settings",
    "tables",
    "tenancy",
]
