"""Tenant isolation, proven with real queries as the application role, then caught by the controls.

Each test builds tables on the session server, shows what the application role really
reads (or writes) for tenant 1, and checks that the controls judge the table the way
the query behaved.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest

from assay.checks import Status
from assay.checks.postgres import PostgresTarget, connect
from assay.checks.postgres.collect.tables import collect_tables
from assay.demo.local_postgres import LocalPostgres
from assay.testing import run_check

pytestmark = pytest.mark.integration

TENANT_POLICY = "USING (tenant_id = current_setting('rls.tenant_id')::int)"


@dataclass
class Tenancy:
    """A database with an owner role (migrations) and an application role (requests)."""

    server: LocalPostgres
    dsn: str
    prefix: str
    owner: str = ""
    app: str = ""
    made: list[str] = field(default_factory=list)

    def role(self, name: str, options: str) -> str:
        """Create role <prefix>_<name> (dropped after the test) and return its name."""
        role = f"{self.prefix}_{name}"
        self.admin(f"CREATE ROLE {role} {options}")
        self.made.append(role)
        return role

    def admin(self, statements: str) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as con:
            con.execute(statements)

    def table(self, name: str, setup: str, owner: str | None = None) -> None:
        """Create `name` (tenant_id, note) with rows for tenants 1 and 2, owned by `owner`,
        DML granted to the app role, then run `setup` (RLS and policies)."""
        self.admin(
            f"""
            CREATE TABLE {name} (tenant_id int NOT NULL, note text);
            INSERT INTO {name} VALUES (1, 'ours'), (2, 'theirs'), (2, 'theirs too');
            ALTER TABLE {name} OWNER TO {owner or self.owner};
            GRANT SELECT, INSERT, UPDATE, DELETE ON {name} TO {self.app};
            {setup}
            """
        )

    def session(self, role: str) -> psycopg.Connection[Any]:
        dbname = self.dsn.rsplit("/", 1)[1]
        con = psycopg.connect(self.server.dsn_for(role, dbname=dbname), autocommit=True)
        con.execute("SET rls.tenant_id = '1'")
        return con

    def tenants_seen(self, table: str, role: str | None = None) -> set[int]:
        """The tenants whose rows `role` (default: the app) reads while set to tenant 1."""
        with self.session(role or self.app) as con:
            return {row[0] for row in con.execute(f"SELECT tenant_id FROM {table}")}

    def collected(self) -> dict[str, dict[str, Any]]:
        conn = connect(PostgresTarget(dsn=self.dsn, schemas=["public"]), 10)
        return {r["attributes"]["table"]: r for r in collect_tables(conn)}

    def verdicts(self, resource: dict[str, Any], app_role: str | None = None) -> dict[str, Status]:
        return {
            "rls_forced": run_check("postgres.table.tenant_rls_forced", resource).status,
            "policy": run_check("postgres.table.tenant_policy", resource).status,
            "app_role": run_check(
                "postgres.table.app_role_bypass", resource, app_role=app_role or self.app
            ).status,
        }


@pytest.fixture
def tenancy(postgres_server: LocalPostgres, pg_dsn: str) -> Iterator[Tenancy]:
    setup = Tenancy(postgres_server, pg_dsn, "t" + uuid.uuid4().hex[:8])
    setup.owner = setup.role("owner", "NOLOGIN")
    setup.app = setup.role("app", "LOGIN")
    yield setup
    setup.admin(f"DROP OWNED BY {', '.join(setup.made)}")
    for role in setup.made:
        setup.admin(f"DROP ROLE {role}")


def test_a_forced_table_with_a_tenant_policy_isolates_and_passes(tenancy: Tenancy) -> None:
    tenancy.table(
        "invoices",
        f"ALTER TABLE invoices ENABLE ROW LEVEL SECURITY;"
        f"ALTER TABLE invoices FORCE ROW LEVEL SECURITY;"
        f"CREATE POLICY tenant ON invoices {TENANT_POLICY};",
    )
    assert tenancy.tenants_seen("invoices") == {1}
    # Writing another tenant's row is refused too: USING doubles as WITH CHECK.
    with tenancy.session(tenancy.app) as con, pytest.raises(psycopg.errors.InsufficientPrivilege):
        con.execute("INSERT INTO invoices VALUES (2, 'planted')")
    resource = tenancy.collected()["invoices"]
    assert tenancy.verdicts(resource) == {
        "rls_forced": Status.PASS,
        "policy": Status.PASS,
        "app_role": Status.PASS,
    }


def test_a_non_forced_table_leaks_to_its_owner_the_app_and_the_controls_catch_it(
    tenancy: Tenancy,
) -> None:
    tenancy.table(
        "projects",
        f"ALTER TABLE projects ENABLE ROW LEVEL SECURITY;"
        f"CREATE POLICY tenant ON projects {TENANT_POLICY};",
        owner=tenancy.app,
    )
    # The policy is right, RLS is on, yet tenant 1's session reads tenant 2's rows.
    assert tenancy.tenants_seen("projects") == {1, 2}
    resource = tenancy.collected()["projects"]
    assert tenancy.verdicts(resource) == {
        "rls_forced": Status.FAIL,
        "policy": Status.PASS,
        "app_role": Status.FAIL,
    }
    assert (
        "owns the table"
        in run_check("postgres.table.app_role_bypass", resource, app_role=tenancy.app).reason
    )

    tenancy.admin("ALTER TABLE projects FORCE ROW LEVEL SECURITY")
    assert tenancy.tenants_seen("projects") == {1}
    resource = tenancy.collected()["projects"]
    assert tenancy.verdicts(resource)["rls_forced"] is Status.PASS
    # Forcing is not enough while the app owns the table: it can switch FORCE off itself.
    with tenancy.session(tenancy.app) as con:
        con.execute("ALTER TABLE projects NO FORCE ROW LEVEL SECURITY")
    assert tenancy.tenants_seen("projects") == {1, 2}
    assert tenancy.verdicts(resource)["app_role"] is Status.FAIL


def test_a_table_without_rls_leaks_and_fails(tenancy: Tenancy) -> None:
    tenancy.table("notes", "")
    assert tenancy.tenants_seen("notes") == {1, 2}
    assert tenancy.verdicts(tenancy.collected()["notes"]) == {
        "rls_forced": Status.FAIL,
        "policy": Status.FAIL,
        "app_role": Status.PASS,
    }


def test_a_permissive_policy_beside_the_tenant_policy_leaks_and_fails(tenancy: Tenancy) -> None:
    tenancy.table(
        "tickets",
        f"ALTER TABLE tickets ENABLE ROW LEVEL SECURITY;"
        f"ALTER TABLE tickets FORCE ROW LEVEL SECURITY;"
        f"CREATE POLICY tenant ON tickets {TENANT_POLICY};"
        f"CREATE POLICY support ON tickets FOR SELECT USING (true);",
    )
    assert tenancy.tenants_seen("tickets") == {1, 2}
    resource = tenancy.collected()["tickets"]
    assert tenancy.verdicts(resource)["policy"] is Status.FAIL
    result = run_check("postgres.table.tenant_policy", resource)
    assert result.observed["problems"] == [
        "SELECT (USING): permissive support ignores rls.tenant_id"
    ]
    # Made restrictive, the tenant policy closes what `support` opens.
    tenancy.admin(
        f"DROP POLICY tenant ON tickets;"
        f"CREATE POLICY tenant ON tickets AS RESTRICTIVE {TENANT_POLICY};"
    )
    assert tenancy.tenants_seen("tickets") == {1}
    assert tenancy.verdicts(tenancy.collected()["tickets"])["policy"] is Status.PASS


def test_a_policy_that_ignores_the_tenant_setting_lets_writes_through(tenancy: Tenancy) -> None:
    tenancy.table(
        "orders",
        "ALTER TABLE orders ENABLE ROW LEVEL SECURITY;"
        "ALTER TABLE orders FORCE ROW LEVEL SECURITY;"
        "CREATE POLICY mine ON orders USING (tenant_id = 1);",
    )
    with tenancy.session(tenancy.app) as con:
        con.execute("SET rls.tenant_id = '2'")
        seen = {row[0] for row in con.execute("SELECT tenant_id FROM orders")}
    assert seen == {1}  # tenant 2's session reads tenant 1's rows
    result = run_check("postgres.table.tenant_policy", tenancy.collected()["orders"])
    assert result.status is Status.FAIL
    assert result.reason == "no policy reads current_setting('rls.tenant_id') (policies: mine)"


def test_a_bypassrls_role_reads_every_tenant_of_a_forced_table_and_fails(
    tenancy: Tenancy,
) -> None:
    reporting = tenancy.role("reporting", "LOGIN BYPASSRLS")
    tenancy.table(
        "invoices",
        f"ALTER TABLE invoices ENABLE ROW LEVEL SECURITY;"
        f"ALTER TABLE invoices FORCE ROW LEVEL SECURITY;"
        f"CREATE POLICY tenant ON invoices {TENANT_POLICY};"
        f"GRANT SELECT ON invoices TO {reporting};",
    )
    assert tenancy.tenants_seen("invoices") == {1}
    assert tenancy.tenants_seen("invoices", role=reporting) == {1, 2}
    resource = tenancy.collected()["invoices"]
    assert tenancy.verdicts(resource, app_role=reporting) == {
        "rls_forced": Status.PASS,
        "policy": Status.PASS,
        "app_role": Status.FAIL,
    }
