"""Checks on server settings over `postgres.server`: TLS, connection logging, pgAudit, log
retention and WAL archiving; and `setting`, how every check reads one."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from assay.checks.postgres.collect.server import READ_SETTINGS, SERVER
from assay.checks.registry import check
from assay.checks.result import ERROR_KEY, MissingEvidence, Result, attribute, describe_error

TLS_VERSIONS = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
_SETTINGS_PERMISSIONS = ["postgres:CONNECT", f"postgres:{READ_SETTINGS}"]


def setting(resource: dict[str, Any], name: str) -> Any:
    """The collected value of setting `name` (None when the server has no such setting).

    Raises MissingEvidence when the setting could not be read, like `attribute` does.
    """
    value = (attribute(resource, "settings") or {}).get(name)
    if isinstance(value, dict) and ERROR_KEY in value:
        raise MissingEvidence(f"setting {name} could not be collected: {describe_error(value)}")
    return value


class SslParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_protocol: Literal["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"] = Field(
        default="TLSv1.2", description="The oldest TLS version the server may accept."
    )


@check("postgres.server.ssl", resource=SERVER, params=SslParams, permissions=_SETTINGS_PERMISSIONS)
def ssl(resource: dict[str, Any], params: SslParams) -> Result:
    """Pass when `ssl` is on and `ssl_min_protocol_version` is at least `params.min_protocol`."""
    enabled = setting(resource, "ssl")
    if enabled != "on":
        return Result.failed("ssl is off: the server accepts no TLS connections", ssl=enabled)
    minimum = setting(resource, "ssl_min_protocol_version")
    if minimum is None:
        return Result.failed(
            "the server has no ssl_min_protocol_version (PostgreSQL 11 or older) and "
            f"accepts TLS versions older than {params.min_protocol}",
            ssl=enabled,
            ssl_min_protocol_version=None,
        )
    # An empty value (PostgreSQL 12) accepts any version.
    rank = TLS_VERSIONS.index(minimum) if minimum in TLS_VERSIONS else -1
    if rank < TLS_VERSIONS.index(params.min_protocol):
        return Result.failed(
            f"ssl_min_protocol_version is {minimum or 'empty (any)'}; "
            f"expected {params.min_protocol} or newer",
            ssl=enabled,
            ssl_min_protocol_version=minimum,
        )
    return Result.passed(
        f"TLS is on and accepts {minimum} or newer", ssl=enabled, ssl_min_protocol_version=minimum
    )


# PostgreSQL 18 made log_connections a list of aspects; "on" means the three below.
_CONNECTION_ASPECTS = {"receipt", "authentication", "authorization"}


def _logs_connections(value: str | None) -> bool:
    if value is None:
        return False
    aspects = {part.strip().lower() for part in value.split(",")}
    return bool(aspects & {"on", "true", "all"}) or aspects >= _CONNECTION_ASPECTS


@check("postgres.server.connection_logging", resource=SERVER, permissions=_SETTINGS_PERMISSIONS)
def connection_logging(resource: dict[str, Any], params: Any) -> Result:
    """Pass when both connections and disconnections are logged."""
    connections = setting(resource, "log_connections")
    disconnections = setting(resource, "log_disconnections")
    missing = [
        name
        for name, on in (
            ("log_connections", _logs_connections(connections)),
            ("log_disconnections", disconnections == "on"),
        )
        if not on
    ]
    observed = {"log_connections": connections, "log_disconnections": disconnections}
    if missing:
        return Result.failed(f"{' and '.join(missing)} off: sessions leave no trace", **observed)
    return Result.passed("connections and disconnections are logged", **observed)


PGAUDIT_CLASSES = ("read", "write", "function", "role", "ddl", "misc", "misc_set")
AuditClass = Literal["read", "write", "function", "role", "ddl", "misc", "misc_set"]


class PgauditParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    targets: list[str] = Field(
        default=[],
        description="Globs over target names where pgAudit is required even when it is not "
        "installed; elsewhere a server without pgAudit is not_applicable.",
    )
    log_classes: list[AuditClass] = Field(
        default=["ddl", "write", "role"],
        description="Statement classes pgaudit.log must include.",
    )


def preload_libraries(value: str | None) -> list[str]:
    """shared_preload_libraries as a list of names (quotes and spaces removed)."""
    return [p.strip().strip('"').strip() for p in (value or "").split(",") if p.strip()]


def audit_classes(value: str | None) -> set[str]:
    """The classes a pgaudit.log value enables: `all`, names, and `-name` exclusions in order."""
    enabled: set[str] = set()
    for part in (value or "").split(","):
        name = part.strip().lower()
        negate = name.startswith("-")
        name = name.removeprefix("-")
        selected = set(PGAUDIT_CLASSES) if name == "all" else {name} & set(PGAUDIT_CLASSES)
        enabled = enabled - selected if negate else enabled | selected
    return enabled


@check(
    "postgres.server.pgaudit",
    resource=SERVER,
    params=PgauditParams,
    permissions=_SETTINGS_PERMISSIONS,
)
def pgaudit(resource: dict[str, Any], params: PgauditParams) -> Result:
    """Where pgAudit is installed (preloaded, or created in the database), pass when it is
    preloaded and pgaudit.log includes every class in `params.log_classes`. A server without
    it is not_applicable, unless its target matches `params.targets`: there it fails."""
    libraries = preload_libraries(setting(resource, "shared_preload_libraries"))
    created = "pgaudit" in (attribute(resource, "extensions") or {})
    if "pgaudit" not in libraries:
        target = resource.get("scope", {}).get("target", "")
        if not created and not any(fnmatchcase(target, p) for p in params.targets):
            return Result.not_applicable(
                "pgAudit is not installed (neither preloaded nor created in the database), "
                f"and target {target!r} is not one that requires it",
                shared_preload_libraries=libraries,
                required_on=params.targets,
            )
        return Result.failed(
            "pgaudit is not in shared_preload_libraries, so no statement is audited",
            shared_preload_libraries=libraries,
            extension_created=created,
        )
    log = setting(resource, "pgaudit.log")
    missing = [c for c in params.log_classes if c not in audit_classes(log)]
    if missing:
        return Result.failed(
            f"pgaudit.log is {log!r}, which does not audit {', '.join(missing)}",
            pgaudit_log=log,
            missing=missing,
        )
    return Result.passed(
        f"pgAudit is loaded and audits {', '.join(params.log_classes)}", pgaudit_log=log
    )


class ArchivingParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rpo_seconds: int | None = Field(
        default=None,
        ge=1,
        description="Recovery point objective: archive_timeout must be set and at most this.",
    )


# Commands that report success without keeping the WAL segment.
_DISCARDING = {"true", "/bin/true", "/usr/bin/true", ":", "exit 0"}


@check(
    "postgres.server.wal_archiving",
    resource=SERVER,
    params=ArchivingParams,
    permissions=_SETTINGS_PERMISSIONS,
)
def wal_archiving(resource: dict[str, Any], params: ArchivingParams) -> Result:
    """Pass when WAL archiving is on, archives somewhere, and the archiver is not failing.

    Failing means its last failure is newer than its last success. A standby is
    not_applicable unless archive_mode is `always` (the primary archives). With
    `params.rpo_seconds`, archive_timeout must force a segment switch at least that often.
    """
    mode = setting(resource, "archive_mode")
    if attribute(resource, "in_recovery") and mode != "always":
        return Result.not_applicable(
            "a standby archives nothing unless archive_mode is always; the primary's "
            "archiving is judged on the primary",
            archive_mode=mode,
        )
    if mode not in ("on", "always"):
        return Result.failed(f"archive_mode is {mode}: WAL is not archived", archive_mode=mode)
    command = (setting(resource, "archive_command") or "").strip()
    library = (setting(resource, "archive_library") or "").strip()
    observed: dict[str, Any] = {
        "archive_mode": mode,
        "archive_command": command,
        "archive_library": library,
    }
    if not library and command in ("", "(disabled)"):
        return Result.failed(
            "archive_mode is on but neither archive_command nor archive_library is set, "
            "so WAL segments pile up unarchived",
            **observed,
        )
    if not library and command in _DISCARDING:
        return Result.failed(
            f"archive_command {command!r} reports success without keeping the WAL", **observed
        )
    archiver = attribute(resource, "archiver") or {}
    failed_at, archived_at = archiver.get("last_failed_time"), archiver.get("last_archived_time")
    observed["archiver"] = archiver
    # RFC 3339 UTC stamps of one format compare as strings.
    if failed_at and (archived_at is None or failed_at > archived_at):
        return Result.failed(
            f"the archiver is failing: segment {archiver.get('last_failed_wal')} failed at "
            f"{failed_at}, last success {archived_at or 'never'} "
            f"({archiver.get('failed_count')} failures since the statistics reset)",
            **observed,
        )
    if params.rpo_seconds is not None:
        timeout = setting(resource, "archive_timeout")
        seconds = int(timeout) if timeout and timeout.isdigit() else 0
        if not 0 < seconds <= params.rpo_seconds:
            return Result.failed(
                f"archive_timeout is {seconds}s, so a quiet server may hold unarchived changes "
                f"longer than the {params.rpo_seconds}s RPO; expected 1..{params.rpo_seconds}",
                archive_timeout=seconds,
                **observed,
            )
    return Result.passed(
        f"WAL is archived ({library or command}) and the archiver is not failing", **observed
    )


class LogRetentionParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_days: int = Field(
        default=7,
        ge=1,
        description="Days of server log the server must keep before it overwrites or deletes them.",
    )


_DAY = 86400
# The shortest time after which a strftime field of log_filename shows the same value again.
_FIELD_PERIOD = {
    **dict.fromkeys("S", 60),
    **dict.fromkeys("M", 3600),
    **dict.fromkeys("Il", _DAY // 2),
    **dict.fromkeys("HkpPRTXr", _DAY),
    **dict.fromkeys("aAuw", 7 * _DAY),
    **dict.fromkeys("de", 28 * _DAY),
    **dict.fromkeys("jbBhmUWV", 365 * _DAY),
}
# Fields holding the year (or the whole date, or the epoch): such names never come back.
_NEVER_REPEATS = set("YGCgyscDFx+")
_FILE_DESTINATIONS = {"stderr", "csvlog", "jsonlog"}


def log_file_cycle(pattern: str) -> int | None:
    """Seconds after which `pattern` (log_filename, a strftime pattern) gives a name already
    used, at the least; None when names never repeat, 0 for a fixed name."""
    cycle = 0
    fields = iter(pattern.split("%")[1:])
    for part in fields:
        if not part:  # "%%": a literal percent sign, which takes the next part along
            next(fields, None)
            continue
        if part[0] in _NEVER_REPEATS:
            return None
        cycle = max(cycle, _FIELD_PERIOD.get(part[0], 0))
    return cycle


@check(
    "postgres.server.log_retention",
    resource=SERVER,
    params=LogRetentionParams,
    permissions=_SETTINGS_PERMISSIONS,
)
def log_retention(resource: dict[str, Any], params: LogRetentionParams) -> Result:
    """Pass when the server keeps its log files at least `params.min_days`.

    PostgreSQL deletes no log file; it overwrites one when log_truncate_on_rotation is on and
    a time-based rotation (log_rotation_age) opens a file name already used, so the files
    last as long as the cycle of log_filename's fields (%a: a week, %H: a day), at least. On
    Amazon RDS, rds.log_retention_period decides. Logs that do not go to files of the
    logging collector (syslog, or stderr captured by whatever started the server) are kept,
    or not, outside PostgreSQL: not_applicable.
    """
    rds_minutes = setting(resource, "rds.log_retention_period")
    if rds_minutes is not None:
        days = int(rds_minutes) / 1440
        rds = {"rds.log_retention_period": int(rds_minutes)}
        if days < params.min_days:
            return Result.failed(
                f"RDS deletes log files after {_days(days)} (rds.log_retention_period "
                f"{rds_minutes} minutes); expected at least {params.min_days} days",
                **rds,
            )
        return Result.passed(f"RDS keeps log files for {_days(days)}", **rds)
    collector = setting(resource, "logging_collector")
    destinations = {d.strip() for d in (setting(resource, "log_destination") or "").split(",")}
    observed: dict[str, Any] = {
        "logging_collector": collector,
        "log_destination": sorted(destinations - {""}),
    }
    if collector != "on" or not destinations & _FILE_DESTINATIONS:
        where = (
            "the server's standard error, kept by whatever started the server"
            if collector != "on" and "stderr" in destinations
            else ", ".join(sorted(destinations - _FILE_DESTINATIONS - {""})) or "nowhere"
        )
        return Result.not_applicable(
            f"the server writes no log files of its own (logging_collector {collector}): "
            f"its log goes to {where}, and its retention is decided there",
            **observed,
        )
    pattern = setting(resource, "log_filename") or ""
    truncate = setting(resource, "log_truncate_on_rotation")
    rotation = int(setting(resource, "log_rotation_age") or 0) * 60  # minutes in pg_settings
    observed |= {
        "log_filename": pattern,
        "log_truncate_on_rotation": truncate,
        "log_rotation_age_minutes": rotation // 60,
    }
    cycle = log_file_cycle(pattern)
    if truncate != "on" or rotation == 0 or cycle is None:
        why = (
            "log_truncate_on_rotation is off"
            if truncate != "on"
            else "time-based rotation is off (log_rotation_age 0)"
            if rotation == 0
            else f"log_filename {pattern!r} holds the date, so no name comes back"
        )
        return Result.passed(f"the server never overwrites its log files: {why}", **observed)
    kept = max(cycle, rotation) / _DAY
    if kept < params.min_days:
        return Result.failed(
            f"log files are overwritten after {_days(kept)}: log_filename {pattern!r} "
            f"gives a used name again then, and log_truncate_on_rotation is on; expected "
            f"at least {params.min_days} days",
            kept_days=round(kept, 2),
            **observed,
        )
    return Result.passed(
        f"log files are kept at least {_days(kept)} before they are overwritten",
        kept_days=round(kept, 2),
        **observed,
    )


def _days(days: float) -> str:
    if days >= 1:
        return f"{days:g} days" if days != 1 else "1 day"
    return f"{days * 24:g} hours" if days * 24 != 1 else "1 hour"
