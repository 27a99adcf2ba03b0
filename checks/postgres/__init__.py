"""The PostgreSQL provider: importing this package registers its provider, collectors and checks.

Resource types, each judged by pure functions of one resource:
- `postgres.server` (`collect.server`): settings, pg_hba rules, extensions, the WAL
  archiver; judged by `checks.settings` (TLS, connection logging, pgAudit, archiving)
  and `checks.hba` (encrypted remote access, SCRAM authentication);
- `postgres.role` (`collect.roles`): each role's attributes and the roles it can become;
  judged by the superuser and BYPASSRLS/CREATEROLE allow-lists (`checks.roles`);
- `postgres.table` (`collect.tables`): each user table's columns, RLS flags, policies and
  who can bypass them; judged by the tenant-isolation checks (`checks.tenancy`).

Where things go, the same in every provider: `provider` holds the target options and the
connection; `collect/<family>.py` the collectors of one family of resource types and what
only they use; `checks/<family>.py` the check functions and their params models,
importing from `collect/` only resource type names and declared permissions.
"""

from assay.checks.postgres import checks, collect
from assay.checks.postgres.checks.settings import setting
from assay.checks.postgres.provider import (
    PostgresConnectError,
    PostgresConnection,
    PostgresTarget,
    connect,
    identity,
    redact_dsn,
)

__all__ = [
    "PostgresConnectError",
    "PostgresConnection",
    "PostgresTarget",
    "checks",
    "collect",
    "connect",
    "identity",
    "redact_dsn",
    "setting",
]
