"""The PostgreSQL collectors against the session's real server (PostgreSQL 15).

Roles are cluster-wide and the server is shared, so every role a test makes carries a
unique prefix, and assertions look at those roles only.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from assay.checks import Status
from assay.checks.postgres import PostgresTarget, connect, identity
from assay.checks.postgres.collect.roles import collect_roles
from assay.checks.postgres.collect.server import collect_server
from assay.checks.postgres.collect.tables import collect_tables
from assay.demo.local_postgres import LocalPostgres
from assay.testing import run_check

pytestmark = pytest.mark.integration

Roles = Callable[..., str]


@pytest.fixture
def roles(pg_dsn: str) -> Iterator[Roles]:
    """`roles("app", "LOGIN")` creates role <prefix>_app and returns its name; all are
    dropped (with their grants in the test database) afterwards."""
    prefix = "r" + uuid.uuid4().hex[:8]
    made: list[str] = []

    def make(name: str, options: str = "") -> str:
        role = f"{prefix}_{name}"
        with psycopg.connect(pg_dsn, autocommit=True) as con:
            con.execute(f"CREATE ROLE {role} {options}")
        made.append(role)
        return role

    yield make
    with psycopg.connect(pg_dsn, autocommit=True) as con:
        for role in reversed(made):
            con.execute(f"DROP OWNED BY {role}")
            con.execute(f"DROP ROLE {role}")


def run_sql(dsn: str, statements: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute(statements)


def as_role(postgres_server: LocalPostgres, pg_dsn: str, role: str) -> PostgresTarget:
    dbname = pg_dsn.rsplit("/", 1)[1]
    return PostgresTarget(dsn=postgres_server.dsn_for(role, dbname=dbname))


def test_identity_names_version_user_database_and_address(
    postgres_server: LocalPostgres, pg_dsn: str
) -> None:
    conn = connect(PostgresTarget(dsn=pg_dsn), 10)
    found = identity(conn)
    assert found["user"] == "postgres"
    assert found["database"] == pg_dsn.rsplit("/", 1)[1]
    assert found["host"] == f"127.0.0.1:{postgres_server.port}"
    assert found["server_version"].startswith("15.")


def test_the_server_resource_as_a_superuser(postgres_server: LocalPostgres, pg_dsn: str) -> None:
    conn = connect(PostgresTarget(dsn=pg_dsn), 10)
    [server] = collect_server(conn)
    attrs = server["attributes"]
    assert server["id"] == f"postgres://127.0.0.1:{postgres_server.port}/{conn.database}"
    assert attrs["version"] >= 150000
    assert attrs["settings"]["ssl"] == "off"
    assert attrs["settings"]["password_encryption"] == "scram-sha-256"
    assert attrs["settings"]["pgaudit.log"] is None  # pgaudit is not loaded
    assert attrs["extensions"] == {"plpgsql": "1.0"}
    assert attrs["in_recovery"] is False
    assert attrs["archiver"]["failed_count"] == 0
    loopback = [r for r in attrs["hba_rules"] if r["type"] == "host"]
    assert loopback and {r["method"] for r in loopback} == {"trust"}
    json.dumps(server, allow_nan=False)  # JSON-able as collected
    assert attrs["settings"]["logging_collector"] == "off"
    assert attrs["settings"]["rds.log_retention_period"] is None  # not an RDS server
    # The session server is a default install: no TLS, no logging, no archiving; without
    # pgAudit loaded or created, and its log on standard error, those two do not apply.
    verdicts = {
        name: run_check(name, server).status
        for name in (
            "postgres.server.ssl",
            "postgres.server.remote_tls",
            "postgres.server.scram_authentication",
            "postgres.server.connection_logging",
            "postgres.server.pgaudit",
            "postgres.server.log_retention",
            "postgres.server.wal_archiving",
        )
    }
    assert verdicts == {
        "postgres.server.ssl": Status.FAIL,
        "postgres.server.remote_tls": Status.PASS,  # loopback rules only
        "postgres.server.scram_authentication": Status.PASS,
        "postgres.server.connection_logging": Status.FAIL,
        "postgres.server.pgaudit": Status.NOT_APPLICABLE,
        "postgres.server.log_retention": Status.NOT_APPLICABLE,
        "postgres.server.wal_archiving": Status.FAIL,
    }


def test_an_unprivileged_role_gets_markers_naming_the_grants_it_lacks(
    postgres_server: LocalPostgres, pg_dsn: str, roles: Roles
) -> None:
    auditor = roles("auditor", "LOGIN")
    [server] = collect_server(connect(as_role(postgres_server, pg_dsn, auditor), 10))
    settings = server["attributes"]["settings"]
    assert settings["ssl"] == "off"  # readable by anyone
    assert settings["ssl_min_protocol_version"]["$error"]["permission"] == "pg_read_all_settings"
    hba = server["attributes"]["hba_rules"]["$error"]
    assert hba["code"] == "InsufficientPrivilege"
    assert hba["permission"] == (
        "SELECT ON pg_hba_file_rules and EXECUTE ON FUNCTION pg_hba_file_rules()"
    )
    result = run_check("postgres.server.remote_tls", server)
    assert result.status is Status.ERROR
    assert "missing permission SELECT ON pg_hba_file_rules" in result.reason


def test_the_grants_the_permissions_name_are_enough(
    postgres_server: LocalPostgres, pg_dsn: str, roles: Roles
) -> None:
    auditor = roles("auditor", "LOGIN")
    run_sql(
        pg_dsn,
        f"GRANT pg_read_all_settings TO {auditor};"
        f"GRANT SELECT ON pg_hba_file_rules TO {auditor};"
        f"GRANT EXECUTE ON FUNCTION pg_hba_file_rules() TO {auditor};",
    )
    [server] = collect_server(connect(as_role(postgres_server, pg_dsn, auditor), 10))
    text = json.dumps(server)
    assert "$error" not in text
    assert server["attributes"]["settings"]["ssl_min_protocol_version"] == "TLSv1.2"


def test_roles_carry_their_flags_and_the_roles_they_can_become(pg_dsn: str, roles: Roles) -> None:
    admin = roles("admin", "SUPERUSER NOLOGIN")
    ops = roles("ops", f"LOGIN IN ROLE {admin}")
    reader = roles("reader", "BYPASSRLS NOLOGIN")
    etl = roles("etl", f"LOGIN NOINHERIT IN ROLE {reader}")
    expiring = roles("temp", "LOGIN VALID UNTIL '2030-01-01 00:00:00+00' CONNECTION LIMIT 3")
    forever = roles("svc", "LOGIN VALID UNTIL 'infinity'")
    found = {r["name"]: r for r in collect_roles(connect(PostgresTarget(dsn=pg_dsn), 10))}
    assert not any(name.startswith("pg_") for name in found)
    assert found[admin]["attributes"]["superuser"] is True
    assert found[ops]["attributes"]["member_of"] == [admin]
    assert found[ops]["attributes"]["superuser_via"] == [admin]
    # Without INHERIT, etl still may SET ROLE to reader, and so use BYPASSRLS.
    assert found[etl]["attributes"]["inherit"] is False
    assert found[etl]["attributes"]["bypassrls_via"] == [reader]
    assert found[expiring]["attributes"]["valid_until"] == "2030-01-01T00:00:00Z"
    assert found[expiring]["attributes"]["connection_limit"] == 3
    assert found[forever]["attributes"]["valid_until"] == "infinity"
    assert found[ops]["id"].endswith(f"/role/{ops}")
    assert "database" not in found[ops]["scope"]

    def verdict(check: str, name: str, **params: Any) -> Status:
        return run_check(check, found[name], **params).status

    assert verdict("postgres.role.superuser", admin) is Status.FAIL
    assert verdict("postgres.role.superuser", admin, allowed=[admin]) is Status.PASS
    assert verdict("postgres.role.superuser", ops) is Status.FAIL
    assert verdict("postgres.role.superuser", etl) is Status.PASS
    assert verdict("postgres.role.privileged_attributes", reader) is Status.FAIL
    assert verdict("postgres.role.privileged_attributes", etl) is Status.FAIL
    assert verdict("postgres.role.privileged_attributes", admin) is Status.NOT_APPLICABLE
    assert verdict("postgres.role.privileged_attributes", expiring) is Status.PASS


def test_tables_carry_columns_rls_policies_and_who_bypasses_it(pg_dsn: str, roles: Roles) -> None:
    owner = roles("owner", "NOLOGIN")
    heir = roles("heir", f"LOGIN IN ROLE {owner}")  # inherits the owner's privileges
    setter = roles("setter", f"LOGIN NOINHERIT IN ROLE {owner}")  # may SET ROLE to it
    app = roles("app", "LOGIN")
    reader = roles("reader", "BYPASSRLS LOGIN")
    analyst = roles("analyst", "LOGIN")
    run_sql(
        pg_dsn,
        f"""
        CREATE SCHEMA app;
        CREATE TABLE app.orders (id int, tenant_id int NOT NULL, total numeric(10, 2));
        ALTER TABLE app.orders OWNER TO {owner};
        ALTER TABLE app.orders ENABLE ROW LEVEL SECURITY;
        CREATE POLICY tenant ON app.orders TO {app}
            USING (tenant_id = current_setting('rls.tenant_id')::int);
        CREATE POLICY audit ON app.orders AS RESTRICTIVE FOR SELECT
            USING (total >= 0);
        GRANT SELECT, INSERT ON app.orders TO {app};
        GRANT SELECT ON app.orders TO {reader};
        GRANT SELECT (id) ON app.orders TO {analyst};
        CREATE TABLE app.events (tenant_id int, at timestamptz) PARTITION BY RANGE (at);
        CREATE TABLE app.events_2024 PARTITION OF app.events
            FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
        CREATE TABLE other_schema_table (tenant_id int);
        """,
    )
    conn = connect(PostgresTarget(dsn=pg_dsn, schemas=["app"]), 10)
    found = {r["name"]: r for r in collect_tables(conn)}
    assert set(found) == {"app.orders", "app.events", "app.events_2024"}
    orders = found["app.orders"]
    assert orders["id"].endswith(f"/{conn.database}/table/app.orders")
    attrs = orders["attributes"]
    assert attrs["owner"] == owner
    assert (attrs["rls_enabled"], attrs["rls_forced"]) == (True, False)
    assert attrs["columns"] == [
        {"name": "id", "type": "integer"},
        {"name": "tenant_id", "type": "integer"},
        {"name": "total", "type": "numeric(10,2)"},
    ]
    assert attrs["policies"] == [
        {
            "name": "audit",
            "command": "SELECT",
            "permissive": False,
            "roles": ["public"],
            "using": "(total >= (0)::numeric)",
            "with_check": None,
        },
        {
            "name": "tenant",
            "command": "ALL",
            "permissive": True,
            "roles": [app],
            "using": "(tenant_id = (current_setting('rls.tenant_id'::text))::integer)",
            "with_check": None,
        },
    ]
    access = attrs["access"]
    assert access[owner] == {
        "privileges": ["SELECT", "INSERT", "UPDATE", "DELETE"],
        "bypass_rls": ["owns the table"],
    }
    assert access[heir]["bypass_rls"] == [f"inherits the privileges of owner {owner}"]
    assert access[setter] == {
        "privileges": [],
        "bypass_rls": [f"can SET ROLE to owner {owner}"],
    }
    assert access[app] == {"privileges": ["SELECT", "INSERT"], "bypass_rls": []}
    assert access[reader] == {"privileges": ["SELECT"], "bypass_rls": ["BYPASSRLS"]}
    assert access[analyst] == {"privileges": ["SELECT"], "bypass_rls": []}  # a column grant
    assert access["postgres"]["bypass_rls"] == ["superuser"]
    assert found["app.events"]["attributes"]["kind"] == "partitioned table"
    assert found["app.events_2024"]["attributes"]["partition"] is True

    everything = {r["name"] for r in collect_tables(connect(PostgresTarget(dsn=pg_dsn), 10))}
    assert "public.other_schema_table" in everything
