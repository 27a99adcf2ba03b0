"""The PostgreSQL provider: target options, DSN handling, and the connection collectors receive.

A DSN comes from an environment variable (`dsn_env`), or is written in the profile
(`dsn`) only when it carries no password: profiles get committed. libpq's own password
sources (PGPASSWORD, ~/.pgpass, a service file) work with either form. No message,
identity or snapshot ever shows a password.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from assay.checks.registry import provider
from assay.errors import AssayError

PROVIDER = "postgres"
APPLICATION_NAME = "assay"

# Connection parameters that hold secrets (libpq's `password`, and the passphrase of a client key).
SECRET_PARAMS = ("password", "sslpassword")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class PostgresConnectError(AssayError, ConnectionError):
    """No DSN, a malformed one, or an unreachable server; the message never shows a password."""


class PostgresTarget(BaseModel):
    """How to reach one PostgreSQL database: exactly one of `dsn_env` and `dsn`."""

    # A validation error must not quote the refused DSN back, password and all.
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    dsn_env: str | None = Field(
        default=None, description="Name of the environment variable holding the DSN."
    )
    dsn: str | None = Field(
        default=None, description="A DSN without a password (URL or key=value form)."
    )
    schemas: list[str] | None = Field(
        default=None,
        min_length=1,
        description="Collect tables from these schemas only (default: every user schema).",
    )

    @field_validator("dsn_env")
    @classmethod
    def _env_name(cls, name: str | None) -> str | None:
        if name is not None and not _ENV_NAME.match(name):
            raise ValueError(f"expected an environment variable name like APP_DB_DSN; got {name!r}")
        return name

    @field_validator("dsn")
    @classmethod
    def _no_password(cls, dsn: str | None) -> str | None:
        if dsn is None:
            return None
        params = parse_dsn(dsn, "dsn")
        secrets = [key for key in SECRET_PARAMS if params.get(key)]
        if secrets:
            raise ValueError(
                f"the DSN holds a {secrets[0]}, and profiles get committed; put the DSN in an "
                "environment variable named by dsn_env, or keep the password in ~/.pgpass or "
                "PGPASSWORD"
            )
        return dsn

    @model_validator(mode="after")
    def _one_source(self) -> PostgresTarget:
        if (self.dsn_env is None) == (self.dsn is None):
            raise ValueError("expected exactly one of dsn_env (recommended) and dsn")
        return self


def parse_dsn(dsn: str, where: str) -> dict[str, Any]:
    """The parameters of a DSN (URL or key=value form); ValueError naming `where` if malformed.

    psycopg's own parse errors can quote the text around the fault, password included,
    so the error says where the DSN came from and never what it holds.
    """
    if not dsn.strip():
        raise ValueError(f"{where} is empty; expected a DSN like postgresql://user@host:5432/db")
    try:
        return conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        raise ValueError(
            f"{where} is not a valid PostgreSQL DSN; expected a URL "
            "(postgresql://user@host:5432/db) or key=value pairs (host=... dbname=...)"
        ) from None


def redact_dsn(dsn: str) -> str:
    """`dsn` with any password shown as ``***``, or a placeholder if it cannot be parsed."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "<unparseable DSN>"
    for key in SECRET_PARAMS:
        if params.get(key):
            params[key] = "***"
    return make_conninfo("", **params)


def _scrub(text: str, secrets: list[str]) -> str:
    # libpq's messages do not quote the password today; this keeps it so if one ever does.
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


class PostgresConnection:
    """What every PostgreSQL collector of one target receives.

    Collectors run concurrently, and one failed statement must not abort another's
    transaction, so each opens its own short-lived `session()`: autocommit, read-only,
    with a statement timeout.
    """

    def __init__(self, conninfo: str, *, timeout: float, schemas: list[str] | None = None) -> None:
        self._conninfo = conninfo
        self._secrets = [
            str(v) for k, v in conninfo_to_dict(conninfo).items() if k in SECRET_PARAMS and v
        ]
        self.timeout = timeout
        self.schemas = schemas
        self.host = ""
        self.port = 0
        self.database = ""
        self.user = ""
        self.server_version = ""
        self.server_version_num = 0

    @contextmanager
    def session(self) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
        """A new connection for one collector; closed when the block ends."""
        defaults: dict[str, str | int] = {
            "application_name": APPLICATION_NAME,
            "connect_timeout": max(2, int(self.timeout)),
        }
        # What the DSN sets itself wins.
        params = conninfo_to_dict(self._conninfo)
        conninfo = make_conninfo(
            self._conninfo, **{k: v for k, v in defaults.items() if k not in params}
        )
        try:
            conn = psycopg.connect(conninfo, autocommit=True)
        except psycopg.Error as exc:
            raise PostgresConnectError(
                f"cannot connect to {redact_dsn(self._conninfo)}: "
                f"{_scrub(str(exc).strip(), self._secrets)}"
            ) from None
        with conn:
            conn.execute("SET default_transaction_read_only = on")
            conn.execute(
                "SELECT set_config('statement_timeout', %s, false)",
                (f"{int(self.timeout * 1000)}ms",),
            )
            yield conn

    def load_identity(self) -> None:
        """Ask the server who and where we are (one round trip)."""
        with self.session() as conn:
            row = conn.execute(
                "SELECT current_user, current_database(), current_setting('server_version'),"
                " current_setting('server_version_num')::int"
            ).fetchone()
            assert row is not None
            self.user, self.database, self.server_version, self.server_version_num = row
            self.host, self.port = conn.info.host, conn.info.port

    @property
    def server(self) -> str:
        """``host:port`` as connected (an IPv6 address in brackets, a socket folder escaped)."""
        host = self.host
        if host.startswith("/"):
            host = quote(host, safe="")
        elif ":" in host:
            host = f"[{host}]"
        return f"{host}:{self.port}"

    def resource_id(self, *parts: str) -> str:
        """``postgres://host:port/<parts joined by />``, e.g. (db, "table", "public.orders")."""
        return "/".join([f"postgres://{self.server}", *parts])

    def scope(self, *, database: bool = True) -> dict[str, str]:
        """The `scope` of a snapshot: provider, server, and the database unless cluster-wide."""
        scope = {"provider": PROVIDER, "server": self.server}
        if database:
            scope["database"] = self.database
        return scope


def identity(conn: PostgresConnection) -> dict[str, Any]:
    """``{"server_version", "user", "database", "host"}``; ``host`` is ``host:port``."""
    return {
        "server_version": conn.server_version,
        "user": conn.user,
        "database": conn.database,
        "host": conn.server,
    }


def resolve_dsn(options: PostgresTarget) -> str:
    """The DSN the target names: read from its environment variable, or as written."""
    if options.dsn is not None:
        return options.dsn
    assert options.dsn_env is not None  # the model requires one of the two
    value = os.environ.get(options.dsn_env, "")
    if not value.strip():
        raise PostgresConnectError(
            f"environment variable {options.dsn_env} (named by dsn_env) is not set or empty"
        )
    try:
        parse_dsn(value, f"environment variable {options.dsn_env}")
    except ValueError as exc:
        raise PostgresConnectError(str(exc)) from None
    return value


@provider(PROVIDER, options=PostgresTarget, identity=identity)
def connect(options: PostgresTarget, timeout: float) -> PostgresConnection:
    """Resolve the DSN and connect once, to fail early and learn the identity.

    Raises PostgresConnectError naming the DSN's source, or the server with the
    password redacted.
    """
    conn = PostgresConnection(resolve_dsn(options), timeout=timeout, schemas=options.schemas)
    conn.load_identity()
    return conn
