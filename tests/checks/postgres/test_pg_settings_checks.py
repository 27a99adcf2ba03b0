"""The checks on server settings, over hand-built `postgres.server` snapshots."""

from __future__ import annotations

from typing import Any

import pytest

from assay.checks import Status, collection_error
from assay.testing import make_resource, run_check

DEFAULT_SETTINGS: dict[str, Any] = {
    "archive_command": "(disabled)",
    "archive_library": "",
    "archive_mode": "off",
    "archive_timeout": "0",
    "log_connections": "off",
    "log_destination": "stderr",
    "log_disconnections": "off",
    "log_filename": "postgresql-%Y-%m-%d_%H%M%S.log",
    "log_rotation_age": "1440",
    "log_truncate_on_rotation": "off",
    "logging_collector": "off",
    "password_encryption": "scram-sha-256",
    "pgaudit.log": None,
    "rds.log_retention_period": None,
    "shared_preload_libraries": "",
    "ssl": "off",
    "ssl_max_protocol_version": "",
    "ssl_min_protocol_version": "TLSv1.2",
    "wal_level": "replica",
}
NO_ARCHIVER = {
    "archived_count": 0,
    "last_archived_wal": None,
    "last_archived_time": None,
    "failed_count": 0,
    "last_failed_wal": None,
    "last_failed_time": None,
}


def make_server(target: str = "prod-db", **settings: Any) -> dict[str, Any]:
    """A `postgres.server` snapshot of a default PostgreSQL 15, with `settings` changed
    (`pgaudit_log` stands for pgaudit.log, `rds_log_retention` for rds.log_retention_period)
    and `archiver` / `in_recovery` / `extensions` overridable."""
    archiver = settings.pop("archiver", NO_ARCHIVER)
    in_recovery = settings.pop("in_recovery", False)
    extensions = settings.pop("extensions", {"plpgsql": "1.0"})
    for short, name in (
        ("pgaudit_log", "pgaudit.log"),
        ("rds_log_retention", "rds.log_retention_period"),
    ):
        if short in settings:
            settings[name] = settings.pop(short)
    return make_resource(
        "postgres.server",
        {
            "version": 150018,
            "settings": {**DEFAULT_SETTINGS, **settings},
            "hba_rules": [],
            "extensions": extensions,
            "in_recovery": in_recovery,
            "archiver": archiver,
        },
        scope={"provider": "postgres", "target": target},
    )


# -- TLS


def test_ssl_off_fails() -> None:
    result = run_check("postgres.server.ssl", make_server(ssl="off"))
    assert result.status is Status.FAIL
    assert result.reason == "ssl is off: the server accepts no TLS connections"


@pytest.mark.parametrize(
    ("minimum", "wanted", "status"),
    [
        ("TLSv1.2", "TLSv1.2", Status.PASS),
        ("TLSv1.3", "TLSv1.2", Status.PASS),
        ("TLSv1.1", "TLSv1.2", Status.FAIL),
        ("TLSv1", "TLSv1.2", Status.FAIL),
        ("TLSv1.2", "TLSv1.3", Status.FAIL),
        ("", "TLSv1", Status.FAIL),  # PostgreSQL 12's empty value accepts any version
        (None, "TLSv1.2", Status.FAIL),  # PostgreSQL 11 has no such setting
    ],
)
def test_ssl_minimum_protocol_is_compared_by_version(
    minimum: str | None, wanted: str, status: Status
) -> None:
    resource = make_server(ssl="on", ssl_min_protocol_version=minimum)
    result = run_check("postgres.server.ssl", resource, min_protocol=wanted)
    assert result.status is status, result.reason
    assert result.observed["ssl_min_protocol_version"] == minimum


def test_ssl_with_a_hidden_minimum_is_error_naming_the_privilege() -> None:
    hidden = collection_error("InsufficientPrivilege", "must be superuser", "pg_read_all_settings")
    result = run_check(
        "postgres.server.ssl", make_server(ssl="on", ssl_min_protocol_version=hidden)
    )
    assert result.status is Status.ERROR
    assert "ssl_min_protocol_version" in result.reason
    assert "pg_read_all_settings" in result.reason


def test_ssl_rejects_an_unknown_protocol_param() -> None:
    with pytest.raises(ValueError, match="min_protocol"):
        run_check("postgres.server.ssl", make_server(), min_protocol="SSLv3")


# -- connection logging


@pytest.mark.parametrize(
    ("connections", "disconnections", "status", "reason"),
    [
        ("on", "on", Status.PASS, "connections and disconnections are logged"),
        ("off", "on", Status.FAIL, "log_connections off: sessions leave no trace"),
        ("on", "off", Status.FAIL, "log_disconnections off: sessions leave no trace"),
        ("off", "off", Status.FAIL, "log_connections and log_disconnections off"),
        # PostgreSQL 18 lists aspects instead of a boolean.
        ("receipt,authentication,authorization", "on", Status.PASS, "are logged"),
        ("all", "on", Status.PASS, "are logged"),
        ("receipt", "on", Status.FAIL, "log_connections off"),
    ],
)
def test_connection_logging(
    connections: str, disconnections: str, status: Status, reason: str
) -> None:
    resource = make_server(log_connections=connections, log_disconnections=disconnections)
    result = run_check("postgres.server.connection_logging", resource)
    assert result.status is status
    assert reason in result.reason


