"""PostgreSQL targets: where the DSN comes from, and that no password ever shows."""

from __future__ import annotations

import socket

import pytest
from pydantic import ValidationError

from assay.checks import registry
from assay.checks.postgres import PostgresConnectError, PostgresTarget, connect, redact_dsn
from assay.checks.postgres.provider import PostgresConnection, resolve_dsn

SECRET = "hunter2-s3cret"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _error(**options: object) -> str:
    with pytest.raises(ValidationError) as info:
        PostgresTarget.model_validate(options)
    errors = info.value.errors(include_url=False)
    assert len(errors) == 1
    return f"{'.'.join(map(str, errors[0]['loc']))}: {errors[0]['msg']}"


def test_the_provider_is_registered_with_its_options_model() -> None:
    spec = registry.providers()["postgres"]
    assert spec.options is PostgresTarget
    assert spec.connect is connect


@pytest.mark.parametrize(
    "dsn",
    [
        f"postgresql://app:{SECRET}@db.internal:5432/app",
        f"host=db.internal dbname=app user=app password={SECRET}",
        f"postgresql://app@db.internal/app?password={SECRET}",
        f"host=db.internal sslpassword={SECRET}",
    ],
)
def test_a_literal_dsn_with_a_password_is_refused_naming_the_field(dsn: str) -> None:
    message = _error(dsn=dsn)
    assert message.startswith("dsn: ")
    assert "dsn_env" in message and "profiles get committed" in message
    assert SECRET not in message
    with pytest.raises(ValidationError) as info:
        PostgresTarget(dsn=dsn)
    assert SECRET not in str(info.value)  # the error does not quote its input


def test_a_literal_dsn_without_a_password_is_accepted() -> None:
    target = PostgresTarget.model_validate(
        {"dsn": "postgresql://auditor@db.internal:5432/app?sslmode=verify-full"}
    )
    assert target.dsn is not None and target.dsn_env is None


def test_a_malformed_literal_dsn_is_refused_without_echoing_it() -> None:
    message = _error(dsn=f"postgresql://app:{SECRET} x@db/app")
    assert message.startswith("dsn: ") and "not a valid PostgreSQL DSN" in message
    assert SECRET not in message


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, "exactly one of dsn_env (recommended) and dsn"),
        ({"dsn_env": "A", "dsn": "host=x"}, "exactly one of dsn_env (recommended) and dsn"),
        ({"dsn_env": "APP DB"}, "dsn_env: Value error, expected an environment variable name"),
        ({"dsn_env": "A", "schemas": []}, "schemas: List should have at least 1 item"),
        ({"dsn_env": "A", "password": "x"}, "password: Extra inputs are not permitted"),
    ],
)
def test_bad_options_name_the_field(options: dict[str, object], expected: str) -> None:
    assert expected in _error(**options)


def test_the_dsn_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_DB_DSN", f"postgresql://app:{SECRET}@db/app")
    assert resolve_dsn(PostgresTarget(dsn_env="APP_DB_DSN")).endswith("@db/app")


def test_a_missing_environment_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APP_DB_DSN", raising=False)
    with pytest.raises(PostgresConnectError, match=r"APP_DB_DSN \(named by dsn_env\) is not set"):
        connect(PostgresTarget(dsn_env="APP_DB_DSN"), 5)


def test_a_malformed_dsn_in_the_environment_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_DB_DSN", f"postgresql://app:{SECRET} x@db/app")
    with pytest.raises(PostgresConnectError) as info:
        connect(PostgresTarget(dsn_env="APP_DB_DSN"), 5)
    assert "environment variable APP_DB_DSN is not a valid PostgreSQL DSN" in str(info.value)
    assert SECRET not in str(info.value)


@pytest.mark.parametrize(
    ("dsn", "shown"),
    [
        (f"postgresql://app:{SECRET}@db:5432/app", "password=***"),
        (f"host=db password='{SECRET}' dbname=app", "password=***"),
        ("host=db dbname=app", "dbname=app host=db"),
        (f"postgresql://app:{SECRET} x@db/app", "<unparseable DSN>"),
    ],
)
def test_redact_dsn_never_shows_the_password(dsn: str, shown: str) -> None:
    redacted = redact_dsn(dsn)
    assert shown in redacted
    assert SECRET not in redacted


def test_an_unreachable_server_is_an_error_naming_it_without_the_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = _closed_port()
    monkeypatch.setenv("APP_DB_DSN", f"postgresql://app:{SECRET}@127.0.0.1:{port}/app")
    with pytest.raises(PostgresConnectError) as info:
        connect(PostgresTarget(dsn_env="APP_DB_DSN"), 5)
    message = str(info.value)
    assert message.startswith("cannot connect to ")
    assert f"port={port}" in message and "password=***" in message
    assert SECRET not in message


@pytest.mark.parametrize(
    ("host", "server"),
    [
        ("db.internal", "db.internal:5432"),
        ("::1", "[::1]:5432"),
        ("/var/run/postgresql", "%2Fvar%2Frun%2Fpostgresql:5432"),
    ],
)
def test_resource_ids_name_host_port_and_path(host: str, server: str) -> None:
    conn = PostgresConnection("dbname=app", timeout=5)
    conn.host, conn.port, conn.database = host, 5432, "app"
    assert conn.resource_id("app", "table", "public.orders") == (
        f"postgres://{server}/app/table/public.orders"
    )
    assert conn.scope() == {"provider": "postgres", "server": server, "database": "app"}
    assert conn.scope(database=False) == {"provider": "postgres", "server": server}
