"""The `postgres.server` collector: settings, pg_hba rules, extensions and the WAL archiver.

Its checks: `checks.settings` (TLS, connection logging, pgAudit, log retention, archiving) and
`checks.hba` (encrypted remote access, SCRAM authentication).

One resource per target (a server as seen from one database: settings can differ per
database, extensions are per database), id ``postgres://host:port/<database>``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import errors

from assay.checks.postgres.provider import PostgresConnection
from assay.checks.registry import collector
from assay.checks.result import collection_error

SERVER = "postgres.server"

# The settings checks read. A name the server does not know (pgaudit.log without pgaudit,
# archive_library before 15) is collected as None.
SETTINGS = (
    "archive_command",
    "archive_library",
    "archive_mode",
    "archive_timeout",
    "log_connections",
    "log_destination",
    "log_disconnections",
    "log_filename",
    "log_rotation_age",
    "log_truncate_on_rotation",
    "logging_collector",
    "password_encryption",
    "pgaudit.log",
    "rds.log_retention_period",
    "shared_preload_libraries",
    "ssl",
    "ssl_max_protocol_version",
    "ssl_min_protocol_version",
    "wal_level",
)

READ_SETTINGS = "pg_read_all_settings"
READ_HBA = "SELECT ON pg_hba_file_rules and EXECUTE ON FUNCTION pg_hba_file_rules()"


@collector(
    SERVER,
    permissions=[
        "postgres:CONNECT",
        f"postgres:{READ_SETTINGS}",
        "postgres:SELECT ON pg_hba_file_rules",
        "postgres:EXECUTE ON FUNCTION pg_hba_file_rules()",
    ],
)
def collect_server(conn: PostgresConnection) -> Iterator[dict[str, Any]]:
    """One resource for the target's server and database.

    Attributes:
    - `version` (int, server_version_num) and `version_string`;
    - `settings`: {name: value as pg_settings shows it, or None when the server has no
      such setting} for each name in SETTINGS; a setting hidden from the role is a
      collection-error marker naming pg_read_all_settings;
    - `hba_rules`: pg_hba_file_rules in file order, each {line, type, database, user,
      address, netmask, method, options, error}, or a marker when the role may not read
      them (superuser or an explicit grant is needed);
    - `extensions`: {name: version} installed in the database;
    - `in_recovery` (bool: a standby) and `archiver`: pg_stat_archiver's counts, WAL
      names and RFC 3339 times (`archived_count`, `last_archived_wal`,
      `last_archived_time`, `failed_count`, `last_failed_wal`, `last_failed_time`).
    """
    with conn.session() as pg:
        attributes = {
            "version": conn.server_version_num,
            "version_string": conn.server_version,
            "settings": _settings(pg),
            "hba_rules": _hba_rules(pg),
            "extensions": dict(pg.execute("SELECT extname, extversion FROM pg_extension")),
            **_archiver(pg),
        }
    yield {
        "type": SERVER,
        "id": conn.resource_id(conn.database),
        "name": f"{conn.server}/{conn.database}",
        "scope": conn.scope(),
        "attributes": attributes,
    }


def _settings(pg: psycopg.Connection[tuple[Any, ...]]) -> dict[str, Any]:
    rows = dict(
        pg.execute("SELECT name, setting FROM pg_settings WHERE name = ANY(%s)", (list(SETTINGS),))
    )
    found: dict[str, Any] = {}
    for name in SETTINGS:
        if name in rows:
            found[name] = rows[name]
            continue
        # Missing from pg_settings: either unknown to this server, or hidden from this role.
        try:
            row = pg.execute("SELECT current_setting(%s, true)", (name,)).fetchone()
        except errors.InsufficientPrivilege as exc:
            found[name] = collection_error("InsufficientPrivilege", _message(exc), READ_SETTINGS)
            continue
        found[name] = row[0] if row else None
    return found


def _hba_rules(pg: psycopg.Connection[tuple[Any, ...]]) -> Any:
    try:
        cur = pg.execute("SELECT * FROM pg_hba_file_rules")
    except errors.InsufficientPrivilege as exc:
        return collection_error("InsufficientPrivilege", _message(exc), READ_HBA)
    names = [col.name for col in cur.description or ()]
    rules = []
    for row in cur:
        raw = dict(zip(names, row, strict=True))
        rule = {
            "line": raw["line_number"],
            "type": raw["type"],
            "database": raw["database"],
            "user": raw["user_name"],
            "address": raw["address"],
            "netmask": raw["netmask"],
            "method": raw["auth_method"],
            "options": raw["options"],
            "error": raw["error"],
        }
        if raw.get("file_name"):  # PostgreSQL 16 and later: rules may come from included files
            rule["file"] = raw["file_name"]
        rules.append(rule)
    return rules


def _archiver(pg: psycopg.Connection[tuple[Any, ...]]) -> dict[str, Any]:
    cur = pg.execute(
        "SELECT pg_is_in_recovery(), archived_count, last_archived_wal, last_archived_time,"
        " failed_count, last_failed_wal, last_failed_time FROM pg_stat_archiver"
    )
    row = cur.fetchone()
    assert row is not None  # the view always has one row
    in_recovery, archived, archived_wal, archived_at, failed, failed_wal, failed_at = row
    return {
        "in_recovery": in_recovery,
        "archiver": {
            "archived_count": int(archived),
            "last_archived_wal": archived_wal,
            "last_archived_time": rfc3339(archived_at),
            "failed_count": int(failed),
            "last_failed_wal": failed_wal,
            "last_failed_time": rfc3339(failed_at),
        },
    }


def rfc3339(moment: datetime | None) -> str | None:
    """`moment` in UTC to the microsecond, as ``2024-05-01T02:00:00.123456Z``; None stays None.

    Microseconds keep two events of the same second (an archive and a failure) ordered.
    """
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _message(exc: psycopg.Error) -> str:
    return str(exc).strip().splitlines()[0]