# -- pgAudit


def test_a_server_without_pgaudit_is_not_applicable() -> None:
    result = run_check("postgres.server.pgaudit", make_server())
    assert result.status is Status.NOT_APPLICABLE
    assert result.reason.startswith("pgAudit is not installed")


def test_pgaudit_created_but_not_preloaded_fails() -> None:
    resource = make_server(extensions={"plpgsql": "1.0", "pgaudit": "1.7"})
    result = run_check("postgres.server.pgaudit", resource)
    assert result.status is Status.FAIL
    assert "pgaudit is not in shared_preload_libraries" in result.reason
    assert result.observed["extension_created"] is True


@pytest.mark.parametrize(
    ("log", "status", "missing"),
    [
        ("ddl, write, role", Status.PASS, None),
        ("all", Status.PASS, None),
        ("all, -misc", Status.PASS, None),
        ("all, -role", Status.FAIL, ["role"]),
        ("read,ddl", Status.FAIL, ["write", "role"]),
        ("none", Status.FAIL, ["ddl", "write", "role"]),
    ],
)
def test_pgaudit_log_must_cover_the_classes(
    log: str, status: Status, missing: list[str] | None
) -> None:
    resource = make_server(
        shared_preload_libraries='"pg_stat_statements", pgaudit', pgaudit_log=log
    )
    result = run_check("postgres.server.pgaudit", resource)
    assert result.status is status, result.reason
    assert result.observed.get("missing") == missing


def test_targets_that_require_pgaudit_fail_without_it() -> None:
    params = {"targets": ["prod-*"]}
    staging = run_check("postgres.server.pgaudit", make_server(target="staging-db"), **params)
    assert staging.status is Status.NOT_APPLICABLE
    assert "target 'staging-db' is not one that requires it" in staging.reason
    prod = run_check("postgres.server.pgaudit", make_server(target="prod-db"), **params)
    assert prod.status is Status.FAIL
    # where it is installed, every target is judged
    loaded = make_server(target="staging-db", shared_preload_libraries="pgaudit", pgaudit_log="")
    assert run_check("postgres.server.pgaudit", loaded, **params).status is Status.FAIL


# -- WAL archiving

ARCHIVING = {"archive_mode": "on", "archive_command": "pgbackrest --stanza=main archive-push %p"}


def test_archiving_off_fails() -> None:
    result = run_check("postgres.server.wal_archiving", make_server())
    assert result.status is Status.FAIL
    assert result.reason == "archive_mode is off: WAL is not archived"


def test_archiving_on_without_a_command_fails() -> None:
    result = run_check("postgres.server.wal_archiving", make_server(archive_mode="on"))
    assert result.status is Status.FAIL
    assert "neither archive_command nor archive_library is set" in result.reason


@pytest.mark.parametrize("command", ["true", "/bin/true", "exit 0"])
def test_an_archive_command_that_discards_wal_fails(command: str) -> None:
    resource = make_server(archive_mode="on", archive_command=command)
    result = run_check("postgres.server.wal_archiving", resource)
    assert result.status is Status.FAIL
    assert "reports success without keeping the WAL" in result.reason


def test_an_archive_library_counts() -> None:
    resource = make_server(archive_mode="on", archive_library="basic_archive")
    result = run_check("postgres.server.wal_archiving", resource)
    assert result.status is Status.PASS
    assert result.reason.startswith("WAL is archived (basic_archive)")


def archiver(archived_at: str | None, failed_at: str | None) -> dict[str, Any]:
    return {
        **NO_ARCHIVER,
        "archived_count": 10 if archived_at else 0,
        "last_archived_wal": "00000001000000000000000A" if archived_at else None,
        "last_archived_time": archived_at,
        "failed_count": 3 if failed_at else 0,
        "last_failed_wal": "00000001000000000000000B" if failed_at else None,
        "last_failed_time": failed_at,
    }


@pytest.mark.parametrize(
    ("archived_at", "failed_at", "status"),
    [
        ("2024-05-01T02:00:00.000000Z", None, Status.PASS),
        # It failed, then recovered: not failing now.
        ("2024-05-01T02:00:00.500000Z", "2024-05-01T02:00:00.100000Z", Status.PASS),
        ("2024-05-01T02:00:00.100000Z", "2024-05-01T02:00:00.500000Z", Status.FAIL),
        (None, "2024-05-01T02:00:00.000000Z", Status.FAIL),
    ],
)
def test_a_failing_archiver_fails(
    archived_at: str | None, failed_at: str | None, status: Status
) -> None:
    resource = make_server(**ARCHIVING, archiver=archiver(archived_at, failed_at))
    result = run_check("postgres.server.wal_archiving", resource)
    assert result.status is status, result.reason
    if status is Status.FAIL:
        assert "the archiver is failing: segment 00000001000000000000000B" in result.reason


@pytest.mark.parametrize(
    ("timeout", "status"), [("0", Status.FAIL), ("60", Status.PASS), ("600", Status.FAIL)]
)
def test_rpo_bounds_archive_timeout(timeout: str, status: Status) -> None:
    resource = make_server(**ARCHIVING, archive_timeout=timeout)
    result = run_check("postgres.server.wal_archiving", resource, rpo_seconds=300)
    assert result.status is status, result.reason


def test_a_standby_is_not_applicable_unless_it_archives_too() -> None:
    standby = make_server(**ARCHIVING, in_recovery=True)
    result = run_check("postgres.server.wal_archiving", standby)
    assert result.status is Status.NOT_APPLICABLE
    always = make_server(**{**ARCHIVING, "archive_mode": "always"}, in_recovery=True)
    assert run_check("postgres.server.wal_archiving", always).status is Status.PASS


# -- log retention

COLLECTOR = {"logging_collector": "on", "log_truncate_on_rotation": "on"}


@pytest.mark.parametrize(
    ("log_filename", "rotation", "status", "kept_days"),
    [
        ("postgresql-%a.log", "1440", Status.PASS, 7),  # a week of weekday names
        ("postgresql-%u-%H.log", "60", Status.PASS, 7),
        ("postgresql-%d.log", "1440", Status.PASS, 28),  # day of month: 28 days at least
        ("postgresql-%H.log", "60", Status.FAIL, 1),  # a day of hours
        ("postgresql-%M.log", "1440", Status.FAIL, 1),  # daily rotation: always "00"
        ("postgresql.log", "1440", Status.FAIL, 1),  # one name, truncated daily
        ("postgresql-100%%-%H.log", "60", Status.FAIL, 1),  # %% is a literal, %H the field
        ("postgresql-%j.log", "1440", Status.PASS, 365),
    ],
)
def test_log_retention_follows_the_cycle_of_the_file_names(
    log_filename: str, rotation: str, status: Status, kept_days: float
) -> None:
    resource = make_server(**COLLECTOR, log_filename=log_filename, log_rotation_age=rotation)
    result = run_check("postgres.server.log_retention", resource)
    assert result.status is status, result.reason
    assert result.observed["kept_days"] == kept_days


@pytest.mark.parametrize(
    ("settings", "why"),
    [
        ({"log_truncate_on_rotation": "off"}, "log_truncate_on_rotation is off"),
        ({"log_rotation_age": "0"}, "time-based rotation is off"),
        ({"log_filename": "postgresql-%Y-%m-%d_%H.log"}, "holds the date"),
        ({"log_filename": "pg-%F.log"}, "holds the date"),
    ],
)
def test_log_files_never_overwritten_pass(settings: dict[str, str], why: str) -> None:
    resource = make_server(
        **{**COLLECTOR, "log_filename": "postgresql-%H.log", "log_rotation_age": "60", **settings}
    )
    result = run_check("postgres.server.log_retention", resource)
    assert result.status is Status.PASS
    assert why in result.reason


def test_log_retention_min_days_is_a_parameter() -> None:
    week = make_server(**COLLECTOR, log_filename="postgresql-%a.log")
    result = run_check("postgres.server.log_retention", week, min_days=30)
    assert result.status is Status.FAIL
    assert result.reason.startswith("log files are overwritten after 7 days")


@pytest.mark.parametrize(
    ("settings", "where"),
    [
        ({}, "the server's standard error"),
        ({"log_destination": "syslog"}, "syslog"),
        ({"logging_collector": "on", "log_destination": "syslog"}, "syslog"),
    ],
)
def test_logs_kept_outside_postgres_are_not_applicable(
    settings: dict[str, str], where: str
) -> None:
    result = run_check("postgres.server.log_retention", make_server(**settings))
    assert result.status is Status.NOT_APPLICABLE
    assert f"its log goes to {where}" in result.reason


def test_rds_log_retention_period_decides_on_rds() -> None:
    default = make_server(**COLLECTOR, rds_log_retention="4320")  # RDS default: 3 days
    result = run_check("postgres.server.log_retention", default)
    assert result.status is Status.FAIL
    assert result.reason.startswith("RDS deletes log files after 3 days")
    week = make_server(**COLLECTOR, rds_log_retention="10080")
    assert run_check("postgres.server.log_retention", week).status is Status.PASS


def test_log_retention_setting_hidden_is_an_error() -> None:
    hidden = collection_error("InsufficientPrivilege", "denied", "pg_read_all_settings")
    resource = make_server(**COLLECTOR, log_filename=hidden)
    result = run_check("postgres.server.log_retention", resource)
    assert result.status is Status.ERROR
    assert "log_filename could not be collected" in result.reason
